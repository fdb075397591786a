"""Identity resolution settings rules: a full replace that must stay consistent with the trait groups."""

from collections.abc import Callable

from sqlalchemy.orm import Session

from convmem.database.tables import Store, utcnow
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.traitgroups.service import store_schema
from convmem.web.errors import ApiError, Code

MAX_MATCHING_RULE_LENGTH = 30

# Called in the settings' transaction with (session, store, settings before, settings after)
# when they changed: what other domains keep in step with the rules (the app wires them).
SettingsChangeHook = Callable[[Session, Store, IdentityResolutionSettingsCore, IdentityResolutionSettingsCore], None]


def current_settings(store: Store) -> IdentityResolutionSettingsCore:
    return IdentityResolutionSettingsCore.model_validate(store.identity_settings)


def replace_settings(
    session: Session, store: Store, settings: IdentityResolutionSettingsCore, hooks: list[SettingsChangeHook]
) -> None:
    """Store ``settings`` in place of the current ones; the version moves, and ``hooks`` run,
    only when they differ."""
    check_consistent(settings)
    configured = {config.idType for config in settings.identifierConfigs}
    for group, traits in store_schema(session, store.id).items():
        for name, definition in traits.items():
            id_type = definition.get("idTypePromotion")
            if id_type and id_type not in configured:
                raise ApiError(
                    400,
                    Code.UNKNOWN_ID_TYPE,
                    f"Invalid 'identifierConfigs': idType '{id_type}' is still promoted by trait '{group}.{name}'; "
                    "remove that promotion first",
                )
    new_value = settings.model_dump()
    if new_value == store.identity_settings:
        return
    before = current_settings(store)
    store.identity_settings = new_value
    store.identity_settings_version += 1
    store.updated_at = utcnow()
    for hook in hooks:
        hook(session, store, before, settings)


def check_consistent(settings: IdentityResolutionSettingsCore) -> None:
    seen: set[str] = set()
    for index, config in enumerate(settings.identifierConfigs):
        if config.idType in seen:
            raise ApiError(
                400,
                Code.INVALID_SETTINGS,
                f"Invalid 'identifierConfigs.{index}.idType': '{config.idType}' is configured more than once",
            )
        seen.add(config.idType)
    rules_seen: set[str] = set()
    for index, rule in enumerate(settings.matchingRules):
        where = f"matchingRules.{index}"
        if len(rule) > MAX_MATCHING_RULE_LENGTH:
            raise ApiError(
                400, Code.INVALID_SETTINGS, f"Invalid '{where}': at most {MAX_MATCHING_RULE_LENGTH} characters allowed"
            )
        if rule not in seen:
            raise ApiError(
                400, Code.UNKNOWN_ID_TYPE, f"Invalid '{where}': '{rule}' is not an idType configured in identifierConfigs"
            )
        if rule in rules_seen:
            raise ApiError(400, Code.INVALID_SETTINGS, f"Invalid '{where}': '{rule}' is listed more than once")
        rules_seen.add(rule)
