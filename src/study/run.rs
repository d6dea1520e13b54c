//! Running a study: a [`Design`] through the engine to a [`Report`] with
//! stable keys, and each [`Claim`] checked by running both sides.

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use crate::compute::{Backend, Compute, block_on};
use crate::engine::pipeline::content::{ContentPipeline, ContentReport};
use crate::engine::pipeline::feed::{FeedPipeline, FeedReport, PipelineError};
use crate::engine::pipeline::{Memo, Progress, Scope, Stage};
use crate::engine::serving::{ServingConfig, ServingError};
use crate::engine::world::feed::CANDIDATES_PER_SLOT;

use super::knobs::{Design, KnobValue};
use super::serving::{self, ServingSummary};
use super::{Claim, Study, WorldSpec, content, feed};

/// What a run of a study's design measured. Its JSON keys are stable and
/// documented in the README (`offline.auc`, `model.bytes`, `backend`, ...).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub study: String,
    pub seed: u64,
    /// Where the numbers were computed, as the UI's badge shows it.
    pub backend: String,
    /// Every knob's value in this run.
    pub design: BTreeMap<String, KnobValue>,
    #[serde(flatten)]
    pub result: StudyReport,
    /// The trained model served to the study's traffic.
    pub serving: ServingSummary,
    /// The optional stages this run computed (a full run computes all).
    #[serde(skip)]
    pub scope: Scope,
}

/// The world-specific part of a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StudyReport {
    Feed(FeedReport),
    Content(ContentReport),
}

impl Report {
    /// Every numeric value of the report under its dotted key
    /// (`offline.auc`, `model.params`); lists such as curves are left out.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        // The report holds plain numbers, strings and lists, which TOML's
        // value tree represents without loss; a failure leaves the map empty.
        if let Ok(toml::Value::Table(table)) = toml::Value::try_from(&self.result) {
            flatten("", &table, &mut out);
        }
        if let Ok(toml::Value::Table(table)) = toml::Value::try_from(&self.serving) {
            flatten("serving", &table, &mut out);
        }
        out
    }

    /// The numeric value under `key`, if the report has one.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics().get(key).copied()
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, f64>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Integer(i) => {
                out.insert(path, *i as f64);
            }
            toml::Value::Float(x) => {
                out.insert(path, *x);
            }
            toml::Value::Table(inner) => flatten(&path, inner, out),
            _ => {}
        }
    }
}

/// Why a study's design could not run.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RunError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("the prediction service cannot run: {0}")]
    Serving(#[from] ServingError),
    #[error("the report has no metric `{0}`")]
    MissingMetric(String),
}

/// A claim's measured outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClaimResult {
    pub claim: String,
    pub seed: u64,
    /// The metric with the knob at its baseline value.
    pub baseline: f64,
    /// The metric with the knob at the claim's value.
    pub value: f64,
    /// `value - baseline`.
    pub delta: f64,
    pub holds: bool,
}

/// Runs designs of any study, keeping each world's pipeline (and so its
/// memoized stages) between runs, with the compute kernels on one backend
/// (the CPU reference by default).
///
/// The memos are keyed by design, not by backend: a runner's backend is
/// chosen once, when it is made, and changes only if its GPU fails (the
/// results kept from before then agree with the CPU's within the kernels'
/// tolerance, so keeping them is sound).
#[derive(Debug, Default)]
pub struct Runner {
    feed: FeedPipeline,
    serving: Memo<(ServingConfig, u64), ServingSummary>,
    content: ContentPipeline,
    compute: Compute,
}

impl Runner {
    /// A runner whose kernels run on `compute`.
    pub fn new(compute: Compute) -> Runner {
        Runner {
            compute,
            ..Runner::default()
        }
    }

    /// The compute backend: `compute().backend()` is where the next run's
    /// kernels run.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// Runs `design` of `study` to its report.
    ///
    /// # Errors
    /// [`RunError::Pipeline`] when the engine cannot run the design (an
    /// empty split, undefined metrics).
    pub fn run(&mut self, study: &Study, design: &Design) -> Result<Report, RunError> {
        self.run_with(study, design, &mut |_| {})
    }

    /// [`Runner::run`], telling `progress` each stage that really runs (a
    /// reused one is not announced).
    ///
    /// # Errors
    /// As [`Runner::run`].
    pub fn run_with(
        &mut self,
        study: &Study,
        design: &Design,
        progress: Progress,
    ) -> Result<Report, RunError> {
        self.run_scoped(study, design, Scope::ALL, progress)
    }

    /// [`Runner::run_with`], computing only the optional stages `scope`
    /// names: their keys are missing from the report.
    ///
    /// # Errors
    /// As [`Runner::run`].
    pub fn run_scoped(
        &mut self,
        study: &Study,
        design: &Design,
        scope: Scope,
        progress: Progress,
    ) -> Result<Report, RunError> {
        block_on(self.run_async(study, design, scope, progress))
    }

    /// [`Runner::run_scoped`], awaiting the GPU's kernels where the runner
    /// has one (in the browser a GPU run must be awaited: its read-backs
    /// are asynchronous).
    ///
    /// # Errors
    /// As [`Runner::run`].
    pub async fn run_async(
        &mut self,
        study: &Study,
        design: &Design,
        scope: Scope,
        progress: Progress<'_>,
    ) -> Result<Report, RunError> {
        let before = self.compute.backend();
        let compute = &self.compute;
        let (result, config) = match &study.world {
            WorldSpec::Feed(params) => {
                let feed_design = feed::feed_design(params, design);
                let report = self
                    .feed
                    .run_on(&feed_design, scope, compute, progress)
                    .await?;
                // A feed request scores every candidate of a session.
                let items = f64::from(params.session_len) * CANDIDATES_PER_SLOT as f64;
                let population = u64::from(params.users) * items as u64;
                let config = serving::config(design, &report.model, items, population);
                (StudyReport::Feed(report), config)
            }
            WorldSpec::Content(params) => {
                let content_design = content::content_design(params, design);
                let report = (self.content)
                    .run_on(&content_design, scope, compute, progress)
                    .await?;
                // Every new post is scored once; a batch job would score a
                // day's posts.
                let population = u64::from(params.posts_per_day);
                let config = serving::config(design, &report.model, 1.0, population);
                (StudyReport::Content(report), config)
            }
        };
        let seed = design.seed;
        let serving = self.serving.get_or_try((config.clone(), seed), || {
            progress(Stage::Serving);
            serving::simulate(&config, seed)
        })?;
        Ok(Report {
            study: study.meta.id.clone(),
            seed,
            backend: backend_label(&before, &self.compute.backend()),
            design: design.values.clone(),
            result,
            serving: (*serving).clone(),
            scope,
        })
    }

    /// Checks `claim` at `seed`: runs the study's defaults (with the claim's
    /// `given` knobs) once with the knob at its baseline and once at the
    /// claim's value, and compares the metric.
    ///
    /// # Errors
    /// Either run failing, or the metric missing from the report.
    pub fn check(
        &mut self,
        study: &Study,
        claim: &Claim,
        seed: u64,
    ) -> Result<ClaimResult, RunError> {
        block_on(self.check_async(study, claim, seed))
    }

    /// [`Runner::check`], awaiting the GPU's kernels where the runner has one.
    ///
    /// # Errors
    /// As [`Runner::check`].
    pub async fn check_async(
        &mut self,
        study: &Study,
        claim: &Claim,
        seed: u64,
    ) -> Result<ClaimResult, RunError> {
        let mut design = study.default_design(seed);
        for (id, value) in &claim.given {
            design.values.insert(id.clone(), value.clone());
        }
        let mut measure = async |value: &KnobValue| {
            design.values.insert(claim.knob.clone(), value.clone());
            let report = self
                .run_async(study, &design, Scope::ALL, &mut |_| {})
                .await?;
            report
                .metric(&claim.metric)
                .ok_or_else(|| RunError::MissingMetric(claim.metric.clone()))
        };
        let baseline = measure(&claim.baseline).await?;
        let value = measure(&claim.value).await?;
        let delta = value - baseline;
        Ok(ClaimResult {
            claim: claim.id.clone(),
            seed,
            baseline,
            value,
            delta,
            holds: claim.holds(delta),
        })
    }
}

/// The backend a run names: the one it ran on, or, where the GPU failed
/// during the run and the rest ran on the CPU, both.
fn backend_label(before: &Backend, after: &Backend) -> String {
    if before == after {
        after.label()
    } else {
        Backend::fallback_label(before)
    }
}
