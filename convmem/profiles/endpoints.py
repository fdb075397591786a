"""``/v1/Stores/{storeId}/Profiles`` and ``…/Profiles/{profileId}``.

Included last in the app: literal siblings (Lookup, Bulk, Imports) must match before
``{profileId}``.
"""

from fastapi import APIRouter, Body, Query, Request

from convmem.kit.timefmt import iso
from convmem.profiles import service
from convmem.profiles.context import load_context
from convmem.profiles.schemas import (
    Merge,
    MergeList,
    ProfileAccepted,
    ProfileBody,
    ProfileCreated,
    ProfileData,
    ProfileList,
    ProfilePatch,
)
from convmem.web.dependencies import (
    LockedStore,
    OwnedStore,
    ReadSession,
    SharedStore,
    WriteClockDep,
    WriteSession,
)
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import PROFILE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles", tags=["Profile"])


@router.post("", status_code=202, response_model=ProfileCreated)
def create_profile(session: WriteSession, store: SharedStore, clock: WriteClockDep, body: ProfileData = Body()):
    outcome = service.upsert(session, load_context(session, store), body.traits, source="api:create", clock=clock)
    return ProfileCreated(id=outcome.sid)


@router.get("", response_model=ProfileList, response_model_exclude_none=True)
def list_profiles(request: Request, session: ReadSession, store: OwnedStore):
    page = service.list_page(session, store.id, parse_page_request(request, max_size=1000))
    return page_body("profiles", [row.sid for row in page.items], page)


@router.get("/{profileId}", response_model=ProfileBody)
def fetch_profile(
    session: ReadSession,
    store: OwnedStore,
    profileId: str = PROFILE_ID,
    traitGroups: str | None = Query(default=None, min_length=1, max_length=256),
):
    groups = {g.strip() for g in traitGroups.split(",") if g.strip()} if traitGroups else None
    profile = service.fetch(session, store.id, profileId, groups)
    return ProfileBody(id=profile.sid, createdAt=iso(profile.created_at), traits=profile.traits)


@router.patch("/{profileId}", status_code=202, response_model=ProfileAccepted)
def patch_profile(
    session: WriteSession, store: SharedStore, clock: WriteClockDep, profileId: str = PROFILE_ID, body: ProfilePatch = Body()
):
    ctx = load_context(session, store)
    service.upsert(session, ctx, body.traits, source="api:patch", clock=clock, anchor_sid=profileId)
    return ProfileAccepted(message="Trait modifications accepted for processing.")


@router.delete("/{profileId}", status_code=202, response_model=ProfileAccepted)
def delete_profile(session: WriteSession, store: LockedStore, profileId: str = PROFILE_ID):
    service.remove(session, store.id, profileId)
    return ProfileAccepted(message="Profile accepted for deletion.")


@router.get("/{profileId}/Merges", response_model=MergeList)
def list_merges(session: ReadSession, store: OwnedStore, profileId: str = PROFILE_ID):
    """convmem extension: the identity ledger of a canonical profile, merges, unmerges and
    splits in order (not part of Twilio's API)."""
    merges = [
        Merge(
            kind=m.kind,
            mergedProfileId=m.merged_sid,
            intoProfileId=m.into_sid,
            mergedAt=iso(m.merged_at),
            idType=m.id_type,
            value=m.value,
            source=m.source,
        )
        for m in service.merge_history(session, store.id, profileId)
    ]
    return MergeList(merges=merges, meta={"key": "merges", "pageSize": len(merges)})
