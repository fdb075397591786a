"""Suggesting an import's column mappings from the CSV's column names: each column is matched
to the store's trait names by fuzzy similarity (rapidfuzz), each trait used at most once."""

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# Below this similarity (0–100) a column is left unmapped rather than guessed.
MIN_SCORE = 75.0


@dataclass(frozen=True)
class SuggestedMapping:
    column: str
    trait_group: str
    trait_name: str
    score: float


def _words(name: str) -> str:
    """``firstName``, ``first_name`` and ``First Name`` all read ``first name``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return " ".join(re.findall(r"[a-z0-9]+", spaced.lower()))


def suggest(columns: list[str], schema: dict[str, dict[str, dict]]) -> list[SuggestedMapping]:
    """The best trait for each column that has one good enough, the closest pairs first."""
    choices = {(group, name): _words(name) for group, traits in schema.items() for name in traits}
    qualified = {(group, name): f"{_words(group)} {words}" for (group, name), words in choices.items()}
    candidates = []
    for column in columns:
        wanted = _words(column)
        if not wanted:
            continue
        for choice_set in (choices, qualified):
            for _text, score, key in process.extract(wanted, choice_set, scorer=fuzz.WRatio, limit=None):
                if score >= MIN_SCORE:
                    candidates.append((score, column, key))
    taken_columns: set[str] = set()
    taken_traits: set[tuple[str, str]] = set()
    chosen = []
    # The closest pairs win; ties go to the column's order in the file, then to the schema's.
    for score, column, key in sorted(candidates, key=lambda c: (-c[0], columns.index(c[1]))):
        if column in taken_columns or key in taken_traits:
            continue
        taken_columns.add(column)
        taken_traits.add(key)
        chosen.append(SuggestedMapping(column, key[0], key[1], round(score, 1)))
    return sorted(chosen, key=lambda mapping: columns.index(mapping.column))
