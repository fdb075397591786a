"""convmem extensions for undoing identity decisions (not part of Twilio's API, under paths it
does not use; ``docs/extensions.md``): unmerge, split, the store's never-merge pairs, and
re-resolving a store under its current settings."""

from fastapi import APIRouter, Body, Path, Request, Response

from convmem.kit.ids import PATTERNS, Prefix
from convmem.kit.timefmt import iso
from convmem.operations.service import record_running
from convmem.profiles import never_merge, reresolve
from convmem.profiles.context import load_context
from convmem.profiles.schemas import (
    IdentifierPair,
    NeverMergePairBody,
    NeverMergePairList,
    ReresolveProgress,
    SplitDone,
    SplitRequest,
    TraitName,
    Unmerged,
)
from convmem.profiles.split import split
from convmem.profiles.unmerge import unmerge
from convmem.web.controlplane import OperationAccepted, accepted
from convmem.web.dependencies import (
    Caller,
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteClockDep,
    WriteSession,
)
from convmem.web.errors import not_found
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import PAIR_ID, PROFILE_ID

# Its own Path: FastAPI names a shared parameter object after the first route argument using it.
MERGED_PROFILE_ID = Path(pattern=PATTERNS["profileId"].pattern)
OPERATION_ID = Path(pattern=rf"^{Prefix.OPERATION.value}_[0-7][0-9a-z]{{25}}$")

router = APIRouter(prefix="/v1/Stores/{storeId}", tags=["Identity decisions (convmem extension)"])
reresolve_router = APIRouter(
    prefix="/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings/Reresolve", tags=["Identity decisions (convmem extension)"]
)


@router.post("/Profiles/{profileId}/Merges/{mergedProfileId}/Unmerge", response_model=Unmerged)
def unmerge_profile(
    session: WriteSession,
    store: LockedStore,
    clock: WriteClockDep,
    profileId: str = PROFILE_ID,
    mergedProfileId: str = MERGED_PROFILE_ID,
):
    """Undo the merge of ``mergedProfileId`` into the canonical profile ``profileId``."""
    done = unmerge(session, load_context(session, store), clock, profileId, mergedProfileId)
    return Unmerged(
        profileId=done.profile_sid,
        fromProfileId=done.survivor_sid,
        restoredIdentifiers=_pairs(done.restored_identifiers),
        identifiersKeptBySurvivor=_pairs(done.identifiers_kept_by_survivor),
        traitsKeptBySurvivor=_names(done.traits_kept_by_survivor),
        aliases=done.aliases,
    )


@router.post("/Profiles/{profileId}/Split", status_code=201, response_model=SplitDone)
def split_profile(
    session: WriteSession, store: LockedStore, clock: WriteClockDep, profileId: str = PROFILE_ID, body: SplitRequest = Body()
):
    """Move identifiers (and optionally trait values) off the profile into a new profile."""
    wanted = [(pair.idType, pair.value) for pair in body.identifiers]
    done = split(session, load_context(session, store), clock, profileId, wanted, body.traits)
    return SplitDone(
        profileId=done.profile_sid,
        fromProfileId=done.from_sid,
        identifiers=_pairs(done.identifiers),
        traits=_names(done.traits),
    )


@router.get("/NeverMergePairs", response_model=NeverMergePairList, response_model_exclude_none=True)
def list_never_merge_pairs(request: Request, session: ReadSession, store: OwnedStore):
    views, page = never_merge.list_page(session, store.id, parse_page_request(request, max_size=1000))
    pairs = [
        NeverMergePairBody(
            id=view.sid,
            profileIds=list(view.profile_sids),
            liveProfileIds=list(view.live_profile_sids),
            reason=view.reason,
            createdAt=iso(view.created_at),
        )
        for view in views
    ]
    return page_body("pairs", pairs, page)


@router.delete("/NeverMergePairs/{pairId}", status_code=204, response_class=Response)
def delete_never_merge_pair(session: WriteSession, store: LockedStore, pairId: str = PAIR_ID):
    """The two profiles may merge again, from the next write that ties them."""
    never_merge.remove(session, store.id, pairId)
    return Response(status_code=204)


@reresolve_router.post("", status_code=202, response_model=OperationAccepted, summary="Re-resolve the store (convmem extension)")
def reresolve_store(request: Request, principal: Caller, session: WriteSession, store: LockedStore):
    """Resolve every live profile again under the store's current settings, in a background job;
    the operation stays RUNNING until it is done. The answer's Location is the operation."""
    operation = record_running(session, principal, reresolve.OPERATION_KIND, store.sid, None)
    operation.result_path = f"{reresolve_router.prefix.replace('{storeId}', store.sid)}/{operation.sid}"
    reresolve.start(session, store, operation)
    return accepted(request, operation, "Re-resolution accepted for processing.")


@reresolve_router.get("/{operationId}", response_model=ReresolveProgress, response_model_exclude_none=True)
def fetch_reresolve_progress(session: ReadSession, store: OwnedStore, operationId: str = OPERATION_ID):
    """The re-resolution's status and progress: profiles walked, merged and in conflict."""
    progress = reresolve.progress_of(session, store, operationId)
    if progress is None:
        raise not_found(f"Re-resolution '{operationId}' was not found")
    return ReresolveProgress(
        operationId=progress.operation_sid,
        status=progress.status,
        createdAt=iso(progress.created_at),
        completedAt=iso(progress.completed_at),
        profilesWalked=progress.profiles_walked,
        profilesMerged=progress.merges,
        conflicts=progress.conflicts,
    )


def _pairs(pairs: list[tuple[str, str]]) -> list[IdentifierPair]:
    return [IdentifierPair(idType=id_type, value=value) for id_type, value in pairs]


def _names(names: list[tuple[str, str]]) -> list[TraitName]:
    return [TraitName(group=group, trait=trait) for group, trait in names]
