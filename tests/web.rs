//! In-browser tests (wasm-bindgen-test in headless Chromium): the app mounts
//! and renders, the WebGPU probe answers, and a panic shows the error panel.
#![cfg(target_arch = "wasm32")]
// A failed DOM call in a test is a test failure; unwrap says so plainly.
#![allow(clippy::unwrap_used)]

use casebook::{Backend, DesignStep};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn fresh_container() -> web_sys::HtmlElement {
    let el = document().create_element("div").unwrap();
    document().body().unwrap().append_child(&el).unwrap();
    el.dyn_into().unwrap()
}

#[wasm_bindgen_test]
fn app_renders_the_default_study_and_nine_steps() {
    let container = fresh_container();
    let handle = leptos::mount::mount_to(container.clone(), casebook::App);
    let titles = container.query_selector_all(".step-title").unwrap();
    let shown: Vec<String> = (0..titles.length())
        .map(|i| titles.item(i).unwrap().text_content().unwrap())
        .collect();
    let expected: Vec<&str> = DesignStep::ALL.iter().map(|s| s.title()).collect();
    assert_eq!(shown, expected);
    let h1 = container.query_selector("h1").unwrap().unwrap();
    assert_eq!(h1.text_content().unwrap(), "Feed ranking");
    drop(handle);
}

/// The runner starts Chromium with `--enable-unsafe-webgpu` (`tests/webdriver.json`),
/// which offers a `SwiftShader` adapter.
#[wasm_bindgen_test]
async fn probe_finds_the_webgpu_adapter() {
    let backend = casebook::probe_webgpu().await;
    assert!(
        matches!(backend, Backend::WebGpu(_)),
        "expected a WebGPU adapter, got {backend:?}"
    );
    assert!(backend.label().starts_with("WebGPU ("));
}

/// The GPU kernels in the browser's WebGPU (`SwiftShader` here) give the CPU
/// reference's answers: histogram counts exactly, int8 and f16 forward
/// passes and top-k scores within the tolerances of `tests/compute.rs`.
#[wasm_bindgen_test]
async fn webgpu_kernels_match_the_cpu_reference() {
    use casebook::compute::{
        Activation, Cpu, DenseLayer, Gpu, GpuOptions, Kernels, Network, Precision, Rows,
    };
    let gpu = Gpu::new(GpuOptions::default())
        .await
        .expect("a WebGPU device");
    assert!(matches!(gpu.backend(), Backend::WebGpu(_)));
    let wave = |i: usize| ((i * 7919 % 1000) as f32 / 500.0) - 1.0;
    let layer = |inputs: usize, outputs: usize, activation, salt: usize| {
        let weight = (0..inputs * outputs)
            .map(|i| wave(i + salt) * 0.3)
            .collect();
        let bias = (0..outputs).map(|o| wave(o + salt + 1) * 0.1).collect();
        DenseLayer::new(inputs, outputs, weight, bias, activation).expect("layer")
    };
    let net = Network::new(vec![
        layer(32, 48, Activation::Relu, 1),
        layer(48, 2, Activation::Identity, 2),
    ])
    .expect("network");
    let x: Vec<f32> = (0..300 * 32).map(|i| wave(i * 31 + 5) * 2.0).collect();
    let rows = Rows::new(&x, 32).expect("rows");
    for precision in Precision::ALL {
        let q = net.quantize(precision, rows);
        let cpu = Cpu.forward(&q, rows).await.expect("cpu");
        let got = gpu.forward(&q, rows).await.expect("gpu");
        let diff = cpu
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let tolerance = if precision == Precision::Int8 {
            0.05
        } else {
            1e-4
        };
        assert!(diff <= tolerance, "{precision:?}: differs by {diff}");
    }
    let scores: Vec<f32> = (0..10_000).map(|i| wave(i) * 0.5 + 0.5).collect();
    let labels: Vec<bool> = (0..10_000).map(|i| i % 3 == 0).collect();
    let expected = Cpu.histogram(&scores, &labels, 16).await.expect("cpu");
    assert_eq!(
        gpu.histogram(&scores, &labels, 16).await.expect("gpu"),
        expected
    );
    let items = Rows::new(&x, 16).expect("rows");
    let queries = Rows::new(&x[..64], 16).expect("rows");
    let cpu = Cpu.top_k(queries, items, 5).await.expect("cpu");
    let got = gpu.top_k(queries, items, 5).await.expect("gpu");
    let diff = cpu
        .scores
        .iter()
        .zip(&got.scores)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff <= 1e-5, "top-k scores differ by {diff}");
}

/// Must equal `FEED_DIGEST` in `tests/determinism.rs`, which the native run pins.
const FEED_DIGEST: u64 = 2_081_932_289_210_024_250;

#[wasm_bindgen_test]
fn feed_world_has_the_same_bits_as_natively() {
    use casebook::engine::rng::Seed;
    use casebook::engine::world::feed::{FeedParams, FeedWorld};
    let params = FeedParams {
        users: 500,
        days: 3,
        ..FeedParams::default()
    };
    let world = FeedWorld::generate(&params, Seed(42)).unwrap();
    assert_eq!(world.impressions.digest(), FEED_DIGEST);
}

/// Must equal `CONTENT_DIGEST` in `tests/determinism.rs`, which the native run pins.
const CONTENT_DIGEST: u64 = 3_575_418_130_284_539_689;

#[wasm_bindgen_test]
fn content_world_has_the_same_bits_as_natively() {
    use casebook::engine::rng::Seed;
    use casebook::engine::world::content::{ContentParams, ContentWorld};
    let params = ContentParams {
        posts_per_day: 500,
        days: 3,
        ..ContentParams::default()
    };
    let world = ContentWorld::generate(&params, Seed(42)).unwrap();
    assert_eq!(world.digest(), CONTENT_DIGEST);
}

#[wasm_bindgen_test]
fn error_panel_shows_the_details_readably() {
    casebook::show_error_panel("index out of bounds: the len is 3 but the index is 7");
    casebook::show_error_panel("second panic replaces the first");
    let panels = document().query_selector_all("#casebook-error").unwrap();
    assert_eq!(panels.length(), 1);
    let panel = document().get_element_by_id("casebook-error").unwrap();
    assert_eq!(panel.get_attribute("role").as_deref(), Some("alert"));
    let text = panel.text_content().unwrap();
    assert!(text.contains("internal error"), "{text}");
    assert!(text.contains("second panic replaces the first"), "{text}");
    panel.remove();
}
