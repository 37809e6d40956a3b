"""What a state database error says: the database's own words, never the statement or its
parameters (a password's hash, a session's, a dead letter's payload), since the message goes to
logs, the command line and API answers."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ioc.state import StateRefused, connect_state
from ioc.state._db import run_in

SECRET = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0"


def test_a_refused_statement_is_told_without_its_sql_or_parameters(state_url: str) -> None:
    engine = connect_state(state_url)
    statement = text("INSERT INTO nowhere (hash) VALUES (:hash)")
    try:
        with pytest.raises(StateRefused) as refused:
            run_in(engine, "store a session", lambda c: c.execute(statement, {"hash": SECRET}))
    finally:
        engine.dispose()
    said = str(refused.value)
    database_words = "no such table: nowhere" if "sqlite" in state_url else 'relation "nowhere"'
    assert said.startswith(f"cannot store a session: {database_words}"), said
    assert SECRET not in said and "INSERT" not in said and "\n" not in said, said
    # The whole of it stays with the traceback, for whoever debugs.
    assert SECRET in str(refused.value.__cause__)
