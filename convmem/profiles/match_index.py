"""The stored values a write, a lookup or a re-resolution could match, found without a scan.

Exact matches are one indexed probe. A fuzzy type's matches are found through its blocking
keys (``identity/fuzzy_keys.py``, table ``identifier_match_keys``): every value the full scan
of the type would match is among the candidates, and ``resolution.values_match`` then decides
as before. Keys are written with the identifier rows, for the types whose rule is fuzzy only,
and built or dropped for the stored values when a settings change makes a type fuzzy, changes
its threshold or makes it exact (``reindex_after_settings_change``, the settings' hook).
"""

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from convmem.database.tables import Store
from convmem.identity.fuzzy_keys import keys_of, probe
from convmem.identity.resolution import Held, IdentifierRule, ResolutionSettings
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.profiles import repository

# Values keyed per statement when a type's keys are built for the values already stored.
REINDEX_CHUNK = 2000


def holders(session: Session, store_pk: int, settings: ResolutionSettings, wanted: Sequence[tuple[str, str]], *, fuzzy_types: Iterable[str]) -> list[Held]:
    """Stored values equal to a wanted pair, and for ``fuzzy_types`` those that may be similar
    to one (a superset of the matches; ``resolve`` compares them)."""
    held = repository.holders(session, store_pk, wanted)
    fuzzy_types = set(fuzzy_types)
    for id_type, value in wanted:
        if id_type in fuzzy_types:
            held += similar_candidates(session, store_pk, settings.rules[id_type], value)
    return list(dict.fromkeys(held))


def similar_candidates(session: Session, store_pk: int, rule: IdentifierRule, value: str) -> list[Held]:
    """Every stored value of ``rule``'s type that a full scan could find similar to ``value``."""
    return repository.holders_by_keys(session, store_pk, rule.id_type, probe(value, rule.threshold))


def index_identifiers(session: Session, store_pk: int, settings: ResolutionSettings, rows: Iterable[tuple[int, str, str]]) -> None:
    """Write the keys of new identifier rows ((id, idType, value)) whose type is fuzzy."""
    keyed = []
    for identifier_id, id_type, value in rows:
        rule = settings.rules.get(id_type)
        if rule is not None and rule.fuzzy:
            keyed += _key_rows(store_pk, id_type, rule.threshold, identifier_id, value)
    repository.insert_match_keys(session, keyed)


def has_fuzzy_types(settings: ResolutionSettings) -> bool:
    return any(rule.fuzzy for rule in settings.rules.values())


def reindex_after_settings_change(
    session: Session, store: Store, before: IdentityResolutionSettingsCore, after: IdentityResolutionSettingsCore
) -> None:
    """The settings' hook: make the stored values' keys follow the new rules, in the settings'
    own transaction, so the next write finds every match."""
    old, new = ResolutionSettings.from_contract(before), ResolutionSettings.from_contract(after)
    for id_type in old.rules.keys() | new.rules.keys():
        was, becomes = _keyed_threshold(old.rules.get(id_type)), _keyed_threshold(new.rules.get(id_type))
        if was == becomes:
            continue
        repository.delete_match_keys(session, store.id, id_type)
        if becomes is not None:
            index_type(session, store.id, id_type, becomes)


def index_store(session: Session, store_pk: int, settings: ResolutionSettings) -> None:
    """Keys for every stored value of the store's fuzzy types (a store read in whole)."""
    for id_type, rule in settings.rules.items():
        if rule.fuzzy:
            index_type(session, store_pk, id_type, rule.threshold)


def index_type(session: Session, store_pk: int, id_type: str, threshold: int) -> None:
    after = 0
    while chunk := repository.values_of_type(session, store_pk, id_type, after, REINDEX_CHUNK):
        repository.insert_match_keys(
            session, [row for identifier_id, value in chunk for row in _key_rows(store_pk, id_type, threshold, identifier_id, value)]
        )
        after = chunk[-1][0]


def _keyed_threshold(rule: IdentifierRule | None) -> int | None:
    """The threshold a type's keys are cut for; None for a type without keys."""
    return rule.threshold if rule is not None and rule.fuzzy else None


def _key_rows(store_pk: int, id_type: str, threshold: int, identifier_id: int, value: str) -> list[dict]:
    return [
        {"identifier_id": identifier_id, "key": key, "store_id": store_pk, "id_type": id_type}
        for key in keys_of(value, threshold)
    ]
