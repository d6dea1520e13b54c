//! The study file as written: serde types that mirror the TOML one to one.
//! Nothing outside `study` sees them; `parse_study` turns them into the
//! validated [`Study`](super::Study) once.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStudy {
    pub meta: RawMeta,
    pub world: RawWorld,
    #[serde(default)]
    pub steps: Vec<RawStep>,
    #[serde(default)]
    pub claims: Vec<RawClaim>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMeta {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub minutes: u32,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// `[world]`: `kind` picks the generative world; every other key is one of
/// that world's parameters, and a parameter left out keeps its default.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum RawWorld {
    Feed(RawFeedWorld),
    Content(RawContentWorld),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeedWorld {
    pub users: Option<u32>,
    pub creators: Option<u32>,
    pub posts_per_day: Option<u32>,
    pub days: Option<u16>,
    pub topics: Option<usize>,
    pub session_len: Option<u8>,
    pub daily_active: Option<f64>,
    pub position_bias: Option<f64>,
    pub follow_rate: Option<f64>,
    pub base_logit: Option<f64>,
    #[serde(default)]
    pub drift: Vec<RawFeedDrift>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum RawFeedDrift {
    InterestShift { day: u16, strength: f64 },
    NewCohort { day: u16, users: u32 },
    TrendingTopic { day: u16, topic: usize, boost: f64 },
    EngagementShift { day: u16, logit: f64 },
}

/// `[world] kind = "content"`: the harmful-content world's sizes and text
/// generation; harm categories keep their names and proportions.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContentWorld {
    pub posts_per_day: Option<u32>,
    pub days: Option<u16>,
    pub authors: Option<u32>,
    pub vocab: Option<u32>,
    pub tokens_per_post: Option<u16>,
    /// Share of posts that are harmful, over every category.
    pub prevalence: Option<f64>,
    pub lexicon_size: Option<u32>,
    pub keyword_coverage: Option<f64>,
    pub subtle_share: Option<f64>,
    pub benign_quote_rate: Option<f64>,
    #[serde(default)]
    pub drift: Vec<RawContentDrift>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum RawContentDrift {
    NewCohort {
        day: u16,
        authors: u32,
        propensity: f64,
    },
    TrendingTopic {
        day: u16,
        share: f64,
        category: usize,
    },
    PrevalenceChange {
        day: u16,
        category: Option<usize>,
        factor: f64,
    },
    VocabularySwap {
        day: u16,
        category: Option<usize>,
        share: f64,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub id: String,
    pub narrative: String,
    #[serde(default)]
    pub charts: Vec<String>,
    #[serde(default)]
    pub knobs: Vec<RawKnob>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKnob {
    pub id: String,
    pub label: String,
    pub help: String,
    pub kind: String,
    /// Choice knobs: the allowed values.
    pub values: Option<Vec<String>>,
    /// Slider knobs: the range and step.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub step: Option<f64>,
    pub default: RawValue,
}

/// A knob value as written: `"gbdt"`, `0.1`, `100` or `true`.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub(super) enum RawValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClaim {
    pub id: String,
    pub step: String,
    pub knob: String,
    pub value: RawValue,
    /// What `value` is compared with; the knob's default when left out.
    pub baseline: Option<RawValue>,
    /// Other knobs set on both sides of the comparison.
    #[serde(default)]
    pub given: BTreeMap<String, RawValue>,
    pub metric: String,
    pub direction: String,
    pub by_at_least: Option<f64>,
    pub by_at_most: Option<f64>,
    pub why: String,
}
