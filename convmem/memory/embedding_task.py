"""The worker task that gives new and edited memories their vectors, in batches."""

from convmem.database.engine import Database
from convmem.memory import repository
from convmem.memory.embeddings import Embedder

EMBEDDING_BATCH = 32


def embed_pending(db: Database, embedder: Embedder | None) -> bool:
    """Embed a batch of memories still waiting for a vector. False when idle (or lexical-only)."""
    if embedder is None:
        return False
    with db.reading() as session:
        pending = repository.pending_embeddings(session, EMBEDDING_BATCH)
    if not pending:
        # Load the model ahead of the first Recall when there is memory to search.
        if not embedder.loaded and _has_memories(db):
            embedder.encode(["warm up"])
        return False
    vectors = embedder.encode([text for _, _, text in pending])
    with db.writing() as session:
        repository.store_embeddings(
            session,
            [
                (embedding_id, generation, vectors[i].tobytes())
                for i, (embedding_id, generation, _) in enumerate(pending)
            ],
            embedder.name,
        )
    return True


def _has_memories(db: Database) -> bool:
    with db.reading() as session:
        return repository.has_memories(session)
