"""Alembic migrations of the state database (shipped with the package)."""
