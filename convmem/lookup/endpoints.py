"""``POST /v1/Stores/{storeId}/Profiles/Lookup``: included before the profiles router, whose
``{profileId}`` would otherwise see ``Lookup`` as an id."""

from fastapi import APIRouter, Body

from convmem.identifiers.schemas import Identifier
from convmem.lookup import service
from convmem.lookup.schemas import LookupResult
from convmem.web.dependencies import OwnedStore, ReadSession

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles", tags=["Retrieval"])


@router.post("/Lookup", response_model=LookupResult)
def lookup_profiles(session: ReadSession, store: OwnedStore, body: Identifier = Body()):
    matches = service.lookup(session, store, body.idType, body.value)
    return LookupResult(normalizedValue=matches.normalized_value, profiles=matches.profile_sids)
