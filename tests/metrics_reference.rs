//! Checks Casebook's metrics against scikit-learn: every metric on every CSV
//! fixture in `tests/fixtures/metrics/` must agree within 1e-9 with the values
//! `scripts/reference/metrics_reference.py` wrote to `expected.json`. Also
//! checks ROC-AUC against its pairwise definition, and that bad input gives an
//! error rather than a panic. Needs no Python.
// Native only: reads fixture files and uses serde_json (a native dev-dependency).
#![cfg(not(target_arch = "wasm32"))]
// A failed parse or lookup in a test is a test failure; unwrap says so plainly.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use casebook::engine::metrics::{
    LOG_LOSS_EPS, MetricError, RankedQueries, ThresholdSweep, average_precision, binary_report,
    calibration_ratio, confusion_at_threshold, expected_calibration_error, log_loss,
    mean_absolute_error, mean_average_precision, mean_reciprocal_rank, mean_squared_error,
    ndcg_at_k, normalized_entropy, precision_at_k, precision_recall_curve, recall_at_k,
    recall_at_precision, reliability_bins, roc_auc, roc_curve,
};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/metrics")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The rows of a CSV fixture: header names, then one `Vec<&str>` per row.
fn read_csv(file: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim().to_string())
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|v| v.trim().to_string()).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

/// `label,score` as binary labels and scores.
fn read_binary(file: &str) -> (Vec<u8>, Vec<f64>) {
    let (header, rows) = read_csv(file);
    let (l, s) = (column(&header, "label"), column(&header, "score"));
    rows.iter()
        .map(|r| (r[l].parse::<u8>().unwrap(), r[s].parse::<f64>().unwrap()))
        .unzip()
}

/// `label,score,query`.
fn read_ranking(file: &str) -> (Vec<u8>, Vec<f64>, Vec<u32>) {
    let (header, rows) = read_csv(file);
    let (l, s, q) = (
        column(&header, "label"),
        column(&header, "score"),
        column(&header, "query"),
    );
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        out.0.push(r[l].parse().unwrap());
        out.1.push(r[s].parse().unwrap());
        out.2.push(r[q].parse().unwrap());
    }
    out
}

/// `label,score` as regression targets and predictions.
fn read_regression(file: &str) -> (Vec<f64>, Vec<f64>) {
    let (header, rows) = read_csv(file);
    let (l, s) = (column(&header, "label"), column(&header, "score"));
    rows.iter()
        .map(|r| (r[l].parse::<f64>().unwrap(), r[s].parse::<f64>().unwrap()))
        .unzip()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= TOL,
        "{what}: got {actual}, expected {expected}"
    );
}

fn close_all(actual: &[f64], expected: &Value, what: &str) {
    let expected = nums(expected);
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(&expected).enumerate() {
        close(a, e, &format!("{what}[{i}]"));
    }
}

/// Each classification fixture with its expected values.
fn classification_cases() -> Vec<(String, Vec<u8>, Vec<f64>, Value)> {
    let all = expected();
    let cases = all["classification"].as_object().unwrap();
    assert!(cases.len() >= 4, "classification fixtures missing");
    cases
        .iter()
        .map(|(name, e)| {
            let (labels, scores) = read_binary(e["file"].as_str().unwrap());
            assert_eq!(labels.len() as u64, count(&e["rows"]), "{name}: rows");
            (name.clone(), labels, scores, e.clone())
        })
        .collect()
}

#[test]
fn roc_auc_and_roc_curves_match_sklearn() {
    for (name, labels, scores, e) in classification_cases() {
        close(
            roc_auc(&labels, &scores).unwrap(),
            num(&e["roc_auc"]),
            &format!("{name} roc_auc"),
        );
        for (key, drop) in [("roc_curve", false), ("roc_curve_dropped", true)] {
            let curve = roc_curve(&labels, &scores, drop).unwrap();
            let what = format!("{name} {key}");
            close_all(&curve.fpr, &e[key]["fpr"], &format!("{what} fpr"));
            close_all(&curve.tpr, &e[key]["tpr"], &format!("{what} tpr"));
            let first = curve.thresholds[0];
            assert!(
                first.is_infinite() && first > 0.0,
                "{what}: first threshold"
            );
            close_all(
                &curve.thresholds[1..],
                &e[key]["thresholds"],
                &format!("{what} thresholds"),
            );
        }
    }
}

#[test]
fn average_precision_and_pr_curves_match_sklearn() {
    for (name, labels, scores, e) in classification_cases() {
        close(
            average_precision(&labels, &scores).unwrap(),
            num(&e["average_precision"]),
            &format!("{name} average_precision"),
        );
        for (key, drop) in [("pr_curve", false), ("pr_curve_dropped", true)] {
            let curve = precision_recall_curve(&labels, &scores, drop).unwrap();
            let what = format!("{name} {key}");
            close_all(
                &curve.precision,
                &e[key]["precision"],
                &format!("{what} precision"),
            );
            close_all(&curve.recall, &e[key]["recall"], &format!("{what} recall"));
            close_all(
                &curve.thresholds,
                &e[key]["thresholds"],
                &format!("{what} thresholds"),
            );
        }
    }
}

#[test]
fn recall_at_precision_matches_sklearn_curve() {
    for (name, labels, scores, e) in classification_cases() {
        for case in e["recall_at_precision"].as_array().unwrap() {
            let target = num(&case["target"]);
            let what = format!("{name} recall@precision>={target}");
            let point = recall_at_precision(&labels, &scores, target).unwrap();
            close(point.recall, num(&case["recall"]), &what);
            close(point.precision, num(&case["precision"]), &what);
            match (point.threshold, case["threshold"].as_f64()) {
                (Some(a), Some(b)) => close(a, b, &format!("{what} threshold")),
                (None, None) => {}
                (a, b) => panic!("{what}: threshold {a:?}, expected {b:?}"),
            }
        }
    }
}

#[test]
fn log_loss_and_normalized_entropy_match() {
    close(LOG_LOSS_EPS, num(&expected()["log_loss_eps"]), "eps");
    for (name, labels, scores, e) in classification_cases() {
        close(
            log_loss(&labels, &scores).unwrap(),
            num(&e["log_loss"]),
            &format!("{name} log_loss"),
        );
        close(
            normalized_entropy(&labels, &scores).unwrap(),
            num(&e["normalized_entropy"]),
            &format!("{name} normalized_entropy"),
        );
    }
}

#[test]
fn calibration_matches_calibration_curve() {
    for (name, labels, scores, e) in classification_cases() {
        close(
            calibration_ratio(&labels, &scores).unwrap(),
            num(&e["calibration_ratio"]),
            &format!("{name} calibration_ratio"),
        );
        for case in e["calibration"].as_array().unwrap() {
            let n_bins = count(&case["n_bins"]) as usize;
            let what = format!("{name} n_bins={n_bins}");
            let bins = reliability_bins(&labels, &scores, n_bins).unwrap();
            assert_eq!(bins.len(), n_bins, "{what}: bin count");

            // Edges decide which bin a score on an edge lands in; the bins and
            // counts below check that placement exactly.
            let edges = nums(&case["edges"]);
            for (i, bin) in bins.iter().enumerate() {
                close(bin.lower, edges[i], &format!("{what} lower {i}"));
                close(bin.upper, edges[i + 1], &format!("{what} upper {i}"));
            }

            let non_empty: Vec<usize> = (0..n_bins).filter(|&i| bins[i].count > 0).collect();
            let expected_bins: Vec<usize> = case["bins"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| count(b) as usize)
                .collect();
            assert_eq!(non_empty, expected_bins, "{what}: non-empty bins");
            let counts: Vec<u64> = non_empty.iter().map(|&i| bins[i].count).collect();
            let expected_counts: Vec<u64> = case["counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(count)
                .collect();
            assert_eq!(counts, expected_counts, "{what}: counts");

            let observed: Vec<f64> = non_empty
                .iter()
                .map(|&i| bins[i].observed_rate.unwrap())
                .collect();
            let predicted: Vec<f64> = non_empty
                .iter()
                .map(|&i| bins[i].mean_predicted.unwrap())
                .collect();
            close_all(&observed, &case["prob_true"], &format!("{what} prob_true"));
            close_all(&predicted, &case["prob_pred"], &format!("{what} prob_pred"));
            assert!(
                bins.iter()
                    .filter(|b| b.count == 0)
                    .all(|b| b.mean_predicted.is_none() && b.observed_rate.is_none()),
                "{what}: empty bins carry no means"
            );
            close(
                expected_calibration_error(&labels, &scores, n_bins).unwrap(),
                num(&case["ece"]),
                &format!("{what} ece"),
            );
        }
    }
}

#[test]
fn threshold_metrics_match_sklearn() {
    for (name, labels, scores, e) in classification_cases() {
        for case in e["at_threshold"].as_array().unwrap() {
            let t = num(&case["threshold"]);
            let what = format!("{name} threshold {t}");
            let m = confusion_at_threshold(&labels, &scores, t).unwrap();
            assert_eq!(
                [
                    m.true_negatives,
                    m.false_positives,
                    m.false_negatives,
                    m.true_positives
                ],
                [
                    count(&case["tn"]),
                    count(&case["fp"]),
                    count(&case["fn"]),
                    count(&case["tp"])
                ],
                "{what}: confusion matrix"
            );
            close(
                m.precision(),
                num(&case["precision"]),
                &format!("{what} precision"),
            );
            close(m.recall(), num(&case["recall"]), &format!("{what} recall"));
            close(m.f1(), num(&case["f1"]), &format!("{what} f1"));
        }
    }
}

#[test]
fn binary_report_matches_the_reference_too() {
    for (name, labels, scores, e) in classification_cases() {
        let calibration = &e["calibration"][0];
        let n_bins = count(&calibration["n_bins"]) as usize;
        let at = &e["at_threshold"][2];
        let r = binary_report(&labels, &scores, num(&at["threshold"]), n_bins).unwrap();
        close(
            r.roc_auc,
            num(&e["roc_auc"]),
            &format!("{name} report roc_auc"),
        );
        close(
            r.average_precision,
            num(&e["average_precision"]),
            &format!("{name} report ap"),
        );
        close(
            r.log_loss,
            num(&e["log_loss"]),
            &format!("{name} report log_loss"),
        );
        close(
            r.normalized_entropy,
            num(&e["normalized_entropy"]),
            &format!("{name} report ne"),
        );
        close(
            r.calibration_ratio,
            num(&e["calibration_ratio"]),
            &format!("{name} report ratio"),
        );
        close(
            r.expected_calibration_error,
            num(&calibration["ece"]),
            &format!("{name} report ece"),
        );
        assert_eq!(r.reliability.len(), n_bins);
        assert_eq!(r.confusion.true_positives, count(&at["tp"]));
        assert_eq!(r.confusion.false_positives, count(&at["fp"]));
        assert_eq!(r.sweep, ThresholdSweep::new(&labels, &scores).unwrap());
    }
}

#[test]
fn ranking_metrics_match() {
    let all = expected();
    let cases = all["ranking"].as_object().unwrap();
    assert!(!cases.is_empty());
    for (name, e) in cases {
        let (labels, scores, queries) = read_ranking(e["file"].as_str().unwrap());
        let ranked = RankedQueries::new(&labels, &scores, &queries).unwrap();
        assert_eq!(ranked.query_count() as u64, count(&e["queries"]));
        let with_positives = count(&e["queries_with_positives"]) as usize;
        assert_eq!(ranked.queries_with_positives(), with_positives);

        let map = mean_average_precision(&labels, &scores, &queries).unwrap();
        close(map.mean, num(&e["map"]), &format!("{name} map"));
        assert_eq!(map.queries_scored, with_positives);
        assert_eq!(
            map.queries_scored + map.queries_skipped,
            ranked.query_count()
        );
        let mrr = mean_reciprocal_rank(&labels, &scores, &queries).unwrap();
        close(mrr.mean, num(&e["mrr"]), &format!("{name} mrr"));

        for k in e["k"].as_array().unwrap().iter().map(count) {
            let key = k.to_string();
            let k = k as usize;
            let p = precision_at_k(&labels, &scores, &queries, k).unwrap();
            close(
                p.mean,
                num(&e["precision_at_k"][&key]),
                &format!("{name} p@{k}"),
            );
            let r = recall_at_k(&labels, &scores, &queries, k).unwrap();
            close(
                r.mean,
                num(&e["recall_at_k"][&key]),
                &format!("{name} r@{k}"),
            );
            let n = ndcg_at_k(&labels, &scores, &queries, k).unwrap();
            close(
                n.mean,
                num(&e["ndcg_at_k"][&key]),
                &format!("{name} ndcg@{k}"),
            );
            assert_eq!(n.queries_scored as u64, count(&e["ndcg_queries"]));
            // The struct's methods and the free functions agree.
            assert_eq!(ranked.ndcg_at_k(k).unwrap(), n);
            assert_eq!(ranked.precision_at_k(k).unwrap(), p);
        }
    }
}

#[test]
fn regression_metrics_match() {
    let all = expected();
    for (name, e) in all["regression"].as_object().unwrap() {
        let (targets, predictions) = read_regression(e["file"].as_str().unwrap());
        close(
            mean_squared_error(&targets, &predictions).unwrap(),
            num(&e["mse"]),
            &format!("{name} mse"),
        );
        close(
            mean_absolute_error(&targets, &predictions).unwrap(),
            num(&e["mae"]),
            &format!("{name} mae"),
        );
    }
}

/// A tiny deterministic generator, so the property checks need no crate.
struct Lcg(u64);

impl Lcg {
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn unit(&mut self) -> f64 {
        self.next_u64() as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn roc_auc_equals_the_pairwise_definition() {
    // AUC = P(score of a positive > score of a negative) + P(tie) / 2.
    let mut rng = Lcg(7);
    for round in 0..200 {
        let n = 2 + rng.below(60) as usize;
        let levels = 1 + rng.below(12);
        let labels: Vec<u8> = (0..n).map(|_| u8::from(rng.below(3) == 0)).collect();
        let scores: Vec<f64> = (0..n)
            .map(|_| {
                let s = rng.below(levels) as f64 / levels as f64;
                if rng.below(5) == 0 { -s } else { s }
            })
            .collect();
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &li) in labels.iter().enumerate() {
            for (j, &lj) in labels.iter().enumerate() {
                if li == 1 && lj == 0 {
                    pairs += 1.0;
                    if scores[i] > scores[j] {
                        wins += 1.0;
                    } else if scores[i] >= scores[j] {
                        wins += 0.5;
                    }
                }
            }
        }
        let auc = roc_auc(&labels, &scores);
        if pairs > 0.0 {
            close(auc.unwrap(), wins / pairs, &format!("round {round}"));
        } else {
            assert_eq!(auc, Err(MetricError::SingleClass), "round {round}");
        }
    }
}

#[test]
fn bad_input_gives_errors() {
    use MetricError::{
        EmptyInput, InvalidLabel, InvalidParameter, LengthMismatch, NoPositives, NonFinite,
        ProbabilityOutOfRange, SingleClass,
    };
    assert_eq!(roc_auc(&[], &[]), Err(EmptyInput));
    assert_eq!(
        roc_auc(&[0, 1], &[0.5]),
        Err(LengthMismatch { left: 2, right: 1 })
    );
    assert_eq!(
        roc_auc(&[0, 2], &[0.5, 0.4]),
        Err(InvalidLabel { index: 1, value: 2 })
    );
    assert_eq!(
        roc_auc(&[0, 1], &[0.5, f64::NAN]),
        Err(NonFinite { index: 1 })
    );
    assert_eq!(
        roc_auc(&[0, 1], &[f64::INFINITY, 0.1]),
        Err(NonFinite { index: 0 })
    );
    assert_eq!(roc_auc(&[1, 1], &[0.5, 0.4]), Err(SingleClass));
    assert_eq!(roc_curve(&[0, 0], &[0.5, 0.4], true), Err(SingleClass));
    assert_eq!(average_precision(&[0, 0], &[0.5, 0.4]), Err(NoPositives));
    assert!(average_precision(&[1, 1], &[0.5, 0.4]).is_ok_and(|ap| (ap - 1.0).abs() < TOL));
    assert_eq!(
        recall_at_precision(&[0, 1], &[0.5, 0.4], 1.5),
        Err(InvalidParameter("target precision must lie in [0, 1]"))
    );
    assert!(recall_at_precision(&[0, 1], &[0.5, 0.4], f64::NAN).is_err());
    assert!(confusion_at_threshold(&[0, 1], &[0.5, 0.4], f64::NAN).is_err());
    assert!(confusion_at_threshold(&[0, 1], &[0.5, 0.4], f64::INFINITY).is_ok());
    assert_eq!(
        log_loss(&[0, 1], &[0.5, 1.5]),
        Err(ProbabilityOutOfRange {
            index: 1,
            value: 1.5
        })
    );
    assert!(log_loss(&[1, 1], &[0.5, 0.9]).is_ok());
    assert_eq!(normalized_entropy(&[1, 1], &[0.5, 0.9]), Err(SingleClass));
    assert_eq!(calibration_ratio(&[0, 0], &[0.5, 0.9]), Err(NoPositives));
    assert!(reliability_bins(&[0, 1], &[0.5, 0.9], 0).is_err());
    assert!(reliability_bins(&[0, 1], &[0.5, 0.9], usize::MAX).is_err());
    assert!(binary_report(&[0, 0], &[0.5, 0.9], 0.5, 10).is_err());
    assert_eq!(mean_squared_error(&[], &[]), Err(EmptyInput));
    assert_eq!(
        mean_absolute_error(&[1.0], &[f64::NAN]),
        Err(NonFinite { index: 0 })
    );
    assert_eq!(
        mean_average_precision(&[0, 1], &[0.1, 0.2], &[1]),
        Err(LengthMismatch { left: 2, right: 1 })
    );
    assert_eq!(
        mean_reciprocal_rank(&[0, 0], &[0.1, 0.2], &[1, 2]),
        Err(NoPositives)
    );
    assert!(precision_at_k(&[0, 1], &[0.1, 0.2], &[1, 1], 0).is_err());
    // A single-row query is no query for NDCG.
    assert_eq!(ndcg_at_k(&[1], &[0.3], &[4], 5), Err(NoPositives));
}

#[test]
fn random_input_never_panics() {
    // Every function on short random inputs full of NaN, infinities, labels
    // out of range and mismatched lengths: each returns, Ok or Err.
    let mut rng = Lcg(99);
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1.0,
        -1.0,
        1e-300,
        2.0,
        f64::MAX,
    ];
    for _ in 0..3000 {
        let n = rng.below(8) as usize;
        let m = if rng.below(8) == 0 { n + 1 } else { n };
        let labels: Vec<u8> = (0..n)
            .map(|_| {
                if rng.below(20) == 0 {
                    2
                } else {
                    rng.below(2) as u8
                }
            })
            .collect();
        let scores: Vec<f64> = (0..m)
            .map(|_| {
                if rng.below(6) == 0 {
                    specials[rng.below(specials.len() as u64) as usize]
                } else {
                    rng.unit()
                }
            })
            .collect();
        let queries: Vec<u32> = (0..n).map(|_| rng.below(3) as u32).collect();
        let k = rng.below(4) as usize;
        let t = scores.first().copied().unwrap_or(0.5);

        let _ = roc_auc(&labels, &scores);
        let _ = roc_curve(&labels, &scores, rng.below(2) == 0);
        let _ = average_precision(&labels, &scores);
        let _ = precision_recall_curve(&labels, &scores, rng.below(2) == 0);
        let _ = recall_at_precision(&labels, &scores, t);
        let _ = confusion_at_threshold(&labels, &scores, t);
        let _ = log_loss(&labels, &scores);
        let _ = normalized_entropy(&labels, &scores);
        let _ = calibration_ratio(&labels, &scores);
        let _ = reliability_bins(&labels, &scores, k);
        let _ = expected_calibration_error(&labels, &scores, k + 1);
        let _ = binary_report(&labels, &scores, t, k);
        let _ = precision_at_k(&labels, &scores, &queries, k);
        let _ = recall_at_k(&labels, &scores, &queries, k);
        let _ = mean_average_precision(&labels, &scores, &queries);
        let _ = mean_reciprocal_rank(&labels, &scores, &queries);
        let _ = ndcg_at_k(&labels, &scores, &queries, k);
        let targets: Vec<f64> = scores.iter().rev().copied().collect();
        let _ = mean_squared_error(&targets, &scores[..n.min(scores.len())]);
        let _ = mean_absolute_error(&targets, &scores);
    }
}
