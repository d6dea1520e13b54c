//! What the benchmarks share.

use std::time::{Duration, Instant};

/// The median wall time of `runs` calls of `f`.
pub fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// The median wall time of `runs` calls of `f`, each on a fresh state that
/// `fresh` builds untimed. The engine keeps the designs it ran, so timing a
/// design twice on one pipeline times the second run's cache hit; this
/// times the first run of a design on an engine warmed with another.
#[allow(dead_code, reason = "the compute benchmark does not use it")]
pub fn median_on_fresh<S>(
    runs: usize,
    mut fresh: impl FnMut() -> S,
    mut f: impl FnMut(&mut S),
) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let mut state = fresh();
            let start = Instant::now();
            f(&mut state);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}
