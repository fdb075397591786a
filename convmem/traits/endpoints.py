"""``GET /v1/Stores/{storeId}/Profiles/{profileId}/Traits``."""

from dataclasses import replace

from fastapi import APIRouter, Query, Request

from convmem.kit.timefmt import iso
from convmem.traits import service
from convmem.traits.schemas import MAX_TRAITS_PER_PAGE, FullTrait, TraitList
from convmem.web.dependencies import OwnedStore, ReadSession
from convmem.web.errors import ApiError, Code
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import PROFILE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}/Traits", tags=["Traits"])
DATA_PLANE_MAX_PAGE_SIZE = 1000


@router.get("", response_model=TraitList, response_model_exclude_none=True)
def list_traits(
    request: Request,
    session: ReadSession,
    store: OwnedStore,
    profileId: str = PROFILE_ID,
    traitGroups: str | None = Query(default=None, min_length=1, max_length=256),
):
    groups = sorted({g.strip() for g in traitGroups.split(",") if g.strip()}) if traitGroups else None
    page_request = parse_page_request(
        request, max_size=DATA_PLANE_MAX_PAGE_SIZE, filters={"traitGroups": groups} if groups else None
    )
    _check_token_shape(page_request.cursor, page_request.filters)
    # Any pageSize the contract allows is accepted; a page holds at most what the array may.
    page_request = replace(page_request, size=min(page_request.size, MAX_TRAITS_PER_PAGE))
    page = service.list_page(session, store.id, profileId, page_request)
    items = [_full_trait(trait) for trait in page.items]
    return TraitList(**page_body("traits", items, page))


def _full_trait(trait: service.FlatTrait) -> FullTrait:
    # ``timestamp`` is to the second, as the contract's date-times are.
    timestamp = iso(trait.written_at) if trait.written_at else None
    return FullTrait(name=trait.name, value=trait.value, traitGroup=trait.group, timestamp=timestamp)


def _check_token_shape(cursor, filters: dict) -> None:
    """A token minted by another list would otherwise reach a comparison of the wrong type."""
    cursor_ok = cursor is None or (
        isinstance(cursor, list) and len(cursor) == 2 and all(isinstance(part, str) for part in cursor)
    )
    groups = filters.get("traitGroups")
    groups_ok = groups is None or (isinstance(groups, list) and all(isinstance(g, str) for g in groups))
    if not (cursor_ok and groups_ok and set(filters) <= {"traitGroups"}):
        raise ApiError(400, Code.INVALID_PAGE_TOKEN, "pageToken was not issued for this list")
