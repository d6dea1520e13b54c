#!/usr/bin/env python3
"""Write the seeded CSV fixtures under tests/fixtures/metrics/ for Casebook's metrics.

The CSVs are committed; run this only to regenerate them on purpose, then run
metrics_reference.py to refresh expected.json. Scores are written with repr(),
which round-trips every float64 exactly, so Rust parses the same bits.

    python3 scripts/reference/make_metrics_fixtures.py
"""

from pathlib import Path

import numpy as np

SEED = 20240611
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "metrics"


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def write(name, header, rows):
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(repr(v) if isinstance(v, float) else str(v) for v in row))
    (OUT / name).write_text("\n".join(lines) + "\n")


def balanced(rng):
    """~200 rows, about half positive, continuous probabilities."""
    n = 200
    y = rng.integers(0, 2, n)
    p = sigmoid(1.2 * (2 * y - 1) + rng.normal(0.0, 1.3, n))
    write("balanced.csv", ["label", "score"], zip(y.tolist(), p.tolist()))


def imbalanced(rng):
    """~2000 rows, about 1% positive."""
    n = 2000
    y = (rng.random(n) < 0.01).astype(int)
    p = np.where(y == 1, rng.beta(2.0, 5.0, n), rng.beta(1.0, 12.0, n))
    write("imbalanced.csv", ["label", "score"], zip(y.tolist(), p.tolist()))


def ties(rng):
    """300 rows with scores rounded to one decimal: heavy ties, exact 0.0 and 1.0."""
    n = 300
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 + 0.25 * (2 * y - 1) + rng.normal(0.0, 0.3, n), 0.0, 1.0)
    p = np.round(p, 1)
    write("ties.csv", ["label", "score"], zip(y.tolist(), p.tolist()))


def edge_cases():
    """Hand-picked: bin edges, -0.0, values inside the log-loss clip zone."""
    rows = [
        (1, 1.0),
        (0, 1.0),
        (1, 0.9999999999999999),  # above 1 - eps: clipped by log_loss
        (0, 0.0),
        (1, 0.0),
        (0, -0.0),  # equal to 0.0 for sorting and ties
        (0, 1e-17),  # below eps: clipped by log_loss
        (1, 0.3),  # on a 10-bin edge (linspace gives 0.30000000000000004)
        (0, 0.3),
        (1, 0.7),
        (0, 0.2),
        (1, 0.2),
        (0, 0.5),
        (1, 0.5),
        (0, 0.5),
        (1, 0.6000000000000001),  # exactly the 7th linspace(0, 1, 11) value
        (0, 0.6),
        (0, 0.14285714285714285),  # exactly a 7-bin edge
        (1, 0.8571428571428571),  # exactly a 7-bin edge
        (0, 0.1),
    ]
    write("edge_cases.csv", ["label", "score"], rows)


def ranking(rng):
    """~30 queries of 1 to 25 rows, shuffled together.

    Some queries have no positive row, some a single row, some are all
    positive, and about half have scores rounded to one decimal (ties).
    """
    rows = []
    for q in range(30):
        size = int(rng.integers(1, 26))
        if q in (3, 11):
            size = 1  # single-row queries: one with a positive, one without
        if q in (3, 7, 18, 25):
            y = np.zeros(size, dtype=int)
            if q == 3:
                y[0] = 1
        elif q == 22:
            y = np.ones(size, dtype=int)
        else:
            y = (rng.random(size) < 0.3).astype(int)
            if q in (5, 9) and size > 1:
                y[:] = 0
                y[-1] = 1
        s = sigmoid(1.5 * y + rng.normal(0.0, 1.0, size))
        if q % 2 == 0:
            s = np.round(s, 1)
        for label, score in zip(y.tolist(), s.tolist()):
            rows.append((label, score, 100 + 7 * q))
    order = rng.permutation(len(rows))
    write("ranking.csv", ["label", "score", "query"], [rows[i] for i in order])


def regression(rng):
    """150 (target, prediction) pairs; label is the target, score the prediction."""
    n = 150
    y = rng.normal(3.0, 2.0, n)
    pred = y + rng.normal(0.0, 0.8, n) + 0.2
    write("regression.csv", ["label", "score"], zip(y.tolist(), pred.tolist()))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    balanced(rng)
    imbalanced(rng)
    ties(rng)
    edge_cases()
    ranking(rng)
    regression(rng)


if __name__ == "__main__":
    main()
