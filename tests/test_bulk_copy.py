"""PostgreSQL's COPY write path (``database/bulk_copy.py``) stores what the INSERTs stored.

The same writes go into two stores of one PostgreSQL database, once through COPY and once
through the INSERT statements SQLite uses; every row the writes made must be the same, keys
and public ids compared by their order.
"""

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from convmem.accounts.service import create_account
from convmem.database import bulk_copy
from convmem.database.tables import (
    Account,
    IdentifierMatchKey,
    Profile,
    ProfileHistory,
    ProfileIdentifier,
    ProfileMerge,
    Store,
)
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.profiles import writer
from convmem.profiles.context import load_context
from convmem.stores.service import create_store
from convmem.web.auth import Principal
from tests.conftest import POSTGRES_URL, make_backend

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="COPY is PostgreSQL's")

# Phone matches fuzzily: its values get blocking keys, and a body naming one is written alone.
SETTINGS = IdentityResolutionSettingsCore.model_validate(
    {
        "identifierConfigs": [
            {"idType": "email", "normalization": "email"},
            {"idType": "phone", "normalization": "phone", "matchingAlgo": "fuzzy", "matchingThreshold": 90},
        ],
        "matchingRules": ["email", "phone"],
    }
).model_dump()
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


class SteppingClock:
    """A ``WriteClock`` whose ticks are the same in every run."""

    def __init__(self) -> None:
        self.count = 0

    def tick(self) -> str:
        self.count += 1
        return datetime(2026, 1, 1, 0, 0, self.count % 60, self.count, tzinfo=timezone.utc).isoformat(timespec="microseconds")

    def ticks(self, count: int) -> list[str]:
        return [self.tick() for _ in range(count)]


BATCHES = [
    # New profiles inserted together.
    [{"Contact": {"email": f"person{n}@example.com", "firstName": f"P{n}"}} for n in range(6)],
    [
        # A new profile on its own (a fuzzy type), its phone keyed.
        {"Contact": {"email": "new@example.com", "phone": "+13172009999", "firstName": "New"}},
        # Ties a profile of the first batch to the one above: they merge.
        {"Contact": {"email": "person2@example.com", "phone": "+13172009999", "lastName": "Second"}},
        # A stored profile written again.
        {"Contact": {"email": "person4@example.com", "firstName": "Four"}},
        {"Contact": {"email": "last@example.com"}},
    ],
]


def write_batches(db, store_pk: int) -> list:
    clock, outcomes = SteppingClock(), []
    for bodies in BATCHES:
        with db.writing() as session:
            db.lock_store(session, store_pk)
            ctx = load_context(session, session.get(Store, store_pk))
            writes = [writer.prepare(ctx, traits) for traits in bodies]
            outcomes += writer.write_many(session, ctx, writes, source="import:test", clock=clock)
    return outcomes


def stored(db, store_pk: int) -> dict:
    """The store's rows, each key and public id replaced by the rank of its row."""
    with db.reading() as session:
        profiles = list(session.scalars(select(Profile).where(Profile.store_id == store_pk).order_by(Profile.id)))
        identifiers = list(session.scalars(select(ProfileIdentifier).where(ProfileIdentifier.store_id == store_pk).order_by(ProfileIdentifier.id)))
        keys = session.execute(
            select(IdentifierMatchKey.identifier_id, IdentifierMatchKey.key, IdentifierMatchKey.id_type)
            .where(IdentifierMatchKey.store_id == store_pk)
            .order_by(IdentifierMatchKey.identifier_id, IdentifierMatchKey.key)
        ).all()
        history = list(session.scalars(select(ProfileHistory).where(ProfileHistory.store_id == store_pk).order_by(ProfileHistory.id)))
        merges = list(session.scalars(select(ProfileMerge).where(ProfileMerge.store_id == store_pk).order_by(ProfileMerge.id)))
    rank = {p.id: n for n, p in enumerate(profiles)} | {p.sid: n for n, p in enumerate(profiles)}

    def ranked_meta(meta: dict) -> dict:
        """Trait provenance with the profile a merged value came from (``via``) as a rank."""
        return {
            group: {name: {**stamp, "via": rank[stamp["via"]]} if "via" in stamp else stamp for name, stamp in named.items()}
            for group, named in meta.items()
        }

    identifier_rank = {row.id: n for n, row in enumerate(identifiers)}
    return {
        "profiles": [
            (rank.get(p.canonical_id), p.traits, ranked_meta(p.trait_meta), p.created_at, p.updated_at, p.merged_at) for p in profiles
        ],
        "identifiers": [
            (rank[row.profile_id], rank[row.origin_profile_id], row.id_type, row.value, row.source, row.added_at) for row in identifiers
        ],
        "match_keys": [(identifier_rank[identifier_id], key, id_type) for identifier_id, key, id_type in keys],
        "history": [
            (rank[h.profile_id], h.at, h.kind, h.action, h.subject_group, h.subject_name, h.old_value, h.new_value, h.source, rank.get(h.via))
            for h in history
        ],
        "merges": [
            (rank[m.survivor_id], rank[m.merged_id], m.cause_id_type, m.cause_value,
             m.merged_traits["traits"], ranked_meta(m.merged_traits["meta"]), m.survivor_traits["traits"], ranked_meta(m.survivor_traits["meta"]),
             [{**i, "originProfileId": rank[i["originProfileId"]]} for i in m.merged_identifiers])
            for m in merges
        ],
    }


def test_copy_stores_the_rows_the_inserts_store(tmp_path, monkeypatch):
    backend, cleanup = make_backend("postgresql", tmp_path)
    db = backend.db
    try:
        with db.writing() as session:
            credentials = create_account(session, "copy")
            account = session.scalar(select(Account).where(Account.sid == credentials.account_sid))
            stores = [create_store(session, Principal(account.id, account.sid), name, None) for name in ("copy", "insert")]
            for store in stores:
                store.identity_settings = SETTINGS
            copying, inserting = (store.id for store in stores)
        monkeypatch.setattr(writer, "utcnow", lambda: NOW)

        with monkeypatch.context() as copy_always:  # these batches are small: COPY them all the same
            copy_always.setattr(bulk_copy, "COPY_FROM_ROWS", 1)
            copied = write_batches(db, copying)
        with monkeypatch.context() as inserts_only:
            inserts_only.setattr(bulk_copy, "copies", lambda session, rows: False)
            inserted = write_batches(db, inserting)

        assert [(o.created, len(o.merged)) for o in copied] == [(o.created, len(o.merged)) for o in inserted]
        with_copy, with_inserts = stored(db, copying), stored(db, inserting)
        assert len(with_copy["profiles"]) == 8 and with_copy["merges"] and with_copy["match_keys"]
        assert with_copy == with_inserts
    finally:
        cleanup()
