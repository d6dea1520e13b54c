#![cfg(not(target_arch = "wasm32"))]
//! Golden reports: each bundled study's full report at the default seed is
//! committed under `tests/golden/` and reviewed like code. A change to the
//! engine that moves any number shows up here as a diff.
//!
//! To accept a deliberate change: `CASEBOOK_BLESS=1 cargo test --test golden`,
//! then read the diff before committing it.

use casebook::{DEFAULT_SEED, Runner, bundled_studies};

#[test]
fn every_bundled_study_matches_its_golden_report() {
    let bless = std::env::var_os("CASEBOOK_BLESS").is_some();
    let mut runner = Runner::default();
    for study in bundled_studies().expect("bundled studies") {
        let report = runner
            .run(&study, &study.default_design(DEFAULT_SEED))
            .expect("the default design runs");
        // Every number in the report has a metric a claim can name, and
        // every metric is in the report.
        let keys: Vec<String> = report.metrics().into_keys().collect();
        let mut named: Vec<String> = study.world.metrics().map(|m| m.key.to_owned()).collect();
        named.sort();
        assert_eq!(keys, named, "{}: report keys and metrics", study.meta.id);
        let json = serde_json::to_string_pretty(&report).expect("serializable") + "\n";
        let path = format!("tests/golden/{}.json", study.meta.id);
        if bless {
            std::fs::write(&path, &json).expect("write golden report");
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}; run with CASEBOOK_BLESS=1 to create it"));
        if golden != json {
            let first = golden
                .lines()
                .zip(json.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{path} differs from the report, first at line {}:\n  golden: {}\n  now:    {}\n\
                 If the change is deliberate, rerun with CASEBOOK_BLESS=1 and review the diff.",
                first + 1,
                golden.lines().nth(first).unwrap_or(""),
                json.lines().nth(first).unwrap_or("")
            );
        }
    }
}
