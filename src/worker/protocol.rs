//! The messages between the page and the engine's worker, as JSON text.
//!
//! Both sides compile this module, so a message has one definition. Numbers
//! that must arrive bit for bit (metrics, a claim's measurements) travel as
//! Rust's shortest round-trip text: JSON has no NaN or infinity, and the
//! exact decimal survives any JSON parser.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::charts::ChartData;
use crate::study::{ClaimResult, Design, Report, Scope, Study};

/// Which study a request is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StudyRef {
    /// A study bundled with the app, by id.
    Bundled { id: String },
    /// A study file the user brought: `name` names it in errors.
    Source { name: String, toml: String },
}

/// What the page asks the worker to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// Run a design; the reply carries `generation` back, so the page can
    /// drop the answer to a request it has since superseded.
    Run {
        generation: u64,
        study: StudyRef,
        seed: u64,
        /// Every knob's value, written as a URL writes it.
        design: Vec<(String, String)>,
        /// Compare mode: the pinned design's knobs, at the same seed.
        #[serde(default)]
        pinned: Option<Vec<(String, String)>>,
        /// The optional stages to compute (every one unless it says).
        #[serde(default)]
        scope: Scope,
    },
    /// Check one of the study's claims at `seed` (both sides run).
    Check {
        id: u64,
        study: StudyRef,
        claim: String,
        seed: u64,
    },
}

impl Request {
    /// The request to run `design` of `study`.
    pub fn run(generation: u64, study: StudyRef, design: &Design) -> Request {
        Request::Run {
            generation,
            study,
            seed: design.seed,
            design: pairs_of(design),
            pinned: None,
            scope: Scope::ALL,
        }
    }

    /// The same request, computing only the optional stages `only` names.
    #[must_use]
    pub fn with_scope(mut self, only: Scope) -> Request {
        if let Request::Run { scope, .. } = &mut self {
            *scope = only;
        }
        self
    }

    /// The same request, also running `pinned` (compare mode) at the
    /// design's seed.
    #[must_use]
    pub fn with_pin(mut self, pin: Option<&Design>) -> Request {
        if let Request::Run { pinned, .. } = &mut self {
            *pinned = pin.map(pairs_of);
        }
        self
    }
}

/// Every knob's value of `design`, written as a URL writes it.
fn pairs_of(design: &Design) -> Vec<(String, String)> {
    design
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

/// What the worker answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// A reply is made once per message and encoded at once: its size on the
// stack (about 300 bytes natively, three summaries) costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Reply {
    /// The worker is up and takes requests; `backend` is where it computes,
    /// as the badge shows it.
    Ready { backend: String },
    /// A design ran. `baseline` is the study's default design at the same
    /// seed, for the changes the cards show (absent if it could not run);
    /// `pinned` the pinned design's, in compare mode.
    Ran {
        generation: u64,
        report: Result<RunSummary, String>,
        baseline: Option<RunSummary>,
        #[serde(default)]
        pinned: Option<Result<RunSummary, String>>,
    },
    /// A run of `generation` reached a stage that takes a while: `stage`
    /// (its label), number `step` of `steps`, for the design `of` ("your
    /// design", "the default design", "design A"). Sent as it starts.
    Progress {
        generation: u64,
        of: String,
        stage: String,
        step: u32,
        steps: u32,
    },
    /// A claim was checked.
    Checked {
        id: u64,
        outcome: Result<ClaimOutcome, String>,
    },
    /// The request could not be read; the worker stays up.
    Rejected { message: String },
    /// The engine panicked: the worker is about to stop.
    Crashed { message: String },
}

/// The part of a [`Report`] the page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub study: String,
    pub seed: u64,
    pub backend: String,
    /// [`Report::metrics`]: every number under its dotted key.
    #[serde(with = "exact_map")]
    pub metrics: BTreeMap<String, f64>,
    /// What the charts draw.
    #[serde(with = "toml_text")]
    pub charts: Box<ChartData>,
    /// The optional stages the run computed: the others' metrics and
    /// charts are absent.
    #[serde(default)]
    pub scope: Scope,
}

impl From<&Report> for RunSummary {
    fn from(report: &Report) -> Self {
        RunSummary {
            study: report.study.clone(),
            seed: report.seed,
            backend: report.backend.clone(),
            metrics: report.metrics(),
            charts: Box::new(ChartData::from(report)),
            scope: report.scope,
        }
    }
}

/// A claim's measured outcome ([`ClaimResult`] on the wire).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimOutcome {
    pub claim: String,
    pub seed: u64,
    #[serde(with = "exact")]
    pub baseline: f64,
    #[serde(with = "exact")]
    pub value: f64,
    #[serde(with = "exact")]
    pub delta: f64,
    pub holds: bool,
}

impl From<ClaimResult> for ClaimOutcome {
    fn from(r: ClaimResult) -> Self {
        ClaimOutcome {
            claim: r.claim,
            seed: r.seed,
            baseline: r.baseline,
            value: r.value,
            delta: r.delta,
            holds: r.holds,
        }
    }
}

/// Encodes a message as JSON text.
pub fn encode<T: Serialize>(message: &T) -> String {
    // These types hold only strings, integers, booleans, maps with string
    // keys and numbers as text, which JSON always represents.
    serde_json::to_string(message).unwrap_or_else(|e| {
        serde_json::to_string(&Reply::Rejected {
            message: format!("a message could not be encoded: {e}"),
        })
        .unwrap_or_default()
    })
}

/// Decodes a message from JSON text.
///
/// # Errors
/// The text is not a message of this type.
pub fn decode<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The design `pairs` describe, checked knob by knob against `study`.
///
/// # Errors
/// A knob the study does not offer, or a value it does not allow.
pub fn design_from_pairs(
    study: &Study,
    seed: u64,
    pairs: &[(String, String)],
) -> Result<Design, String> {
    let mut design = study.default_design(seed);
    for (id, value) in pairs {
        study.set(&mut design, id, value)?;
    }
    Ok(design)
}

/// An `f64` as its shortest round-trip text (`0.1`, `NaN`, `inf`).
mod exact {
    use serde::{Deserialize, Deserializer, Serializer};

    // serde's `with` hands the field by reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(x)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A map of `f64` values, each as [`exact`] writes it.
mod exact_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(map: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(k, v)| (k, v.to_string())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let text = BTreeMap::<String, String>::deserialize(d)?;
        text.into_iter()
            .map(|(k, v)| v.parse().map(|x| (k, x)).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// A value as TOML text inside the JSON message: JSON has no NaN or
/// infinity, and a chart's series may hold them (an undefined p-value).
mod toml_text {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = toml::to_string(value).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        toml::from_str(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_arrive_bit_for_bit() {
        let outcome = ClaimOutcome {
            claim: "c".to_owned(),
            seed: u64::MAX,
            baseline: 0.1 + 0.2,
            value: f64::NAN,
            delta: f64::NEG_INFINITY,
            holds: false,
        };
        let back: ClaimOutcome = decode(&encode(&outcome)).unwrap();
        assert_eq!(back.seed, u64::MAX);
        assert_eq!(back.baseline.to_bits(), (0.1f64 + 0.2).to_bits());
        assert!(back.value.is_nan());
        assert_eq!(back.delta.to_bits(), f64::NEG_INFINITY.to_bits());

        let summary = RunSummary {
            study: "s".to_owned(),
            seed: 3,
            backend: "CPU".to_owned(),
            scope: Scope::CORE,
            metrics: [("a.b", 1e-300), ("c", 5.0), ("d", f64::INFINITY)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            charts: Box::new(ChartData {
                hourly: vec![[1.0, f64::NAN, 2.0]],
                cost: vec![("Serving, one day".to_owned(), f64::INFINITY)],
                ab: Some(crate::charts::AbData {
                    p_value: f64::NAN,
                    ..Default::default()
                }),
                ..ChartData::default()
            }),
        };
        let reply = Reply::Ran {
            generation: 7,
            report: Ok(summary.clone()),
            baseline: None,
            pinned: None,
        };
        let Reply::Ran {
            generation: 7,
            report: Ok(back),
            baseline: None,
            pinned: None,
        } = decode::<Reply>(&encode(&reply)).unwrap()
        else {
            panic!("not the reply sent");
        };
        assert_eq!(back.metrics, summary.metrics);
        // Charts' NaN and infinity survive the JSON message.
        assert!(back.charts.hourly[0][1].is_nan());
        assert_eq!(back.charts.hourly[0][2].to_bits(), 2.0f64.to_bits());
        assert_eq!(back.charts.cost, summary.charts.cost);
        assert!(back.charts.ab.is_some_and(|ab| ab.p_value.is_nan()));
    }

    #[test]
    fn a_design_round_trips_through_its_pairs() {
        for study in crate::study::bundled_studies().unwrap() {
            let mut design = study.default_design(42);
            for knob in study.knobs() {
                // Every knob at a value other than its default where it has one.
                let text = match &knob.kind {
                    crate::study::KnobKind::Choice { values } => values.last().cloned(),
                    crate::study::KnobKind::Slider { max, .. } if knob.integer => {
                        Some(max.to_string())
                    }
                    // A fraction with no short decimal form.
                    crate::study::KnobKind::Slider { min, max, .. } => {
                        Some((min + (max - min) / 3.0).to_string())
                    }
                    crate::study::KnobKind::Toggle => {
                        Some((knob.default != crate::study::KnobValue::Toggle(true)).to_string())
                    }
                };
                if let Some(text) = text {
                    study.set(&mut design, &knob.id, &text).unwrap();
                }
            }
            let Request::Run {
                seed,
                design: pairs,
                ..
            } = decode(&encode(&Request::run(
                1,
                StudyRef::Bundled { id: "x".to_owned() },
                &design,
            )))
            .unwrap()
            else {
                panic!("a run request");
            };
            assert_eq!(design_from_pairs(&study, seed, &pairs).unwrap(), design);
        }
    }

    #[test]
    fn a_bad_pair_names_the_knob() {
        let study = &crate::study::bundled_studies().unwrap()[0];
        let error =
            design_from_pairs(study, 1, &[("model".to_owned(), "forest".to_owned())]).unwrap_err();
        assert!(error.contains("model"), "{error}");
    }
}
