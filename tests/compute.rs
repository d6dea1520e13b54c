//! Conformance of the compute backends: one body of tests, run on the CPU
//! reference and on the GPU (natively: any Vulkan, Metal or DX12 adapter,
//! Mesa's software lavapipe included). The CPU always runs; the GPU runs
//! where an adapter exists and the test says so when it skips, unless
//! `CASEBOOK_REQUIRE_GPU=1` (set by `scripts/test.sh`, which installs
//! lavapipe) makes a missing adapter a failure.
//!
//! Tolerances: integer results (int8 accumulators, histogram counts) must
//! match the CPU bit for bit. Float results may differ by the GPU fusing a
//! multiply and an add, so each test states its tolerance.

#![cfg(not(target_arch = "wasm32"))]

use casebook::compute::{
    Activation, ClassHistogram, Compute, ComputeError, Cpu, DenseLayer, Gpu, GpuOptions, Int8Layer,
    Kernels, Network, Precision, Rows, int8_accumulators,
};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

fn block<T>(f: impl Future<Output = T>) -> T {
    pollster::block_on(f)
}

fn gpu(options: GpuOptions) -> Option<Gpu> {
    match Gpu::new_blocking(options) {
        Ok(gpu) => {
            eprintln!("GPU backend: {}", gpu.backend().label());
            Some(gpu)
        }
        Err(e) => {
            let required = std::env::var("CASEBOOK_REQUIRE_GPU").as_deref() == Ok("1");
            assert!(!required, "CASEBOOK_REQUIRE_GPU=1 but no adapter: {e}");
            eprintln!("skipping the GPU backend: {e}");
            None
        }
    }
}

/// A backend under test: its name and a way to run a job on it.
type Backend = (String, Box<dyn Fn(Job) -> Output>);

/// Every backend this machine has: the CPU, then the GPU if there is one.
fn backends(options: GpuOptions) -> Vec<Backend> {
    let mut out: Vec<Backend> = vec![("CPU".into(), Box::new(|job| run(&Cpu, job)))];
    if let Some(g) = gpu(options) {
        out.push((g.backend().label(), Box::new(move |job| run(&g, job))));
    }
    out
}

#[derive(Clone, Copy)]
enum Job<'a> {
    Forward(&'a Network, Rows<'a>),
    TopK(Rows<'a>, Rows<'a>, usize),
    Histogram(&'a [f32], &'a [bool], usize),
}

enum Output {
    Values(Vec<f32>),
    TopK(casebook::compute::TopK),
    Histogram(ClassHistogram),
    Error(ComputeError),
}

fn run(k: &impl Kernels, job: Job<'_>) -> Output {
    let result = match job {
        Job::Forward(n, rows) => block(k.forward(n, rows)).map(Output::Values),
        Job::TopK(q, items, top) => block(k.top_k(q, items, top)).map(Output::TopK),
        Job::Histogram(s, l, b) => block(k.histogram(s, l, b)).map(Output::Histogram),
    };
    result.unwrap_or_else(Output::Error)
}

fn values(o: Output) -> Vec<f32> {
    match o {
        Output::Values(v) => v,
        Output::Error(e) => panic!("forward failed: {e}"),
        _ => panic!("not values"),
    }
}

fn random(n: usize, scale: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
        .collect()
}

/// An MLP `inputs -> hidden (ReLU) -> outputs` with He-scaled weights.
fn mlp(inputs: usize, hidden: usize, outputs: usize, seed: u64) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let s1 = (6.0 / inputs as f32).sqrt();
    let s2 = (6.0 / hidden as f32).sqrt();
    let l1 = DenseLayer::new(
        inputs,
        hidden,
        random(inputs * hidden, s1, &mut rng),
        random(hidden, 0.1, &mut rng),
        Activation::Relu,
    );
    let l2 = DenseLayer::new(
        hidden,
        outputs,
        random(hidden * outputs, s2, &mut rng),
        random(outputs, 0.1, &mut rng),
        Activation::Identity,
    );
    Network::new(vec![l1.expect("layer"), l2.expect("layer")]).expect("network")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn forward_matches_the_reference_at_every_precision() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let net = mlp(64, 128, 3, 1);
    let x = random(2_000 * 64, 2.0, &mut rng);
    let rows = Rows::new(&x, 64).expect("rows");
    let fp32 = values(run(&Cpu, Job::Forward(&net, rows)));
    // A small row budget forces the GPU to work in slices.
    for (name, backend) in backends(GpuOptions {
        max_binding: Some(64 * 1024),
        ..GpuOptions::default()
    }) {
        for precision in Precision::ALL {
            let q = net.quantize(precision, Rows::new(&x[..500 * 64], 64).expect("rows"));
            let reference = values(run(&Cpu, Job::Forward(&q, rows)));
            let got = values(backend(Job::Forward(&q, rows)));
            // Outputs are of order 1 to 10; float sums of 128 terms may round
            // differently when fused: 1e-4 absolute. At int8 a hidden value
            // that lands within a rounding of a quantization tie may round
            // the other way: one step of the output's scale, 0.05.
            let tolerance = if precision == Precision::Int8 {
                0.05
            } else {
                1e-4
            };
            let diff = max_abs_diff(&got, &reference);
            assert!(diff <= tolerance, "{name} {precision:?}: differs by {diff}");
            if precision != Precision::Fp32 {
                let change = max_abs_diff(&reference, &fp32);
                assert!(
                    change > 1e-4,
                    "{precision:?} changes the outputs ({change})"
                );
            }
        }
    }
}

#[test]
fn int8_accumulation_is_exact() {
    // A layer whose dequantizing factor is 1 and bias 0 outputs its integer
    // accumulators as floats: every backend must give exactly the CPU's.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (inputs, outputs) = (200, 7);
    let q: Vec<i8> = (0..inputs * outputs)
        .map(|_| rng.random_range(-127i32..=127) as i8)
        .collect();
    let mut layer = DenseLayer::new(
        inputs,
        outputs,
        q.iter().map(|&v| f32::from(v)).collect(),
        vec![0.0; outputs],
        Activation::Identity,
    )
    .expect("layer");
    layer.int8 = Some(Int8Layer {
        q,
        dequant: vec![1.0; outputs],
        input_multiplier: 1.0,
    });
    let net = Network::with_precision(vec![layer.clone()], Precision::Int8).expect("int8 network");
    let x: Vec<f32> = (0..300 * inputs)
        .map(|_| rng.random_range(-127i32..=127) as f32)
        .collect();
    let rows = Rows::new(&x, inputs).expect("rows");
    let mut expected = Vec::new();
    let mut acc = Vec::new();
    for r in 0..rows.len() {
        int8_accumulators(&layer, rows.row(r), &mut acc);
        expected.extend(acc.iter().map(|&a| a as f32));
    }
    for (name, backend) in backends(GpuOptions::default()) {
        let got = values(backend(Job::Forward(&net, rows)));
        assert!(
            got.iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}: int8 accumulators differ"
        );
    }
}

#[test]
fn top_k_matches_the_reference() {
    // A short list, and the retrieval stage's default of 100.
    for k in [10, 100] {
        top_k_matches_the_reference_at(k);
    }
}

fn top_k_matches_the_reference_at(k: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (width, items, queries) = (64, 5_000, 12);
    let item_data = random(items * width, 1.0, &mut rng);
    let mut query_data = random(queries * width, 1.0, &mut rng);
    // Two equal items: the lower index must come first on every backend.
    let copy: Vec<f32> = item_data[..width].to_vec();
    let mut item_data = item_data;
    item_data[17 * width..18 * width].copy_from_slice(&copy);
    query_data[..width].copy_from_slice(&copy);
    let (q, it) = (
        Rows::new(&query_data, width).expect("rows"),
        Rows::new(&item_data, width).expect("rows"),
    );
    let Output::TopK(reference) = run(&Cpu, Job::TopK(q, it, k)) else {
        panic!("top-k failed")
    };
    assert_eq!(&reference.indices[..2], &[0, 17]);
    for (name, backend) in backends(GpuOptions {
        max_binding: Some(256 * 1024),
        ..GpuOptions::default()
    }) {
        let Output::TopK(got) = backend(Job::TopK(q, it, k)) else {
            panic!("{name}: top-k failed")
        };
        assert_eq!(got.k, k, "{name}");
        // Scores within 1e-5 (sums of 64 products of magnitude below 1);
        // the same items wherever neighbours are further apart than that.
        assert!(
            max_abs_diff(&got.scores, &reference.scores) <= 1e-5,
            "{name}: scores differ"
        );
        for (j, (a, b)) in got.indices.iter().zip(&reference.indices).enumerate() {
            let s = &reference.scores;
            let near_tie =
                (j > 0 && s[j - 1] - s[j] < 1e-5) || (j + 1 < s.len() && s[j] - s[j + 1] < 1e-5);
            assert!(
                a == b || near_tie,
                "{name}: k {k}, item {j} is {a}, not {b}"
            );
        }
    }
}

#[test]
fn histograms_count_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 100_003;
    let mut scores: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
    scores[0] = -0.5;
    scores[1] = 1.0;
    scores[2] = 7.0;
    scores[3] = f32::NAN;
    let labels: Vec<bool> = (0..n)
        .map(|i| rng.random::<f32>() < 0.1 + 0.5 * scores[i].clamp(0.0, 1.0))
        .collect();
    let Output::Histogram(reference) = run(&Cpu, Job::Histogram(&scores, &labels, 20)) else {
        panic!()
    };
    let total: u32 = reference.negative.iter().chain(&reference.positive).sum();
    assert_eq!(total as usize, n);
    assert_eq!(
        reference.positive.iter().sum::<u32>() as usize,
        labels.iter().filter(|y| **y).count()
    );
    for (name, backend) in backends(GpuOptions {
        max_binding: Some(64 * 1024),
        ..GpuOptions::default()
    }) {
        let Output::Histogram(got) = backend(Job::Histogram(&scores, &labels, 20)) else {
            panic!("{name}: histogram failed")
        };
        assert_eq!(got, reference, "{name}");
    }
}

#[test]
fn bad_shapes_are_errors_on_every_backend() {
    let net = mlp(4, 8, 1, 2);
    let x = [0.0f32; 10];
    for (name, backend) in backends(GpuOptions::default()) {
        let rows = Rows::new(&x, 5).expect("rows");
        assert!(
            matches!(
                backend(Job::Forward(&net, rows)),
                Output::Error(ComputeError::Shape(_))
            ),
            "{name}"
        );
        assert!(
            matches!(
                backend(Job::Histogram(&[0.5], &[], 4)),
                Output::Error(ComputeError::Shape(_))
            ),
            "{name}"
        );
    }
    assert!(Rows::new(&x, 3).is_none());
}

#[test]
fn a_lost_device_falls_back_to_the_cpu_and_completes() {
    let Some(g) = gpu(GpuOptions::default()) else {
        return;
    };
    let net = mlp(16, 32, 1, 4);
    let x = vec![0.25f32; 16 * 100];
    let rows = Rows::new(&x, 16).expect("rows");
    let expected = values(run(&Cpu, Job::Forward(&net, rows)));
    let compute = Compute::gpu(g);
    let first = block(compute.forward(&net, rows)).expect("forward");
    assert!(max_abs_diff(&first, &expected) <= 1e-4);
    if let Some(g) = compute.active_gpu() {
        g.destroy();
    }
    let after = block(compute.forward(&net, rows)).expect("falls back");
    assert_eq!(after, expected);
    assert_eq!(compute.backend(), casebook::Backend::Cpu);
}

/// The engine's kernels run on the GPU when the runner has one: a whole
/// study's report computed there names the GPU, read results back from it,
/// and agrees with the CPU reference's report metric by metric, to well
/// within what a card shows. (On lavapipe every metric is the same bits; a
/// GPU that fuses multiply-adds moves the scores' last bits, which may swap
/// two near-tied items.)
#[test]
fn the_engine_computes_on_the_gpu_when_one_is_active() {
    use casebook::{DEFAULT_SEED, KnobValue, Runner, Scope, bundled_studies};
    let Some(g) = gpu(GpuOptions::default()) else {
        return;
    };
    let label = g.backend().label();
    let mut gpu_runner = Runner::new(Compute::gpu(g));
    let mut cpu_runner = Runner::default();
    let studies = bundled_studies().expect("bundled studies");
    let choice = |value: &str| KnobValue::Choice(value.to_owned());
    // The feed's logistic ranker at fp32, the whole report (the forward
    // kernel, the retrieval scan, the histogram, the monitored days); its
    // MLP at int8 without the optional stages (one epoch: the test suite
    // runs unoptimized); the content classifier at int8.
    let designs = [
        (&studies[0], Scope::ALL, vec![("model", choice("logistic"))]),
        (
            &studies[0],
            Scope::CORE,
            vec![
                ("model", choice("mlp")),
                ("quantization", choice("int8")),
                ("epochs", KnobValue::Number(1.0)),
            ],
        ),
        (
            &studies[1],
            Scope::ALL,
            vec![
                ("model", choice("logistic")),
                ("quantization", choice("int8")),
            ],
        ),
    ];
    for (study, scope, knobs) in designs {
        let mut design = study.default_design(DEFAULT_SEED);
        for (knob, value) in &knobs {
            design.values.insert((*knob).to_owned(), value.clone());
        }
        let name = format!("{} {knobs:?}", study.meta.id);
        let read_backs = gpu_runner.compute().active_gpu().map(Gpu::read_backs);
        let gpu_report = gpu_runner
            .run_scoped(study, &design, scope, &mut |_| {})
            .expect("runs on the GPU");
        let after = gpu_runner.compute().active_gpu().map(Gpu::read_backs);
        assert!(after > read_backs, "{name}: no kernel ran on the GPU");
        assert_eq!(gpu_report.backend, label, "{name}");
        let cpu_report = cpu_runner
            .run_scoped(study, &design, scope, &mut |_| {})
            .expect("runs on the CPU");
        assert_eq!(cpu_report.backend, "CPU", "{name}");
        let cpu = cpu_report.metrics();
        let gpu = gpu_report.metrics();
        assert_eq!(
            gpu.keys().collect::<Vec<_>>(),
            cpu.keys().collect::<Vec<_>>()
        );
        for (key, g) in gpu {
            let c = cpu[&key];
            let agree = (g.is_nan() && c.is_nan()) || (g - c).abs() <= 1e-4 * c.abs().max(1.0);
            assert!(agree, "{name} {key}: {g} on the GPU, {c} on the CPU");
        }
    }
}

/// A run whose GPU is lost completes on the CPU with the CPU's numbers and
/// says so; the runs after it are plain CPU runs.
#[test]
fn a_run_whose_gpu_is_lost_completes_on_the_cpu_and_says_so() {
    use casebook::{Backend, DEFAULT_SEED, Runner, bundled_studies};
    let Some(g) = gpu(GpuOptions::default()) else {
        return;
    };
    let failed = g.backend();
    let study = &bundled_studies().expect("bundled studies")[1];
    let design = study.default_design(DEFAULT_SEED);
    let mut runner = Runner::new(Compute::gpu(g));
    if let Some(g) = runner.compute().active_gpu() {
        g.destroy();
    }
    let report = runner.run(study, &design).expect("completes on the CPU");
    assert_eq!(report.backend, Backend::fallback_label(&failed));
    let reference = Runner::default().run(study, &design).expect("runs");
    // Debug text, so that an undefined (NaN) metric equals itself.
    assert_eq!(
        format!("{:?}", report.metrics()),
        format!("{:?}", reference.metrics())
    );
    assert_eq!(runner.compute().backend(), Backend::Cpu);
    let mut other = design.clone();
    other.seed += 1;
    assert_eq!(runner.run(study, &other).expect("runs").backend, "CPU");
}
