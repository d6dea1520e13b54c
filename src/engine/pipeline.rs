//! Pipelines: a design's choices run through the stages, from world to
//! offline metrics. Each stage is a pure function of its inputs, its knobs and
//! its own random stream; a pipeline keeps the last result of each stage and
//! reuses it when the stage's inputs have not changed, so changing a model
//! knob never regenerates the world, and changing nothing reruns nothing.

pub mod content;
mod curves;
pub mod feed;
pub mod watch;

pub use curves::{CURVE_POINTS, Curves, SCORE_BINS};

use crate::compute::Precision;
use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use crate::engine::metrics::MetricError;
use crate::engine::world::WorldError;

/// A stage of a run that takes long enough to announce: a progress bar
/// names it. A memoized stage that is reused is not announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    World,
    Features,
    Training,
    Retrieval,
    Monitoring,
    Serving,
}

impl Stage {
    /// Every stage, in the order a run reaches them.
    pub const ALL: [Stage; 6] = [
        Stage::World,
        Stage::Features,
        Stage::Training,
        Stage::Retrieval,
        Stage::Monitoring,
        Stage::Serving,
    ];

    /// What the stage does, as a progress bar says it.
    pub fn label(self) -> &'static str {
        match self {
            Stage::World => "Generating the world",
            Stage::Features => "Computing features",
            Stage::Training => "Training and evaluating the model",
            Stage::Retrieval => "Training candidate retrieval",
            Stage::Monitoring => "Simulating the monitored days",
            Stage::Serving => "Simulating the prediction service",
        }
    }

    /// Its place in [`Stage::ALL`], from 1.
    pub fn number(self) -> usize {
        Stage::ALL
            .iter()
            .position(|&s| s == self)
            .map_or(0, |i| i + 1)
    }
}

/// Told each stage as it starts.
pub type Progress<'a> = &'a mut dyn FnMut(Stage);

/// Why a design could not run.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PipelineError {
    #[error(transparent)]
    World(#[from] WorldError),
    #[error("design parameter `{name}` is {value}, but must be between {min} and {max}")]
    Design {
        name: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error("the {part} set is empty: {hint}")]
    EmptySplit {
        part: &'static str,
        hint: &'static str,
    },
    #[error("offline metrics are undefined: {0}")]
    Metric(#[from] MetricError),
}

/// Checks that a design knob lies in `[min, max]`, naming it if not.
pub(crate) fn check_design(
    name: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<(), PipelineError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(PipelineError::Design {
            name,
            value,
            min,
            max,
        })
    }
}

/// The trained model's size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSummary {
    pub kind: &'static str,
    pub params: usize,
    /// Bytes of the parameters at the model's precision (with int8 scales).
    pub bytes: usize,
    /// The precision the model is stored and computed at.
    pub precision: Precision,
    /// Operations to score one item (an estimate from the model's shape:
    /// what the serving simulation charges per prediction).
    pub flops_per_item: f64,
}

impl ModelSummary {
    /// The summary of a `kind` model of `params` parameters at fp32.
    pub fn new(kind: &'static str, params: usize, flops_per_item: f64) -> ModelSummary {
        ModelSummary {
            kind,
            params,
            bytes: params * 4,
            precision: Precision::Fp32,
            flops_per_item,
        }
    }

    /// The same model stored at `precision` in `bytes`.
    #[must_use]
    pub fn at(self, precision: Precision, bytes: u64) -> ModelSummary {
        ModelSummary {
            precision,
            bytes: bytes as usize,
            ..self
        }
    }
}

/// A one-slot memo for a stage: the inputs it last ran on and their result.
#[derive(Debug)]
pub struct Memo<K, V> {
    slot: Option<(K, Arc<V>)>,
    runs: u32,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            slot: None,
            runs: 0,
        }
    }
}

impl<K: PartialEq, V> Memo<K, V> {
    /// The result for `key`, computing it with `run` unless the last key was equal.
    ///
    /// # Errors
    /// Whatever `run` returns; the memo then keeps its previous result.
    pub fn get_or_try<E>(
        &mut self,
        key: K,
        run: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some((k, v)) = &self.slot
            && *k == key
        {
            return Ok(Arc::clone(v));
        }
        let value = Arc::new(run()?);
        self.runs += 1;
        self.slot = Some((key, Arc::clone(&value)));
        Ok(value)
    }

    /// How many times the stage has really run (for tests of memoization).
    pub fn runs(&self) -> u32 {
        self.runs
    }
}
