"""``POST /v1/Stores/{storeId}/Profiles/Lookup``: included before the profiles router, whose
``{profileId}`` would otherwise see ``Lookup`` as an id."""

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from convmem.identifiers.schemas import Identifier
from convmem.lookup import service
from convmem.web.auth import Principal, current_principal
from convmem.web.params import STORE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles", tags=["Retrieval"])


@router.post("/Lookup")
def lookup_profiles(
    request: Request,
    storeId: str = STORE_ID,
    body: Identifier = Body(),
    principal: Principal = Depends(current_principal),
):
    result = service.lookup(request.app.state.db, principal, storeId, body.idType, body.value)
    return JSONResponse(result.model_dump())
