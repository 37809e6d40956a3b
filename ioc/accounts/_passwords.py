"""People's passwords, hashed with Argon2 through pwdlib."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash

from ioc.domain import BadInput, said

# Long enough to resist guessing once the lockout lets a few tries through; a passphrase fits.
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # Argon2 takes any length; a megabyte "password" is an attack


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    """The hash kept for a new password (BadInput for one too short or too long)."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise BadInput(
            said(
                "a password has {least} to {most} characters, not {count}",
                least=MIN_PASSWORD_CHARS,
                most=MAX_PASSWORD_CHARS,
                count=len(password),
            )
        )
    return _hasher().hash(password)


def password_matches(password: str, password_hash: str | None) -> bool:
    """Whether the password is the one hashed. Without a hash (no such account) a hash is
    still computed, so that a wrong name takes as long to refuse as a wrong password."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    if password_hash is None:
        _hasher().hash(password)
        return False
    return _hasher().verify(password, password_hash)
