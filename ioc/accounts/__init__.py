"""People's accounts: local passwords (Argon2) or the province's LDAP / Active Directory,
sessions, lockout (docs/accounts.md)."""

from ioc.accounts._desk import AccountDesk, AccountKeeper, AccountPolicy, username_of
from ioc.accounts._directory import (
    Directory,
    DirectoryConfig,
    DirectoryConfigError,
    DirectoryPerson,
    DirectoryUnavailable,
    read_directory_config,
)
from ioc.accounts._passwords import MIN_PASSWORD_CHARS, hash_password, password_matches

__all__ = [
    "MIN_PASSWORD_CHARS",
    "AccountDesk",
    "AccountKeeper",
    "AccountPolicy",
    "Directory",
    "DirectoryConfig",
    "DirectoryConfigError",
    "DirectoryPerson",
    "DirectoryUnavailable",
    "hash_password",
    "password_matches",
    "read_directory_config",
    "username_of",
]
