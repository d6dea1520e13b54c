#![cfg(not(target_arch = "wasm32"))]
//! Every bundled study's claims, run at the default seed and three others: a
//! lesson that holds at one seed only is not a lesson. Built in release
//! (`cargo test --release --features claims --test claims`, as
//! `scripts/test.sh` does): a few hundred training runs, about a minute on
//! the 2-core reference machine.

use casebook::{Runner, bundled_studies};

const SEEDS: [u64; 4] = [1, 2, 3, 4];

#[test]
fn every_claim_holds_at_four_seeds() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for study in bundled_studies().expect("bundled studies") {
        let mut runner = Runner::default();
        let steps: std::collections::BTreeSet<_> = study.claims.iter().map(|c| c.step).collect();
        assert!(
            study.claims.len() >= 10,
            "{}: {} claims",
            study.meta.id,
            study.claims.len()
        );
        eprintln!(
            "{}: claims cover {} of nine steps",
            study.meta.id,
            steps.len()
        );
        for claim in &study.claims {
            for seed in SEEDS {
                let result = runner
                    .check(&study, claim, seed)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", study.meta.id, claim.id));
                checked += 1;
                eprintln!(
                    "{} {} seed {seed}: {} -> {} ({:+})",
                    if result.holds { "ok  " } else { "FAIL" },
                    claim.id,
                    result.baseline,
                    result.value,
                    result.delta
                );
                if !result.holds {
                    failures.push(format!("{} {} at seed {seed}", study.meta.id, claim.id));
                }
            }
        }
    }
    assert!(checked > 0);
    assert!(
        failures.is_empty(),
        "claims that do not hold: {failures:#?}"
    );
}
