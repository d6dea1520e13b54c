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

use serde::{Deserialize, Serialize};
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

/// Which of a run's optional stages it computes. The page shows one design
/// step at a time, so it asks first for what that step shows and then for
/// the rest: retrieval (the feed's candidate generation) is read only by the
/// architecture step, the monitored days only by the monitoring step, and
/// together they are about half of a feed run. A stage left out is absent
/// from the report (its keys are missing), never estimated; each stage's
/// numbers are the same whichever scope computed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub retrieval: bool,
    pub monitoring: bool,
}

impl Scope {
    /// Every stage.
    pub const ALL: Scope = Scope {
        retrieval: true,
        monitoring: true,
    };
    /// The stages every run computes: the world, features, the trained
    /// model's offline and online measurements, the A/B test or rollout, and
    /// the prediction service.
    pub const CORE: Scope = Scope {
        retrieval: false,
        monitoring: false,
    };

    /// The stages either scope computes.
    #[must_use]
    pub fn union(self, other: Scope) -> Scope {
        Scope {
            retrieval: self.retrieval || other.retrieval,
            monitoring: self.monitoring || other.monitoring,
        }
    }

    /// Whether a run of this scope computed every stage `other` asks for.
    pub fn covers(self, other: Scope) -> bool {
        self.union(other) == self
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope::ALL
    }
}

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

/// Results a pipeline keeps of its trained models and their measurements
/// (each a few megabytes at most: scores of the test rows, the served
/// sessions, the fp32 weights and 2,000 calibration rows).
pub(crate) const RECENT: usize = 4;

/// A memo for a stage: the last `N` inputs it ran on (one by default) and
/// their results, the least recently used forgotten first. A stage whose
/// result is small next to the time it takes keeps a few, so a person who
/// tries a choice and goes back (answered from the page's own cache of
/// recent results) and then moves another knob does not pay for the
/// choice again.
#[derive(Debug)]
pub struct Memo<K, V, const N: usize = 1> {
    /// Oldest first.
    slots: Vec<(K, Arc<V>)>,
    runs: u32,
}

impl<K, V, const N: usize> Default for Memo<K, V, N> {
    fn default() -> Self {
        Memo {
            slots: Vec::with_capacity(N),
            runs: 0,
        }
    }
}

impl<K: PartialEq, V, const N: usize> Memo<K, V, N> {
    /// The result for `key`, computing it with `run` unless the last key was equal.
    ///
    /// # Errors
    /// Whatever `run` returns; the memo then keeps its previous result.
    pub fn get_or_try<E>(
        &mut self,
        key: K,
        run: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some(value) = self.hit(&key) {
            return Ok(value);
        }
        Ok(self.keep(key, run()?))
    }

    /// [`Memo::get_or_try`] for a stage that awaits the compute kernels.
    ///
    /// # Errors
    /// As [`Memo::get_or_try`].
    pub async fn get_or_try_async<E>(
        &mut self,
        key: K,
        run: impl AsyncFnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some(value) = self.hit(&key) {
            return Ok(value);
        }
        Ok(self.keep(key, run().await?))
    }

    /// The kept result of `key`, now the most recently used.
    fn hit(&mut self, key: &K) -> Option<Arc<V>> {
        let at = self.slots.iter().position(|(k, _)| k == key)?;
        let hit = self.slots.remove(at);
        let value = Arc::clone(&hit.1);
        self.slots.push(hit);
        Some(value)
    }

    /// Keeps `value` as the result of `key`, forgetting the least recently
    /// used one if the memo is full.
    fn keep(&mut self, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        self.runs += 1;
        if self.slots.len() >= N.max(1) {
            self.slots.remove(0);
        }
        self.slots.push((key, Arc::clone(&value)));
        value
    }

    /// How many times the stage has really run (for tests of memoization).
    pub fn runs(&self) -> u32 {
        self.runs
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;

    #[test]
    fn a_memo_keeps_its_last_n_results_and_forgets_the_least_recently_used() {
        let mut memo: Memo<u32, u32, 2> = Memo::default();
        let get = |memo: &mut Memo<u32, u32, 2>, k: u32| {
            *memo.get_or_try(k, || Ok::<_, ()>(k * 10)).unwrap()
        };
        assert_eq!(get(&mut memo, 1), 10);
        assert_eq!(get(&mut memo, 2), 20);
        assert_eq!(get(&mut memo, 1), 10);
        assert_eq!(memo.runs(), 2, "1 was kept");
        get(&mut memo, 3);
        assert_eq!(memo.runs(), 3);
        get(&mut memo, 1);
        assert_eq!(memo.runs(), 3, "1 was used last, so 2 went");
        get(&mut memo, 2);
        assert_eq!(memo.runs(), 4);
        // A failed run keeps what was there.
        assert!(memo.get_or_try(9, || Err::<u32, _>("no")).is_err());
        get(&mut memo, 2);
        get(&mut memo, 1);
        assert_eq!(memo.runs(), 4);
        // One slot by default.
        let mut one: Memo<u32, u32> = Memo::default();
        for k in [1, 2, 1] {
            one.get_or_try(k, || Ok::<_, ()>(k)).unwrap();
        }
        assert_eq!(one.runs(), 3);
    }
}
