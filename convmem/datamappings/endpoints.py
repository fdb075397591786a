"""``/v1/ControlPlane/Stores/{storeId}/DataMappings``."""

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from convmem.database.tables import DataMapping
from convmem.datamappings import service
from convmem.datamappings.schemas import (
    CreateDataMappingInput,
    DataMappingBody,
    DataMappingCore,
    DataMappingList,
    DataMappingSuggestionToTraitsResult,
    DataMappingSuggestionTraitItem,
    DataMappingType,
    MappingSuggestions,
    MappingTraitItem,
    SuggestMappingsRequest,
)
from convmem.kit.timefmt import iso
from convmem.operations.service import record_completed
from convmem.web.controlplane import (
    IF_MATCH,
    OperationAccepted,
    accepted,
    control_plane_page,
)
from convmem.web.dependencies import (
    Caller,
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteSession,
)
from convmem.web.etags import check_if_match, etag
from convmem.web.pagination import page_body
from convmem.web.params import DATA_MAPPING_ID

router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}/DataMappings", tags=["DataMapping"])
suggestions_router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}/DataMappingSuggestions", tags=["DataMapping"])


def mapping_path(store_sid: str, mapping_sid: str) -> str:
    return f"/v1/ControlPlane/Stores/{store_sid}/DataMappings/{mapping_sid}"


def mapping_body(mapping: DataMapping) -> DataMappingBody:
    return DataMappingBody(
        displayName=mapping.display_name,
        description=mapping.description,
        isEnabled=mapping.is_enabled,
        mappingTo=mapping.mapping_to,
        mappingFrom=mapping.mapping_from,
        id=mapping.sid,
        createdAt=iso(mapping.created_at),
        updatedAt=iso(mapping.updated_at),
        version=mapping.version,
    )


@router.get("", response_model=DataMappingList, response_model_exclude_none=True)
def list_data_mappings(
    request: Request,
    session: ReadSession,
    store: OwnedStore,
    mapping_type: DataMappingType | None = Query(default=None, alias="type"),
):
    page_request = control_plane_page(request, cursor_type=int, filters={"type": mapping_type.value} if mapping_type else {})
    page = service.list_page(session, store, page_request, page_request.filters.get("type"))
    return DataMappingList(**page_body("dataMappings", [mapping_body(m) for m in page.items], page))


@router.post("", status_code=202, response_model=OperationAccepted)
def create_data_mapping(
    request: Request, principal: Caller, session: WriteSession, store: LockedStore, body: CreateDataMappingInput = Body()
):
    mapping = service.create_mapping(session, store, body)
    operation = record_completed(session, principal, "CreateDataMapping", mapping.sid, mapping_path(store.sid, mapping.sid))
    return accepted(request, operation, "Data mapping creation request accepted for processing.")


@router.get("/{dataMappingId}", response_model=DataMappingBody, response_model_exclude_none=True)
def fetch_data_mapping(session: ReadSession, store: OwnedStore, dataMappingId: str = DATA_MAPPING_ID):
    mapping = service.get_mapping(session, store, dataMappingId)
    body = mapping_body(mapping).model_dump(exclude_none=True)
    return JSONResponse(body, headers={"ETag": etag(mapping.sid, mapping.version)})


@router.patch("/{dataMappingId}", status_code=202, response_model=OperationAccepted)
def patch_data_mapping(
    request: Request,
    principal: Caller,
    session: WriteSession,
    store: LockedStore,
    dataMappingId: str = DATA_MAPPING_ID,
    body: DataMappingCore | None = Body(default=None),
    if_match: str | None = IF_MATCH,
):
    mapping = service.get_mapping(session, store, dataMappingId)
    check_if_match(if_match, mapping.sid, mapping.version)
    service.patch_mapping(session, store, mapping, body or DataMappingCore())
    operation = record_completed(session, principal, "PatchDataMapping", mapping.sid, mapping_path(store.sid, mapping.sid))
    return accepted(request, operation, "Data mapping update request accepted for processing.")


@router.delete("/{dataMappingId}", status_code=202, response_model=OperationAccepted)
def delete_data_mapping(
    request: Request, principal: Caller, session: WriteSession, store: LockedStore, dataMappingId: str = DATA_MAPPING_ID
):
    mapping = service.get_mapping(session, store, dataMappingId)
    service.delete_mapping(session, mapping)
    operation = record_completed(session, principal, "DeleteDataMapping", mapping.sid, None)
    return accepted(request, operation, "Data mapping deletion request accepted for processing.")


@suggestions_router.post("", response_model=MappingSuggestions)
def suggest_data_mappings(session: ReadSession, store: OwnedStore, body: SuggestMappingsRequest = Body()):
    """convmem extension: which source column most likely feeds which trait, with a confidence and a rationale.
    Nothing is stored; the answer's ``mappingFrom`` and ``mappingTo.mappings[].mapping`` make a create body."""
    suggested = service.suggest_mappings(session, store, body)
    items = [
        DataMappingSuggestionTraitItem(
            mapping=MappingTraitItem(expression=s.expression, traitGroup=s.trait_group, traitName=s.trait_name),
            confidence=s.confidence,
            rationale=s.rationale,
        )
        for s in suggested.suggestions
    ]
    return MappingSuggestions(
        mappingFrom=suggested.mapping_from,
        mappingTo=DataMappingSuggestionToTraitsResult(mappings=items),
        unmappedColumns=suggested.unmapped_columns,
    )
