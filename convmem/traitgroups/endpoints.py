"""``/v1/ControlPlane/Stores/{storeId}/TraitGroups``."""

import hashlib
import json

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse

from convmem.database.tables import TraitGroup
from convmem.operations.service import record_completed, record_running
from convmem.traitgroups import purge, service
from convmem.traitgroups.schemas import (
    PatchTraitGroupBody,
    TraitGroupBody,
    TraitGroupList,
    TraitGroupPage,
    TraitGroupRequest,
)
from convmem.web.controlplane import (
    IF_MATCH,
    OperationAccepted,
    accepted,
    control_plane_page,
)
from convmem.web.dependencies import (
    AppSettings,
    Caller,
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteSession,
)
from convmem.web.etags import check_if_match, etag
from convmem.web.pagination import page_body, paginate_sorted

router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}/TraitGroups", tags=["TraitGroup"])
GROUP_NAME = Path(min_length=1, max_length=64)
MAX_GROUPS_PER_PAGE = 50  # the contract caps the traitGroups array at 50


def group_path(store_sid: str, name: str) -> str:
    return f"/v1/ControlPlane/Stores/{store_sid}/TraitGroups/{name}"


def _tagged_id(group: TraitGroup) -> str:
    # A digest of what the group holds rather than its row id: SQLite reuses the id of a deleted last row,
    # so a group deleted and re-created with other traits would match its predecessor's tag. Equal content
    # at an equal version gives an equal tag, as a strong ETag may. Short, so the tag fits If-Match's 100 chars.
    state = json.dumps([group.name, group.description, group.traits], sort_keys=True)
    return "traitgroup_" + hashlib.sha256(state.encode()).hexdigest()[:20]


def group_body(group: TraitGroup, traits: dict | None) -> TraitGroupBody:
    return TraitGroupBody(displayName=group.name, description=group.description, traits=traits, version=group.version)


@router.get("", response_model=TraitGroupList, response_model_exclude_none=True)
def list_trait_groups(
    request: Request, session: ReadSession, store: OwnedStore, includeTraits: bool = Query(default=False)
):
    page_request = control_plane_page(
        request, cursor_type=int, max_items=MAX_GROUPS_PER_PAGE, filters={"includeTraits": includeTraits}
    )
    include = bool(page_request.filters.get("includeTraits"))
    page = service.list_page(session, store, page_request)
    items = [group_body(group, group.traits if include else None) for group in page.items]
    return TraitGroupList(**page_body("traitGroups", items, page))


@router.post("", status_code=202, response_model=OperationAccepted)
def create_trait_group(
    request: Request, principal: Caller, session: WriteSession, store: LockedStore, body: TraitGroupRequest = Body()
):
    group = service.create_group(session, store, body)
    operation = record_completed(session, principal, "CreateTraitGroup", group.name, group_path(store.sid, group.name))
    return accepted(request, operation, "TraitGroup creation request accepted.")


@router.get("/{traitGroupName}", response_model=TraitGroupPage, response_model_exclude_none=True)
def fetch_trait_group(
    request: Request,
    session: ReadSession,
    store: OwnedStore,
    traitGroupName: str = GROUP_NAME,
    includeTraits: bool = Query(default=True),
):
    """The group, its trait definitions paged by trait name (``meta`` describes that page)."""
    page_request = control_plane_page(request, cursor_type=str, filters={"includeTraits": includeTraits})
    include = bool(page_request.filters.get("includeTraits"))
    group = service.get_group(session, store, traitGroupName)
    names = sorted(group.traits) if include else []
    page = paginate_sorted(names, page_request, key_of=lambda name: name)
    traits = {name: group.traits[name] for name in page.items}
    meta = page_body("traits", page.items, page)["meta"]
    body = TraitGroupPage(traitGroup=group_body(group, traits if include else None), meta=meta)
    return JSONResponse(body.model_dump(exclude_none=True), headers={"ETag": etag(_tagged_id(group), group.version)})


@router.patch("/{traitGroupName}", status_code=202, response_model=OperationAccepted)
def patch_trait_group(
    request: Request,
    principal: Caller,
    session: WriteSession,
    store: LockedStore,
    settings: AppSettings,
    traitGroupName: str = GROUP_NAME,
    body: PatchTraitGroupBody | None = Body(default=None),
    if_match: str | None = IF_MATCH,
):
    group = service.get_group(session, store, traitGroupName)
    check_if_match(if_match, _tagged_id(group), group.version)
    removal = service.patch_group(session, store, group, body or PatchTraitGroupBody())
    operation = record_running(session, principal, "PatchTraitGroup", group.name, group_path(store.sid, group.name))
    purge.remove_values(session, store.id, removal, operation, settings.job_chunk_size)
    return accepted(request, operation, "TraitGroup update request accepted.")


@router.delete("/{traitGroupName}", status_code=202, response_model=OperationAccepted)
def delete_trait_group(
    request: Request,
    principal: Caller,
    session: WriteSession,
    store: LockedStore,
    settings: AppSettings,
    traitGroupName: str = GROUP_NAME,
):
    group = service.get_group(session, store, traitGroupName)
    removal = service.delete_group(session, store, group)
    operation = record_running(session, principal, "DeleteTraitGroup", group.name, None)
    purge.remove_values(session, store.id, removal, operation, settings.job_chunk_size)
    return accepted(request, operation, "TraitGroup deletion request accepted.")
