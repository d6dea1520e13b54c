//! `casebook metrics`: reads a scores CSV (`label,score` and an optional
//! `query` column) and prints every metric that applies to it.

use std::collections::HashMap;
use std::fmt::Write as _;

use casebook::engine::metrics::{
    self, MetricError, RankedQueries, mean_absolute_error, mean_squared_error,
};
use serde_json::{Map, Value, json};

/// A parsed scores file.
#[derive(Debug, PartialEq)]
pub struct ScoreTable {
    pub labels: Vec<u8>,
    pub scores: Vec<f64>,
    /// Query ids, numbered in order of first appearance.
    pub queries: Option<Vec<u32>>,
}

/// Parses `text`, naming `file` and the line of the first problem.
pub fn parse(file: &str, text: &str) -> Result<ScoreTable, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("{file}: cannot read the header row: {e}"))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing = |name: &str| {
        format!(
            "{file}: line 1: no `{name}` column (the header must name `label` and `score`, \
             and may name `query`; found: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        )
    };
    let label_col = column("label").ok_or_else(|| missing("label"))?;
    let score_col = column("score").ok_or_else(|| missing("score"))?;
    let query_col = column("query");

    let mut out = ScoreTable {
        labels: Vec::new(),
        scores: Vec::new(),
        queries: query_col.map(|_| Vec::new()),
    };
    let mut query_ids: HashMap<String, u32> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            format!("{file}: line {line}: {e}")
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let field = |col: usize, name: &str| {
            record
                .get(col)
                .ok_or_else(|| format!("{file}: line {line}: no value in the `{name}` column"))
        };
        let label = match field(label_col, "label")? {
            "0" | "0.0" => 0,
            "1" | "1.0" => 1,
            other => {
                return Err(format!(
                    "{file}: line {line}: label `{other}` is not 0 or 1"
                ));
            }
        };
        let raw = field(score_col, "score")?;
        let score: f64 = raw
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite())
            .ok_or_else(|| format!("{file}: line {line}: score `{raw}` is not a finite number"))?;
        out.labels.push(label);
        out.scores.push(score);
        if let (Some(col), Some(queries)) = (query_col, out.queries.as_mut()) {
            let q = field(col, "query")?;
            let next = query_ids.len() as u32;
            queries.push(*query_ids.entry(q.to_owned()).or_insert(next));
        }
    }
    if out.labels.is_empty() {
        return Err(format!("{file}: no rows after the header"));
    }
    Ok(out)
}

/// A report being filled: values, and why some are missing.
#[derive(Default)]
struct Report {
    values: Map<String, Value>,
    notes: Map<String, Value>,
}

impl Report {
    fn put(&mut self, key: &str, value: Result<f64, MetricError>) {
        match value {
            Ok(v) => {
                self.values.insert(key.into(), json!(v));
            }
            Err(e) => {
                self.values.insert(key.into(), Value::Null);
                self.notes.insert(key.into(), json!(e.to_string()));
            }
        }
    }

    fn set(&mut self, key: &str, value: Value) {
        self.values.insert(key.into(), value);
    }

    fn note(&mut self, key: &str, error: MetricError) {
        self.notes.insert(key.into(), json!(error.to_string()));
    }
}

/// Every metric that applies, as a JSON object with stable keys. A metric that
/// is undefined for this data (one class only, say) is `null`, with the reason
/// under `notes`.
pub fn evaluate(data: &ScoreTable, k: usize, threshold: f64) -> Value {
    let mut r = Report::default();
    let n = data.labels.len();
    let positives: usize = data.labels.iter().map(|&y| usize::from(y)).sum();
    r.set("rows", json!(n));
    r.set("positives", json!(positives));
    r.set("base_rate", json!(positives as f64 / n as f64));
    let sweep = metrics::ThresholdSweep::new(&data.labels, &data.scores);
    let sweep = sweep.as_ref().map_err(|e| *e);
    r.put("roc_auc", sweep.and_then(metrics::ThresholdSweep::roc_auc));
    r.put(
        "pr_auc",
        sweep.and_then(metrics::ThresholdSweep::average_precision),
    );
    r.put(
        "recall_at_precision_90",
        sweep
            .and_then(|s| s.recall_at_precision(0.9))
            .map(|p| p.recall),
    );
    // Probability metrics only where the scores are probabilities.
    if data.scores.iter().all(|s| (0.0..=1.0).contains(s)) {
        r.put("log_loss", metrics::log_loss(&data.labels, &data.scores));
        r.put(
            "ne",
            metrics::normalized_entropy(&data.labels, &data.scores),
        );
        r.put(
            "calibration",
            metrics::calibration_ratio(&data.labels, &data.scores),
        );
        r.put(
            "ece",
            metrics::expected_calibration_error(&data.labels, &data.scores, 10),
        );
    }
    let targets: Vec<f64> = data.labels.iter().map(|&y| f64::from(y)).collect();
    r.put("mse", mean_squared_error(&targets, &data.scores));
    r.put("mae", mean_absolute_error(&targets, &data.scores));
    match metrics::confusion_at_threshold(&data.labels, &data.scores, threshold) {
        Ok(m) => {
            r.put("precision", Ok(m.precision()));
            r.put("recall", Ok(m.recall()));
            r.put("f1", Ok(m.f1()));
            r.set(
                "confusion",
                json!({
                    "threshold": threshold,
                    "tn": m.true_negatives,
                    "fp": m.false_positives,
                    "fn": m.false_negatives,
                    "tp": m.true_positives,
                }),
            );
        }
        Err(e) => r.note("confusion", e),
    }
    if let Some(queries) = &data.queries {
        r.set("k", json!(k));
        match RankedQueries::new(&data.labels, &data.scores, queries) {
            Ok(ranked) => {
                r.set("queries", json!(ranked.query_count()));
                let mean = |v: Result<metrics::RankingScore, MetricError>| v.map(|s| s.mean);
                r.put("precision_at_k", mean(ranked.precision_at_k(k)));
                r.put("recall_at_k", mean(ranked.recall_at_k(k)));
                r.put("map", mean(ranked.mean_average_precision()));
                r.put("mrr", mean(ranked.mean_reciprocal_rank()));
                r.put("ndcg_at_k", mean(ranked.ndcg_at_k(k)));
            }
            Err(e) => r.note("ranking", e),
        }
    }
    let mut out = r.values;
    if !r.notes.is_empty() {
        out.insert("notes".into(), Value::Object(r.notes));
    }
    Value::Object(out)
}

/// The report as aligned `name value` lines.
pub fn to_text(report: &Value) -> String {
    let mut text = String::new();
    let Some(fields) = report.as_object() else {
        return text;
    };
    for (key, value) in fields {
        match value {
            Value::Object(inner) => {
                for (k, v) in inner {
                    let _ = writeln!(text, "{:<24} {}", format!("{key}.{k}"), plain(v));
                }
            }
            other => {
                let _ = writeln!(text, "{key:<24} {}", plain(other));
            }
        }
    }
    text
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => "n/a (see notes)".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => format!("{:.6}", n.as_f64().unwrap_or(f64::NAN)),
        other => other.to_string(),
    }
}
