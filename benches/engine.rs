//! Engine speed on this machine: `cargo bench --bench engine`.
//! Prints the median of several runs per case; BENCHMARKS.md records them.

use std::hint::black_box;
use std::time::{Duration, Instant};

use casebook::engine::data::Dataset;
use casebook::engine::math::sigmoid;
use casebook::engine::models::logistic::{self, LogisticConfig};
use casebook::engine::rng::Seed;
use casebook::engine::world::feed::{FeedParams, FeedWorld};
use rand::RngExt;

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

    bench_logistic();
}

/// Logistic regression on 1M rows x 32 dense columns with known weights.
fn bench_logistic() {
    const ROWS: usize = 1_000_000;
    const DIM: usize = 32;
    let mut rng = Seed(2).stream("bench.data");
    let truth: Vec<f64> = (0..DIM).map(|k| (k as f64 - 16.0) / 16.0).collect();
    let mut data = Dataset {
        dense_names: (0..DIM).map(|k| format!("x{k}")).collect(),
        ..Dataset::default()
    };
    for i in 0..ROWS {
        let mut z = -1.0;
        for w in &truth {
            let x: f64 = rng.random::<f64>() * 2.0 - 1.0;
            z += w * x;
            data.dense.push(x as f32);
        }
        data.label
            .push(f32::from(u8::from(rng.random::<f64>() < sigmoid(z))));
        data.weight.push(1.0);
        data.day.push(0);
        data.group.push(i as u32);
    }
    let valid = data.select(&(0..10_000).collect::<Vec<_>>());
    let config = LogisticConfig::default();
    let mut epochs = 0;
    let time = median_of(3, || {
        let (model, curve) =
            logistic::train(&data, &valid, &config, &mut Seed(3).stream("bench.train"));
        epochs = curve.train_loss.len();
        black_box(model);
    });
    println!(
        "logistic regression, {ROWS} rows x {DIM} columns, {epochs} epochs (default settings): \
         {:.1} ms (median of 3)",
        time.as_secs_f64() * 1e3
    );
}
