"""Never-merge pairs: two profiles identity resolution keeps apart (a convmem extension).

Unmerges and splits record them; resolution honours them (``identity.resolution.resolve``).
Each side stands for its profile's current canonical profile, so a pair follows both
profiles into later merges with third profiles. Deleting a pair lets them merge again.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from convmem.database.tables import NeverMergePair, utcnow
from convmem.kit.ids import Prefix, new_id
from convmem.profiles import repository
from convmem.web.errors import not_found
from convmem.web.pagination import Page, PageRequest, keyset


def keep_apart(session: Session, store_pk: int, first_pk: int, second_pk: int, *, reason: str) -> None:
    """Record that the two profiles must not merge again (once per pair)."""
    if repository.find_never_merge_pair(session, first_pk, second_pk) is None:
        low, high = sorted((first_pk, second_pk))
        session.add(
            NeverMergePair(
                sid=new_id(Prefix.NEVER_MERGE),
                store_id=store_pk,
                first_profile_id=low,
                second_profile_id=high,
                reason=reason,
                created_at=utcnow(),
            )
        )


@dataclass(frozen=True)
class PairView:
    sid: str
    profile_sids: tuple[str, str]
    live_profile_sids: tuple[str, str]
    reason: str
    created_at: datetime


def list_page(session: Session, store_pk: int, page: PageRequest) -> tuple[list[PairView], Page]:
    result = keyset(
        session, repository.never_merge_listing(store_pk), [NeverMergePair.id], page, key_of=lambda row: row[0].id
    )
    views = [
        PairView(pair.sid, (first, second), (first_live, second_live), pair.reason, pair.created_at)
        for pair, first, second, first_live, second_live in result.items
    ]
    return views, result


def remove(session: Session, store_pk: int, pair_sid: str) -> None:
    if not repository.delete_never_merge_pair(session, store_pk, pair_sid):
        raise not_found(f"Never-merge pair '{pair_sid}' was not found")
