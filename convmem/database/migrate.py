"""Apply the Alembic migrations shipped inside the package."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from convmem.database.engine import SETUP_LOCK_NAMESPACE, Database

_HERE = Path(__file__).parent / "migrations"
# Within the setup namespace: key 0 is the first account's (``convmem serve``).
_MIGRATION_LOCK_KEY = 1


def alembic_config() -> Config:
    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def upgrade(db: Database) -> None:
    cfg = alembic_config()
    # One connection for the whole run; on PostgreSQL an advisory lock keeps two starting
    # servers from migrating at once.
    with db.engine.begin() as connection:
        db.lock(connection, SETUP_LOCK_NAMESPACE, _MIGRATION_LOCK_KEY)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
