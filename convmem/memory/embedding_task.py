"""The worker task that gives memories still without a vector their vectors, in batches.

Writes embed their own memories in the request (read-your-writes); this task covers the rest:
memories written while embeddings were off, or whose write could not embed them."""

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

