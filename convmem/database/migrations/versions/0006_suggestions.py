"""fuzzy matching's blocking keys, and the review queue of likely duplicates

Revision ID: 0006_suggestions
Revises: 0005_idempotency
"""

import sqlalchemy as sa
from alembic import op

from convmem.identity.fuzzy_keys import keys_of

revision = "0006_suggestions"
down_revision = "0005_idempotency"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "identifier_match_keys",
        sa.Column(
            "identifier_id", BigId, sa.ForeignKey("profile_identifiers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("key", sa.String(264), primary_key=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("id_type", sa.String(30), nullable=False),
    )
    op.create_index(
        "ix_identifier_match_keys_probe",
        "identifier_match_keys",
        ["store_id", "id_type", "key", "identifier_id"],
    )
    _key_stored_fuzzy_values()


def _key_stored_fuzzy_values() -> None:
    """Fuzzy matching reads these keys from now on: the values already stored need theirs."""
    bind = op.get_bind()
    stores = sa.table("stores", sa.column("id"), sa.column("identity_settings", sa.JSON))
    identifiers = sa.table(
        "profile_identifiers", sa.column("id"), sa.column("store_id"), sa.column("id_type"), sa.column("value")
    )
    keys = sa.table(
        "identifier_match_keys",
        sa.column("identifier_id"),
        sa.column("key"),
        sa.column("store_id"),
        sa.column("id_type"),
    )
    for store_pk, settings in bind.execute(sa.select(stores.c.id, stores.c.identity_settings)).all():
        for config in (settings or {}).get("identifierConfigs", []):
            if config.get("matchingAlgo") != "fuzzy":
                continue
            threshold = config.get("matchingThreshold", 75)
            values = bind.execute(
                sa.select(identifiers.c.id, identifiers.c.value).where(
                    identifiers.c.store_id == store_pk, identifiers.c.id_type == config["idType"]
                )
            ).all()
            rows = [
                {"identifier_id": pk, "key": key, "store_id": store_pk, "id_type": config["idType"]}
                for pk, value in values
                for key in keys_of(value, threshold)
            ]
            if rows:
                bind.execute(keys.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_identifier_match_keys_probe", table_name="identifier_match_keys")
    op.drop_table("identifier_match_keys")
