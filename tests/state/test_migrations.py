"""The alembic history builds exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from ioc.state import connect_state
from ioc.state._db import MIGRATIONS, metadata


def test_migrations_match_the_table_definitions(state_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    engine = connect_state(state_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == head == "0018"
        connect_state(state_url).dispose()  # a second start migrates nothing and fails nothing
    finally:
        engine.dispose()
