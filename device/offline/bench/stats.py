"""The bench's two summaries: never a single timing, always a spread."""

from __future__ import annotations

import numpy as np


def stats(samples: list[float], scale: float = 1.0) -> dict[str, float]:
    """Median and 90th percentile of samples times scale (seconds * 1e3: ms)."""
    a = np.asarray(samples, dtype=float) * scale
    return {"median": round(float(np.median(a)), 3), "p90": round(float(np.percentile(a, 90)), 3)}


def quartiles(values: list[float]) -> dict[str, float]:
    """Median and interquartile range: for figures over the rounds (one value a round)."""
    a = np.asarray(values, dtype=float)
    return {"median": round(float(np.median(a)), 3), "p25": round(float(np.percentile(a, 25)), 3),
            "p75": round(float(np.percentile(a, 75)), 3)}
