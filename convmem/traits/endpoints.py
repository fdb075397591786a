"""``GET /v1/Stores/{storeId}/Profiles/{profileId}/Traits``."""

from dataclasses import replace

from fastapi import APIRouter, Depends, Query, Request

from convmem.traits import service
from convmem.traits.schemas import MAX_TRAITS_PER_PAGE
from convmem.web.auth import Principal, current_principal
from convmem.web.errors import ApiError, Code
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import PROFILE_ID, STORE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}/Traits", tags=["Traits"])
DATA_PLANE_MAX_PAGE_SIZE = 1000


@router.get("")
def list_traits(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    traitGroups: str | None = Query(default=None, min_length=1, max_length=256),
    principal: Principal = Depends(current_principal),
):
    groups = sorted({g.strip() for g in traitGroups.split(",") if g.strip()}) if traitGroups else None
    page_request = parse_page_request(
        request, max_size=DATA_PLANE_MAX_PAGE_SIZE, filters={"traitGroups": groups} if groups else None
    )
    _check_token_shape(page_request.cursor, page_request.filters)
    # Any pageSize the contract allows is accepted; a page holds at most what the array may.
    page_request = replace(page_request, size=min(page_request.size, MAX_TRAITS_PER_PAGE))
    page = service.list_page(request.app.state.db, principal, storeId, profileId, page_request)
    items = [trait.model_dump(exclude_none=True) for trait in page.items]
    return page_body("traits", items, page)


def _check_token_shape(cursor, filters: dict) -> None:
    """A token minted by another list would otherwise reach a comparison of the wrong type."""
    cursor_ok = cursor is None or (
        isinstance(cursor, list) and len(cursor) == 2 and all(isinstance(part, str) for part in cursor)
    )
    groups = filters.get("traitGroups")
    groups_ok = groups is None or (isinstance(groups, list) and all(isinstance(g, str) for g in groups))
    if not (cursor_ok and groups_ok and set(filters) <= {"traitGroups"}):
        raise ApiError(400, Code.INVALID_PAGE_TOKEN, "pageToken was not issued for this list")
