"""Each profile's memories as Recall searches them, built once and kept in the process.

Reading a profile's 2,000 vectors and decoding them into a matrix was the largest part of a
Recall (``docs/benchmarks.md``), and its full-text side is searched in memory too
(``lexical``). A cached entry, vectors and tokenised texts, is used only while a fingerprint
of the profile's embedding rows (every memory has one, pending or filled), read by Recall in
one aggregate statement, is the one it was stored with, so a write by any process (another
server, a worker, an import) is seen at once. The fingerprint changes with every change that
can alter what is searched:
- a memory added, whether or not its id reuses a deleted one (SQLite may give a new row the
  id of a deleted newest row): the newest memory in scope is then a new row, whose sid is new;
- a memory deleted, or a profile merged in: the number of rows changes (or a newer row is
  added, as above);
- a text changed: its embedding's generation grows, so their sum does;
- a vector stored by the workers: the number of rows holding one of this model's vectors grows.
A cached entry and its fingerprint come from one statement, hence one snapshot.
"""

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from convmem.memory.lexical import LexicalIndex
from convmem.memory.ranking import decoded

# A profile of 2,000 memories takes about 5 MB: 3 MB of vectors (384 float32 each), the rest its tokens.
DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Fingerprint:
    rows: int  # memories in scope with an embedding row
    ready: int  # of which hold a vector of the model in use
    generations: int  # sum of their embeddings' generations
    newest_key: int | None
    newest_sid: str | None

    def followed_by(self, added: "Fingerprint") -> "Fingerprint":
        """The fingerprint of these memories and of ``added``, all newer."""
        return Fingerprint(
            self.rows + added.rows, self.ready + added.ready, self.generations + added.generations,
            added.newest_key, added.newest_sid,
        )


@dataclass(frozen=True)
class ProfileMemories:
    """One kind of memory of one (canonical) profile: every memory's tokens, and the vectors of
    those the model has embedded (``matrix[i]`` is ``keys[i]``'s)."""

    fingerprint: Fingerprint | None  # None: read for one call, not cached
    lexical: LexicalIndex
    keys: list[int]
    matrix: object  # numpy float32 array, (len(keys), dimensions)

    @cached_property
    def judged(self) -> frozenset[int]:
        """The keys the model has embedded, as a set (asked by every Recall of the entry)."""
        return frozenset(self.keys)

    @property
    def size(self) -> int:
        return self.matrix.nbytes + self.lexical.size

    @classmethod
    def of(cls, fingerprint: Fingerprint | None, memories: Sequence[tuple[int, str, bytes | None]]) -> "ProfileMemories":
        """The entry for ``(key, text, vector or None)`` rows, oldest first."""
        keys, matrix = decoded([(key, vector) for key, _, vector in memories if vector is not None])
        return cls(fingerprint, LexicalIndex((key, text) for key, text, _ in memories), keys, matrix)

    def extended(self, fingerprint: Fingerprint, added: Sequence[tuple[int, str, bytes | None]]) -> "ProfileMemories":
        """This entry with memories newer than all of its own, stored with ``fingerprint``."""
        import numpy as np

        new_keys, new_matrix = decoded([(key, vector) for key, _, vector in added if vector is not None])
        matrix = self.matrix if not new_keys else new_matrix if not self.keys else np.concatenate([self.matrix, new_matrix])
        keys = self.keys + new_keys
        lexical = self.lexical.extended((key, text) for key, text, _ in added)
        return ProfileMemories(fingerprint, lexical, keys, matrix)


class MemoryCache:
    """Least recently used entries up to a memory budget; safe to share between threads."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple, ProfileMemories] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> ProfileMemories | None:
        """The entry last stored under ``key``, whatever its fingerprint: Recall compares it."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, entry: ProfileMemories) -> None:
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._used -= previous.size
            if entry.size > self.budget_bytes:
                return
            self._entries[key] = entry
            self._used += entry.size
            while self._used > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._used -= evicted.size
