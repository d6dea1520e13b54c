//! `casebook drift`: compares two CSVs (a reference sample and a current
//! one, a header row and one numeric column per feature) feature by feature
//! with the engine's drift detectors.

use std::fmt::Write as _;

use casebook::engine::drift::{Detector, Reference, Thresholds};
use serde_json::{Map, Value, json};

/// Quantile bins of the binned detectors (PSI, Jensen-Shannon).
const BINS: usize = 10;

/// A CSV of numeric columns.
#[derive(Debug, PartialEq)]
pub struct Columns {
    pub names: Vec<String>,
    pub values: Vec<Vec<f64>>,
}

/// Parses `text`, naming `file` and the line of the first problem.
pub fn parse(file: &str, text: &str) -> Result<Columns, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("{file}: cannot read the header row: {e}"))?
        .clone();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(format!("{file}: line 1: no header row naming the features"));
    }
    let names: Vec<String> = headers.iter().map(str::to_owned).collect();
    let mut values = vec![Vec::new(); names.len()];
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            format!("{file}: line {line}: {e}")
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        for (k, name) in names.iter().enumerate() {
            let raw = record.get(k).unwrap_or("");
            let x: f64 = raw
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| {
                    format!("{file}: line {line}: `{name}` value `{raw}` is not a finite number")
                })?;
            values[k].push(x);
        }
    }
    if values.first().is_none_or(Vec::is_empty) {
        return Err(format!("{file}: no rows after the header"));
    }
    Ok(Columns { names, values })
}

/// Runs `detector` on every feature the two files share; a JSON report.
pub fn compare(
    reference: &Columns,
    current: &Columns,
    detector: Detector,
) -> Result<Value, String> {
    let thresholds = Thresholds::default();
    let mut features = Map::new();
    for (k, name) in reference.names.iter().enumerate() {
        let Some(j) = current.names.iter().position(|n| n == name) else {
            return Err(format!(
                "the current file has no `{name}` column (it has {})",
                current.names.join(", ")
            ));
        };
        let result = Reference::new(&reference.values[k], BINS)
            .and_then(|r| r.detect(&current.values[j], detector, &thresholds))
            .map_err(|e| format!("`{name}`: {e}"))?;
        features.insert(
            name.clone(),
            json!({
                "test": result.detector.id(),
                "statistic": result.statistic,
                "p_value": result.p_value,
                "threshold": result.threshold,
                "drift": result.alert,
            }),
        );
    }
    Ok(json!({
        "detector": detector.id(),
        "reference_rows": reference.values.first().map_or(0, Vec::len),
        "current_rows": current.values.first().map_or(0, Vec::len),
        "features": features,
    }))
}

/// The report as aligned text: one line per feature.
pub fn to_text(report: &Value) -> String {
    let mut out = String::new();
    let Some(features) = report["features"].as_object() else {
        return out;
    };
    let width = features.keys().map(String::len).max().unwrap_or(7).max(7);
    let _ = writeln!(
        out,
        "{:width$}  {:<11}  {:>10}  {:>10}  drift",
        "feature", "test", "statistic", "p-value"
    );
    for (name, f) in features {
        let p = f["p_value"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |p| format!("{p:.4}"));
        let _ = writeln!(
            out,
            "{name:width$}  {:<11}  {:>10.4}  {p:>10}  {}",
            f["test"].as_str().unwrap_or(""),
            f["statistic"].as_f64().unwrap_or(f64::NAN),
            if f["drift"].as_bool().unwrap_or(false) {
                "yes"
            } else {
                "no"
            }
        );
    }
    out
}
