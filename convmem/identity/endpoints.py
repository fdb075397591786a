"""``/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings``."""

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from convmem.database.tables import Store
from convmem.identity import service
from convmem.identity.preview import Preview, preview
from convmem.identity.schemas import (
    IdentityResolutionPreview,
    IdentityResolutionSettingsBody,
    IdentityResolutionSettingsCore,
    PreviewCause,
    PreviewConflict,
    PreviewMergeGroup,
    PreviewRuleChange,
)
from convmem.operations.service import record_completed
from convmem.web.controlplane import IF_MATCH, OperationAccepted, accepted
from convmem.web.dependencies import (
    Caller,
    LockedStore,
    OwnedStore,
    ReadSession,
    WriteSession,
)
from convmem.web.etags import check_if_match, etag

router = APIRouter(prefix="/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings", tags=["IdentityResolutionSettings"])


def settings_path(store_sid: str) -> str:
    return f"/v1/ControlPlane/Stores/{store_sid}/IdentityResolutionSettings"


def _tagged_id(store: Store) -> str:
    # Short enough that the quoted tag fits If-Match's 100 characters.
    return f"{store.sid}/irs"


@router.get("", response_model=IdentityResolutionSettingsBody)
def fetch_settings(store: OwnedStore):
    settings = service.current_settings(store)
    body = IdentityResolutionSettingsBody(**settings.model_dump(), version=store.identity_settings_version)
    return JSONResponse(body.model_dump(), headers={"ETag": etag(_tagged_id(store), store.identity_settings_version)})


@router.put("", status_code=202, response_model=OperationAccepted)
def update_settings(
    request: Request,
    principal: Caller,
    session: WriteSession,
    store: LockedStore,
    body: IdentityResolutionSettingsCore = Body(),
    if_match: str | None = IF_MATCH,
):
    check_if_match(if_match, _tagged_id(store), store.identity_settings_version)
    service.replace_settings(session, store, body, request.app.state.identity_settings_hooks)
    operation = record_completed(session, principal, "UpdateIdentityResolutionSettings", store.sid, settings_path(store.sid))
    return accepted(request, operation, "Identity Resolution Settings accepted for processing.")


@router.post("/Preview", response_model=IdentityResolutionPreview, summary="Preview settings (convmem extension)")
def preview_settings(session: ReadSession, store: OwnedStore, body: IdentityResolutionSettingsCore = Body()):
    """What replacing the settings with ``body`` would do: nothing is written (docs/extensions.md)."""
    service.check_consistent(body)
    return _preview_body(preview(session, store, body))


def _preview_body(result: Preview) -> IdentityResolutionPreview:
    return IdentityResolutionPreview(
        profilesThatWouldMerge=result.profiles_that_would_merge,
        mergeGroups=result.merge_groups,
        sampleGroups=[
            PreviewMergeGroup(profileIds=group.profiles, causes=[PreviewCause(idType=c.id_type, value=c.value) for c in group.causes])
            for group in result.sample_groups
        ],
        conflicts=result.conflicts,
        sampleConflicts=[
            PreviewConflict(idType=c.id_type, value=c.value, profileIds=c.profiles) for c in result.sample_conflicts
        ],
        unreadableValues=result.unreadable_values,
        changesForLaterWrites=[
            PreviewRuleChange(idType=c.id_type, change=c.change, before=c.before, after=c.after) for c in result.changes
        ],
    )
