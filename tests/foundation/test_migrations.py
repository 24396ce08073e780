"""The schema is made only by migrations, and they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from recon.cli.admin import alembic_config
from recon.db import Base, Database


def test_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations have {len(heads)} heads: {heads}; run alembic merge"


def test_models_match_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_model_table_exists(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_audit_events_are_append_only_in_the_database(db: Database) -> None:
    import pytest
    from sqlalchemy.exc import DatabaseError

    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO audit_events (occurred_at, actor, action, entity_type, entity_id, data,"
            " prev_hash, hash) VALUES (CURRENT_TIMESTAMP, 'a', 'b', 'c', 'd', '{}', 'x', 'y')"))
    with pytest.raises(DatabaseError), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory'"))
    with pytest.raises(DatabaseError), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_events")).scalar_one() == "a"
