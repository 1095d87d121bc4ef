"""Accounts: users and their roles, passwords and their policy, sign-in, API tokens."""

from webapp.accounts.directory import AccountDirectory
from webapp.accounts.passwords import hash_password, password_problem
from webapp.accounts.tokens import (
    Account,
    TokenInfo,
    issue_token,
    remembered_user,
    revoke_token,
    tokens_of,
    user_for_token,
)
from webapp.accounts.users import (
    ROLES,
    AccountError,
    SignInThrottled,
    authenticate,
    change_password,
    create_user,
    end_sessions,
    find_user,
    set_active,
    set_centre,
    set_password,
    set_roles,
    users_with_role,
)

__all__ = [
    "ROLES",
    "Account",
    "AccountDirectory",
    "AccountError",
    "SignInThrottled",
    "TokenInfo",
    "authenticate",
    "change_password",
    "create_user",
    "end_sessions",
    "find_user",
    "hash_password",
    "issue_token",
    "password_problem",
    "remembered_user",
    "revoke_token",
    "set_active",
    "set_centre",
    "set_password",
    "set_roles",
    "tokens_of",
    "user_for_token",
    "users_with_role",
]
