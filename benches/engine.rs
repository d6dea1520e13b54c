//! Engine speed on this machine: `cargo bench --bench engine`.
//! Prints the median of several runs per case; BENCHMARKS.md records them.

use std::hint::black_box;
use std::time::{Duration, Instant};

use casebook::engine::rng::Seed;
use casebook::engine::world::feed::{FeedParams, FeedWorld};

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
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

fn main() {
    // About one million impressions: 20k users x 10 days x ~50% active x 10 slots.
    let params = FeedParams {
        users: 20_000,
        days: 10,
        ..FeedParams::default()
    };
    let mut count = 0;
    let time = median_of(5, || {
        let world = FeedWorld::generate(&params, Seed(1)).expect("valid parameters");
        count = world.impressions.len();
        black_box(world);
    });
    println!(
        "feed world, {count} impressions: {:.1} ms (median of 5)",
        time.as_secs_f64() * 1e3
    );
}
