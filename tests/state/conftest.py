"""Every state test runs on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.state import connect_state
from ioc.state._db import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    engine = connect_state(url)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    return url
