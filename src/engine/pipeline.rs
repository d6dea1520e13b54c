//! Pipelines: a design's choices run through the stages, from world to
//! offline metrics. Each stage is a pure function of its inputs, its knobs and
//! its own random stream; a pipeline keeps the last result of each stage and
//! reuses it when the stage's inputs have not changed, so changing a model
//! knob never regenerates the world, and changing nothing reruns nothing.

pub mod feed;

use std::sync::Arc;

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
