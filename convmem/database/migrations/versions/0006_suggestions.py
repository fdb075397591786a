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
    op.create_table(
        "suggestions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sid", sa.String(48), nullable=False, unique=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("first_profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("second_profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("first_profile_id", "second_profile_id"),
    )
    op.create_index("ix_suggestions_store_status", "suggestions", ["store_id", "status", "id"])
    op.create_index("ix_suggestions_first_profile_id", "suggestions", ["first_profile_id"])
    op.create_index("ix_suggestions_second_profile_id", "suggestions", ["second_profile_id"])
    op.create_table(
        "suggestion_keys",
        sa.Column("profile_id", BigId, sa.ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_suggestion_keys_probe", "suggestion_keys", ["store_id", "key", "profile_id"])
    op.create_table(
        "suggestion_cursors",
        sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("history_id", sa.BigInteger(), nullable=False),
    )


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
    op.drop_table("suggestion_cursors")
    op.drop_index("ix_suggestion_keys_probe", table_name="suggestion_keys")
    op.drop_table("suggestion_keys")
    op.drop_index("ix_suggestions_second_profile_id", table_name="suggestions")
    op.drop_index("ix_suggestions_first_profile_id", table_name="suggestions")
    op.drop_index("ix_suggestions_store_status", table_name="suggestions")
    op.drop_table("suggestions")
    op.drop_index("ix_identifier_match_keys_probe", table_name="identifier_match_keys")
    op.drop_table("identifier_match_keys")
