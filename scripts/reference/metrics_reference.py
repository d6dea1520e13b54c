#!/usr/bin/env python3
"""Reference values for Casebook's metrics, from scikit-learn and numpy.

Reads the CSV fixtures in tests/fixtures/metrics/ and writes
tests/fixtures/metrics/expected.json, which tests/metrics_reference.rs checks
the Rust metrics against (to 1e-9). Run it on demand, in a virtual
environment with the pinned versions; CI does not run it:

    python3 -m venv /tmp/casebook-ref
    /tmp/casebook-ref/bin/pip install -r scripts/reference/requirements.txt
    /tmp/casebook-ref/bin/python scripts/reference/metrics_reference.py

Conventions mirrored from src/engine/metrics.rs:
- ROC curve thresholds start at +inf; JSON cannot hold it, so the leading
  threshold is left out of "thresholds" here (the Rust test checks it is inf).
- Normalized entropy is computed with numpy only, not scikit-learn.
- Ranking: queries with no positive row are skipped by every metric; NDCG
  also skips single-row queries (scikit-learn's ndcg_score rejects them).
  Precision@k, recall@k and MRR rank rows by score descending, ties in input
  order (a stable sort).
"""

import json
import sys
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    ndcg_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "metrics"

CLASSIFICATION = ["balanced", "imbalanced", "ties", "edge_cases"]
RANKING = ["ranking"]
REGRESSION = ["regression"]

THRESHOLDS = [0.0, 0.3, 0.5, 0.7, 1.0]
TARGET_PRECISIONS = [0.0, 0.3, 0.5, 0.8, 0.9, 1.0]
N_BINS = [10, 7, 1]
RANKING_K = [1, 3, 5, 10, 100]


def read_csv(name):
    lines = (FIXTURES / f"{name}.csv").read_text().strip().splitlines()
    header = lines[0].split(",")
    columns = {h: [] for h in header}
    for line in lines[1:]:
        for h, v in zip(header, line.split(",")):
            columns[h].append(v)
    return columns


def floats(values):
    return [float(v) for v in values]


def labels_of(columns):
    return np.array([int(v) for v in columns["label"]], dtype=np.int64)


def classification_case(name):
    columns = read_csv(name)
    y = labels_of(columns)
    s = np.array(floats(columns["score"]), dtype=np.float64)
    out = {"file": f"{name}.csv", "rows": int(len(y)), "positives": int(y.sum())}

    out["roc_auc"] = float(roc_auc_score(y, s))
    for key, drop in (("roc_curve", False), ("roc_curve_dropped", True)):
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=drop)
        assert np.isinf(thr[0])
        out[key] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thr[1:].tolist()}

    out["average_precision"] = float(average_precision_score(y, s))
    for key, drop in (("pr_curve", False), ("pr_curve_dropped", True)):
        precision, recall, thr = precision_recall_curve(y, s, drop_intermediate=drop)
        out[key] = {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "thresholds": thr.tolist(),
        }

    out["recall_at_precision"] = [recall_at_precision(y, s, t) for t in TARGET_PRECISIONS]

    out["log_loss"] = float(log_loss(y, s, labels=[0, 1]))
    out["normalized_entropy"] = normalized_entropy(y, s)
    out["calibration_ratio"] = float(np.mean(s) / np.mean(y))
    out["calibration"] = [calibration(y, s, n) for n in N_BINS]
    out["at_threshold"] = [at_threshold(y, s, t) for t in THRESHOLDS]
    return out


def recall_at_precision(y, s, target):
    """Max recall over precision_recall_curve points with precision >= target.

    Ties in recall go to the higher precision, then the higher threshold (the
    closing point, which has no threshold, counts as the highest).
    """
    precision, recall, thr = precision_recall_curve(y, s)
    best = None
    for i in range(len(precision)):
        if precision[i] < target:
            continue
        threshold = float(thr[i]) if i < len(thr) else None
        key = (recall[i], precision[i], np.inf if threshold is None else threshold)
        if best is None or key > best[0]:
            best = (key, i, threshold)
    _, i, threshold = best
    return {
        "target": target,
        "recall": float(recall[i]),
        "precision": float(precision[i]),
        "threshold": threshold,
    }


def normalized_entropy(y, s):
    """He et al. 2014, numpy only: mean clipped log loss / base-rate entropy."""
    eps = np.finfo(np.float64).eps
    p_true = np.where(y == 1, s, 1.0 - s)
    mean_loss = -np.mean(np.log(np.clip(p_true, eps, 1.0 - eps)))
    p = np.mean(y)
    entropy = -(p * np.log(p) + (1.0 - p) * np.log(1.0 - p))
    return float(mean_loss / entropy)


def calibration(y, s, n_bins):
    prob_true, prob_pred = calibration_curve(y, s, n_bins=n_bins, strategy="uniform")
    # Same binning as calibration_curve, to report each non-empty bin's index
    # and size.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_ids = np.searchsorted(edges[1:-1], s)
    counts = np.bincount(bin_ids, minlength=n_bins)
    nonzero = np.flatnonzero(counts)
    assert len(nonzero) == len(prob_true)
    weights = counts[nonzero] / len(s)
    ece = float(np.sum(weights * np.abs(prob_pred - prob_true)))
    return {
        "n_bins": n_bins,
        "edges": edges.tolist(),
        "bins": nonzero.tolist(),
        "counts": counts[nonzero].tolist(),
        "prob_true": prob_true.tolist(),
        "prob_pred": prob_pred.tolist(),
        "ece": ece,
    }


def at_threshold(y, s, t):
    pred = (s >= t).astype(np.int64)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "threshold": t,
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "tn": int(tn),
        "fp": int(fp),
        "fn": int(fn),
        "tp": int(tp),
    }


def ranking_case(name):
    columns = read_csv(name)
    y_all = labels_of(columns)
    s_all = np.array(floats(columns["score"]), dtype=np.float64)
    q_all = np.array([int(v) for v in columns["query"]], dtype=np.int64)

    queries = []
    for q in np.unique(q_all):
        rows = np.flatnonzero(q_all == q)  # input order
        queries.append((int(q), y_all[rows], s_all[rows]))
    with_pos = [(q, y, s) for q, y, s in queries if y.sum() > 0]

    def stable_order(y, s):
        return y[np.argsort(-s, kind="stable")]

    out = {
        "file": f"{name}.csv",
        "queries": len(queries),
        "queries_with_positives": len(with_pos),
        "k": RANKING_K,
        "precision_at_k": {},
        "recall_at_k": {},
        "ndcg_at_k": {},
    }
    for k in RANKING_K:
        p_at_k = [stable_order(y, s)[:k].sum() / k for _, y, s in with_pos]
        r_at_k = [stable_order(y, s)[:k].sum() / y.sum() for _, y, s in with_pos]
        ndcg_queries = [(y, s) for _, y, s in with_pos if len(y) >= 2]
        ndcg = [ndcg_score(y[None, :], s[None, :], k=k) for y, s in ndcg_queries]
        out["precision_at_k"][str(k)] = float(np.mean(p_at_k))
        out["recall_at_k"][str(k)] = float(np.mean(r_at_k))
        out["ndcg_at_k"][str(k)] = float(np.mean(ndcg))
        out["ndcg_queries"] = len(ndcg_queries)

    out["map"] = float(np.mean([average_precision_score(y, s) for _, y, s in with_pos]))
    reciprocal = []
    for _, y, s in with_pos:
        first = int(np.flatnonzero(stable_order(y, s) == 1)[0])
        reciprocal.append(1.0 / (first + 1))
    out["mrr"] = float(np.mean(reciprocal))
    return out


def regression_case(name):
    columns = read_csv(name)
    y = np.array(floats(columns["label"]), dtype=np.float64)
    p = np.array(floats(columns["score"]), dtype=np.float64)
    return {
        "file": f"{name}.csv",
        "mse": float(mean_squared_error(y, p)),
        "mae": float(mean_absolute_error(y, p)),
    }


def main():
    expected = {
        "generated_by": "scripts/reference/metrics_reference.py",
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "log_loss_eps": float(np.finfo(np.float64).eps),
        "classification": {name: classification_case(name) for name in CLASSIFICATION},
        "ranking": {name: ranking_case(name) for name in RANKING},
        "regression": {name: regression_case(name) for name in REGRESSION},
    }
    (FIXTURES / "expected.json").write_text(to_json(expected) + "\n")


def to_json(value, indent=0):
    """JSON with objects indented and lists of numbers kept on one line."""
    pad = " " * indent
    if isinstance(value, dict):
        items = [
            f'{pad} {json.dumps(k)}: {to_json(v, indent + 1).lstrip()}' for k, v in value.items()
        ]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [to_json(v, indent + 1) for v in value]
        return pad + "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return pad + json.dumps(value, allow_nan=False, separators=(",", ":"))


if __name__ == "__main__":
    main()
