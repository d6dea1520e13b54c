//! Checks Casebook's drift detectors against scipy: every detector on every
//! fixture in `tests/fixtures/drift/` must agree with the values
//! `scripts/reference/drift_reference.py` wrote to `expected.json`: bin
//! edges and counts exactly; statistics and distances within 1e-9 (relative
//! to their size where above 1); p-values within 1e-10. Needs no Python.
// Native only: reads fixture files and uses serde_json (a native dev-dependency).
#![cfg(not(target_arch = "wasm32"))]
// A failed parse or lookup in a test is a test failure; unwrap says so plainly.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use casebook::engine::drift::{
    Detector, Reference, Thresholds, bin_counts, chi2_counts, detect_categorical, js_distance,
    kolmogorov_sf, ks_2samp, psi, quantile_edges, wasserstein,
};
use serde_json::Value;

/// Statistics and distances: exact algorithms, summation order may differ.
const TOL: f64 = 1e-9;
/// p-values: scipy's special functions and ours are different code.
const P_TOL: f64 = 1e-10;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn lines(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
    text.lines().skip(1).map(str::to_owned).collect()
}

/// `sample,value` rows: the reference and current samples.
fn read_numeric(file: &str) -> (Vec<f64>, Vec<f64>) {
    let (mut r, mut c) = (Vec::new(), Vec::new());
    for line in lines(file) {
        let (sample, value) = line.split_once(',').unwrap();
        let v: f64 = value.parse().unwrap();
        if sample == "ref" {
            r.push(v);
        } else {
            c.push(v);
        }
    }
    (r, c)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn close(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol * expected.abs().max(1.0),
        "{what}: got {actual}, expected {expected}"
    );
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn check_counts_detectors(name: &str, r: &[u64], c: &[u64], e: &Value) {
    close(psi(r, c), num(&e["psi"]), TOL, &format!("{name} psi"));
    close(js_distance(r, c), num(&e["js"]), TOL, &format!("{name} js"));
    let chi = chi2_counts(r, c).unwrap();
    close(
        chi.statistic,
        num(&e["chi2"]["statistic"]),
        TOL,
        &format!("{name} chi2"),
    );
    assert_eq!(
        chi.dof as u64,
        e["chi2"]["dof"].as_u64().unwrap(),
        "{name} dof"
    );
    close(
        chi.p_value,
        num(&e["chi2"]["p_value"]),
        P_TOL,
        &format!("{name} chi2 p"),
    );
}

#[test]
fn numeric_detectors_match_scipy() {
    let all = expected();
    let bins = all["bins"].as_u64().unwrap() as usize;
    let cases = all["numeric"].as_object().unwrap();
    assert!(cases.len() >= 5, "numeric fixtures missing");
    for (name, e) in cases {
        let (r, c) = read_numeric(e["file"].as_str().unwrap());
        let (rs, cs) = (sorted(&r), sorted(&c));

        // Bin edges to the bit, then counts exactly.
        let edges = quantile_edges(&rs, bins);
        // Strings, parsed by std (correctly rounded), so the bits are scipy's.
        let want: Vec<f64> = e["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(edges.len(), want.len(), "{name} edges");
        for (a, b) in edges.iter().zip(&want) {
            assert_eq!(a.to_bits(), b.to_bits(), "{name} edge {a} vs {b}");
        }
        let (rc, cc) = (bin_counts(&r, &edges), bin_counts(&c, &edges));
        assert_eq!(rc, counts(&e["ref_counts"]), "{name} ref counts");
        assert_eq!(cc, counts(&e["cur_counts"]), "{name} cur counts");
        check_counts_detectors(name, &rc, &cc, e);

        let ks = ks_2samp(&rs, &cs);
        assert!(ks.exact, "{name}: small samples get the exact p-value");
        close(
            ks.statistic,
            num(&e["ks_statistic"]),
            TOL,
            &format!("{name} D"),
        );
        close(
            ks.p_value,
            num(&e["ks_p_exact"]),
            P_TOL,
            &format!("{name} exact p"),
        );
        let (n, m) = (r.len() as f64, c.len() as f64);
        let asymptotic = kolmogorov_sf((n * m / (n + m)).sqrt() * ks.statistic);
        close(
            asymptotic,
            num(&e["ks_p_asymptotic"]),
            P_TOL,
            &format!("{name} asymp p"),
        );

        let w = wasserstein(&rs, &cs);
        close(
            w,
            num(&e["wasserstein"]),
            TOL,
            &format!("{name} wasserstein"),
        );

        // The same numbers through the detector API.
        let reference = Reference::new(&r, bins).unwrap();
        let t = Thresholds::default();
        let got = reference.detect(&c, Detector::Wasserstein, &t).unwrap();
        close(
            got.statistic,
            num(&e["wasserstein_normalized"]),
            TOL,
            &format!("{name} w/σ"),
        );
        let got = reference.detect(&c, Detector::Psi, &t).unwrap();
        close(
            got.statistic,
            num(&e["psi"]),
            TOL,
            &format!("{name} psi via detect"),
        );
        let got = reference.detect(&c, Detector::Ks, &t).unwrap();
        close(
            got.p_value.unwrap(),
            num(&e["ks_p_exact"]),
            P_TOL,
            &format!("{name} ks via detect"),
        );
    }
}

#[test]
fn categorical_detectors_match_scipy() {
    let all = expected();
    let cases = all["categorical"].as_object().unwrap();
    assert!(!cases.is_empty(), "categorical fixtures missing");
    for (name, e) in cases {
        let (mut r, mut c) = (Vec::new(), Vec::new());
        for line in lines(e["file"].as_str().unwrap()) {
            let (a, b) = line.split_once(',').unwrap();
            r.push(a.parse::<u64>().unwrap());
            c.push(b.parse::<u64>().unwrap());
        }
        check_counts_detectors(name, &r, &c, e);
        let t = Thresholds::default();
        let got = detect_categorical(&r, &c, Detector::Chi2, &t).unwrap();
        close(
            got.p_value.unwrap(),
            num(&e["chi2"]["p_value"]),
            P_TOL,
            name,
        );
        assert!(got.alert, "{name}: the fixture's shift is significant");
    }
}
