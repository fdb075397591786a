"""Identity resolution: which profile a write belongs to, and which profiles it merges.

This is the pure core. It does no I/O: the service gathers the facts (which profiles
hold the request's identifier values), asks ``resolve`` for a decision, and applies it.
Every write path (create, patch, identifiers, bulk, imports) goes through here.

The rules, in brief (``docs/identity-resolution.md`` has them in full):

* Values are normalised per identifier type before they are stored or compared.
* Only types named in ``matchingRules`` match. A value of an ``enforceUnique`` type held by
  a profile ties the write to that profile. Values of a type without ``enforceUnique`` may
  be shared; such a shared value ties a write to a profile only together with at least one
  more of the write's identifier values (a "compound" match).
* Fuzzy types also match stored values whose similarity is at least ``matchingThreshold``.
* No profile tied: a new profile. One: that profile. Several: they merge into the
  earliest created, which stays canonical; the others become its aliases.
* Never-merge pairs (recorded by unmerges and splits) keep two profiles apart: the write
  keeps the addressed profile, then its ties strongest first, skipping a profile kept apart
  from one already kept; the skipped ones are left alone, and a unique value of theirs that
  the write carries is a conflict.
* Each identifier type keeps at most ``limit`` values; ``fifo`` evicts the oldest,
  ``lifo`` the most recently stored ones, so the write's own values are kept.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import phonenumbers
from rapidfuzz import fuzz

from convmem.identity.schemas import IdentityResolutionSettingsCore

T = TypeVar("T")


@dataclass(frozen=True)
class IdentifierRule:
    id_type: str
    normalization: str = "trim"
    fuzzy: bool = False
    threshold: int = 75
    limit: int = 100
    lifo: bool = False
    unique: bool = True


@dataclass(frozen=True)
class ResolutionSettings:
    rules: dict[str, IdentifierRule]
    matching_rules: tuple[str, ...]

    @classmethod
    def from_contract(cls, core: IdentityResolutionSettingsCore) -> "ResolutionSettings":
        rules = {
            c.idType: IdentifierRule(
                id_type=c.idType,
                normalization=c.normalization,
                fuzzy=c.matchingAlgo == "fuzzy",
                threshold=c.matchingThreshold,
                limit=c.limit,
                lifo=c.limitPolicy == "lifo",
                unique=c.enforceUnique,
            )
            for c in core.identifierConfigs
        }
        return cls(rules=rules, matching_rules=tuple(core.matchingRules))

    def priority(self, id_type: str) -> int:
        try:
            return self.matching_rules.index(id_type)
        except ValueError:
            return len(self.matching_rules)


class InvalidIdentifier(ValueError):
    def __init__(self, id_type: str, value: str, reason: str):
        super().__init__(f"Invalid {id_type} '{value}': {reason}")
        self.id_type = id_type
        self.value = value
        self.reason = reason


def normalize(rule: IdentifierRule, raw: str) -> str:
    """The stored and compared form of ``raw`` for ``rule``'s identifier type."""
    if rule.normalization == "none":
        value = raw
    elif rule.normalization == "trim":
        value = raw.strip()
    elif rule.normalization == "email":
        value = "".join(raw.split()).lower()
        local, at, domain = value.partition("@")
        if not at or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
            raise InvalidIdentifier(rule.id_type, raw, "not an email address")
    else:
        value = _normalize_phone(rule.id_type, raw)
    if not value:
        raise InvalidIdentifier(rule.id_type, raw, "empty after normalization")
    if len(value) > 255:
        raise InvalidIdentifier(rule.id_type, raw, "longer than 255 characters")
    return value


def _normalize_phone(id_type: str, raw: str) -> str:
    """E.164. A number without ``+`` is read as a US number first (the contract's rule:
    national formats are US, ``+1`` optional), then as an international one with its
    country code but no ``+``."""
    text = raw.strip()
    candidates = [(text, None)] if text.startswith("+") else [(text, "US"), ("+" + text, None)]
    for candidate, region in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidIdentifier(id_type, raw, "not a valid phone number")


@dataclass(frozen=True)
class Held:
    """A stored identifier value. ``profile`` is the holder's key: smaller = created earlier."""

    profile: int
    id_type: str
    value: str


@dataclass(frozen=True)
class Tie:
    """Why a profile is tied to the write: the highest-priority matching value."""

    profile: int
    id_type: str
    value: str


@dataclass(frozen=True)
class Resolution:
    target: int | None  # None: create a new profile
    merged: tuple[Tie, ...]  # later profiles folded into ``target``
    conflicts: tuple[Held, ...]  # unique values held by profiles the write does not tie to


def values_match(rule: IdentifierRule, wanted: str, stored: str) -> bool:
    if wanted == stored:
        return True
    return rule.fuzzy and fuzz.ratio(wanted, stored) >= rule.threshold


def resolve(
    settings: ResolutionSettings,
    wanted: Sequence[tuple[str, str]],
    held: Iterable[Held],
    anchor: int | None = None,
    apart: Iterable[tuple[int, int]] = (),
) -> Resolution:
    """Decide the canonical profile for a write carrying ``wanted`` (type, normalised value)
    pairs, given the stored values that could match them. ``anchor`` is the profile the
    write addresses, if any (patches, identifier writes): it is always part of the result.
    ``apart`` are never-merge pairs of (live) profiles: no two of a pair end up merged."""
    hits: dict[int, list[tuple[int, str, str, bool]]] = {}
    wanted_by_type: dict[str, list[str]] = {}
    for id_type, value in wanted:
        wanted_by_type.setdefault(id_type, []).append(value)
    held = list(held)

    for held_value in held:
        rule = settings.rules.get(held_value.id_type)
        if rule is None or held_value.id_type not in settings.matching_rules:
            continue
        for value in wanted_by_type.get(held_value.id_type, ()):
            if values_match(rule, value, held_value.value):
                hits.setdefault(held_value.profile, []).append(
                    (settings.priority(held_value.id_type), held_value.id_type, held_value.value, rule.unique)
                )

    ties: dict[int, Tie] = {}
    for profile, profile_hits in hits.items():
        distinct = {(id_type, value) for _, id_type, value, _ in profile_hits}
        if any(unique for *_, unique in profile_hits) or len(distinct) >= 2:
            _, id_type, value, _ = min(profile_hits)
            ties[profile] = Tie(profile, id_type, value)

    tied, left_alone = _keep_apart(settings, ties, anchor, apart)
    for profile in left_alone:
        del ties[profile]
    conflicts = tuple(
        h
        for h in held
        if h.profile not in tied
        and (h.id_type not in settings.matching_rules or h.profile in left_alone)
        and settings.rules.get(h.id_type, IdentifierRule(h.id_type)).unique
        and h.value in wanted_by_type.get(h.id_type, ())
    )
    if not tied:
        return Resolution(target=None, merged=(), conflicts=conflicts)
    target = min(tied)
    # A profile tied only because the write addresses it merges for the write's strongest tie.
    strongest = min(ties.values(), key=lambda t: (settings.priority(t.id_type), t.profile), default=None)
    merged = tuple(
        ties.get(p) or Tie(p, strongest.id_type, strongest.value) for p in sorted(tied) if p != target
    )
    return Resolution(target=target, merged=merged, conflicts=conflicts)


def _keep_apart(
    settings: ResolutionSettings, ties: dict[int, Tie], anchor: int | None, apart: Iterable[tuple[int, int]]
) -> tuple[set[int], set[int]]:
    """(profiles the write keeps, profiles it leaves alone). The addressed profile is kept
    first, then the ties strongest first (matching-rule priority, then the earlier profile);
    a profile that is apart from one already kept is left alone."""
    enemies: dict[int, set[int]] = {}
    for first, second in apart:
        enemies.setdefault(first, set()).add(second)
        enemies.setdefault(second, set()).add(first)
    ordered = sorted(ties.values(), key=lambda t: (settings.priority(t.id_type), t.profile))
    candidates = ([anchor] if anchor is not None else []) + [t.profile for t in ordered if t.profile != anchor]
    kept: set[int] = set()
    left_alone: set[int] = set()
    for profile in candidates:
        if enemies.get(profile, set()) & kept:
            left_alone.add(profile)
        else:
            kept.add(profile)
    return kept, left_alone


def evictions(rule: IdentifierRule, stored: Sequence[T], added: Sequence[T]) -> list[T]:
    """Which values to drop so at most ``rule.limit`` remain. ``stored`` are the values
    already kept, oldest first; ``added`` are the write's new values, in order."""
    excess = len(stored) + len(added) - rule.limit
    if excess <= 0:
        return []
    if len(added) >= rule.limit:
        # The write alone fills the set: keep its first `limit` values.
        return list(stored) + list(added[rule.limit :])
    if rule.lifo:
        return list(stored[len(stored) - excess :])
    return list(stored[:excess])


@dataclass(frozen=True)
class TraitValue:
    value: object
    at: str  # ISO-8601 UTC with microseconds: sorts as time
    source: str


def merge_trait_sets(survivor: dict, others: Sequence[dict]) -> dict:
    """Fold the trait sets of merged profiles (``group -> name -> TraitValue``) into the
    survivor's. Per trait, the most recently written value wins; on a tie the value of the
    earlier profile (the survivor, then ``others`` in order) wins."""
    result = {group: dict(traits) for group, traits in survivor.items()}
    for other in others:
        for group, traits in other.items():
            into = result.setdefault(group, {})
            for name, candidate in traits.items():
                current = into.get(name)
                if current is None or candidate.at > current.at:
                    into[name] = candidate
    return result
