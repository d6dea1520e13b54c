//! `casebook run` and `casebook check`: studies by id or by file, designs
//! from `--set`, reports as text or JSON, claims with their measured change.

use std::fmt::Write as _;
use std::path::Path;

use casebook::compute::{Compute, block_on};
use casebook::{Runner, Study, bundled_studies, parse_study};

/// A runner on the GPU if `gpu` and the machine has one, else on the CPU.
fn runner(gpu: bool) -> Runner {
    if gpu {
        Runner::new(block_on(Compute::detect()))
    } else {
        Runner::default()
    }
}

/// Finds a bundled study by id, or reads and validates a study file.
pub fn load(name: &str) -> Result<Study, String> {
    let bundled = bundled_studies().map_err(|e| e.to_string())?;
    if let Some(study) = bundled.iter().find(|s| s.meta.id == name) {
        return Ok(study.clone());
    }
    let path = Path::new(name);
    if path.extension().is_some_and(|e| e == "toml") || path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        return parse_study(name, &text).map_err(|e| e.to_string());
    }
    let ids: Vec<&str> = bundled.iter().map(|s| s.meta.id.as_str()).collect();
    Err(format!(
        "`{name}` is neither a bundled study ({}) nor a study file",
        ids.join(", ")
    ))
}

/// Runs one design; the report as JSON or as aligned `key value` lines.
pub fn run(name: &str, set: &[String], seed: u64, json: bool, gpu: bool) -> Result<String, String> {
    let study = load(name)?;
    let mut design = study.default_design(seed);
    for assignment in set {
        let Some((id, value)) = assignment.split_once('=') else {
            return Err(format!(
                "--set `{assignment}` must have the form KNOB=VALUE, for example model=gbdt"
            ));
        };
        study.set(&mut design, id.trim(), value)?;
    }
    let report = runner(gpu)
        .run(&study, &design)
        .map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        return Ok(text + "\n");
    }
    let mut out = format!(
        "{} (seed {}, {})\n",
        report.study, report.seed, report.backend
    );
    let metrics = report.metrics();
    let width = metrics.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in &metrics {
        let _ = writeln!(out, "{key:width$}  {}", format_number(*value));
    }
    Ok(out)
}

/// Checks claims; the text, and whether every claim held at every seed.
pub fn check(
    names: &[String],
    seeds: &[u64],
    only: Option<&str>,
    json: bool,
    gpu: bool,
) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut all_hold = true;
    let mut checked = 0;
    for name in names {
        let study = load(name)?;
        let mut runner = runner(gpu);
        for claim in study
            .claims
            .iter()
            .filter(|c| only.is_none_or(|id| c.id == id))
        {
            for &seed in seeds {
                let result = runner
                    .check(&study, claim, seed)
                    .map_err(|e| format!("{}: claim `{}`: {e}", study.meta.id, claim.id))?;
                checked += 1;
                all_hold &= result.holds;
                if json {
                    let line = serde_json::to_string(&result).map_err(|e| e.to_string())?;
                    let _ = writeln!(out, "{line}");
                } else {
                    let _ = writeln!(
                        out,
                        "{} {:<8} seed {seed:<3} {}: {} -> {} ({}{}) [{} {}]",
                        if result.holds { "ok  " } else { "FAIL" },
                        claim.step.id(),
                        claim.id,
                        format_number(result.baseline),
                        format_number(result.value),
                        if result.delta >= 0.0 { "+" } else { "" },
                        format_number(result.delta),
                        claim.metric,
                        bound(claim),
                    );
                }
            }
        }
    }
    if let Some(id) = only
        && checked == 0
    {
        return Err(format!("no claim `{id}` in {}", names.join(", ")));
    }
    if !json {
        let _ = writeln!(
            out,
            "{checked} checks, {}",
            if all_hold {
                "every claim holds"
            } else {
                "some claims do not hold"
            }
        );
    }
    Ok((out, all_hold))
}

fn bound(claim: &casebook::Claim) -> String {
    let direction = match claim.direction {
        casebook::Direction::Up => "up",
        casebook::Direction::Down => "down",
        casebook::Direction::Either => "either way",
    };
    match (claim.by_at_least > 0.0, claim.by_at_most.is_finite()) {
        (true, true) => format!(
            "{direction} by {} to {}",
            claim.by_at_least, claim.by_at_most
        ),
        (false, true) => format!("{direction} by at most {}", claim.by_at_most),
        _ => format!("{direction} by at least {}", claim.by_at_least),
    }
}

/// Whole numbers without decimals, others with six significant digits.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.6}")
    }
}
