"""Trait group rules: names, value checks against definitions, the store's schema, and group changes."""

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import lru_cache

import re2
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from convmem.database.tables import Store, TraitGroup, utcnow
from convmem.kit.text import LONE_SURROGATE
from convmem.traitgroups import repository
from convmem.traitgroups.schemas import (
    GROUP_NAME_PATTERN,
    PatchTraitGroupBody,
    TraitDefinition,
    TraitGroupRequest,
)
from convmem.web.errors import ApiError, Code, bad_request, not_found
from convmem.web.pagination import Page, PageRequest, keyset

_WORD_SPLIT = re.compile(r"[\s_\-\.]+")


@lru_cache(maxsize=4096)
def normalize_trait_name(name: str) -> str:
    """lowerCamelCase: ``first_name``, ``First Name`` and ``firstName`` are all ``firstName``."""
    words = [w for w in _WORD_SPLIT.split(name.strip()) if w]
    if not words:
        return name
    out = []
    for index, word in enumerate(words):
        if word.isupper() and len(word) > 1:
            word = word.lower()
        out.append(word[0].lower() + word[1:] if index == 0 else word[0].upper() + word[1:])
    return "".join(out)


_STORE_SCHEMA = select(TraitGroup.name, TraitGroup.traits).where(TraitGroup.store_id == bindparam("store"))


def store_schema(session: Session, store_pk: int) -> dict[str, dict[str, dict]]:
    """groupName -> traitName -> definition, for every trait group of the store."""
    rows = session.execute(_STORE_SCHEMA, {"store": store_pk})
    return {name: traits for name, traits in rows}


def defined_while_purging(session: Session, store_pk: int) -> dict[str, set[str]] | None:
    """While a job is removing values of deleted groups or traits from the store's profiles (or
    gave up doing it): the names the schema defines, the only values a read may show. None when
    there is no such job.

    Call it before reading the profile: a job that finishes in between has removed the values."""
    if not repository.has_purge_not_done(session, store_pk):
        return None
    return {group: set(traits) for group, traits in store_schema(session, store_pk).items()}


def only_defined(traits: dict[str, dict], defined: dict[str, set[str]]) -> dict[str, dict]:
    """``traits`` without the values of groups and traits ``defined`` does not name."""
    return {
        group: kept
        for group, values in traits.items()
        if group in defined and (kept := {name: value for name, value in values.items() if name in defined[group]})
    }


# A STRING value holds at most this many characters: the contract sets no bound, and this one
# keeps a profile document, and the text a pattern is matched against, small.
MAX_STRING_VALUE_LENGTH = 4096


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 1 << 20  # past this a pattern is "too large" rather than a memory hog
    return options


_RE2_OPTIONS = _re2_options()


@lru_cache(maxsize=1024)
def _compiled(pattern: str):
    """User-supplied patterns run on RE2: matching takes time linear in the value, whatever the
    pattern (a backtracking engine takes 2**n steps on ``^(a+)+$``). Raises ``re2.error``."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _pattern_error(error: re2.error) -> str:
    reason = error.args[0] if error.args else error
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_value(where: str, definition: dict, value) -> None:
    """Raise a 400 naming ``where`` unless ``value`` fits the trait definition."""
    data_type = definition.get("dataType")
    rule = definition.get("validationRule") or {}
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, float) and not math.isfinite(item):
            raise _invalid(where, "must be a finite number")
        if isinstance(item, str):
            _check_text(where, item)
    if data_type == "STRING":
        if not isinstance(value, str):
            raise _invalid(where, "must be a string")
        if rule.get("minLength") is not None and len(value) < rule["minLength"]:
            raise _invalid(where, f"must be at least {rule['minLength']} characters")
        if rule.get("maxLength") is not None and len(value) > rule["maxLength"]:
            raise _invalid(where, f"must be at most {rule['maxLength']} characters")
        if rule.get("pattern") and not _matches(where, rule["pattern"], value):
            raise _invalid(where, f"must match the pattern {rule['pattern']}")
    elif data_type == "NUMBER":
        if not _is_number(value):
            raise _invalid(where, "must be a number")
        if rule.get("min") is not None and value < rule["min"]:
            raise _invalid(where, f"must be at least {rule['min']}")
        if rule.get("max") is not None and value > rule["max"]:
            raise _invalid(where, f"must be at most {rule['max']}")
    elif data_type == "BOOLEAN":
        if not isinstance(value, bool):
            raise _invalid(where, "must be a boolean")
    elif data_type == "ARRAY":
        if not isinstance(value, list):
            raise _invalid(where, "must be an array")
        if any(isinstance(item, (list, dict)) or item is None for item in value):
            raise _invalid(where, "items must be strings, numbers or booleans (no nested arrays)")
        if rule.get("minItems") is not None and len(value) < rule["minItems"]:
            raise _invalid(where, f"must have at least {rule['minItems']} items")
        if rule.get("maxItems") is not None and len(value) > rule["maxItems"]:
            raise _invalid(where, f"must have at most {rule['maxItems']} items")


def _check_text(where: str, text: str) -> None:
    if len(text) > MAX_STRING_VALUE_LENGTH:
        raise _invalid(where, f"must be at most {MAX_STRING_VALUE_LENGTH} characters (it has {len(text)})")
    if "\x00" in text:
        raise _invalid(where, "must not contain NUL characters")
    if not text.isascii() and LONE_SURROGATE.search(text):  # ASCII, the usual text, has no surrogate
        raise _invalid(where, "must not contain a lone surrogate (an unpaired \\uD800-\\uDFFF escape)")


def _matches(where: str, pattern: str, value: str) -> bool:
    try:
        return _compiled(pattern).search(value) is not None
    except re2.error:
        # A definition stored before patterns ran on RE2: no value can be checked against it.
        raise _invalid(where, f"cannot be checked: its pattern {pattern} is not RE2 syntax; update the trait definition") from None


def _invalid(where: str, problem: str) -> ApiError:
    return ApiError(400, Code.INVALID_TRAIT_VALUE, f"Trait '{where}' {problem}")


def validate_traits(
    schema: dict[str, dict[str, dict]], traits: dict, *, allow_null: bool
) -> tuple[dict[str, dict], list[tuple[str, str, str]]]:
    """Check a request's ``traits`` against the store's schema.

    Returns the traits with names normalised, and the identifier promotions as
    ``(idType, raw value, "Group.trait")``. ``null`` (a removal) is allowed only in patches.
    """
    if not isinstance(traits, dict):
        raise bad_request("'traits' must be an object of trait groups")
    if len(traits) > 50:
        raise bad_request(f"'traits' has {len(traits)} trait groups; at most 50 are allowed")
    clean: dict[str, dict] = {}
    promotions: list[tuple[str, str, str]] = []
    for group, values in traits.items():
        definitions = schema.get(group)
        if definitions is None:
            raise ApiError(400, Code.UNKNOWN_TRAIT_GROUP, f"Unknown trait group '{group}'")
        if not isinstance(values, dict):
            raise bad_request(f"'traits.{group}' must be an object of traits")
        if len(values) > 99:
            raise bad_request(f"'traits.{group}' has {len(values)} traits; at most 99 are allowed")
        out = clean.setdefault(group, {})
        spelled: dict[str, str] = {}
        for raw_name, value in values.items():
            name = normalize_trait_name(raw_name)
            definition = definitions.get(name)
            where = f"{group}.{name}"
            if name in spelled:
                raise bad_request(
                    f"Invalid 'traits.{group}': '{spelled[name]}' and '{raw_name}' both name the trait '{where}'; send it once"
                )
            spelled[name] = raw_name
            if definition is None:
                raise ApiError(400, Code.UNKNOWN_TRAIT, f"Unknown trait '{where}': trait group '{group}' defines no such trait")
            if value is None:
                if not allow_null:
                    raise _invalid(where, "must not be null")
                out[name] = None
                continue
            check_value(where, definition, value)
            out[name] = value
            id_type = definition.get("idTypePromotion")
            if id_type:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, bool):
                        raise _invalid(where, "is promoted to an identifier and cannot be a boolean")
                    promotions.append((id_type, str(item), where))
    return clean, promotions


# --- Control plane: creating, changing and deleting trait groups -------------------------------

MAX_GROUPS_PER_STORE = 50  # a profile's traits hold at most 50 groups (the contract's maxProperties)
MAX_TRAITS_PER_GROUP = 95
_TRAIT_NAME = re.compile(r"^[a-z][a-zA-Z0-9]{0,63}$")


def list_page(session: Session, store: Store, page: PageRequest) -> Page:
    """A page of the store's groups (``TraitGroup`` rows), in creation order."""
    stmt = select(TraitGroup.id, TraitGroup).where(TraitGroup.store_id == store.id)
    found = keyset(session, stmt, [TraitGroup.id], page, key_of=lambda row: row.id)
    return replace(found, items=[row.TraitGroup for row in found.items])


def get_group(session: Session, store: Store, name: str) -> TraitGroup:
    # A name no group can have is not looked up: it may hold characters the database cannot compare (NUL).
    group = repository.find_group(session, store.id, name) if re.match(GROUP_NAME_PATTERN, name) else None
    if group is None:
        raise not_found(f"Trait group '{name}' was not found in store '{store.sid}'")
    return group


def create_group(session: Session, store: Store, request: TraitGroupRequest) -> TraitGroup:
    if repository.find_group(session, store.id, request.displayName) is not None:
        raise bad_request(
            f"Invalid 'displayName': a trait group named '{request.displayName}' already exists in this store",
            Code.DUPLICATE_NAME,
        )
    if repository.count_groups(session, store.id) >= MAX_GROUPS_PER_STORE:
        raise ApiError(
            400, Code.LIMIT_EXCEEDED, f"A store may have at most {MAX_GROUPS_PER_STORE} trait groups; delete one first"
        )
    _check_description(request.description)
    definitions = _normalised(request.traits or {}, _configured_id_types(store), patch=False)
    _clear_stale_values(session, store.id, request.displayName, None)
    now = utcnow()
    group = TraitGroup(
        store_id=store.id,
        name=request.displayName,
        description=request.description,
        traits=definitions,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    session.flush()
    return group


@dataclass(frozen=True)
class Removal:
    """Values a schema change left in the store's profiles: those of ``traits`` of ``group``, or
    of the whole group when None. ``traitgroups.purge`` removes them."""

    group: str
    traits: tuple[str, ...] | None = None


def patch_group(session: Session, store: Store, group: TraitGroup, body: PatchTraitGroupBody) -> Removal | None:
    """Description replaced if sent; traits upserted by name, ``dataType: ""`` deleting one (its values
    are then left to remove: the Removal returned)."""
    sent = body.model_fields_set
    _check_description(body.description)
    changes = _normalised(body.traits or {}, _configured_id_types(store), patch=True)
    traits = dict(group.traits)
    removed = []
    for name, definition in changes.items():
        if definition is not None:
            traits[name] = definition
        elif name in traits:
            del traits[name]
            removed.append(name)
        else:
            raise ApiError(
                400, Code.UNKNOWN_TRAIT, f"Invalid 'traits.{name}': trait group '{group.name}' has no trait to delete by that name"
            )
    if removed and (users := repository.mapping_names_writing(session, store.id, group.name, removed)):
        raise bad_request(
            f"Invalid 'traits': data mapping(s) {_quoted(users)} write to a trait being deleted; change their mappingTo first"
        )
    if len(traits) > MAX_TRAITS_PER_GROUP:
        raise ApiError(
            400,
            Code.LIMIT_EXCEEDED,
            f"Invalid 'traits': the group would have {len(traits)} traits; at most {MAX_TRAITS_PER_GROUP} are allowed",
        )
    description = body.description if "description" in sent else group.description
    if traits == group.traits and description == group.description:
        return None
    added = [name for name in traits if name not in group.traits]
    if added:
        _clear_stale_values(session, store.id, group.name, added)
    group.traits, group.description = traits, description
    group.version += 1
    group.updated_at = utcnow()
    return Removal(group.name, tuple(removed)) if removed else None


def delete_group(session: Session, store: Store, group: TraitGroup) -> Removal:
    if users := repository.mapping_names_writing(session, store.id, group.name):
        raise ApiError(
            409,
            Code.CONFLICT,
            f"Trait group '{group.name}' is written by data mapping(s) {_quoted(users)}; change or delete them first",
        )
    session.delete(group)
    return Removal(group.name)


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _clear_stale_values(session: Session, store_pk: int, group: str, names: Collection[str] | None) -> None:
    """Names being defined (all of ``group`` when None) while a job may still be removing old values
    of theirs: remove those now, so they never show under the new definition. The job leaves alone
    whatever the schema defines again."""
    if any(job.payload["group"] == group for job in repository.purges_not_done(session, store_pk)):
        repository.strip_profile_values(session, store_pk, group, names)


def _check_description(description: str | None) -> None:
    # PostgreSQL text cannot hold U+0000; refusing it here keeps it from surfacing as a database error.
    if description and "\x00" in description:
        raise bad_request("Invalid 'description': must not contain the NUL character (U+0000)")


def _configured_id_types(store: Store) -> set[str]:
    return {config["idType"] for config in store.identity_settings["identifierConfigs"]}


def _normalised(traits: dict[str, TraitDefinition], id_types: set[str], *, patch: bool) -> dict[str, dict | None]:
    """Definitions keyed by lowerCamelCase name, as stored; None marks a deletion (PATCH only)."""
    out: dict[str, dict | None] = {}
    for key, definition in traits.items():
        name = normalize_trait_name(key)
        if not _TRAIT_NAME.match(name):
            raise bad_request(
                f"Invalid 'traits.{key}': a trait name must be 1 to 64 letters and digits, starting with a letter "
                "(separators such as '_', '-', '.' and spaces are folded into lowerCamelCase)"
            )
        if name in out:
            raise bad_request(f"Invalid 'traits.{key}': it names the same trait as another key, '{name}'")
        if definition.dataType == "":
            if not patch:
                raise bad_request(f"Invalid 'traits.{key}.dataType': an empty dataType only deletes a trait in a PATCH")
            out[name] = None
            continue
        _check_definition(f"traits.{key}", definition, id_types)
        out[name] = definition.model_dump(exclude_none=True)
    return out


def _check_definition(where: str, definition: TraitDefinition, id_types: set[str]) -> None:
    rule = definition.validationRule
    if rule is not None:
        if rule.ruleType != definition.dataType:
            raise bad_request(
                f"Invalid '{where}.validationRule.ruleType': '{rule.ruleType}' must equal the dataType '{definition.dataType}'"
            )
        if rule.ruleType == "NUMBER":
            for bound in ("min", "max"):
                if getattr(rule, bound) is not None and not math.isfinite(getattr(rule, bound)):
                    raise bad_request(f"Invalid '{where}.validationRule.{bound}': must be a finite number")
        bounds = {
            "STRING": ("minLength", "maxLength"),
            "NUMBER": ("min", "max"),
            "ARRAY": ("minItems", "maxItems"),
        }.get(rule.ruleType)
        if bounds:
            low, high = getattr(rule, bounds[0]), getattr(rule, bounds[1])
            if low is not None and high is not None and low > high:
                raise bad_request(f"Invalid '{where}.validationRule': {bounds[0]} ({low}) is greater than {bounds[1]} ({high})")
        if rule.ruleType == "STRING" and rule.pattern is not None:
            try:
                _compiled(rule.pattern)
            except re2.error as exc:
                raise bad_request(
                    f"Invalid '{where}.validationRule.pattern': not a regular expression in RE2 syntax, which has no "
                    f"backreferences or lookaround ({_pattern_error(exc)})"
                ) from None
    id_type = definition.idTypePromotion
    if id_type is not None:
        if id_type not in id_types:
            raise ApiError(
                400,
                Code.UNKNOWN_ID_TYPE,
                f"Invalid '{where}.idTypePromotion': '{id_type}' is not an idType configured in the store's "
                f"IdentityResolutionSettings (configured: {', '.join(sorted(id_types))})",
            )
        if definition.dataType == "BOOLEAN":
            raise bad_request(f"Invalid '{where}.idTypePromotion': a BOOLEAN trait cannot be promoted to an identifier")
