"""The ORM models (``database/tables.py``) and the Alembic migrations describe the same schema."""

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from convmem.database.tables import Base

# Full-text search is built per backend with raw SQL in migration 0002, beside the models on
# purpose: SQLite's FTS5 virtual tables (and the shadow tables FTS5 makes for them), PostgreSQL's
# generated tsvector columns and their GIN indexes. No model can declare them portably.
_SEARCH_TABLE = re.compile(r"^\w+_fts(_(data|idx|docsize|config|content))?$")


def _not_full_text_search(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table":
        return not (reflected and compare_to is None and _SEARCH_TABLE.match(name))
    if type_ == "column":
        return name != "search_vector"
    if type_ == "index":
        return not (reflected and compare_to is None and name.endswith("_search"))
    return True


def test_migrations_match_the_models(backend):
    # ``backend`` is a fresh database the migrations upgraded to their heads.
    with backend.db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _not_full_text_search}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
