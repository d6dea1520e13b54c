#!/usr/bin/env python3
"""Reference values for Casebook's drift detectors, from SciPy and numpy.

Writes seeded fixtures under tests/fixtures/drift/ (only with --fixtures, or
when one is missing) and tests/fixtures/drift/expected.json, which
tests/drift_reference.rs checks src/engine/drift.rs against. Run it on demand,
in a virtual environment with the versions pinned in requirements.txt; CI
does not run it:

    python3 -m venv /tmp/casebook-ref
    /tmp/casebook-ref/bin/pip install -r scripts/reference/requirements.txt
    /tmp/casebook-ref/bin/python scripts/reference/drift_reference.py

Conventions mirrored from src/engine/drift.rs:
- PSI and the binned detectors use bins cut at np.quantile(reference,
  i / BINS) for i in 1..BINS (linear rule), np.unique'd; a value's bin is
  np.searchsorted(edges, x, side="right"). PSI floors each share at 1e-4.
- KS: ks_2samp(method="exact") for the exact p-value; the asymptotic one is
  kstwobign.sf(sqrt(n*m/(n+m)) * D), the Kolmogorov limit, which is NOT
  ks_2samp(method="asymp") (that uses kstwo at round(n*m/(n+m))).
- Chi-square: chi2_contingency([ref, cur], correction=False) with categories
  empty in both dropped.
- Wasserstein normalized by np.std(reference) (ddof 0).
"""

import json
import sys
from pathlib import Path

import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "drift"
SEED = 20240612
BINS = 10
PSI_EPS = 1e-4


def write_numeric(name, ref, cur):
    lines = ["sample,value"]
    lines += [f"ref,{float(v)!r}" for v in ref]
    lines += [f"cur,{float(v)!r}" for v in cur]
    (FIXTURES / f"{name}.csv").write_text("\n".join(lines) + "\n")


def write_categorical(name, ref, cur):
    lines = ["ref_count,cur_count"] + [f"{r},{c}" for r, c in zip(ref, cur)]
    (FIXTURES / f"{name}.csv").write_text("\n".join(lines) + "\n")


NUMERIC = ["shifted", "ties", "same", "equal_sizes", "larger"]
CATEGORICAL = ["categories"]


def make_fixtures():
    FIXTURES.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    # Unequal sizes, a mean and scale shift.
    write_numeric("shifted", rng.normal(0.0, 1.0, 300), rng.normal(0.3, 1.1, 250))
    # Heavy ties: values rounded to one decimal, some shared across samples.
    write_numeric(
        "ties",
        np.round(rng.normal(0.0, 0.5, 200), 1),
        np.round(rng.normal(0.1, 0.5, 170), 1),
    )
    # Same distribution (exponential), sizes 400 and 360.
    write_numeric("same", rng.exponential(1.0, 400), rng.exponential(1.0, 360))
    # Equal sizes: ks_2samp's exact path takes its square-lattice formula.
    write_numeric("equal_sizes", rng.normal(0.0, 1.0, 150), rng.normal(0.4, 1.0, 150))
    # Larger, for the asymptotic p-value's regime.
    write_numeric("larger", rng.normal(0.0, 1.0, 3000), rng.normal(0.05, 1.0, 2500))
    # Category counts: one empty in both (dropped), one empty in current.
    write_categorical("categories", [120, 80, 0, 40, 25, 10], [100, 95, 0, 52, 0, 13])


def read_numeric(name):
    ref, cur = [], []
    for line in (FIXTURES / f"{name}.csv").read_text().strip().splitlines()[1:]:
        sample, value = line.split(",")
        (ref if sample == "ref" else cur).append(float(value))
    return np.array(ref), np.array(cur)


def read_categorical(name):
    rows = (FIXTURES / f"{name}.csv").read_text().strip().splitlines()[1:]
    ref = np.array([int(r.split(",")[0]) for r in rows])
    cur = np.array([int(r.split(",")[1]) for r in rows])
    return ref, cur


def psi(ref_counts, cur_counts):
    r = np.maximum(ref_counts / ref_counts.sum(), PSI_EPS)
    c = np.maximum(cur_counts / cur_counts.sum(), PSI_EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def chi2(ref_counts, cur_counts):
    keep = (ref_counts + cur_counts) > 0
    table = np.array([ref_counts[keep], cur_counts[keep]])
    res = stats.chi2_contingency(table, correction=False)
    return {"statistic": float(res.statistic), "dof": int(res.dof), "p_value": float(res.pvalue)}


def counts_case(ref_counts, cur_counts):
    return {
        "psi": psi(ref_counts, cur_counts),
        "js": float(jensenshannon(ref_counts, cur_counts, base=2)),
        "chi2": chi2(ref_counts, cur_counts),
    }


def numeric_case(name):
    ref, cur = read_numeric(name)
    edges = np.unique(np.quantile(ref, np.arange(1, BINS) / BINS))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    exact = stats.ks_2samp(ref, cur, method="exact")
    n, m = len(ref), len(cur)
    en = n * m / (n + m)
    w = stats.wasserstein_distance(ref, cur)
    out = {
        "file": f"{name}.csv",
        "n_ref": n,
        "n_cur": m,
        # As repr strings: serde_json's default float parser may miss by
        # an ulp, and the edges are compared bit for bit.
        "edges": [repr(float(e)) for e in edges],
        "ref_counts": ref_counts.tolist(),
        "cur_counts": cur_counts.tolist(),
        "ks_statistic": float(exact.statistic),
        "ks_p_exact": float(exact.pvalue),
        "ks_p_asymptotic": float(stats.kstwobign.sf(np.sqrt(en) * exact.statistic)),
        "wasserstein": float(w),
        "wasserstein_normalized": float(w / np.std(ref)),
    }
    out.update(counts_case(ref_counts, cur_counts))
    return out


def categorical_case(name):
    ref, cur = read_categorical(name)
    out = {"file": f"{name}.csv"}
    out.update(counts_case(ref, cur))
    return out


def main():
    if "--fixtures" in sys.argv or not all(
        (FIXTURES / f"{n}.csv").exists() for n in NUMERIC + CATEGORICAL
    ):
        make_fixtures()
    expected = {
        "generated_by": "scripts/reference/drift_reference.py",
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "bins": BINS,
        "psi_eps": PSI_EPS,
        "numeric": {name: numeric_case(name) for name in NUMERIC},
        "categorical": {name: categorical_case(name) for name in CATEGORICAL},
    }
    (FIXTURES / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
