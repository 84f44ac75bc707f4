"""Epoch metrics summed over the ranks, so every rank reports the global batch's figures."""

from __future__ import annotations

import numpy as np

from ..train.metrics import RunningMetrics
from .process_group import get_backend


def reduce_metrics(metrics: RunningMetrics) -> RunningMetrics:
    """Sum ``metrics``' loss sum, count and correct counts over all ranks, in place (one
    collective); returns it.  Its means are then those of every rank's samples together."""
    sums = np.array([metrics.loss_sum, metrics.count, metrics.correct, metrics.correct5],
                    dtype=np.float64)
    get_backend().all_reduce(sums)
    metrics.loss_sum = float(sums[0])
    metrics.count, metrics.correct, metrics.correct5 = (int(v) for v in sums[1:])
    return metrics
