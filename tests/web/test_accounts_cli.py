"""The `users` commands: add users, set roles, issue tokens."""

from click.testing import CliRunner

from webapp.accounts import Account, find_user, user_for_token
from webapp.accounts.cli import users

PASSWORD = "long enough password"


def run(sessions, *args):
    return CliRunner().invoke(users, list(args), obj={"session_factory": sessions})


def test_add_sets_roles_and_issues_a_token(sessions):
    result = run(sessions, "add", "aigerim", "--role", "clerk", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert run(sessions, "roles", "aigerim", "clerk", "supervisor").exit_code == 0
    token = run(sessions, "token", "aigerim").output.strip()
    with sessions.begin() as session:
        assert find_user(session, "aigerim").roles == {"clerk", "supervisor"}
        assert user_for_token(session, token) == Account(
            find_user(session, "aigerim").id,
            "aigerim",
            None,
            None,
            frozenset({"clerk", "supervisor"}),
        )


def test_applicant_is_added_with_an_iin(sessions):
    result = run(
        sessions, "add", "arman", "--role", "applicant", "--password", PASSWORD,
        "--iin", "850314304175",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with sessions.begin() as session:
        assert find_user(session, "arman").iin == "850314304175"


def test_errors_are_reported_with_exit_code_one(sessions):
    duplicate = run(sessions, "add", "clerk", "--role", "clerk", "--password", PASSWORD)
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output
    assert run(sessions, "roles", "ghost", "clerk").exit_code == 1
    assert run(sessions, "token", "ghost").exit_code == 1
    assert run(sessions, "add", "x", "--role", "cashier", "--password", "p").exit_code == 2
