"""What a change of identity resolution settings would do to a store, computed without writing.

The store's identifier values are read one type at a time, in value order, and normalised with
the proposed rules (``resolution.normalize``):

* exact matching: equal values come together, so each run of one value is handled and dropped;
* fuzzy matching: values are compared (``resolution.values_match``) only within a *block* of
  values sharing their first ``BLOCK_PREFIX`` characters, and there only with the next
  ``FUZZY_WINDOW`` values in order: likely matches, not all pairs. A fuzzy match between
  values that differ in their first characters is not previewed (a re-resolution finds it).

Memory holds one run or block at a time, the union-find of the profiles that would merge, and
the shared values that would conflict. Only when the proposed normalisation of a type differs
from the stored one is that type's list sorted again in memory, since the stored order no
longer groups the values.

Profiles tie as one write carrying a profile's values would tie them (``resolution.resolve``):
a shared value of a unique matching type; two shared values of non-unique matching types.
Ties are counted between profiles as they are now; a compound tie that appears only once other
merges have gathered its values is left to the re-resolution.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby, islice

from sqlalchemy.orm import Session

from convmem.database.tables import Store
from convmem.identity import repository
from convmem.identity.resolution import (
    IdentifierRule,
    InvalidIdentifier,
    ResolutionSettings,
    normalize,
    values_match,
)
from convmem.identity.schemas import IdentityResolutionSettingsCore
from convmem.identity.service import current_settings

BLOCK_PREFIX = 2
FUZZY_WINDOW = 200
SAMPLE_SIZE = 20
CAUSES_PER_GROUP = 5
# A non-unique value shared by more profiles than this (a household address in a big city) is
# not counted towards compound ties: its pairs alone would outgrow memory.
COMPOUND_MAX_HOLDERS = 100
RULE_FIELDS = ("normalization", "fuzzy", "threshold", "limit", "lifo", "unique")


@dataclass(frozen=True)
class Cause:
    id_type: str
    value: str


@dataclass
class MergeGroup:
    profiles: list[str]
    causes: list[Cause]


@dataclass
class Conflict:
    id_type: str
    value: str
    profiles: list[str]


@dataclass(frozen=True)
class RuleChange:
    id_type: str
    change: str
    before: object
    after: object


@dataclass
class Preview:
    profiles_that_would_merge: int = 0
    merge_groups: int = 0
    sample_groups: list[MergeGroup] = field(default_factory=list)
    conflicts: int = 0
    sample_conflicts: list[Conflict] = field(default_factory=list)
    unreadable_values: int = 0
    changes: list[RuleChange] = field(default_factory=list)


class _Groups:
    """Union-find over the profiles that tie, with the first few causes of each group."""

    def __init__(self):
        self.parent: dict[int, int] = {}
        self.causes: dict[int, list[Cause]] = {}

    def find(self, profile: int) -> int:
        root = self.parent.setdefault(profile, profile)
        while root != self.parent[root]:
            self.parent[root] = self.parent[self.parent[root]]
            root = self.parent[root]
        return root

    def tie(self, profiles: Iterable[int], cause: Cause) -> None:
        roots = {self.find(profile) for profile in profiles}
        if len(roots) < 2:
            return
        survivor = min(roots)
        causes = self.causes.setdefault(survivor, [])
        for root in roots - {survivor}:
            self.parent[root] = survivor
            causes.extend(self.causes.pop(root, []))
        if cause not in causes:
            causes.append(cause)
        del causes[CAUSES_PER_GROUP:]

    def members(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for profile in self.parent:
            groups.setdefault(self.find(profile), []).append(profile)
        return {root: sorted(profiles) for root, profiles in groups.items() if len(profiles) > 1}


class _Scan:
    def __init__(self, settings: ResolutionSettings):
        self.settings = settings
        self.groups = _Groups()
        self.compound: dict[tuple[int, int], list[Cause]] = {}
        self.conflict_candidates: list[tuple[Cause, set[int]]] = []
        self.unreadable = 0

    def share(self, rule: IdentifierRule, cause: Cause, holders: set[int]) -> None:
        """``holders`` hold ``cause``'s value (or values matching it)."""
        if len(holders) < 2:
            return
        if rule.id_type not in self.settings.matching_rules:
            if rule.unique:
                self.conflict_candidates.append((cause, holders))
        elif rule.unique:
            self.groups.tie(holders, cause)
        elif len(holders) <= COMPOUND_MAX_HOLDERS:
            ordered = sorted(holders)
            for index, first in enumerate(ordered):
                for second in ordered[index + 1 :]:
                    shared = self.compound.setdefault((first, second), [])
                    if len(shared) < 2 and cause not in shared:
                        shared.append(cause)

    def normalized(self, rule: IdentifierRule, rows: Iterable[tuple[str, int]]) -> Iterator[tuple[str, int]]:
        for value, profile in rows:
            try:
                yield normalize(rule, value), profile
            except InvalidIdentifier:
                self.unreadable += 1

    def scan_type(self, rule: IdentifierRule, rows: Iterable[tuple[str, int]]) -> None:
        fuzzy = rule.fuzzy and rule.id_type in self.settings.matching_rules
        block_key = (lambda row: row[0][:BLOCK_PREFIX]) if fuzzy else (lambda row: row[0])
        for _key, block in groupby(rows, key=block_key):
            by_value = [(value, {profile for _, profile in run}) for value, run in groupby(block, key=lambda row: row[0])]
            for value, holders in by_value:
                self.share(rule, Cause(rule.id_type, value), holders)
            if fuzzy:
                self._fuzzy_pairs(rule, by_value)

    def _fuzzy_pairs(self, rule: IdentifierRule, by_value: list[tuple[str, set[int]]]) -> None:
        for index, (value, holders) in enumerate(by_value):
            for other, other_holders in islice(by_value, index + 1, index + 1 + FUZZY_WINDOW):
                if values_match(rule, value, other):
                    self.share(rule, Cause(rule.id_type, value), holders | other_holders)

    def finish(self) -> None:
        for (first, second), causes in self.compound.items():
            if len(causes) >= 2:
                self.groups.tie((first, second), causes[0])


def preview(session: Session, store: Store, proposed: IdentityResolutionSettingsCore) -> Preview:
    """What ``proposed`` would merge and refuse in ``store``, were its profiles written again."""
    current = ResolutionSettings.from_contract(current_settings(store))
    settings = ResolutionSettings.from_contract(proposed)
    scan = _Scan(settings)
    for id_type in repository.id_types_of(session, store.id):
        rule = settings.rules.get(id_type)
        if rule is None or (id_type not in settings.matching_rules and not rule.unique):
            continue  # its values neither tie profiles nor conflict
        rows = scan.normalized(rule, repository.values_of_type(session, store.id, id_type))
        stored_rule = current.rules.get(id_type)
        if stored_rule is None or stored_rule.normalization != rule.normalization:
            rows = sorted(rows)
        scan.scan_type(rule, rows)
    scan.finish()
    return _report(session, scan, _changes(current, settings))


def _report(session: Session, scan: _Scan, changes: list[RuleChange]) -> Preview:
    groups = scan.groups.members()
    conflicts = [
        (cause, holders)
        for cause, holders in scan.conflict_candidates
        if len({scan.groups.find(profile) for profile in holders}) > 1
    ]
    sampled_groups = sorted(groups.items())[:SAMPLE_SIZE]
    sampled_conflicts = conflicts[:SAMPLE_SIZE]
    shown = {p for _, members in sampled_groups for p in members} | {p for _, holders in sampled_conflicts for p in holders}
    sids = repository.sids_of(session, shown)
    return Preview(
        profiles_that_would_merge=sum(len(members) for members in groups.values()),
        merge_groups=len(groups),
        sample_groups=[
            MergeGroup([sids[p] for p in members], scan.groups.causes.get(root, [])) for root, members in sampled_groups
        ],
        conflicts=len(conflicts),
        sample_conflicts=[Conflict(cause.id_type, cause.value, [sids[p] for p in sorted(holders)]) for cause, holders in sampled_conflicts],
        unreadable_values=scan.unreadable,
        changes=changes,
    )


def _changes(current: ResolutionSettings, proposed: ResolutionSettings) -> list[RuleChange]:
    """How later writes would be resolved differently, type by type."""
    changes = []
    for id_type in sorted(set(current.rules) | set(proposed.rules)):
        before, after = current.rules.get(id_type), proposed.rules.get(id_type)
        if before is None or after is None:
            changes.append(RuleChange(id_type, "configured", before is not None, after is not None))
            continue
        for name in RULE_FIELDS:
            if getattr(before, name) != getattr(after, name):
                changes.append(RuleChange(id_type, name, getattr(before, name), getattr(after, name)))
        was_matching, is_matching = id_type in current.matching_rules, id_type in proposed.matching_rules
        if was_matching != is_matching:
            changes.append(RuleChange(id_type, "matching", was_matching, is_matching))
    if current.matching_rules != proposed.matching_rules:
        changes.append(RuleChange("*", "matchingRules", list(current.matching_rules), list(proposed.matching_rules)))
    return changes
