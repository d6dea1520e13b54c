//! Engine speed on this machine: `cargo bench --bench engine`.
//! Prints the median of several runs per case; BENCHMARKS.md records them.

mod common;

use std::hint::black_box;

use casebook::engine::data::Dataset;
use casebook::engine::drift::{self, Detector, Reference, Thresholds};
use casebook::engine::math::sigmoid;
use casebook::engine::metrics;
use casebook::engine::models::gbdt::{self, GbdtConfig};
use casebook::engine::models::logistic::{self, LogisticConfig};
use casebook::engine::models::mlp::MlpConfig;
use casebook::engine::pipeline::content::{ContentDesign, ContentModel, ContentPipeline};
use casebook::engine::pipeline::feed::{FeedDesign, FeedModel, FeedPipeline};
use casebook::engine::rng::Seed;
use casebook::engine::serving::{self, ServingConfig, Traffic};
use casebook::engine::world::feed::{FeedParams, FeedWorld};
use common::{median_of, median_on_fresh};
use rand::RngExt;

fn main() {
    // `cargo bench --bench engine -- NAME` runs only the cases whose name contains NAME.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if wanted("world") {
        bench_world();
    }
    if wanted("logistic") {
        bench_logistic();
    }
    if wanted("gbdt") {
        bench_gbdt();
    }
    if wanted("metrics") {
        bench_metrics();
    }
    if wanted("pipeline") {
        bench_pipeline();
    }
    if wanted("models") {
        bench_models();
    }
    if wanted("content") {
        bench_content();
    }
    if wanted("serving") {
        bench_serving();
    }
    if wanted("drift") {
        bench_drift();
    }
    if wanted("monitoring") {
        bench_monitoring();
    }
    if wanted("knobs") {
        bench_knobs();
    }
    if wanted("first") {
        bench_first();
    }
}

/// A page's first run: each bundled study's default design on a fresh
/// engine, computing what one step shows (`Study::scope_for`: the stages
/// every step shows, plus retrieval for the architecture step or the
/// monitored days for the monitoring step) or everything.
fn bench_first() {
    use casebook::{DesignStep, Scope};
    let studies = casebook::bundled_studies().expect("the bundled studies parse");
    for study in &studies {
        let design = study.default_design(1);
        let scopes = [
            ("most steps", study.scope_for(DesignStep::Features)),
            ("architecture", study.scope_for(DesignStep::Architecture)),
            (
                "monitoring",
                study.scope_for(DesignStep::ScalingAndMonitoring),
            ),
            ("everything", Scope::ALL),
        ];
        for (what, scope) in scopes {
            let time = median_of(3, || {
                let mut runner = casebook::Runner::default();
                black_box(
                    runner
                        .run_scoped(study, &design, scope, &mut |_| {})
                        .expect("valid design"),
                );
            });
            println!(
                "first run, {}, {what}: {:.0} ms (median of 3)",
                study.meta.id,
                time.as_secs_f64() * 1e3
            );
        }
    }
}

/// Knobs that retrain nothing, as the page runs them: a study's default
/// design runs untimed on a fresh engine, then the design with one knob
/// changed is timed (the engine's share of a `casebook:update` on the page).
fn bench_knobs() {
    let changes = [
        ("feed-ranking", "quantization", "int8"),
        ("feed-ranking", "quantization", "f16"),
        ("feed-ranking", "hardware", "gpu"),
        ("feed-ranking", "assignment", "thompson"),
        ("harmful-content", "quantization", "int8"),
        ("harmful-content", "threshold_high", "0.9"),
    ];
    let studies = casebook::bundled_studies().expect("the bundled studies parse");
    for (id, knob, value) in changes {
        let study = studies.iter().find(|s| s.meta.id == id).expect("bundled");
        let base = study.default_design(1);
        let mut design = base.clone();
        study.set(&mut design, knob, value).expect("a valid value");
        let warm = || {
            let mut runner = casebook::Runner::default();
            runner.run(study, &base).expect("valid design");
            runner
        };
        let time = median_on_fresh(3, warm, |runner| {
            black_box(runner.run(study, &design).expect("valid design"));
        });
        println!(
            "knob change with the engine warm, {id}, {knob}={value}: {:.1} ms (median of 3)",
            time.as_secs_f64() * 1e3
        );
    }
}

/// Thirty monitored days of the feed world at its default size (users,
/// posts and sessions a day), made 35 days long: the monitoring stage alone
/// (timed from its start, announced by the pipeline's progress, to the end
/// of the run), never retraining and retraining every day.
fn bench_monitoring() {
    use casebook::engine::drift::{RetrainPolicy, RetrainSchedule};
    use casebook::engine::pipeline::Stage;
    use casebook::engine::pipeline::feed::monitor::MonitorDesign;
    use std::time::{Duration, Instant};
    for schedule in [RetrainSchedule::Never, RetrainSchedule::EveryNDays(1)] {
        let design = FeedDesign {
            world: FeedParams {
                days: 35,
                ..FeedParams::default()
            },
            monitor: MonitorDesign {
                days: 30,
                retrain: RetrainPolicy {
                    schedule,
                    label_delay_days: 0,
                },
                ..MonitorDesign::default()
            },
            ..FeedDesign::default()
        };
        let mut times = Vec::new();
        let mut days = 0;
        let mut retrains = 0;
        for _ in 0..3 {
            let mut started = None;
            let report = FeedPipeline::default()
                .run_with(&design, &mut |stage| {
                    if stage == Stage::Monitoring {
                        started = Some(Instant::now());
                    }
                })
                .expect("valid design");
            times.push(started.map_or(Duration::ZERO, |s| s.elapsed()));
            let monitoring = report.monitoring.expect("a full run monitors");
            days = monitoring.day_count;
            retrains = monitoring.retrains;
        }
        times.sort();
        println!(
            "feed monitoring, {days} days at the default world size, {retrains} retrains: \
             {:.1} ms (median of 3)",
            times[1].as_secs_f64() * 1e3
        );
    }
}

/// The default content design (70k posts, 14 days): end to end from a fresh
/// pipeline (world, labels, features, training, metrics, policy) with the
/// logistic model and with GBDT, then retraining each with the world cached.
fn bench_content() {
    let logistic = ContentDesign::default();
    let gbdt = ContentDesign {
        model: ContentModel::Gbdt(GbdtConfig::default()),
        ..ContentDesign::default()
    };
    for design in [&logistic, &gbdt] {
        let mut posts = 0;
        let mut pr_auc = 0.0;
        let fresh = median_of(5, || {
            let report = ContentPipeline::default()
                .run(design)
                .expect("valid design");
            posts = report.data.posts;
            pr_auc = report.offline.pr_auc;
            black_box(report);
        });
        // An engine that ran the keyword rule holds the world and its
        // features; the design's model is then trained anew.
        let warm = || {
            let mut pipeline = ContentPipeline::default();
            let keyword = ContentDesign {
                model: ContentModel::KeywordRule,
                ..design.clone()
            };
            pipeline.run(&keyword).expect("valid design");
            pipeline
        };
        let retrain = median_on_fresh(5, warm, |pipeline| {
            black_box(pipeline.run(design).expect("valid design"));
        });
        println!(
            "content pipeline, default design, {}, {posts} posts: {:.1} ms end to end, \
             {:.1} ms retrain with the world cached (medians of 5), test PR-AUC {pr_auc:.3}",
            design.model.id(),
            fresh.as_secs_f64() * 1e3,
            retrain.as_secs_f64() * 1e3
        );
    }
}

/// The serving simulation at about one million requests: the default design
/// (CPU, batches of 8, two replicas) under a daily curve with bursts.
fn bench_serving() {
    let config = ServingConfig {
        traffic: Traffic {
            mean_qps: 1_000_000.0 / 86_400.0,
            ..Traffic::default()
        },
        ..ServingConfig::default()
    };
    // A study's production load: 8,000 requests a second, simulated over
    // the busiest stretch that holds the study's request budget, in
    // batches of 32.
    let peak = ServingConfig {
        traffic: casebook::serving_traffic(8_000.0),
        batch_size: 32,
        ..ServingConfig::default()
    };
    let span = format!(
        "the busiest {:.0} s at 8,000 qps",
        peak.traffic.hours * 3600.0
    );
    for (config, over) in [(&config, "a day".to_owned()), (&peak, span)] {
        let mut requests = 0;
        let time = median_of(5, || {
            let report = serving::simulate(config, Seed(1)).expect("valid configuration");
            requests = report.requests;
            black_box(report);
        });
        println!(
            "serving simulation, {requests} requests over {over}: {:.1} ms (median of 5)",
            time.as_secs_f64() * 1e3
        );
    }
}

/// Every drift detector comparing one million values with a one-million
/// reference (reference prepared once, as a day loop would).
fn bench_drift() {
    const N: usize = 1_000_000;
    let mut rng = Seed(6).stream("bench.drift");
    let reference: Vec<f64> = (0..N).map(|_| rng.random::<f64>()).collect();
    let current: Vec<f64> = (0..N).map(|_| 0.01 + rng.random::<f64>()).collect();
    let prepare = median_of(5, || {
        black_box(Reference::new(&reference, 10).expect("valid sample"));
    });
    println!(
        "drift reference, {N} values (sort, decile edges, counts): {:.1} ms (median of 5)",
        prepare.as_secs_f64() * 1e3
    );
    let prepared = Reference::new(&reference, 10).expect("valid sample");
    let thresholds = Thresholds::default();
    for detector in [
        Detector::Psi,
        Detector::Chi2,
        Detector::Js,
        Detector::Ks,
        Detector::Wasserstein,
    ] {
        let time = median_of(5, || {
            black_box(
                prepared
                    .detect(&current, detector, &thresholds)
                    .expect("valid sample"),
            );
        });
        println!(
            "drift {}, {N} vs {N} values: {:.1} ms (median of 5)",
            detector.id(),
            time.as_secs_f64() * 1e3
        );
    }
    let (a, b) = (&reference[..10_000], &current[..10_000]);
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let time = median_of(5, || {
        black_box(drift::ks_2samp(&a, &b));
    });
    println!(
        "ks exact p-value at its largest, 10000 vs 10000 values: {:.1} ms (median of 5)",
        time.as_secs_f64() * 1e3
    );
}

/// Retraining at the default world size, per model: what a learner waits for
/// after changing a knob that retrains (world and features cached, as in the app).
fn bench_models() {
    let base = FeedDesign::default();
    let models = [
        FeedModel::Popularity,
        FeedModel::Logistic(LogisticConfig::default()),
        FeedModel::Gbdt(GbdtConfig::default()),
        FeedModel::Mlp(MlpConfig::default()),
    ];
    for model in models {
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
        let warm = || {
            let mut pipeline = FeedPipeline::default();
            pipeline.run(&other).expect("valid design");
            pipeline
        };
        let mut auc = 0.0;
        let time = median_on_fresh(3, warm, |pipeline| {
            let report = pipeline.run(&design).expect("valid design");
            auc = report.offline.auc;
            black_box(report);
        });
        println!(
            "retrain at the default world size, {}: {:.1} ms (median of 3), test AUC {auc:.4}",
            model.id(),
            time.as_secs_f64() * 1e3
        );
    }
}

/// The default feed design on a world of about 1M impressions, end to end:
/// world, features, split, training, offline metrics. Run it alone
/// (`-- pipeline`) for the peak-memory figure to mean this pipeline only.
fn bench_pipeline() {
    let design = FeedDesign {
        world: FeedParams {
            users: 20_000,
            days: 10,
            ..FeedParams::default()
        },
        ..FeedDesign::default()
    };
    let mut rows = 0;
    let time = median_of(3, || {
        // A fresh pipeline each time: nothing is reused between runs.
        let report = FeedPipeline::default().run(&design).expect("valid design");
        rows = report.data.impressions;
        black_box(report);
    });
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!(
        "feed pipeline, default design, {rows} impressions: {:.1} ms (median of 3); \
         peak memory of the process {peak}",
        time.as_secs_f64() * 1e3
    );
}

/// Every classification metric on one million scores: `binary_report` (one
/// sort: ROC-AUC, average precision, log loss, normalized entropy, calibration
/// ratio, ECE and reliability bins, confusion matrix, precision, recall, F1)
/// plus recall at precision 0.8 and both curves thinned for charts.
fn bench_metrics() {
    const N: usize = 1_000_000;
    let mut rng = Seed(5).stream("bench.metrics");
    let labels: Vec<u8> = (0..N)
        .map(|_| u8::from(rng.random::<f64>() < 0.1))
        .collect();
    let scores: Vec<f64> = labels
        .iter()
        .map(|&l| (0.6 * rng.random::<f64>() + 0.3 * f64::from(l)).min(1.0))
        .collect();
    let metrics_only = median_of(5, || {
        let report = metrics::binary_report(&labels, &scores, 0.5, 10).expect("valid scores");
        let op = report.sweep.recall_at_precision(0.8).expect("valid target");
        black_box((report, op));
    });
    let with_curves = median_of(5, || {
        let report = metrics::binary_report(&labels, &scores, 0.5, 10).expect("valid scores");
        let roc = report.sweep.roc_curve(true).expect("two classes");
        let pr = report
            .sweep
            .precision_recall_curve(true)
            .expect("positives");
        black_box((report, roc, pr));
    });
    println!(
        "all classification metrics, {N} scores: {:.1} ms; with thinned ROC and PR curves: \
         {:.1} ms (median of 5)",
        metrics_only.as_secs_f64() * 1e3,
        with_curves.as_secs_f64() * 1e3
    );
}

/// The feed world at about one million impressions.
fn bench_world() {
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
    for _ in 0..ROWS {
        let x: Vec<f32> = (0..DIM).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
        let z = truth
            .iter()
            .zip(&x)
            .fold(-1.0, |z, (w, &v)| z + w * f64::from(v));
        data.push_row(&x, &[], rng.random::<f64>() < sigmoid(z));
    }
    let valid = data.select(&(0..10_000).collect::<Vec<_>>());
    // All 8 default epochs, early stopping off, so the figure does not
    // depend on when this data happens to stop improving.
    let config = LogisticConfig {
        patience: usize::MAX,
        ..LogisticConfig::default()
    };
    let mut epochs = 0;
    let time = median_of(3, || {
        let (model, curve) =
            logistic::train(&data, &valid, &config, &mut Seed(3).stream("bench.train"));
        epochs = curve.train_loss.len();
        black_box(model);
    });
    println!(
        "logistic regression, {ROWS} rows x {DIM} columns, {epochs} epochs (default settings, no early stop): \
         {:.1} ms (median of 3)",
        time.as_secs_f64() * 1e3
    );
}

/// 100 trees of depth 6 on 200k rows x 20 columns with interactions.
fn bench_gbdt() {
    const ROWS: usize = 200_000;
    const DIM: usize = 20;
    let mut rng = Seed(4).stream("bench.gbdt");
    let mut data = Dataset {
        dense_names: (0..DIM).map(|k| format!("x{k}")).collect(),
        ..Dataset::default()
    };
    for _ in 0..ROWS {
        let x: Vec<f32> = (0..DIM).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
        let (a, b, c, d) = (f64::from(x[0]), f64::from(x[1]), f64::from(x[2]), x[3]);
        let z = 2.0 * a * b - c + if d > 0.3 { 1.0 } else { -0.5 };
        data.push_row(&x, &[], rng.random::<f64>() < sigmoid(z));
    }
    let valid = data.select(&(0..10_000).collect::<Vec<_>>());
    // Patience above the tree count: all 100 trees are grown.
    let config = GbdtConfig {
        patience: 1_000,
        ..GbdtConfig::default()
    };
    let mut trees = 0;
    let time = median_of(3, || {
        let (model, _) = gbdt::train(&data, &valid, &config);
        trees = model.trees.len();
        black_box(model);
    });
    println!(
        "gbdt, {ROWS} rows x {DIM} columns, {trees} trees of depth {}: {:.1} ms (median of 3)",
        config.max_depth,
        time.as_secs_f64() * 1e3
    );
}
