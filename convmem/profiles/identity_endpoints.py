"""convmem extensions for undoing identity decisions (not part of Twilio's API, under paths it
does not use; ``docs/extensions.md``): unmerge, split, and the store's never-merge pairs."""

from fastapi import APIRouter, Body, Path, Request, Response

from convmem.kit.ids import PATTERNS
from convmem.kit.timefmt import iso
from convmem.profiles import never_merge
from convmem.profiles.context import load_context
from convmem.profiles.schemas import (
    IdentifierPair,
    NeverMergePairBody,
    NeverMergePairList,
    SplitDone,
    SplitRequest,
    TraitName,
    Unmerged,
)
from convmem.profiles.split import split
from convmem.profiles.unmerge import unmerge
from convmem.web.dependencies import (
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteClockDep,
    WriteSession,
)
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import PAIR_ID, PROFILE_ID

# Its own Path: FastAPI names a shared parameter object after the first route argument using it.
MERGED_PROFILE_ID = Path(pattern=PATTERNS["profileId"].pattern)

router = APIRouter(prefix="/v1/Stores/{storeId}", tags=["Identity decisions (convmem extension)"])


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


def _pairs(pairs: list[tuple[str, str]]) -> list[IdentifierPair]:
    return [IdentifierPair(idType=id_type, value=value) for id_type, value in pairs]


def _names(names: list[tuple[str, str]]) -> list[TraitName]:
    return [TraitName(group=group, trait=trait) for group, trait in names]
