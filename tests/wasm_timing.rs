//! Engine timings in wasm32, in headless Chromium: the benchmark's browser
//! half (`bash scripts/bench-wasm.sh`; figures in BENCHMARKS.md). It asserts
//! only that each run succeeds: speed is measured, never tested.
#![cfg(target_arch = "wasm32")]

use casebook::engine::models::gbdt::GbdtConfig;
use casebook::engine::models::logistic::LogisticConfig;
use casebook::engine::models::mlp::MlpConfig;
use casebook::engine::pipeline::feed::{FeedDesign, FeedModel, FeedPipeline};
use casebook::engine::world::feed::FeedParams;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn time(label: &str, runs: usize, mut f: impl FnMut()) {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = now_ms();
            f();
            now_ms() - start
        })
        .collect();
    times.sort_by(f64::total_cmp);
    console_log!("{label}: {:.1} ms (median of {runs})", times[runs / 2]);
}

/// [`time`] of `f` on a fresh state that `fresh` builds untimed: the engine
/// keeps the designs it ran, so a design run twice on one pipeline is a
/// cache hit the second time.
fn time_on_fresh<S>(
    label: &str,
    runs: usize,
    mut fresh: impl FnMut() -> S,
    mut f: impl FnMut(&mut S),
) {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let mut state = fresh();
            let start = now_ms();
            f(&mut state);
            now_ms() - start
        })
        .collect();
    times.sort_by(f64::total_cmp);
    console_log!("{label}: {:.1} ms (median of {runs})", times[runs / 2]);
}

#[wasm_bindgen_test]
fn feed_pipeline_timings() {
    let million = FeedDesign {
        world: FeedParams {
            users: 20_000,
            days: 10,
            ..FeedParams::default()
        },
        ..FeedDesign::default()
    };
    time(
        "wasm32: feed pipeline, default design, ~1M impressions",
        3,
        || {
            let report = FeedPipeline::default().run(&million);
            assert!(report.is_ok(), "{report:?}");
        },
    );
    let base = FeedDesign::default();
    let mut pipeline = FeedPipeline::default();
    time(
        "wasm32: default world, first run (world, features, logistic)",
        1,
        || {
            assert!(pipeline.run(&base).is_ok());
        },
    );
    for model in [
        FeedModel::Popularity,
        FeedModel::Logistic(LogisticConfig::default()),
        FeedModel::Gbdt(GbdtConfig::default()),
        FeedModel::Mlp(MlpConfig::default()),
    ] {
        let design = FeedDesign {
            model: model.clone(),
            ..base.clone()
        };
        // An engine that ran another model holds the world and its features.
        let other = if matches!(model, FeedModel::Popularity) {
            base.clone()
        } else {
            FeedDesign {
                model: FeedModel::Popularity,
                ..base.clone()
            }
        };
        time_on_fresh(
            &format!("wasm32: retrain at the default world size, {}", model.id()),
            3,
            || {
                let mut pipeline = FeedPipeline::default();
                assert!(pipeline.run(&other).is_ok());
                pipeline
            },
            |pipeline| {
                assert!(pipeline.run(&design).is_ok());
            },
        );
    }
}

/// The compute kernels in the browser: the CPU path in wasm32 and the GPU
/// path on the browser's WebGPU adapter (`SwiftShader` in headless Chromium),
/// for the two cases of `benches/compute.rs`, the MLP over 100k rows rather
/// than 1M (a page blocked for 30 s loses its test driver). GPU times include
/// the upload and read-back.
#[wasm_bindgen_test]
async fn compute_kernel_timings() {
    use casebook::compute::{
        Activation, Cpu, DenseLayer, Gpu, GpuOptions, Kernels, Network, Precision, Rows,
    };
    let wave = |i: usize| ((i.wrapping_mul(2_654_435_761) % 2_000) as f32 / 1_000.0) - 1.0;
    let (n, d) = (1_000_000, 64);
    let items: Vec<f32> = (0..n * d).map(wave).collect();
    let query: Vec<f32> = (0..d).map(|i| wave(i + 7)).collect();
    let layer = |inputs: usize, outputs: usize, activation, salt: usize| {
        let weight = (0..inputs * outputs)
            .map(|i| wave(i + salt) * 0.2)
            .collect();
        let bias = (0..outputs).map(|o| wave(o + salt)).collect();
        DenseLayer::new(inputs, outputs, weight, bias, activation).expect("layer")
    };
    let net = Network::new(vec![
        layer(d, 128, Activation::Relu, 1),
        layer(128, 1, Activation::Identity, 2),
    ])
    .expect("network");
    let rows = Rows::new(&items, d).expect("rows");
    let mlp_rows = Rows::new(&items[..100_000 * d], d).expect("rows");
    let q = Rows::new(&query, d).expect("rows");
    let gpu = Gpu::new(GpuOptions::default()).await.ok();
    console_log!(
        "GPU: {}",
        gpu.as_ref()
            .map_or("none".to_owned(), |g| g.backend().label())
    );
    let start = now_ms();
    Cpu.top_k(q, rows, 10).await.expect("cpu");
    console_log!("wasm32 CPU: top-10 of 1M x 64: {:.1} ms", now_ms() - start);
    if let Some(g) = &gpu {
        g.top_k(q, rows, 10).await.expect("gpu warm-up");
        let start = now_ms();
        g.top_k(q, rows, 10).await.expect("gpu");
        console_log!("WebGPU: top-10 of 1M x 64: {:.1} ms", now_ms() - start);
    }
    for precision in Precision::ALL {
        let quantized = net.quantize(precision, Rows::new(&items[..1_000 * d], d).expect("rows"));
        let start = now_ms();
        Cpu.forward(&quantized, mlp_rows).await.expect("cpu");
        console_log!(
            "wasm32 CPU: MLP 64-128-1 over 100k rows, {}: {:.1} ms",
            precision.id(),
            now_ms() - start
        );
        if let Some(g) = &gpu {
            g.forward(&quantized, mlp_rows).await.expect("gpu warm-up");
            let start = now_ms();
            g.forward(&quantized, mlp_rows).await.expect("gpu");
            console_log!(
                "WebGPU: MLP 64-128-1 over 100k rows, {}: {:.1} ms",
                precision.id(),
                now_ms() - start
            );
        }
    }
}
