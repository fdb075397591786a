"""Profile addressing: a merged profile's id stays valid and names its canonical profile."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from convmem.database.tables import Profile
from convmem.web.errors import not_found


class ProfileMoved(Exception):
    """A merged (alias) profile id was used where a live one is needed; the web edge answers
    it with a redirect to the canonical profile (301 for reads, 308 for writes)."""

    def __init__(self, requested_sid: str, canonical_sid: str):
        super().__init__(f"{requested_sid} was merged into {canonical_sid}")
        self.requested_sid = requested_sid
        self.canonical_sid = canonical_sid


@dataclass(frozen=True)
class ProfileRef:
    pk: int
    sid: str


def find_canonical(session: Session, store_pk: int, profile_sid: str, *, follow: bool = False) -> ProfileRef:
    """The live profile ``profile_sid`` names in the store.

    A merged id raises ``ProfileMoved`` (answered 301/308) unless ``follow`` is set, in
    which case its canonical profile is returned. Unknown or deleted ids are 404.
    """
    canonical = aliased(Profile)
    row = session.execute(
        select(Profile.id, Profile.canonical_id, canonical.sid)
        .outerjoin(canonical, canonical.id == Profile.canonical_id)
        .where(Profile.sid == profile_sid, Profile.store_id == store_pk)
    ).first()
    if row is None:
        raise not_found(f"Profile '{profile_sid}' was not found")
    pk, canonical_pk, canonical_sid = row
    if canonical_pk is None:
        return ProfileRef(pk, profile_sid)
    if follow:
        return ProfileRef(canonical_pk, canonical_sid)
    raise ProfileMoved(profile_sid, canonical_sid)
