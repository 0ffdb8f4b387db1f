"""Latency summaries for fleet reports: nearest-rank percentiles over kept samples.

A 60-second run at a few hundred messages per second keeps tens of thousands of floats: cheap
enough to keep them all and sort once, so the percentiles are exact, not sketched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples (q in 0..100)."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def percentiles(samples: Sequence[float]) -> dict[str, float | int | None]:
    """{n, p50, p99, max} in the samples' unit; None figures when there are no samples."""
    if not samples:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(samples)
    return {"n": len(ordered), "p50": round(percentile(ordered, 50), 3), "p99": round(percentile(ordered, 99), 3),
            "max": round(ordered[-1], 3)}
