"""Apply the Alembic migrations shipped inside the package."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from convmem.database.engine import Database

_HERE = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def upgrade(db: Database) -> None:
    cfg = alembic_config()
    # One connection for the whole run; on PostgreSQL an advisory lock keeps two starting
    # servers from migrating at once.
    with db.engine.begin() as connection:
        if not db.is_sqlite:
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727272)")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
