"""``/v1/ControlPlane/Stores/{storeId}/TraitGroups``."""

import hashlib
import json

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from convmem.database.tables import TraitGroup
from convmem.operations.service import record_completed
from convmem.traitgroups import service
from convmem.traitgroups.schemas import PatchTraitGroupBody, TraitGroupRequest
from convmem.web.auth import Principal, current_principal
from convmem.web.controlplane import IF_MATCH, accepted, control_plane_page
from convmem.web.dependencies import find_owned_store, lock_owned_store
from convmem.web.etags import check_if_match, etag
from convmem.web.pagination import keyset, page_body, paginate_sorted
from convmem.web.params import STORE_ID

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


def group_body(group: TraitGroup, traits: dict | None) -> dict:
    body: dict = {"displayName": group.name}
    if group.description is not None:
        body["description"] = group.description
    if traits is not None:
        body["traits"] = traits
    body["version"] = group.version
    return body


@router.get("")
def list_trait_groups(
    request: Request,
    storeId: str = STORE_ID,
    includeTraits: bool = Query(default=False),
    principal: Principal = Depends(current_principal),
):
    page_request = control_plane_page(
        request, cursor_type=int, max_items=MAX_GROUPS_PER_PAGE, filters={"includeTraits": includeTraits}
    )
    include = bool(page_request.filters.get("includeTraits"))
    with request.app.state.db.reading() as session:
        store = find_owned_store(session, principal, storeId)
        stmt = select(TraitGroup.id, TraitGroup).where(TraitGroup.store_id == store.id)
        page = keyset(session, stmt, [TraitGroup.id], page_request, key_of=lambda row: row.id)
    items = [group_body(row.TraitGroup, row.TraitGroup.traits if include else None) for row in page.items]
    return page_body("traitGroups", items, page)


@router.post("", status_code=202)
def create_trait_group(
    request: Request,
    storeId: str = STORE_ID,
    body: TraitGroupRequest = Body(),
    principal: Principal = Depends(current_principal),
):
    db = request.app.state.db
    with db.writing() as session:
        store = lock_owned_store(db, session, principal, storeId)
        group = service.create_group(session, store, body)
        operation = record_completed(
            session, principal, "CreateTraitGroup", group.name, group_path(store.sid, group.name)
        )
    return accepted(request, operation, "TraitGroup creation request accepted.")


@router.get("/{traitGroupName}")
def fetch_trait_group(
    request: Request,
    storeId: str = STORE_ID,
    traitGroupName: str = GROUP_NAME,
    includeTraits: bool = Query(default=True),
    principal: Principal = Depends(current_principal),
):
    """The group, its trait definitions paged by trait name (``meta`` describes that page)."""
    page_request = control_plane_page(request, cursor_type=str, filters={"includeTraits": includeTraits})
    include = bool(page_request.filters.get("includeTraits"))
    with request.app.state.db.reading() as session:
        store = find_owned_store(session, principal, storeId)
        group = service.get_group(session, store, traitGroupName)
    names = sorted(group.traits) if include else []
    page = paginate_sorted(names, page_request, key_of=lambda name: name)
    traits = {name: group.traits[name] for name in page.items}
    meta = page_body("traits", page.items, page)["meta"]
    return JSONResponse(
        {"traitGroup": group_body(group, traits if include else None), "meta": meta},
        headers={"ETag": etag(_tagged_id(group), group.version)},
    )


@router.patch("/{traitGroupName}", status_code=202)
def patch_trait_group(
    request: Request,
    storeId: str = STORE_ID,
    traitGroupName: str = GROUP_NAME,
    body: PatchTraitGroupBody | None = Body(default=None),
    if_match: str | None = IF_MATCH,
    principal: Principal = Depends(current_principal),
):
    db = request.app.state.db
    with db.writing() as session:
        store = lock_owned_store(db, session, principal, storeId)
        group = service.get_group(session, store, traitGroupName)
        check_if_match(if_match, _tagged_id(group), group.version)
        service.patch_group(session, store, group, body or PatchTraitGroupBody())
        operation = record_completed(
            session, principal, "PatchTraitGroup", group.name, group_path(store.sid, group.name)
        )
    return accepted(request, operation, "TraitGroup update request accepted.")


@router.delete("/{traitGroupName}", status_code=202)
def delete_trait_group(
    request: Request,
    storeId: str = STORE_ID,
    traitGroupName: str = GROUP_NAME,
    principal: Principal = Depends(current_principal),
):
    db = request.app.state.db
    with db.writing() as session:
        store = lock_owned_store(db, session, principal, storeId)
        group = service.get_group(session, store, traitGroupName)
        service.delete_group(session, store, group)
        operation = record_completed(session, principal, "DeleteTraitGroup", group.name, None)
    return accepted(request, operation, "TraitGroup deletion request accepted.")
