"""What a data-plane write needs to know about its store: its resolution rules and trait schema."""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from convmem.database.tables import Store
from convmem.identity.resolution import ResolutionSettings
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.traitgroups.service import store_schema


@dataclass(frozen=True)
class StoreContext:
    pk: int
    sid: str
    settings: ResolutionSettings
    schema: dict[str, dict[str, dict]]


def load_context(session: Session, store: Store) -> StoreContext:
    settings = ResolutionSettings.from_contract(IdentityResolutionSettingsCore.model_validate(store.identity_settings))
    return StoreContext(pk=store.id, sid=store.sid, settings=settings, schema=store_schema(session, store.id))
