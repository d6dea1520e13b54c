//! The app's state in a URL query: which study, the seed, every knob that
//! differs from the study's default, the current step, and in compare mode
//! the pinned design (`pin=model:gbdt,trees:100`: the knobs where it differs
//! from the default, at the same seed; `pin=` pins the default). Reading never
//! fails: a bad value gets a notice and the default for that one setting,
//! so a link always opens something.
//!
//! This module works on decoded `(name, value)` pairs; the browser's
//! `URLSearchParams` does the percent-encoding.

use super::knobs::{DEFAULT_SEED, Design};
use super::{DesignStep, Study};

/// Query names that are not knobs.
const STUDY: &str = "study";
const SEED: &str = "seed";
const STEP: &str = "step";
const PIN: &str = "pin";

/// What a URL asks for, after every value was checked.
#[derive(Clone, Debug, PartialEq)]
pub struct UrlState {
    /// Index of the study in the list the URL was read against.
    pub study: usize,
    pub design: Design,
    pub step: DesignStep,
    /// The pinned design, in compare mode.
    pub pin: Option<Design>,
    /// One sentence per setting that was ignored, and why.
    pub notices: Vec<String>,
}

/// Reads decoded query pairs against `studies` (the first is the default).
/// Settings the app itself adds, such as `embed`, are skipped when listed in
/// `reserved`.
pub fn read(pairs: &[(String, String)], studies: &[Study], reserved: &[&str]) -> UrlState {
    let mut notices = Vec::new();
    let mut study = 0;
    if let Some((_, id)) = pairs.iter().find(|(k, _)| k == STUDY) {
        match studies.iter().position(|s| s.meta.id == *id) {
            Some(i) => study = i,
            None => notices.push(format!(
                "There is no case study `{id}`; showing {}.",
                studies
                    .first()
                    .map_or("the default", |s| s.meta.title.as_str())
            )),
        }
    }
    let mut seed = DEFAULT_SEED;
    if let Some((_, text)) = pairs.iter().find(|(k, _)| k == SEED) {
        match text.trim().parse::<u64>() {
            Ok(s) => seed = s,
            Err(_) => notices.push(format!(
                "`seed={text}` is not a whole number from 0 to {}; using seed {DEFAULT_SEED}.",
                u64::MAX
            )),
        }
    }
    let mut step = DesignStep::ProblemFormulation;
    if let Some((_, id)) = pairs.iter().find(|(k, _)| k == STEP) {
        match DesignStep::from_id(id) {
            Some(s) => step = s,
            None => notices.push(format!(
                "`step={id}` is not a step; starting at {}.",
                step.title()
            )),
        }
    }
    let Some(chosen) = studies.get(study) else {
        return UrlState {
            study,
            design: Design {
                seed,
                values: std::collections::BTreeMap::new(),
            },
            step,
            pin: None,
            notices,
        };
    };
    let mut design = chosen.default_design(seed);
    for (name, value) in pairs {
        if [STUDY, SEED, STEP, PIN].contains(&name.as_str()) || reserved.contains(&name.as_str()) {
            continue;
        }
        if let Err(reason) = chosen.set(&mut design, name, value) {
            let fallback = chosen
                .knob(name)
                .map(|k| format!("; using the default, {}", k.default))
                .unwrap_or_default();
            notices.push(format!("Ignored `{name}={value}`: {reason}{fallback}."));
        }
    }
    let pin = pairs
        .iter()
        .find(|(k, _)| k == PIN)
        .map(|(_, text)| read_pin(chosen, seed, text, &mut notices));
    UrlState {
        study,
        design,
        step,
        pin,
        notices,
    }
}

/// The pinned design `knob:value,knob:value` names; a part that is not a
/// valid knob and value gets a notice and is left at the default.
fn read_pin(study: &Study, seed: u64, text: &str, notices: &mut Vec<String>) -> Design {
    let mut pin = study.default_design(seed);
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let outcome = part
            .split_once(':')
            .ok_or_else(|| "write each knob of the pin as `knob:value`".to_owned())
            .and_then(|(name, value)| study.set(&mut pin, name.trim(), value.trim()));
        if let Err(reason) = outcome {
            notices.push(format!(
                "Ignored `{part}` in the pinned design: {reason}; it keeps the default."
            ));
        }
    }
    pin
}

/// The query pairs for a state: the study, the seed and step unless they
/// are the defaults, each knob whose value differs from the study's
/// default, in the study's knob order, and the pinned design.
pub fn write(
    study: &Study,
    design: &Design,
    step: DesignStep,
    pin: Option<&Design>,
) -> Vec<(String, String)> {
    let mut pairs = vec![(STUDY.to_owned(), study.meta.id.clone())];
    if design.seed != DEFAULT_SEED {
        pairs.push((SEED.to_owned(), design.seed.to_string()));
    }
    if step != DesignStep::ProblemFormulation {
        pairs.push((STEP.to_owned(), step.id().to_owned()));
    }
    pairs.extend(changed(study, design).map(|(id, value)| (id.to_owned(), value)));
    if let Some(pin) = pin {
        let parts: Vec<String> = changed(study, pin)
            .map(|(id, value)| format!("{id}:{value}"))
            .collect();
        pairs.push((PIN.to_owned(), parts.join(",")));
    }
    pairs
}

/// Each knob of `design` that differs from the study's default, in the
/// study's knob order, with its value as text.
fn changed<'a>(study: &'a Study, design: &'a Design) -> impl Iterator<Item = (&'a str, String)> {
    study.knobs().filter_map(|knob| {
        let value = design.get(&knob.id)?;
        (*value != knob.default).then(|| (knob.id.as_str(), value.to_string()))
    })
}

/// The pinned design in words: `model = gbdt, trees = 100`, or "the
/// default design".
pub fn describe_pin(study: &Study, pin: &Design) -> String {
    let parts: Vec<String> = changed(study, pin)
        .map(|(id, value)| {
            let label = study.knob(id).map_or(id, |k| k.label.as_str());
            format!("{label} = {value}")
        })
        .collect();
    if parts.is_empty() {
        "the default design".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::{KnobValue, bundled_studies};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_written_state_reads_back_the_same() {
        let studies = bundled_studies().unwrap();
        let study = &studies[0];
        let mut design = study.default_design(7);
        study.set(&mut design, "model", "gbdt").unwrap();
        study.set(&mut design, "neg_rate", "0.25").unwrap();
        study.set(&mut design, "recalibrate", "false").unwrap();
        let written = write(study, &design, DesignStep::Features, None);
        assert_eq!(
            written,
            pairs(&[
                ("study", "feed-ranking"),
                ("seed", "7"),
                ("step", "features"),
                ("neg_rate", "0.25"),
                ("recalibrate", "false"),
                ("model", "gbdt"),
            ])
        );
        let state = read(&written, &studies, &[]);
        assert_eq!(state.design, design);
        assert_eq!(state.step, DesignStep::Features);
        assert!(state.notices.is_empty(), "{:?}", state.notices);
    }

    #[test]
    fn bad_values_fall_back_per_setting_with_a_notice() {
        let studies = bundled_studies().unwrap();
        let state = read(
            &pairs(&[
                ("study", "feed-ranking"),
                ("seed", "-3"),
                ("step", "lunch"),
                ("model", "forest"),
                ("trees", "50"),
                ("colour", "red"),
                ("embed", "1"),
            ]),
            &studies,
            &["embed"],
        );
        assert_eq!(state.design.seed, DEFAULT_SEED);
        assert_eq!(state.step, DesignStep::ProblemFormulation);
        assert_eq!(
            state.design.get("model"),
            Some(&KnobValue::Choice("logistic".into()))
        );
        assert_eq!(state.design.get("trees"), Some(&KnobValue::Number(50.0)));
        assert_eq!(state.notices.len(), 4, "{:?}", state.notices);
        assert!(state.notices[2].contains("using the default, logistic"));
        assert!(state.notices[3].contains("colour"));
    }

    #[test]
    fn a_pin_round_trips_and_a_bad_part_keeps_the_default() {
        let studies = bundled_studies().unwrap();
        let study = &studies[0];
        let design = study.default_design(9);
        let mut pin = design.clone();
        study.set(&mut pin, "model", "gbdt").unwrap();
        study.set(&mut pin, "trees", "200").unwrap();
        let written = write(
            study,
            &design,
            DesignStep::ModelAndOfflineEvaluation,
            Some(&pin),
        );
        assert_eq!(
            written.last(),
            Some(&("pin".to_owned(), "model:gbdt,trees:200".to_owned()))
        );
        let state = read(&written, &studies, &[]);
        assert_eq!(state.pin.as_ref(), Some(&pin));
        assert_eq!(state.design, design);
        assert!(state.notices.is_empty(), "{:?}", state.notices);
        assert_eq!(describe_pin(study, &pin), "Model = gbdt, Trees = 200");

        // The default design pinned is an empty pin.
        let written = write(
            study,
            &design,
            DesignStep::ProblemFormulation,
            Some(&design),
        );
        assert_eq!(written.last(), Some(&("pin".to_owned(), String::new())));
        assert_eq!(read(&written, &studies, &[]).pin, Some(design.clone()));

        let state = read(
            &pairs(&[("pin", "model:forest,trees:200,oops")]),
            &studies,
            &[],
        );
        let pin = state.pin.unwrap();
        assert_eq!(
            pin.get("model"),
            Some(&KnobValue::Choice("logistic".into()))
        );
        assert_eq!(pin.get("trees"), Some(&KnobValue::Number(200.0)));
        assert_eq!(state.notices.len(), 2, "{:?}", state.notices);
        assert!(state.notices[0].contains("model:forest"));
        assert!(state.notices[1].contains("knob:value"));
    }

    #[test]
    fn an_unknown_study_opens_the_default() {
        let studies = bundled_studies().unwrap();
        let state = read(&pairs(&[("study", "nope")]), &studies, &[]);
        assert_eq!(state.study, 0);
        assert_eq!(state.notices.len(), 1);
        assert_eq!(state.design, studies[0].default_design(DEFAULT_SEED));
    }
}
