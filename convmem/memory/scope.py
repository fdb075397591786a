"""What observations and summaries share: the profile a request addresses, page bounds, patches."""

from dataclasses import dataclass, replace
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from convmem.database.tables import Store, utcnow
from convmem.profiles.addressing import ProfileRef, find_canonical
from convmem.web.pagination import Page, PageRequest

# The contract caps these arrays at 50 while pageSize goes to 1000: larger sizes are clamped.
MAX_PAGE_ITEMS = 50


@dataclass(frozen=True)
class Scope:
    """The store and canonical profile a request addresses, and the profile id it used."""

    store_pk: int
    profile: ProfileRef
    requested_sid: str

    @property
    def moved(self) -> bool:
        """The request named a profile that was merged away (it is served through the survivor)."""
        return self.profile.sid != self.requested_sid


def resolve(session: Session, store: Store, profile_sid: str, *, follow: bool) -> Scope:
    return Scope(store.id, find_canonical(session, store.id, profile_sid, follow=follow), profile_sid)


@dataclass(frozen=True)
class MemoryPage:
    """One page of memory rows, and the page size that was asked for."""

    rows: list
    page: Page
    size_asked: int


def clamp(page: PageRequest) -> PageRequest:
    return replace(page, size=min(page.size, MAX_PAGE_ITEMS))


def apply_patch(record, wanted: dict) -> set[str]:
    """Set the fields sent (not None) whose value differs; ``updated_at`` moves only on a
    change. Returns the changed fields."""
    changes = {field: value for field, value in wanted.items() if value is not None and _differs(getattr(record, field), value)}
    for field, value in changes.items():
        setattr(record, field, value)
    if changes:
        record.updated_at = utcnow()
    return set(changes)


def _differs(current, new) -> bool:
    # SQLite hands timestamps back without their zone; they are stored as UTC.
    if isinstance(current, datetime) and current.tzinfo is None:
        current = current.replace(tzinfo=timezone.utc)
    return current != new
