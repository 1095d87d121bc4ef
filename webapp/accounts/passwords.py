"""Passwords: the policy every new password meets, and their scrypt hashes."""

import os
from collections.abc import Iterable
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128
# zxcvbn's score 3 means about 10^8 guesses or more: out of reach of online guessing.
MIN_SCORE = 3
# zxcvbn refuses longer input; the first 72 characters decide how guessable a password is.
ESTIMATED_LENGTH = 72


def password_problem(password: str, user_inputs: Iterable[str | None] = ()) -> str | None:
    """Return why a password may not be used, or None when it meets the policy.

    The policy: 12 to 128 characters, no user name or other account detail in it, and not a
    commonly used password nor one that is easy to guess (zxcvbn's estimate, whose lists hold
    the 30,000 most common passwords).
    """
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password may have at most {MAX_LENGTH} characters"
    words = [word for word in user_inputs if word]
    lowered = password.lower()
    if any(word.lower() in lowered for word in words if len(word) >= 3):
        return "the password must not contain the user name or other account details"
    # zxcvbn loads its word lists when imported: only commands that set a password pay for it.
    from zxcvbn import zxcvbn

    estimate = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=words)
    if estimate["score"] >= MIN_SCORE:
        return None
    if any(match.get("dictionary_name") == "passwords" for match in estimate["sequence"]):
        return "the password is a commonly used password or close to one"
    return "the password is too easy to guess: avoid repeats, sequences, dates and common words"


# scrypt's work factor N (with r=8, p=1: 128 x N bytes of memory per hash); werkzeug's default.
DEFAULT_COST = 2**15
MIN_COST = 2**10


def scrypt_cost() -> int:
    """Return the work factor new hashes use: `TIRKEU_PASSWORD_COST`, a power of two.

    A hash keeps the factor it was made with, so changing it affects new passwords only.
    """
    text = os.environ.get("TIRKEU_PASSWORD_COST", str(DEFAULT_COST))
    cost = int(text) if text.isdigit() else 0
    if cost < MIN_COST or cost & (cost - 1):
        raise ValueError(
            f"TIRKEU_PASSWORD_COST must be a power of two of at least {MIN_COST}, not {text!r}"
        )
    return cost


def hash_password(password: str) -> str:
    """Return the scrypt hash of a password."""
    return generate_password_hash(password, method=f"scrypt:{scrypt_cost()}:8:1")


def password_matches(password_hash: str, password: str) -> bool:
    """Tell whether the password is the one the hash was made from."""
    return check_password_hash(password_hash, password)


@cache
def _unknown_user_hash() -> str:
    """Return a hash to check against when the user name is unknown, made on first need.

    Checking one makes both answers take the same time; hashing it when the module is
    imported made every `tirkeu` command, even `--help`, pay a scrypt hash.
    """
    return hash_password("unknown user")


def spend_a_check(password: str) -> None:
    """Take as long as a password check, for a user name that does not exist."""
    password_matches(_unknown_user_hash(), password)
