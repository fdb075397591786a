"""Recording changes of profiles, for the write path and the trait purge.

A write collects its changes in a ``Changes`` and inserts them with one statement at its end;
bulk batches and imports record one ``created`` event per new profile (its whole state), so a
batch of new profiles costs one more insert, not one per value.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from convmem.database import bulk
from convmem.database.tables import ProfileHistory

PROFILE, TRAIT, IDENTIFIER = "profile", "trait", "identifier"
CREATED, BASELINE = "created", "baseline"
SET, CHANGED, DELETED, PURGED, MERGED = "set", "changed", "deleted", "purged", "merged"
UNMERGED, SPLIT = "unmerged", "split"
ADDED, REMOVED, EVICTED, MOVED = "added", "removed", "evicted", "moved"


def instant(at: str | datetime | None = None) -> datetime:
    """A change's time: a ``WriteClock`` tick (ISO with microseconds), or now."""
    if at is None:
        return datetime.now(timezone.utc)
    return datetime.fromisoformat(at) if isinstance(at, str) else at


def whole_state(traits: dict, identifiers: Sequence[tuple[str, str]]) -> dict:
    """The ``new_value`` of a ``profile`` event: the profile's traits and identifiers, all of them."""
    return {"traits": traits, "identifiers": [list(pair) for pair in identifiers]}


def profile_created(
    store_pk: int, profile_pk: int, at: str, source: str, traits: dict, identifiers, action: str = CREATED
) -> dict:
    """The row recording a profile's whole state: a new profile with everything it began with,
    or (``action``) a profile an unmerge or a split has just reshaped."""
    return {
        "store_id": store_pk,
        "profile_id": profile_pk,
        "at": instant(at),
        "kind": PROFILE,
        "action": action,
        "subject_group": None,
        "subject_name": None,
        "old_value": None,
        "new_value": whole_state(traits, identifiers),
        "source": source,
        "via": None,
    }


@dataclass
class Changes:
    """The changes one write makes, at one instant, by one source."""

    store_pk: int
    at: datetime
    source: str
    rows: list[dict] = field(default_factory=list)

    def add(
        self,
        profile_pk: int,
        kind: str,
        action: str,
        group: str | None,
        name: str | None,
        old: object = None,
        new: object = None,
        *,
        source: str | None = None,
        via: str | None = None,
    ) -> None:
        self.rows.append(
            {
                "store_id": self.store_pk,
                "profile_id": profile_pk,
                "at": self.at,
                "kind": kind,
                "action": action,
                "subject_group": group,
                "subject_name": name,
                "old_value": old,
                "new_value": new,
                "source": source or self.source,
                "via": via,
            }
        )

    def trait(
        self,
        profile_pk: int,
        group: str,
        name: str,
        old: object,
        new: object,
        *,
        action: str | None = None,
        source: str | None = None,
        via: str | None = None,
    ) -> None:
        """A trait value changed: ``set`` where there was none, ``changed``, ``deleted`` (new
        None), or the given ``action``. Writing a value again as it was is no change."""
        if old == new and type(old) is type(new):  # 1 == True, but a change from 1 to true is one
            return
        action = action or (DELETED if new is None else SET if old is None else CHANGED)
        self.add(profile_pk, TRAIT, action, group, name, old, new, source=source, via=via)

    def identifier(self, profile_pk: int, action: str, id_type: str, value: str, *, present: bool, via: str | None = None) -> None:
        """An identifier value added to (``present``) or taken from the profile."""
        old, new = (None, value) if present else (value, None)
        self.add(profile_pk, IDENTIFIER, action, id_type, value, old, new, via=via)

    def save(self, session: Session) -> None:
        save(session, self.rows)
        self.rows = []


def save(session: Session, rows: Sequence[dict]) -> None:
    bulk.insert_rows(session, ProfileHistory.__table__, rows)
