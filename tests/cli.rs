#![cfg(not(target_arch = "wasm32"))]
//! The `casebook` command as a user runs it.

use std::process::Command;

fn casebook(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_casebook"))
        .args(args)
        .output()
        .expect("the casebook binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_crate_version() {
    let (code, stdout, _) = casebook(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("casebook {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn list_shows_each_bundled_study() {
    let (code, stdout, stderr) = casebook(&["list"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "feed-ranking\tFeed ranking\t45 min",
            "harmful-content\tHarmful content detection\t40 min"
        ]
    );
}

#[test]
fn unknown_command_is_a_usage_error() {
    let (code, _, stderr) = casebook(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unrecognized subcommand"), "{stderr}");
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/metrics/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn json_report(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = casebook(args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("the report is JSON")
}

/// The numbers `casebook metrics` prints agree with scikit-learn's, computed
/// independently by `scripts/reference/metrics_reference.py`.
#[test]
fn metrics_command_agrees_with_the_reference() {
    let reference = expected();
    let path = fixture("imbalanced.csv");
    let report = json_report(&["metrics", "--input", &path, "--json"]);
    let want = &reference["classification"]["imbalanced"];
    for (ours, theirs) in [
        ("roc_auc", "roc_auc"),
        ("pr_auc", "average_precision"),
        ("log_loss", "log_loss"),
        ("ne", "normalized_entropy"),
        ("calibration", "calibration_ratio"),
    ] {
        let a = report[ours].as_f64().expect(ours);
        let b = want[theirs].as_f64().expect(theirs);
        assert!((a - b).abs() < 1e-9, "{ours}: {a} vs {b}");
    }
    assert_eq!(report["rows"], want["rows"]);

    let path = fixture("ranking.csv");
    let report = json_report(&["metrics", "--input", &path, "--json", "--k", "3"]);
    let want = &reference["ranking"]["ranking"];
    for key in ["map", "mrr"] {
        let (a, b) = (
            report[key].as_f64().expect(key),
            want[key].as_f64().expect(key),
        );
        assert!((a - b).abs() < 1e-9, "{key}: {a} vs {b}");
    }
    for key in ["precision_at_k", "recall_at_k", "ndcg_at_k"] {
        let a = report[key].as_f64().expect(key);
        let b = want[key]["3"].as_f64().expect(key);
        assert!((a - b).abs() < 1e-9, "{key}: {a} vs {b}");
    }
    assert_eq!(report["queries"], want["queries"]);
}

#[test]
fn metrics_text_output_names_each_metric() {
    let path = fixture("balanced.csv");
    let (code, stdout, _) = casebook(&["metrics", "--input", &path]);
    assert_eq!(code, 0);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("rows") && first.ends_with("200"),
        "{first}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("roc_auc ")),
        "{stdout}"
    );
}

#[test]
fn malformed_scores_get_a_line_number_and_exit_code_2() {
    let dir = std::env::temp_dir().join(format!("casebook-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases = [
        (
            "no_score.csv",
            "label,prob\n1,0.5\n",
            "line 1: no `score` column",
        ),
        (
            "not_number.csv",
            "label,score\n1,0.5\n0,high\n",
            "line 3: score `high`",
        ),
        (
            "bad_label.csv",
            "label,score\n1,0.5\n2,0.1\n",
            "line 3: label `2` is not 0 or 1",
        ),
        ("empty.csv", "", "no `label` column"),
        (
            "header_only.csv",
            "label,score\n",
            "no rows after the header",
        ),
        (
            "short_row.csv",
            "label,score,query\n1,0.5,a\n0,0.2\n",
            "line 3",
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("fixture written");
        let (code, stdout, stderr) = casebook(&["metrics", "--input", &path.to_string_lossy()]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stdout.is_empty(), "{name}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let (code, _, stderr) = casebook(&["metrics", "--input", "/no/such/file.csv"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/no/such/file.csv"), "{stderr}");
}

fn study_fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/studies/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn run_prints_the_report_with_stable_keys() {
    let file = study_fixture("valid.toml");
    let (code, stdout, stderr) = casebook(&["run", &file, "--seed", "7", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["study"], "tiny");
    assert_eq!(report["seed"], 7);
    assert_eq!(report["backend"], "CPU");
    assert_eq!(report["design"]["model"], "logistic");
    for key in ["auc", "pr_auc", "log_loss", "ne", "calibration", "ece"] {
        let v = report["offline"][key].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite(), "offline.{key} = {v}");
    }
    let params = report["model"]["params"].as_u64().expect("params");
    assert_eq!(report["model"]["bytes"].as_u64(), Some(params * 4));

    let (code, text, stderr) = casebook(&["run", &file, "--set", "model=popularity"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.starts_with("tiny (seed 1, CPU)"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("offline.auc ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["model.params", "0"]),
        "{text}"
    );
}

#[test]
fn run_refuses_unknown_knobs_and_values_listing_the_valid_ones() {
    let (code, _, stderr) = casebook(&["run", "feed-ranking", "--set", "model=forest"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("valid values are popularity, logistic, gbdt, mlp"),
        "{stderr}"
    );
    let (code, _, stderr) = casebook(&["run", "feed-ranking", "--set", "colour=red"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("its knobs are retrieval, probes, sampling, sample_rate"),
        "{stderr}"
    );
    let (code, _, stderr) = casebook(&["run", "feed-ranking", "--set", "model"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("KNOB=VALUE"), "{stderr}");
    let (code, _, stderr) = casebook(&["run", "no-such-study"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("neither a bundled study (feed-ranking, harmful-content)"),
        "{stderr}"
    );
    let bad = study_fixture("bad-claim-unknown-metric.toml");
    let (code, _, stderr) = casebook(&["run", &bad]);
    assert_eq!(code, 2);
    assert!(stderr.contains("field `claims.c.metric`"), "{stderr}");
}

#[test]
fn the_content_study_runs_with_its_own_knobs_and_report_keys() {
    let report = json_report(&[
        "run",
        "harmful-content",
        "--set",
        "model=keyword_rule",
        "--set",
        "threshold_low=0.1",
        "--json",
    ]);
    assert_eq!(report["study"], "harmful-content");
    assert_eq!(report["design"]["model"], "keyword_rule");
    assert_eq!(report["model"]["kind"], "keyword_rule");
    assert_eq!(report["data"]["label_source"], "human_review");
    for key in ["auc", "pr_auc", "recall_at_precision_90"] {
        let v = report["offline"][key].as_f64().unwrap_or(f64::NAN);
        assert!((0.0..=1.0).contains(&v), "offline.{key} = {v}");
    }
    for category in ["spam", "harassment", "violence", "self_harm"] {
        let v = report["per_category"][category]["pr_auc"]
            .as_f64()
            .unwrap_or(f64::NAN);
        assert!((0.0..=1.0).contains(&v), "{category}: {v}");
    }
    assert!(report["policy"]["wrongful_removals"].is_u64(), "{report}");

    let (code, text, stderr) = casebook(&["run", "harmful-content"]);
    assert_eq!(code, 0, "{stderr}");
    for key in ["per_category.violence.pr_auc", "policy.review_overflow"] {
        assert!(text.lines().any(|l| l.starts_with(key)), "{key}: {text}");
    }
    let (code, _, stderr) = casebook(&["run", "harmful-content", "--set", "model=popularity"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("valid values are keyword_rule, logistic, gbdt, mlp"),
        "{stderr}"
    );
    let (code, stdout, stderr) = casebook(&[
        "check",
        "harmful-content",
        "--claim",
        "learning-beats-the-keyword-rule",
        "--seeds",
        "1",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.ends_with("1 checks, every claim holds\n"),
        "{stdout}"
    );
}

#[test]
fn check_prints_each_claim_and_fails_when_one_does_not_hold() {
    let file = study_fixture("valid.toml");
    let (code, stdout, stderr) = casebook(&["check", &file, "--seeds", "1,2"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("learning-beats-popularity"), "{stdout}");
    assert!(
        stdout.ends_with("2 checks, every claim holds\n"),
        "{stdout}"
    );

    // The same claim, asked to move AUC by a whole point: it cannot hold.
    let text = std::fs::read_to_string(&file).expect("fixture");
    let impossible = text.replace("by_at_least = 0.01", "by_at_least = 0.99");
    let path =
        std::env::temp_dir().join(format!("casebook-impossible-{}.toml", std::process::id()));
    std::fs::write(&path, impossible).expect("temp file");
    let (code, stdout, _) = casebook(&["check", path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("FAIL"), "{stdout}");
    assert!(
        stdout.ends_with("1 checks, some claims do not hold\n"),
        "{stdout}"
    );
}

fn drift_fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/cli-drift/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn drift_flags_the_shifted_feature_only() {
    let reference = drift_fixture("reference.csv");
    let (code, stdout, stderr) = casebook(&[
        "drift",
        "--reference",
        &reference,
        "--current",
        &drift_fixture("current_shifted.csv"),
        "--detector",
        "ks",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["features"]["age"]["drift"], true, "{report:#}");
    assert_eq!(report["features"]["score"]["drift"], false, "{report:#}");
    assert!(report["features"]["age"]["p_value"].as_f64().unwrap_or(1.0) < 1e-6);

    let (code, text, stderr) = casebook(&[
        "drift",
        "--reference",
        &reference,
        "--current",
        &drift_fixture("current_same.csv"),
        "--detector",
        "psi",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let age = text
        .lines()
        .find(|l| l.starts_with("age"))
        .expect("an age line");
    assert!(age.ends_with("no"), "{text}");
}

#[test]
fn drift_refuses_malformed_files_with_the_line() {
    let (code, _, stderr) = casebook(&[
        "drift",
        "--reference",
        &drift_fixture("reference.csv"),
        "--current",
        &drift_fixture("malformed.csv"),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("malformed.csv: line 3: `score` value `oops`"),
        "{stderr}"
    );
    let (code, _, stderr) = casebook(&[
        "drift",
        "--reference",
        &drift_fixture("reference.csv"),
        "--current",
        &drift_fixture("reference.csv"),
        "--detector",
        "chi2",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("psi, ks, js, wasserstein, auto"),
        "{stderr}"
    );
}
