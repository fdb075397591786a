"""SQL of Lookup. Identifier rows always belong to canonical profiles (a merge moves them to
the survivor), so the holders of a value are already the ids to return."""

from collections.abc import Collection

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from convmem.database.tables import Profile, ProfileIdentifier
from convmem.lookup.schemas import MAX_PROFILES

# Built once: Lookup is the hot read path, and building the statement costs more than running it.
_HOLDERS_OF_VALUE = (
    select(Profile.sid)
    .join(ProfileIdentifier, ProfileIdentifier.profile_id == Profile.id)
    .where(
        ProfileIdentifier.store_id == bindparam("store_pk"),
        ProfileIdentifier.id_type == bindparam("id_type"),
        ProfileIdentifier.value == bindparam("value"),
    )
    .order_by(Profile.id)
    .limit(MAX_PROFILES)
)


def holders_of_value(session: Session, store_pk: int, id_type: str, value: str) -> list[str]:
    """Sids of the profiles holding exactly ``value``, earliest created first: one probe of
    the (store, idType, value) index joined to the profiles' primary key."""
    return list(session.scalars(_HOLDERS_OF_VALUE, {"store_pk": store_pk, "id_type": id_type, "value": value}))


def sids_of(session: Session, profile_pks: Collection[int]) -> list[str]:
    """Sids of ``profile_pks``, earliest created first."""
    if not profile_pks:
        return []
    return list(session.scalars(select(Profile.sid).where(Profile.id.in_(profile_pks)).order_by(Profile.id)))
