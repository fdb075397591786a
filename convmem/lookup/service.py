"""Lookup: the value is normalised with the store's rule for its idType, then matched the way
identity resolution matches it (``values_match``: equality, or similarity for fuzzy types).

Any configured idType can be looked up, whether or not it is a matching rule: Lookup is a
search, not a resolution. Every profile holding a matching value is returned, which is how a
shared non-unique value or a fuzzy match yields several; earliest created first, at most 100.
"""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from convmem.database.tables import Store
from convmem.identifiers.service import normalized_value
from convmem.identity.resolution import ResolutionSettings, values_match
from convmem.identity.service import current_settings
from convmem.lookup import repository
from convmem.lookup.schemas import MAX_PROFILES
from convmem.profiles import match_index


@dataclass(frozen=True)
class Matches:
    normalized_value: str
    profile_sids: list[str]


def lookup(session: Session, store: Store, id_type: str, raw: str) -> Matches:
    # Only the identity settings: the trait schema a write context also loads is not needed here.
    settings = ResolutionSettings.from_contract(current_settings(store))
    value = normalized_value(settings, id_type, raw, "value")
    rule = settings.rules[id_type]
    if rule.fuzzy:
        # Similar values are found through the type's blocking keys, then compared.
        held = match_index.holders(session, store.id, settings, [(id_type, value)], fuzzy_types=[id_type])
        matching = sorted({h.profile for h in held if values_match(rule, value, h.value)})
        profiles = repository.sids_of(session, matching[:MAX_PROFILES])
    else:
        profiles = repository.holders_of_value(session, store.id, id_type, value)
    return Matches(value, profiles)
