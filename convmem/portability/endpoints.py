"""``GET /v1/Stores/{storeId}/Profiles/{profileId}/Export``: a convmem extension (docs/extensions.md).

One customer's complete record, as a data-protection request needs it: the same record as a
line of ``convmem export``. A merged id answers 301 to its canonical profile, like other reads.
"""

from fastapi import APIRouter

from convmem.portability import service
from convmem.portability.schemas import ProfileRecord
from convmem.web.dependencies import OwnedStore, ReadSession
from convmem.web.params import PROFILE_ID

router = APIRouter(prefix="/v1/Stores/{storeId}/Profiles/{profileId}", tags=["Profile export (convmem extension)"])


@router.get("/Export", response_model=ProfileRecord)
def export_profile(session: ReadSession, store: OwnedStore, profileId: str = PROFILE_ID):
    """convmem extension: the profile's traits with their provenance, identifiers, aliases,
    merge ledger, observations (with revisions) and summaries."""
    return service.export_profile(session, store, profileId)
