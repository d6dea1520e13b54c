//! What the page's export links download: the run's report as JSON (the
//! study, seed, backend, every knob's value, every metric and every chart's
//! series) and its metrics as CSV. Plain text builders, so they are tested
//! natively; the page only wraps them in `data:` URLs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::charts::ChartData;
use crate::worker::protocol::RunSummary;

/// The report as JSON. Numbers JSON cannot write (NaN, infinity) become
/// `null`, as a metric undefined for the data is.
pub fn report_json(summary: &RunSummary, design: &[(String, String)]) -> String {
    #[derive(Serialize)]
    struct Export<'a> {
        study: &'a str,
        seed: u64,
        backend: &'a str,
        design: BTreeMap<&'a str, &'a str>,
        metrics: &'a BTreeMap<String, f64>,
        charts: &'a ChartData,
    }
    let export = Export {
        study: &summary.study,
        seed: summary.seed,
        backend: &summary.backend,
        design: design
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        metrics: &summary.metrics,
        charts: &summary.charts,
    };
    // Serializing plain maps, strings and numbers cannot fail.
    serde_json::to_string_pretty(&export).unwrap_or_default()
}

/// The metrics as CSV: a `metric,value` header, then one row per metric in
/// key order, each number as Rust's shortest text that reads back to the
/// same bits (`NaN` where undefined).
pub fn metrics_csv(summary: &RunSummary) -> String {
    let mut out = String::from("metric,value\n");
    for (key, value) in &summary.metrics {
        // Keys are dotted identifiers: no comma or quote to escape.
        let _ = writeln!(out, "{key},{value}");
    }
    out
}

/// The file name of an export: `casebook-STUDY-seedN-WHAT`.
pub fn file_name(summary: &RunSummary, what: &str) -> String {
    format!("casebook-{}-seed{}-{what}", summary.study, summary.seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> RunSummary {
        RunSummary {
            study: "feed-ranking".to_owned(),
            seed: 7,
            backend: "CPU".to_owned(),
            scope: crate::study::Scope::ALL,
            metrics: [
                ("offline.auc", 0.1 + 0.2),
                ("ab.p_value", f64::NAN),
                ("model.params", 45_587.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            charts: Box::default(),
        }
    }

    #[test]
    fn csv_rows_read_back_to_the_same_numbers() {
        let csv = metrics_csv(&summary());
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("metric,value"));
        let rows: BTreeMap<&str, f64> = lines
            .map(|l| {
                let (k, v) = l.split_once(',').unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        assert_eq!(rows["offline.auc"].to_bits(), (0.1f64 + 0.2).to_bits());
        assert!(rows["ab.p_value"].is_nan());
        assert_eq!(rows["model.params"].to_bits(), 45_587f64.to_bits());
    }

    #[test]
    fn json_holds_the_design_the_metrics_and_null_for_undefined() {
        let design = vec![("model".to_owned(), "gbdt".to_owned())];
        let json: serde_json::Value =
            serde_json::from_str(&report_json(&summary(), &design)).unwrap();
        assert_eq!(json["study"], "feed-ranking");
        assert_eq!(json["seed"], 7);
        assert_eq!(json["design"]["model"], "gbdt");
        assert_eq!(json["metrics"]["offline.auc"], 0.1 + 0.2);
        assert!(json["metrics"]["ab.p_value"].is_null());
        assert!(json["charts"].is_object());
        assert_eq!(
            file_name(&summary(), "metrics.csv"),
            "casebook-feed-ranking-seed7-metrics.csv"
        );
    }
}
