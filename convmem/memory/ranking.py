"""Recall ranking: pure functions, so tests and the benchmark drive them without a server.

Two rankings of one kind of memory (observations or summaries) are fused:
- lexical: full-text matches of the query terms, best first (bm25 / ts_rank_cd), each
  weighted by how much of the query it covers (``term_coverage``);
- semantic: cosine similarity of the query's embedding with each stored embedding,
  keeping only items above ``SEMANTIC_FLOOR`` (below it MiniLM similarity is noise).

Fusion is weighted reciprocal-rank fusion, normalised so that the score has a fixed
meaning: 1.0 is ranked first by every signal in use, and an item no signal found is not
returned at all. Each signal contributes ``weight * (k + 1) / (k + rank)``, divided by the
sum of the weights of the signals that found anything. Semantic contributions are further scaled by how similar the
item actually is (``semantic_confidence``), and lexical ones by the IDF-weighted share of
the query's terms the item contains, so a weak best match does not score like a strong
one (a paraphrase query that happens to share one common word with a distractor gives that
distractor little), which is what makes ``relevanceThreshold`` meaningful across queries.
"""

import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

RRF_K = 10
SEMANTIC_FLOOR = 0.25
SEMANTIC_CEILING = 0.65
LEXICAL_WEIGHT = 1.0
SEMANTIC_WEIGHT = 1.0
MAX_QUERY_TERMS = 64

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


def query_terms(text: str) -> list[str]:
    """The distinct, lower-cased, non-stop-word terms of ``text``, in order of appearance."""
    terms: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOP_WORDS and word not in terms:
            terms[word] = None
            if len(terms) == MAX_QUERY_TERMS:
                break
    return list(terms)


def fts5_match(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms``; quoting makes every term a plain string."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def semantic_confidence(cosine: float) -> float:
    """Cosine similarity mapped onto [0, 1]: 0 at the floor, 1 at and above the ceiling."""
    return min(1.0, max(0.0, (cosine - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR)))


def semantic_ranking(query_vector, candidates: Sequence[tuple[int, bytes]]) -> list[tuple[int, float]]:
    """``(key, cosine)`` of the candidates above the floor, most similar first.

    Vectors are L2-normalised float32 bytes, so the dot product is the cosine.
    """
    if not candidates:
        return []
    import numpy as np  # only reached with the semantic extra installed

    keys = [key for key, _ in candidates]
    matrix = np.frombuffer(b"".join(blob for _, blob in candidates), dtype=np.float32).reshape(len(keys), -1)
    similarities = matrix @ np.asarray(query_vector, dtype=np.float32)
    order = np.argsort(-similarities, kind="stable")
    return [(keys[i], float(similarities[i])) for i in order if similarities[i] > SEMANTIC_FLOOR]


@dataclass(frozen=True)
class Signal:
    """One ranking: keys best first, each with a confidence in [0, 1] (1 when unknown)."""

    ranked: Sequence[tuple[int, float]]
    weight: float


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


def lexical_signal(keys: Iterable[int], coverage: dict[int, float] | None = None) -> Signal:
    """Full-text matches best first; without ``coverage`` every match counts fully."""
    return Signal([(key, 1.0 if coverage is None else coverage.get(key, 0.0)) for key in keys], LEXICAL_WEIGHT)


def semantic_signal(ranking: Sequence[tuple[int, float]]) -> Signal:
    return Signal([(key, semantic_confidence(cosine)) for key, cosine in ranking], SEMANTIC_WEIGHT)


def fuse(signals: Sequence[Signal], k: int = RRF_K) -> dict[int, float]:
    """Key -> fused score in [0, 1] for every key at least one signal ranked."""
    # A signal that found nothing (a paraphrase sharing no word) says nothing, so it takes no share.
    total_weight = sum(signal.weight for signal in signals if signal.ranked)
    if total_weight <= 0:
        return {}
    scores: dict[int, float] = {}
    for signal in signals:
        for rank, (key, confidence) in enumerate(signal.ranked, start=1):
            contribution = signal.weight * confidence * (k + 1) / (k + rank)
            scores[key] = scores.get(key, 0.0) + contribution
    return {key: min(1.0, score / total_weight) for key, score in scores.items()}


def top(scores: dict[int, float], limit: int, threshold: float) -> list[tuple[int, float]]:
    """The best ``limit`` scored keys at or above ``threshold``; ties go to the newer (larger) key."""
    kept = [(key, score) for key, score in scores.items() if score > 0 and score >= threshold]
    kept.sort(key=lambda item: (-item[1], -item[0]))
    return kept[:limit]
