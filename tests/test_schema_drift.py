"""The ORM models (``database/tables.py``) and the Alembic migrations describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from convmem.database.tables import Base


def test_migrations_match_the_models(backend):
    # ``backend`` is a fresh database the migrations upgraded to their heads.
    with backend.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
