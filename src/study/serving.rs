//! The prediction-service step, shared by every world: how a design's
//! knobs become a serving simulation of the trained model, and the report
//! keys it adds. The model's cost per request comes from the trained model
//! itself (its parameters and FLOPs per item, times the items a request
//! scores), so a bigger model really is slower and dearer to serve.

use serde::Serialize;

use crate::compute::Precision;
use crate::engine::pipeline::ModelSummary;
use crate::engine::serving::{
    self, Autoscale, Fallback, Hardware, HistogramBin, HourStats, ModelCost, Precompute,
    ServingConfig, ServingError, ServingMode, Traffic,
};

use super::knobs::{Design, KnobDef, choice, number, toggle};
use super::{Better, Metric};

/// The serving knobs every world understands, with their outer bounds.
pub(crate) const KNOBS: &[KnobDef] = &[
    choice("serving", &["online", "batch"]),
    choice("quantization", &["fp32", "f16", "int8"]),
    number("batch_size", 1.0, 512.0, true),
    number("max_wait_ms", 0.0, 200.0, false),
    number("replicas", 1.0, 64.0, true),
    toggle("autoscale"),
    choice("hardware", &["cpu", "gpu", "phone"]),
    number("qps", 0.5, 50_000.0, false),
    number("slo_ms", 5.0, 2000.0, false),
];

/// The precision the `quantization` knob asks the trained model to be
/// stored and served at (fp32 where a study does not offer it).
pub(crate) fn precision(design: &Design) -> Precision {
    Precision::from_id(design.choice("quantization", "fp32")).unwrap_or_default()
}

/// The serving report keys, with labels and which way is better.
pub(crate) const METRICS: &[Metric] = &[
    Metric::new("serving.requests", "Requests simulated", Better::Neither),
    Metric::new("serving.hours", "Hours simulated", Better::Neither),
    Metric::new(
        "serving.requests_per_day",
        "Requests per day",
        Better::Neither,
    ),
    Metric::new("serving.interval_s", "Chart interval (s)", Better::Neither),
    Metric::new("serving.p50_ms", "Latency p50 (ms)", Better::Lower),
    Metric::new("serving.p95_ms", "Latency p95 (ms)", Better::Lower),
    Metric::new("serving.p99_ms", "Latency p99 (ms)", Better::Lower),
    Metric::new("serving.mean_ms", "Mean latency (ms)", Better::Lower),
    Metric::new("serving.slo_ms", "Latency objective (ms)", Better::Neither),
    Metric::new("serving.slo_violation_rate", "Over the SLO", Better::Lower),
    Metric::new(
        "serving.throughput_qps",
        "Throughput (QPS)",
        Better::Neither,
    ),
    Metric::new("serving.utilization", "Utilization", Better::Neither),
    Metric::new("serving.mean_batch_size", "Mean batch", Better::Neither),
    Metric::new("serving.mean_replicas", "Replicas (mean)", Better::Neither),
    Metric::new("serving.max_replicas", "Replicas (most)", Better::Neither),
    Metric::new(
        "serving.cost_per_million",
        "Cost per 1M requests ($)",
        Better::Lower,
    ),
    Metric::new(
        "serving.request_ms_at_1",
        "Service time, batch of 1 (ms)",
        Better::Lower,
    ),
    Metric::new(
        "serving.flops_per_request",
        "FLOPs per request",
        Better::Lower,
    ),
    Metric::new("serving.hit_rate", "Precomputed hit rate", Better::Higher),
    Metric::new(
        "serving.mean_staleness_hours",
        "Staleness (h)",
        Better::Lower,
    ),
];

/// Hours of traffic a design simulates when they fit the budget: one day,
/// for the daily curve.
const HOURS: f64 = 24.0;

/// Most requests one design's serving simulation draws. A day of traffic
/// is simulated while it holds no more (up to about five requests a
/// second); heavier traffic is simulated over the busiest stretch of the
/// day that does, centred on the evening peak, so production loads of
/// thousands of requests a second, where batching and replicas matter,
/// still simulate every request and a traffic knob still redraws at once
/// (half a million requests: the serving benchmark in BENCHMARKS.md).
pub const REQUEST_BUDGET: f64 = 500_000.0;

/// The offered load of `mean_qps` requests a second on average over the
/// day: the whole day, or its busiest stretch (see [`REQUEST_BUDGET`]).
pub fn traffic(mean_qps: f64) -> Traffic {
    let day = Traffic {
        mean_qps,
        hours: HOURS,
        ..Traffic::default()
    };
    if day.expected_requests() <= REQUEST_BUDGET {
        return day;
    }
    // The busiest stretch runs near the peak rate.
    let peak_qps = mean_qps * (1.0 + day.daily_amplitude);
    day.busiest(REQUEST_BUDGET / (peak_qps * 3600.0))
}

/// What serving the trained model measured. Every field is a number, so
/// every key is stable; the lists feed the charts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServingSummary {
    pub requests: u64,
    /// Hours of traffic simulated: 24, or the busiest stretch of the day
    /// (see [`REQUEST_BUDGET`]).
    pub hours: f64,
    /// Requests in a whole day (what the cost chart's day pays for): those
    /// simulated when the simulation covers the day, else the expected
    /// count at this traffic, bursts included.
    pub requests_per_day: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub slo_ms: f64,
    pub slo_violation_rate: f64,
    pub throughput_qps: f64,
    pub utilization: f64,
    pub mean_batch_size: f64,
    pub mean_replicas: f64,
    pub max_replicas: u32,
    pub cost_per_million: f64,
    /// Service time of one request alone (the model's cost on the hardware).
    pub request_ms_at_1: f64,
    pub flops_per_request: f64,
    /// Batch serving: share of requests answered from precomputed
    /// predictions (1 online: every request is computed fresh).
    pub hit_rate: f64,
    /// Batch serving: mean age of a served prediction (0 online).
    pub mean_staleness_hours: f64,
    /// The latency distribution, for the histogram chart.
    pub histogram: Vec<HistogramBin>,
    /// Seconds each entry of `hourly` covers: an hour, or a 24th of a
    /// shorter span.
    pub interval_s: f64,
    /// Interval by interval, for the QPS and latency curves.
    pub hourly: Vec<HourStats>,
}

/// The serving configuration of `design` for `model`, whose requests each
/// score `items_per_request` items; batch serving precomputes
/// `population` requests' predictions per job.
pub(crate) fn config(
    design: &Design,
    model: &ModelSummary,
    items_per_request: f64,
    population: u64,
) -> ServingConfig {
    let d = ServingConfig::default();
    let mode = ServingMode::from_id(design.choice("serving", "online")).unwrap_or(d.mode);
    let hardware = Hardware::from_id(design.choice("hardware", "cpu")).unwrap_or(d.hardware);
    let replicas = design.number("replicas", 2.0) as u32;
    let params = (model.params as u64).max(1);
    ServingConfig {
        mode,
        batch_size: design.number("batch_size", d.batch_size as f64) as usize,
        max_wait_ms: design.number("max_wait_ms", d.max_wait_ms),
        replicas,
        autoscale: design.toggle("autoscale", false).then(|| Autoscale {
            min_replicas: 1,
            max_replicas: 64,
            ..Autoscale::default()
        }),
        hardware,
        model: ModelCost::new(
            params,
            model.flops_per_item * items_per_request,
            model.precision,
        ),
        traffic: traffic(design.number("qps", 5.0)),
        slo_ms: design.number("slo_ms", d.slo_ms),
        precompute: Precompute {
            population,
            fallback: Fallback::Online,
            ..Precompute::default()
        },
        ..d
    }
}

/// Simulates `config` and keeps what the report shows.
///
/// # Errors
/// The [`ServingError`] naming the knob that cannot be simulated (a model
/// too large for a phone, a batch job slower than its refresh).
pub(crate) fn simulate(config: &ServingConfig, seed: u64) -> Result<ServingSummary, ServingError> {
    let r = serving::simulate(config, crate::engine::rng::Seed(seed))?;
    let (hit_rate, staleness) = r
        .precompute
        .map_or((1.0, 0.0), |p| (p.hit_rate, p.mean_staleness_hours));
    let day = Traffic {
        hours: HOURS,
        start_hour: 0.0,
        ..config.traffic
    };
    Ok(ServingSummary {
        requests: r.requests,
        hours: config.traffic.hours,
        requests_per_day: if config.traffic.hours >= HOURS {
            r.requests as f64 * HOURS / config.traffic.hours
        } else {
            day.expected_requests()
        },
        p50_ms: r.latency.p50_ms,
        p95_ms: r.latency.p95_ms,
        p99_ms: r.latency.p99_ms,
        mean_ms: r.latency.mean_ms,
        slo_ms: r.slo_ms,
        slo_violation_rate: r.slo_violation_rate,
        throughput_qps: r.throughput_qps,
        utilization: r.utilization,
        mean_batch_size: r.mean_batch_size,
        mean_replicas: r.mean_replicas,
        max_replicas: r.max_replicas,
        cost_per_million: r.cost_per_million,
        request_ms_at_1: r.batch_ms_at_1,
        flops_per_request: config.model.flops_per_item,
        hit_rate,
        mean_staleness_hours: staleness,
        histogram: r.histogram,
        interval_s: r.interval_s,
        hourly: r.hourly,
    })
}
