"""Full-text evidence for Recall, computed over one profile's memories in the process.

A Recall searches one profile's memories (a few thousand at most), but a database full-text
index is built over the whole store: SQLite's FTS5 read the store-wide list of every
query word's rows, and computed bm25's document frequencies over the whole table, so at a
million memories a common word ("order", in a fifth of them) cost 10-20 ms a term
(``docs/benchmarks.md``). Here the profile's texts are tokenised once, kept with its vectors
in the memory cache, and searched in memory: a Recall's cost follows the profile's size, not
the store's, and both backends rank alike.

Tokens are maximal runs of letters and digits, lower-cased, diacritics folded, Porter-stemmed
(as FTS5's ``porter unicode61`` tokeniser made them). A query term of several tokens (an
identifier such as ``gc-7k2p-9qx4`` or ``anna.berg@example.com``) matches as a phrase: its
tokens in a row. Ranking is Okapi BM25 with FTS5's constants, over the profile's own
statistics: a word is informative if it is rare among this person's memories.
"""

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import Stemmer

_TOKEN = re.compile(r"[^\W_]+")
# FTS5's bm25 constants.
K1 = 1.2
B = 0.75
_stemmer = Stemmer.Stemmer("porter")


def tokens(text: str) -> list[str]:
    """``text``'s stemmed tokens, in order."""
    lowered = text.lower()
    if not lowered.isascii():
        lowered = "".join(char for char in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(char))
    return _stemmer.stemWords(_TOKEN.findall(lowered))


@dataclass(frozen=True)
class LexicalEvidence:
    ranked: list[int]  # keys matching any term, best first (ties: newer first)
    matches_per_term: list[set[int]]  # for each term, the keys containing it
    population: int  # memories searched, for the terms' IDF


class LexicalIndex:
    """The stemmed tokens of some memories, and which memories hold each token (with how often)."""

    def __init__(self, memories: Iterable[tuple[int, str]]):
        self.keys: list[int] = []
        self._documents: list[tuple[str, ...]] = []
        self._postings: dict[str, dict[int, int]] = {}  # token -> document position -> count
        self._add(memories)

    def extended(self, memories: Iterable[tuple[int, str]]) -> "LexicalIndex":
        """A new index holding these memories too; this one, maybe in use by another Recall, is
        left as it is (only the posting lists the new memories touch are copied)."""
        index = LexicalIndex.__new__(LexicalIndex)
        index.keys = list(self.keys)
        index._documents = list(self._documents)
        index._postings = dict(self._postings)
        index._add(memories)
        return index

    def _add(self, memories: Iterable[tuple[int, str]]) -> None:
        # A posting list this call did not make may be shared with the index this one extends:
        # it is copied before its first change.
        made: set[str] = set()
        for key, text in memories:
            position = len(self.keys)
            document = tuple(tokens(text))
            self.keys.append(key)
            self._documents.append(document)
            for token in document:
                if token not in made:
                    self._postings[token] = dict(self._postings.get(token, {}))
                    made.add(token)
                counts = self._postings[token]
                counts[position] = counts.get(position, 0) + 1
        self._average_length = sum(map(len, self._documents)) / len(self._documents) if self._documents else 0.0

    @property
    def size(self) -> int:
        """Rough bytes held, for the cache's budget."""
        return 120 * len(self.keys) + 80 * sum(map(len, self._documents))

    def evidence(self, terms: Sequence[str]) -> LexicalEvidence:
        occurrences = [self._occurrences(tokens(term)) for term in terms]
        population = len(self.keys)
        scores: dict[int, float] = {}
        for found in occurrences:
            if not found:
                continue
            idf = max(math.log((population - len(found) + 0.5) / (len(found) + 0.5)), 1e-6)
            for position, count in found.items():
                norm = K1 * (1 - B + B * len(self._documents[position]) / self._average_length)
                scores[position] = scores.get(position, 0.0) + idf * count * (K1 + 1) / (count + norm)
        ranked = sorted(scores, key=lambda position: (-scores[position], -self.keys[position]))
        return LexicalEvidence(
            [self.keys[position] for position in ranked],
            [{self.keys[position] for position in found} for found in occurrences],
            population,
        )

    def _occurrences(self, phrase: list[str]) -> dict[int, int]:
        """Document position -> how often ``phrase`` (tokens in a row) occurs there."""
        if not phrase:
            return {}
        if len(phrase) == 1:
            return self._postings.get(phrase[0], {})
        candidates = set(self._postings.get(phrase[0], ()))
        for token in phrase[1:]:
            candidates &= self._postings.get(token, {}).keys()
        found = {}
        width = len(phrase)
        wanted = tuple(phrase)
        for position in candidates:
            document = self._documents[position]
            count = sum(1 for start in range(len(document) - width + 1) if document[start : start + width] == wanted)
            if count:
                found[position] = count
        return found
