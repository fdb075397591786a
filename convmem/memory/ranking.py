"""Recall ranking: pure functions, so tests and the benchmark drive them without a server.

Up to three signals score one kind of memory (observations or summaries), each giving the
memories it found a strength in [0, 1]:
- ``semantic``: cosine similarity of the query's embedding with the memory's, mapped onto
  [0, 1] between ``SEMANTIC_FLOOR`` (below it MiniLM similarity is noise) and ``SEMANTIC_CEILING``;
- ``lexical``: the IDF-weighted share of the query's terms the memory contains (its
  coverage). For a memory the model has judged (it has a vector) only the part past half the
  query counts, so a match covering the query's informative terms counts fully and one that
  shares a single incidental word ("food", "city") with a paraphrase counts for nothing;
- ``identifier``: the share of the query's identifiers (tokens holding a digit or an ``@``:
  order numbers, emails, codes) the memory contains exactly.

Fusion is a weighted mean of the strengths over the signals that found anything. The
identifier signal weighs as much as the others together, so when a query names an
identifier that some memory contains, every memory holding it scores at least 0.5 and every
memory that does not at most 0.5 (a near-duplicate one digit away is no match at all),
whatever the embedding says.
Scores have a fixed meaning, which is what makes ``relevanceThreshold`` comparable across
queries: 1.0 is a full match by every signal in use, and a memory no signal found is not
returned. Ties go to the better full-text rank (BM25, ``lexical``), then to the more similar
embedding, then to the newer memory.

Score-based rather than rank-based fusion: with reciprocal-rank fusion a memory's
contribution depends on its rank alone, so a distractor ranked first lexically for one
incidental word, or a near-duplicate ranked high by the embedding, was promoted as much as a
real match.
"""

import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

SEMANTIC_FLOOR = 0.25
SEMANTIC_CEILING = 0.65
SEMANTIC_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
MAX_QUERY_TERMS = 64
SCORE_DECIMALS = 4

# Words too common to say anything about relevance; PostgreSQL's 'english' configuration
# drops the same kind of words, SQLite's FTS5 has no stop list of its own.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
# Punctuation around a token that is not part of it: "(order #48213)." names 48213.
_TOKEN_EDGES = "\"'`.,;:!?()[]{}<>#*"
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+")
_IDENTIFIER_MIN_LENGTH = 3  # "5" or "14" in a sentence is a count or a day, not an identifier


def is_identifier(token: str) -> bool:
    """Order numbers, codes, emails: a token of 3+ characters with a digit, or an address with an @."""
    if _EMAIL_LIKE.fullmatch(token):
        return True
    return len(token) >= _IDENTIFIER_MIN_LENGTH and any(char.isdigit() for char in token)


def query_terms(text: str) -> list[str]:
    """The distinct, lower-cased terms of ``text`` in order of appearance: identifiers whole
    (``anna.berg@example.com``, ``gc-7k2p-9qx4``), the other words without stop words."""
    terms: dict[str, None] = {}
    for token in text.lower().split():
        token = token.strip(_TOKEN_EDGES)
        words = [token] if is_identifier(token) else _WORD.findall(token)
        for word in words:
            if word not in STOP_WORDS and word not in terms:
                terms[word] = None
                if len(terms) == MAX_QUERY_TERMS:
                    return list(terms)
    return list(terms)


def semantic_confidence(cosine: float) -> float:
    """Cosine similarity mapped onto [0, 1]: 0 at the floor, 1 at and above the ceiling."""
    return min(1.0, max(0.0, (cosine - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR)))


def decoded(candidates: Sequence[tuple[int, bytes]]):
    """``(keys, matrix)`` of ``(key, float32 bytes)`` pairs: row ``i`` of the matrix is ``keys[i]``'s vector."""
    import numpy as np  # imported on the first Recall, not at start-up

    keys = [key for key, _ in candidates]
    if not keys:
        return keys, np.empty((0, 0), dtype=np.float32)
    matrix = np.frombuffer(b"".join(blob for _, blob in candidates), dtype=np.float32).reshape(len(keys), -1)
    return keys, matrix


def semantic_ranking(query_vector, keys: Sequence[int], matrix) -> list[tuple[int, float]]:
    """``(key, cosine)`` of the memories above the floor, most similar first; ``matrix[i]`` is
    ``keys[i]``'s vector.

    Vectors are L2-normalised float32, so the dot product is the cosine.
    """
    if not keys:
        return []
    import numpy as np

    similarities = matrix @ np.asarray(query_vector, dtype=np.float32)
    above = np.flatnonzero(similarities > SEMANTIC_FLOOR)  # most of a large profile is noise: sort only the rest
    order = above[np.argsort(-similarities[above], kind="stable")]
    return [(keys[i], float(similarities[i])) for i in order.tolist()]


@dataclass(frozen=True)
class Signal:
    """One signal: the strength in [0, 1] of every memory it found, best first."""

    strengths: dict[int, float]
    weight: float

    @property
    def order(self) -> list[int]:
        return list(self.strengths)

    @property
    def found(self) -> bool:
        return any(strength > 0 for strength in self.strengths.values())


def term_coverage(matches_per_term: Sequence[Collection[int]], population: int) -> dict[int, float]:
    """Key -> IDF-weighted share of the query's terms it contains, in [0, 1].

    A term no memory contains weighs like the rarest term: a query mostly made of words
    the profile never uses is not well answered by the one word it shares.
    """
    weights = [math.log(1 + max(population, 1) / max(len(keys), 1)) for keys in matches_per_term]
    total = sum(weights)
    coverage: dict[int, float] = {}
    for weight, keys in zip(weights, matches_per_term, strict=True):
        for key in keys:
            coverage[key] = coverage.get(key, 0.0) + weight / total
    return {key: min(1.0, value) for key, value in coverage.items()}


def lexical_signal(
    ranked: Iterable[int], coverage: dict[int, float] | None = None, judged: Collection[int] = ()
) -> Signal:
    """Full-text matches best first. A memory the embedding model has ``judged`` gains only from
    covering more than half of the query (0 at half, 1 for all of it): the model already
    weighed its words, and one incidental word in common must not outvote it. Any other
    memory (no vector yet) is as strong as its coverage, 1 without ``coverage``."""
    strengths = {}
    for key in ranked:
        share = 1.0 if coverage is None else coverage.get(key, 0.0)
        strengths[key] = max(0.0, 2 * share - 1) if key in judged else share
    return Signal(strengths, LEXICAL_WEIGHT)


def semantic_signal(ranking: Sequence[tuple[int, float]]) -> Signal:
    return Signal({key: semantic_confidence(cosine) for key, cosine in ranking}, SEMANTIC_WEIGHT)


def identifier_signal(terms: Sequence[str], matches_per_term: Sequence[Collection[int]], others: Sequence[Signal]):
    """The share of the query's identifiers each memory contains, weighing as much as ``others``
    together; None when the query names no identifier."""
    identifiers = [keys for term, keys in zip(terms, matches_per_term, strict=True) if is_identifier(term)]
    if not identifiers:
        return None
    shares: dict[int, float] = {}
    for keys in identifiers:
        for key in keys:
            shares[key] = shares.get(key, 0.0) + 1 / len(identifiers)
    ordered = dict(sorted(shares.items(), key=lambda item: -item[1]))
    return Signal(ordered, sum(signal.weight for signal in others if signal.found))


def fuse(signals: Sequence[Signal]) -> dict[int, float]:
    """Key -> the weighted mean of its strengths, in [0, 1], for every key a signal found."""
    # A signal that found nothing (a paraphrase sharing no word) says nothing, so it takes no share.
    total_weight = sum(signal.weight for signal in signals if signal.found)
    if total_weight <= 0:
        return {}
    scores: dict[int, float] = {}
    for signal in signals:
        for key, strength in signal.strengths.items():
            scores[key] = scores.get(key, 0.0) + signal.weight * strength
    return {key: min(1.0, score / total_weight) for key, score in scores.items()}


def top(
    scores: dict[int, float], limit: int, threshold: float, tie_breaks: Sequence[Sequence[int]] = ()
) -> list[tuple[int, float]]:
    """The best ``limit`` keys whose score, as answered (rounded), is at least ``threshold``, with
    that score. Ties go to the key placed first by the first of ``tie_breaks`` that places
    either, then to the newer (larger) key."""
    positions = [{key: position for position, key in enumerate(order)} for order in tie_breaks]
    unplaced = len(scores)
    kept = [(key, score) for key, score in scores.items() if score > 0 and round(score, SCORE_DECIMALS) >= threshold]
    kept.sort(key=lambda item: (-item[1], *(placed.get(item[0], unplaced) for placed in positions), -item[0]))
    return [(key, round(score, SCORE_DECIMALS)) for key, score in kept[:limit]]
