"""``/v1/Stores/{storeId}/Profiles`` and ``…/Profiles/{profileId}``.

Included last in the app: literal siblings (Lookup, Bulk, Imports) must match before
``{profileId}``.
"""

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from convmem.profiles import service
from convmem.profiles.schemas import ProfileCreated, ProfileData, ProfilePatch
from convmem.web.auth import Principal, current_principal
from convmem.web.pagination import page_body, parse_page_request
from convmem.web.params import PROFILE_ID, STORE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles", tags=["Profile"])


@router.post("", status_code=202)
def create_profile(
    request: Request,
    storeId: str = STORE_ID,
    body: ProfileData = Body(),
    principal: Principal = Depends(current_principal),
):
    outcome = service.upsert(request.app.state.db, principal, storeId, body.traits, source="api:create")
    return JSONResponse(ProfileCreated(id=outcome.sid).model_dump(), status_code=202)


@router.get("")
def list_profiles(request: Request, storeId: str = STORE_ID, principal: Principal = Depends(current_principal)):
    page_request = parse_page_request(request, max_size=1000)
    page = service.list_page(request.app.state.db, principal, storeId, page_request)
    return page_body("profiles", [row.sid for row in page.items], page)


@router.get("/{profileId}")
def fetch_profile(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    traitGroups: str | None = Query(default=None, min_length=1, max_length=256),
    principal: Principal = Depends(current_principal),
):
    groups = {g.strip() for g in traitGroups.split(",") if g.strip()} if traitGroups else None
    return service.fetch(request.app.state.db, principal, storeId, profileId, groups)


@router.patch("/{profileId}", status_code=202)
def patch_profile(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    body: ProfilePatch = Body(),
    principal: Principal = Depends(current_principal),
):
    service.upsert(request.app.state.db, principal, storeId, body.traits, source="api:patch", anchor_sid=profileId)
    return JSONResponse({"message": "Trait modifications accepted for processing."}, status_code=202)


@router.delete("/{profileId}", status_code=202)
def delete_profile(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    principal: Principal = Depends(current_principal),
):
    service.remove(request.app.state.db, principal, storeId, profileId)
    return JSONResponse({"message": "Profile accepted for deletion."}, status_code=202)


@router.get("/{profileId}/Merges")
def list_merges(
    request: Request,
    storeId: str = STORE_ID,
    profileId: str = PROFILE_ID,
    principal: Principal = Depends(current_principal),
):
    """convmem extension: the merge history of a canonical profile (not part of Twilio's API)."""
    merges = service.merge_history(request.app.state.db, principal, storeId, profileId)
    return {"merges": merges, "meta": {"key": "merges", "pageSize": len(merges)}}
