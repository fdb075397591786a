"""The history extension: a profile as of an instant, a trait's changes, where each value
came from, and the store's retention (not part of Twilio's contract; see docs/extensions.md).

Addressing a merged profile reads that profile's own history (what it held until it merged)
rather than redirecting, so the history of every id stays readable.
"""

from datetime import datetime, timezone

from fastapi import APIRouter, Body, Query

from convmem.history import service
from convmem.history.schemas import (
    HistorySettings,
    IdentifierValues,
    ProfileAsOfBody,
    ProvenanceBody,
    TraitChangeBody,
    TraitHistoryBody,
    ValueProvenance,
)
from convmem.web.dependencies import LockedStore, OwnedStore, ReadSession, WriteSession
from convmem.web.errors import bad_request
from convmem.web.params import PROFILE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}", tags=["History (convmem extension)"])
settings_router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}", tags=["History (convmem extension)"])


@router.get("/History", response_model=ProfileAsOfBody)
def profile_as_of(
    session: ReadSession,
    store: OwnedStore,
    profileId: str = PROFILE_ID,
    asOf: str = Query(description="An instant, ISO-8601 (e.g. 2026-11-30T10:00:00Z)", max_length=40),
):
    found = service.profile_as_of(session, store, profileId, _instant(asOf), datetime.now(timezone.utc))
    identifiers = [IdentifierValues(idType=t, values=v) for t, v in found.state.identifiers.items()]
    return ProfileAsOfBody(id=found.sid, asOf=precise(found.at), traits=found.state.traits, identifiers=identifiers)


@router.get("/Traits/{traitGroup}/{traitName}/History", response_model=TraitHistoryBody)
def trait_history(
    session: ReadSession,
    store: OwnedStore,
    profileId: str = PROFILE_ID,
    traitGroup: str = ...,
    traitName: str = ...,
):
    changes = [
        TraitChangeBody(
            profileId=change.profile_sid,
            at=precise(change.at),
            action=change.action,
            oldValue=change.old,
            newValue=change.new,
            source=change.source,
            via=change.via,
        )
        for change in service.trait_history(session, store.id, profileId, traitGroup, traitName)
    ]
    return TraitHistoryBody(traitGroup=traitGroup, traitName=traitName, changes=changes)


@router.get("/Provenance", response_model=ProvenanceBody)
def provenance(session: ReadSession, store: OwnedStore, profileId: str = PROFILE_ID):
    profile, origins = service.provenance(session, store.id, profileId)
    values = [
        ValueProvenance(
            traitGroup=o.group, traitName=o.name, value=o.value, setAt=o.set_at, source=o.source, mergedFrom=o.via
        )
        for o in origins
    ]
    return ProvenanceBody(id=profile.sid, mergedInto=service.canonical_sid(session, profile), values=values)


@settings_router.get("/HistorySettings", response_model=HistorySettings)
def fetch_history_settings(store: OwnedStore):
    return HistorySettings(historyRetentionDays=store.history_retention_days)


@settings_router.put("/HistorySettings", response_model=HistorySettings)
def put_history_settings(session: WriteSession, store: LockedStore, body: HistorySettings = Body()):
    service.set_retention(session, store, body.historyRetentionDays)
    return HistorySettings(historyRetentionDays=store.history_retention_days)


def precise(value: datetime) -> str:
    """History times to the microsecond, in UTC: changes within a second stay apart."""
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _instant(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"'asOf' must be an ISO-8601 instant such as 2026-11-30T10:00:00Z, not '{raw}'") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
