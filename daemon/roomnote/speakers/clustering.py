"""Group unit voice embeddings into voices: average-linkage agglomerative clustering.

Pure numpy on vectors, no audio. A session has a few hundred segments per hour, so the
quadratic similarity matrix stays small.
"""
from __future__ import annotations

import numpy as np


def agglomerate(emb: np.ndarray, threshold: float) -> list[list[int]]:
    """Merge the two most alike groups while their average cosine similarity is >= threshold.

    emb: (n, d) unit vectors. Returns groups of row indices, in order of first member.
    """
    n = len(emb)
    if n == 0:
        return []
    sim = (emb @ emb.T).astype(np.float64)
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    members: list[list[int] | None] = [[i] for i in range(n)]
    alive = np.ones(n, bool)
    for _ in range(n - 1):
        flat = int(np.argmax(sim))
        a, b = divmod(flat, n)
        if sim[a, b] < threshold:
            break
        # average linkage: the merged group's similarity to k is the size-weighted mean
        merged = (sim[a] * sizes[a] + sim[b] * sizes[b]) / (sizes[a] + sizes[b])
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        sizes[a] += sizes[b]
        members[a] = members[a] + members[b]
        members[b] = None
        alive[b] = False
    groups = [sorted(m) for m in members if m is not None]
    return sorted(groups, key=lambda g: g[0])


def centroid(emb: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The weighted mean direction of unit vectors, as a unit vector."""
    c = np.average(emb, axis=0, weights=weights)
    return c / max(float(np.linalg.norm(c)), 1e-9)
