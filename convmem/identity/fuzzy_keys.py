"""Blocking keys for fuzzy matching: which stored values can possibly match, without a scan.

A fuzzy rule matches when ``fuzz.ratio(a, b) >= threshold``. ``fuzz.ratio`` is the normalised
Indel similarity, so with ``r = 1 - threshold / 100`` a match means
``indel(a, b) <= D = (len(a) + len(b)) * r`` (``max_distance``). Two filters follow, both
*complete*: every value a full scan would match is found (``tests/test_fuzzy_keys.py``).

* Length: one insertion or deletion changes the length by one, so ``|len(a) - len(b)| <= D``.
* Partition (the pigeonhole filter of PassJoin, for the Indel distance): a stored value of
  length ``n`` is cut into ``m(n)`` segments, more than the largest ``D`` any query it can
  match allows. One insertion or deletion breaks at most one segment, so a matching query
  holds at least one segment unbroken, shifted by at most ``D`` from where it was (less:
  ``_starts`` narrows the window as PassJoin's position- and multi-match-aware selection does).

A stored value's keys are its segments, each named with the value's length and its place
(``"15:2:ith"``), and its length alone (``"15"``). A query probes, for every length it can
match, every segment-sized substring of itself within the shift: the keys that value would
have if it matched. Where values of a length are too short to cut into ``m(n)`` non-empty
segments, or the segments would need more than ``PER_LENGTH_BUDGET`` probes (long values at
a low threshold), the query probes that length's key instead: every value of that length.
Keys depend on the threshold: a changed threshold rebuilds them.
"""

from dataclasses import dataclass
from functools import lru_cache
from math import floor

# A value's length is bounded by the identifier column.
MAX_LENGTH = 255
# Segment probes for one stored length beyond which the length's key is probed instead.
PER_LENGTH_BUDGET = 512
# Guards the bound against float rounding in ``fuzz.ratio``: a wider bound only adds candidates.
_EPSILON = 1e-6


def max_distance(len_a: int, len_b: int, threshold: int) -> int:
    """The largest Indel distance at which two values of these lengths can still match."""
    return floor((len_a + len_b) * (1 - threshold / 100) + _EPSILON)


def matching_lengths(length: int, threshold: int) -> range:
    """The lengths a value of ``length`` can match (contiguous: the bound grows slower than the gap)."""
    lengths = [n for n in range(1, MAX_LENGTH + 1) if abs(length - n) <= max_distance(length, n, threshold)]
    return range(lengths[0], lengths[-1] + 1)


@lru_cache(maxsize=128)
def _segment_counts(threshold: int) -> tuple[int, ...]:
    """Per stored length: one more segment than the largest distance of any match."""
    counts = [0]
    for length in range(1, MAX_LENGTH + 1):
        counts.append(1 + max(max_distance(length, other, threshold) for other in matching_lengths(length, threshold)))
    return tuple(counts)


@dataclass(frozen=True)
class Segment:
    index: int
    start: int
    length: int


@lru_cache(maxsize=4096)
def segments(length: int, threshold: int) -> tuple[Segment, ...] | None:
    """How a stored value of ``length`` is cut; None if it is too short to cut."""
    count = _segment_counts(threshold)[length]
    if count > length:
        return None
    short, longer_from = length // count, count - length % count
    cuts, start = [], 0
    for index in range(count):
        size = short + (index >= longer_from)
        cuts.append(Segment(index, start, size))
        start += size
    return tuple(cuts)


def keys_of(value: str, threshold: int) -> list[str]:
    """The keys a stored value is found by."""
    cuts = segments(len(value), threshold) or ()
    return [str(len(value))] + [f"{len(value)}:{cut.index}:{value[cut.start : cut.start + cut.length]}" for cut in cuts]


def probe(value: str, threshold: int) -> set[str]:
    """The keys of every stored value that may match ``value``: any match holds one of them."""
    keys: set[str] = set()
    for stored_length in matching_lengths(len(value), threshold):
        cuts = segments(stored_length, threshold)
        if cuts is None:
            keys.add(str(stored_length))
            continue
        distance = max_distance(len(value), stored_length, threshold)
        windows = [(cut, _starts(cut, len(value), stored_length, distance)) for cut in cuts]
        if sum(len(starts) for _, starts in windows) > PER_LENGTH_BUDGET:
            keys.add(str(stored_length))
            continue
        keys.update(
            f"{stored_length}:{cut.index}:{value[start : start + cut.length]}" for cut, starts in windows for start in starts
        )
    return keys


def _starts(cut: Segment, query_length: int, stored_length: int, distance: int) -> range:
    """Where in the query the segment can lie unbroken, if it is the first unbroken one.

    With ``L`` operations before the segment and ``R`` after (``L + R <= distance``), it moves
    by ``shift`` with ``|shift| <= L`` and ``|growth - shift| <= R`` (``growth``: the query's
    length less the stored one's), so ``|shift| + |growth - shift| <= distance``. The segments
    before the first unbroken one are each broken by an operation before it: ``L >= index``,
    so ``|growth - shift| <= distance - index``."""
    growth = query_length - stored_length
    low = max(-((distance - growth) // 2), growth - (distance - cut.index), -cut.start)
    high = min((distance + growth) // 2, growth + (distance - cut.index), query_length - cut.length - cut.start)
    return range(cut.start + low, cut.start + high + 1)
