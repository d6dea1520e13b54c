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
        time(
            &format!("wasm32: retrain at the default world size, {}", model.id()),
            3,
            || {
                assert!(pipeline.run(&design).is_ok());
            },
        );
    }
}
