//! Serving: a discrete-event simulation of prediction requests hitting a
//! model, for step 7 of every case study.
//!
//! Requests arrive as a Poisson process following a daily QPS curve with
//! bursts ([`Traffic`]). Online serving puts them in one shared queue in
//! front of `replicas` identical servers; a free server takes up to
//! `batch_size` requests at once, waiting at most `max_wait_ms` for the
//! oldest one to fill a batch (dynamic batching). A batch's service time comes
//! from the model's parameters, FLOPs and bytes at its precision on a
//! [`Hardware`] profile (a roofline, see [`hardware`]), or is exponential for
//! checking against queueing theory ([`queueing`]). Replicas can autoscale on
//! utilization, with a start-up delay. Batch serving answers from predictions
//! precomputed every `refresh_hours` (stale by up to a refresh plus the job's
//! duration); a request the batch did not cover falls back to the online
//! model or to a default prediction. On a phone every request runs alone on
//! its user's device: no queue, no network, no bill.
//!
//! The event queue is a binary heap of server completions, batch timeouts,
//! server start-ups and autoscaling ticks; arrivals are drawn in order and
//! merged with it, so the heap stays as small as the fleet. One million
//! requests take well under a second natively (`cargo bench --bench engine
//! -- serving`).
//!
//! Not here: approximate nearest-neighbour retrieval (its recall and latency
//! need the embeddings a retrieval model produces; it belongs beside the
//! two-tower model), and the quality cost of stale predictions, which the
//! pipelines measure on the world.

mod des;
pub mod hardware;
pub mod histogram;
pub mod queueing;
pub mod traffic;

use serde::Serialize;
use thiserror::Error;

pub use hardware::{Hardware, HardwareProfile, ModelCost, Precision};
pub use histogram::{HistogramBin, LatencyHistogram};
pub use traffic::Traffic;

use crate::engine::rng::Seed;

/// The most requests one simulation may draw (about 2 s in a browser).
pub const MAX_REQUESTS: f64 = 10e6;

/// Milliseconds to read a precomputed prediction from a key-value store.
pub const CACHE_LOOKUP_MS: f64 = 1.0;

/// A serving configuration that cannot be simulated. Each names the parameter.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ServingError {
    /// A parameter lies outside its range.
    #[error("serving parameter `{name}` is {value}, but must be between {min} and {max}")]
    OutOfRange {
        /// The parameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// The traffic would draw more requests than a browser can simulate.
    #[error(
        "the traffic would draw about {expected:.0} requests, more than the {max:.0} a \
         browser can simulate in reasonable time; lower traffic.mean_qps or traffic.hours"
    )]
    TooManyRequests {
        /// Expected number of requests.
        expected: f64,
        /// The cap, [`MAX_REQUESTS`].
        max: f64,
    },
    /// The model's weights do not fit the hardware's memory.
    #[error(
        "the model needs {bytes} bytes of weights but `hardware` {hardware} holds {capacity:.0}; \
         quantize it or pick larger hardware"
    )]
    ModelTooLarge {
        /// The hardware's id.
        hardware: &'static str,
        /// The model's bytes at its precision.
        bytes: u64,
        /// The memory available.
        capacity: f64,
    },
    /// The batch job cannot finish before the next one starts.
    #[error(
        "the batch job takes {job_hours:.2} h but `precompute.refresh_hours` is \
         {refresh_hours} h; refresh less often, precompute fewer users or add replicas"
    )]
    BatchJobTooSlow {
        /// The job's duration.
        job_hours: f64,
        /// The refresh interval.
        refresh_hours: f64,
    },
    /// Two choices that do not go together.
    #[error("`{name}` {value} does not work with {other}")]
    Unsupported {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: &'static str,
        /// What it conflicts with.
        other: &'static str,
    },
}

/// Checks that `value` lies in `[min, max]`, naming the parameter if not.
pub(crate) fn check_range(
    name: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<(), ServingError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ServingError::OutOfRange {
            name,
            value,
            min,
            max,
        })
    }
}

/// How predictions reach the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ServingMode {
    /// The model runs for each request.
    Online,
    /// Predictions are precomputed in a batch job and looked up.
    Batch,
}

impl ServingMode {
    /// Every mode, in the order the UI lists them.
    pub const ALL: [ServingMode; 2] = [ServingMode::Online, ServingMode::Batch];

    /// The stable name used in reports and URLs (`serving`).
    pub fn id(self) -> &'static str {
        match self {
            ServingMode::Online => "online",
            ServingMode::Batch => "batch",
        }
    }

    /// The mode called `id`, if any.
    pub fn from_id(id: &str) -> Option<ServingMode> {
        ServingMode::ALL.into_iter().find(|m| m.id() == id)
    }
}

/// What batch serving answers when a request is not in the precomputed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Fallback {
    /// Run the model online for the miss (needs a serving fleet).
    Online,
    /// Serve a default prediction (popularity, a prior): fast, but worse.
    Default,
}

impl Fallback {
    /// The stable name used in reports and URLs.
    pub fn id(self) -> &'static str {
        match self {
            Fallback::Online => "online",
            Fallback::Default => "default",
        }
    }

    /// The fallback called `id`, if any.
    pub fn from_id(id: &str) -> Option<Fallback> {
        [Fallback::Online, Fallback::Default]
            .into_iter()
            .find(|f| f.id() == id)
    }
}

/// The batch job of batch serving.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Precompute {
    /// Hours between two batch jobs.
    pub refresh_hours: f64,
    /// Fraction of requests whose prediction the job computed (the rest are
    /// new users or items, or ones the job skipped).
    pub coverage: f64,
    /// Predictions the job computes per run.
    pub population: u64,
    /// What a miss gets.
    pub fallback: Fallback,
}

impl Default for Precompute {
    fn default() -> Self {
        Precompute {
            refresh_hours: 24.0,
            coverage: 0.9,
            population: 1_000_000,
            fallback: Fallback::Online,
        }
    }
}

/// Batch size the batch job runs at.
pub const PRECOMPUTE_BATCH: usize = 256;

/// Utilization-driven autoscaling, as a Kubernetes horizontal autoscaler does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Autoscale {
    /// Fewest replicas kept.
    pub min_replicas: u32,
    /// Most replicas allowed.
    pub max_replicas: u32,
    /// Utilization the scaler aims at: every interval it asks for
    /// `ceil(busy replicas / target_utilization)` replicas, where busy
    /// replicas are the window's busy replica-seconds plus the queued work,
    /// over the window.
    pub target_utilization: f64,
    /// Seconds between two decisions.
    pub interval_s: f64,
    /// Seconds a new replica takes before serving (it is billed meanwhile).
    pub startup_s: f64,
    /// Seconds a lower wish must persist before replicas are removed (the
    /// scaler removes down to the largest wish of this span), so a dip
    /// between bursts does not shed replicas the next burst needs.
    pub scale_down_delay_s: f64,
}

impl Default for Autoscale {
    fn default() -> Self {
        Autoscale {
            min_replicas: 1,
            max_replicas: 64,
            target_utilization: 0.6,
            interval_s: 60.0,
            startup_s: 120.0,
            scale_down_delay_s: 300.0,
        }
    }
}

/// How long a batch takes to serve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum ServiceModel {
    /// The roofline of [`HardwareProfile::batch_ms`]: fixed for a batch size.
    Roofline,
    /// Exponential with this mean (milliseconds) whatever the batch size, and
    /// no network time: the M/M/c queue of textbooks.
    Exponential {
        /// Mean service time, milliseconds.
        mean_ms: f64,
    },
}

/// Every choice of the serving step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServingConfig {
    /// Online or batch-precomputed predictions (`serving`).
    pub mode: ServingMode,
    /// Most requests per batch (`batch_size`).
    pub batch_size: usize,
    /// Longest a request waits for its batch to fill, ms (`max_wait_ms`).
    pub max_wait_ms: f64,
    /// Replicas at the start; the fixed count without autoscaling (`replicas`).
    pub replicas: u32,
    /// Autoscaling, if any (the starting count is clamped into its range).
    pub autoscale: Option<Autoscale>,
    /// Where the model runs (`hardware`).
    pub hardware: Hardware,
    /// What one prediction costs.
    pub model: ModelCost,
    /// How service times are drawn.
    pub service: ServiceModel,
    /// The offered load.
    pub traffic: Traffic,
    /// The latency objective, ms.
    pub slo_ms: f64,
    /// The batch job, used in batch mode.
    pub precompute: Precompute,
}

impl Default for ServingConfig {
    fn default() -> Self {
        ServingConfig {
            mode: ServingMode::Online,
            batch_size: 8,
            max_wait_ms: 5.0,
            replicas: 2,
            autoscale: None,
            hardware: Hardware::Cpu,
            model: ModelCost::dense(10_000_000, Precision::Fp32),
            service: ServiceModel::Roofline,
            traffic: Traffic::default(),
            slo_ms: 50.0,
            precompute: Precompute::default(),
        }
    }
}

impl ServingConfig {
    /// Checks every parameter, naming the first that cannot be simulated.
    ///
    /// # Errors
    ///
    /// A [`ServingError`] naming the parameter: out of range, a model too
    /// large for the hardware, a batch job slower than its refresh, batch
    /// serving on a phone, or more requests than [`MAX_REQUESTS`].
    pub fn validate(&self) -> Result<(), ServingError> {
        check_range("batch_size", self.batch_size as f64, 1.0, 4096.0)?;
        check_range("max_wait_ms", self.max_wait_ms, 0.0, 60_000.0)?;
        check_range("replicas", f64::from(self.replicas), 1.0, 10_000.0)?;
        check_range("slo_ms", self.slo_ms, 1e-3, 1e7)?;
        self.model.validate()?;
        self.traffic.validate()?;
        if let ServiceModel::Exponential { mean_ms } = self.service {
            check_range("service.mean_ms", mean_ms, 1e-6, 1e6)?;
        }
        if let Some(a) = &self.autoscale {
            check_range(
                "autoscale.min_replicas",
                f64::from(a.min_replicas),
                1.0,
                10_000.0,
            )?;
            check_range(
                "autoscale.max_replicas",
                f64::from(a.max_replicas),
                f64::from(a.min_replicas),
                10_000.0,
            )?;
            check_range(
                "autoscale.target_utilization",
                a.target_utilization,
                0.05,
                0.99,
            )?;
            check_range("autoscale.interval_s", a.interval_s, 1.0, 86_400.0)?;
            check_range("autoscale.startup_s", a.startup_s, 0.0, 86_400.0)?;
            check_range(
                "autoscale.scale_down_delay_s",
                a.scale_down_delay_s,
                0.0,
                86_400.0,
            )?;
        }
        let profile = self.hardware.profile();
        if self.model.bytes as f64 > profile.memory_bytes {
            return Err(ServingError::ModelTooLarge {
                hardware: self.hardware.id(),
                bytes: self.model.bytes,
                capacity: profile.memory_bytes,
            });
        }
        if self.mode == ServingMode::Batch {
            if self.hardware == Hardware::Phone {
                return Err(ServingError::Unsupported {
                    name: "hardware",
                    value: "phone",
                    other: "batch serving, whose job runs on servers",
                });
            }
            let p = &self.precompute;
            check_range(
                "precompute.refresh_hours",
                p.refresh_hours,
                0.1,
                24.0 * 28.0,
            )?;
            check_range("precompute.coverage", p.coverage, 0.0, 1.0)?;
            check_range("precompute.population", p.population as f64, 1.0, 1e11)?;
            let job_hours = self.job_hours() / f64::from(self.replicas);
            if job_hours >= p.refresh_hours {
                return Err(ServingError::BatchJobTooSlow {
                    job_hours,
                    refresh_hours: p.refresh_hours,
                });
            }
        }
        let expected = self.traffic.expected_requests();
        if expected > MAX_REQUESTS {
            return Err(ServingError::TooManyRequests {
                expected,
                max: MAX_REQUESTS,
            });
        }
        Ok(())
    }

    /// Machine-hours one batch job takes, at [`PRECOMPUTE_BATCH`] per batch.
    pub fn job_hours(&self) -> f64 {
        let batches = self.precompute.population.div_ceil(PRECOMPUTE_BATCH as u64);
        let batch_ms = self
            .hardware
            .profile()
            .batch_ms(&self.model, PRECOMPUTE_BATCH);
        batches as f64 * batch_ms / 3.6e6
    }
}

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Exact mean.
    pub mean_ms: f64,
    /// Median (within the histogram's 0.4%).
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest latency.
    pub max_ms: f64,
}

/// One interval of the simulation: an hour, or a 24th of a span shorter
/// than a day ([`ServingReport::interval_s`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HourStats {
    /// Intervals since the start.
    pub hour: u32,
    /// Requests that arrived in the interval, per second.
    pub qps: f64,
    /// Mean latency of those requests, ms.
    pub mean_ms: f64,
    /// Their 99th percentile (within 3%), ms.
    pub p99_ms: f64,
    /// Their share over the SLO.
    pub slo_violation_rate: f64,
    /// Time-averaged replicas billed during the hour.
    pub replicas: f64,
    /// Busy share of the ready replicas' time.
    pub utilization: f64,
}

/// What batch serving did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PrecomputeStats {
    /// Share of requests answered from the precomputed set.
    pub hit_rate: f64,
    /// Share answered by the fallback.
    pub fallback_rate: f64,
    /// Mean age of a served precomputed prediction, hours.
    pub mean_staleness_hours: f64,
    /// Oldest served precomputed prediction, hours.
    pub max_staleness_hours: f64,
    /// Wall-clock hours of one batch job on the replicas.
    pub job_hours: f64,
    /// Batch jobs run during the simulation.
    pub jobs: u32,
}

/// What the simulation measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServingReport {
    /// Requests simulated.
    pub requests: u64,
    /// End-to-end latency (queue, batch wait, service and network).
    pub latency: LatencySummary,
    /// Mean time waiting in the queue and for the batch, over requests the
    /// model served, ms.
    pub mean_queue_ms: f64,
    /// Mean service time over requests the model served, ms.
    pub mean_service_ms: f64,
    /// About 40 log-spaced bars of the latency distribution.
    pub histogram: Vec<HistogramBin>,
    /// The latency objective, ms.
    pub slo_ms: f64,
    /// Share of requests slower than the SLO.
    pub slo_violation_rate: f64,
    /// Requests served per second, over the simulated span.
    pub throughput_qps: f64,
    /// Busy share of the ready replicas' time (0 on a phone).
    pub utilization: f64,
    /// Mean requests per batch.
    pub mean_batch_size: f64,
    /// Time-averaged replicas billed (0 on a phone).
    pub mean_replicas: f64,
    /// Most replicas billed at once.
    pub max_replicas: u32,
    /// Dollars for serving replicas plus batch jobs over the simulation.
    pub cost_total: f64,
    /// Dollars per million requests.
    pub cost_per_million: f64,
    /// Service time of a batch of one, ms.
    pub batch_ms_at_1: f64,
    /// Service time of a full batch, ms.
    pub batch_ms_at_full: f64,
    /// Requests per second one replica serves with full batches back to back.
    pub replica_capacity_qps: f64,
    /// Seconds each entry of `hourly` covers: an hour, or a 24th of a span
    /// shorter than a day.
    pub interval_s: f64,
    /// Interval by interval, for the QPS curve and its latency.
    pub hourly: Vec<HourStats>,
    /// Batch serving's cache and staleness (batch mode only).
    pub precompute: Option<PrecomputeStats>,
}

/// Simulates `config` with the randomness of `seed` (streams
/// `serving.arrivals`, `serving.service` and `serving.cache`).
///
/// # Errors
///
/// The [`ServingError`] of [`ServingConfig::validate`]; nothing is simulated.
pub fn simulate(config: &ServingConfig, seed: Seed) -> Result<ServingReport, ServingError> {
    config.validate()?;
    Ok(des::run(config, seed))
}

#[cfg(test)]
mod tests {
    use super::traffic::HOUR_S;
    use super::*;

    fn queue_only(qps: f64, mean_ms: f64, replicas: u32, hours: f64) -> ServingConfig {
        ServingConfig {
            batch_size: 1,
            max_wait_ms: 0.0,
            replicas,
            service: ServiceModel::Exponential { mean_ms },
            traffic: Traffic::constant(qps, hours),
            ..ServingConfig::default()
        }
    }

    /// Simulated mean queueing time over the closed form, minus one.
    fn relative_error(config: &ServingConfig, seed: u64) -> (f64, u64) {
        let ServiceModel::Exponential { mean_ms } = config.service else {
            unreachable!("the helper builds exponential service");
        };
        let report = simulate(config, Seed(seed)).expect("valid configuration");
        let lambda = config.traffic.mean_qps;
        let theory_s = queueing::mmc_mean_wait(lambda, 1e3 / mean_ms, config.replicas)
            .expect("a stable queue");
        (
            report.mean_queue_ms / (theory_s * 1e3) - 1.0,
            report.requests,
        )
    }

    /// M/M/1 at ρ = 0.6 (60 qps, 10 ms): Wq = ρ/(μ - λ) = 15 ms. About 1.7M
    /// requests; the simulated mean must be within 2% at two seeds.
    #[test]
    fn mm1_matches_the_closed_form_mean_wait() {
        let config = queue_only(60.0, 10.0, 1, 8.0);
        for seed in [1, 2] {
            let (err, n) = relative_error(&config, seed);
            assert!(n > 1_600_000, "{n}");
            assert!(err.abs() < 0.02, "seed {seed}: relative error {err}");
        }
    }

    /// M/M/4 at ρ = 0.75 (300 qps, 10 ms each): Erlang C gives C = 0.509,
    /// Wq = C/(cμ - λ) = 5.09 ms. About 1.7M requests, two seeds, within 2%.
    #[test]
    fn mmc_matches_erlang_c() {
        let config = queue_only(300.0, 10.0, 4, 1.6);
        for seed in [1, 2] {
            let (err, n) = relative_error(&config, seed);
            assert!(n > 1_600_000, "{n}");
            assert!(err.abs() < 0.02, "seed {seed}: relative error {err}");
        }
    }

    #[test]
    fn same_seed_same_report_other_seed_other_report() {
        let config = ServingConfig {
            traffic: Traffic {
                hours: 2.0,
                ..Traffic::default()
            },
            ..ServingConfig::default()
        };
        let a = simulate(&config, Seed(5)).expect("valid");
        let b = simulate(&config, Seed(5)).expect("valid");
        let c = simulate(&config, Seed(6)).expect("valid");
        assert_eq!(a, b);
        assert_ne!(a.latency.mean_ms.to_bits(), c.latency.mean_ms.to_bits());
    }

    /// A GPU at batch 1 cannot keep up with 1,500 qps (1.57 ms a request,
    /// 637 qps); batches of 32 can, and every batch fills before its wait.
    #[test]
    fn dynamic_batching_buys_throughput_on_a_gpu() {
        let base = ServingConfig {
            hardware: Hardware::Gpu,
            replicas: 1,
            traffic: Traffic::constant(1500.0, 0.05),
            slo_ms: 100.0,
            ..ServingConfig::default()
        };
        let one = simulate(
            &ServingConfig {
                batch_size: 1,
                ..base.clone()
            },
            Seed(1),
        )
        .expect("valid");
        let many = simulate(
            &ServingConfig {
                batch_size: 32,
                max_wait_ms: 5.0,
                ..base
            },
            Seed(1),
        )
        .expect("valid");
        assert!(one.replica_capacity_qps < 700.0);
        assert!(one.utilization > 0.99, "{}", one.utilization);
        assert!(one.slo_violation_rate > 0.5, "{}", one.slo_violation_rate);
        assert!(many.latency.p99_ms < 15.0, "{:?}", many.latency);
        assert!(many.mean_batch_size > 2.0, "{}", many.mean_batch_size);
        assert!(many.slo_violation_rate < 1e-3);
    }

    /// The max-wait timer releases a partial batch: at 10 qps on a batch of
    /// 64 nothing fills, so requests wait about `max_wait_ms` each.
    #[test]
    fn a_partial_batch_leaves_at_its_max_wait() {
        let config = ServingConfig {
            batch_size: 64,
            max_wait_ms: 20.0,
            traffic: Traffic::constant(10.0, 1.0),
            ..ServingConfig::default()
        };
        let report = simulate(&config, Seed(3)).expect("valid");
        // Later arrivals ride with the oldest, so the mean wait is a little
        // under 20 ms (about 20 - 0.2 * 10 / 2 = 19 ms).
        assert!(
            (17.0..=20.0).contains(&report.mean_queue_ms),
            "{}",
            report.mean_queue_ms
        );
        assert!(report.mean_batch_size > 1.1 && report.mean_batch_size < 1.5);
    }

    /// Autoscaling follows the daily curve: more replicas at the peak than
    /// in the trough, and a lower bill than a fleet sized for the peak.
    #[test]
    fn autoscaling_follows_the_daily_curve() {
        // 10 qps on average, 18 at the peak, 2 in the trough; a replica
        // serves 2.5 qps (400 ms a request).
        let traffic = Traffic {
            mean_qps: 10.0,
            daily_amplitude: 0.8,
            peak_hour: 12.0,
            bursts_per_day: 0.0,
            ..Traffic::default()
        };
        let scaled = ServingConfig {
            batch_size: 1,
            replicas: 4,
            service: ServiceModel::Exponential { mean_ms: 400.0 },
            autoscale: Some(Autoscale::default()),
            traffic,
            ..ServingConfig::default()
        };
        let report = simulate(&scaled, Seed(2)).expect("valid");
        let peak = report.hourly[11].replicas;
        let trough = report.hourly[23].replicas;
        assert!(peak > 2.0 * trough, "peak {peak}, trough {trough}");
        let fixed = ServingConfig {
            autoscale: None,
            replicas: report.max_replicas,
            ..scaled
        };
        let fixed_report = simulate(&fixed, Seed(2)).expect("valid");
        assert!(report.cost_total < 0.8 * fixed_report.cost_total);
        assert!(report.utilization > fixed_report.utilization);
    }

    /// Batch serving: the hit rate is the coverage, predictions are on
    /// average half a refresh plus the job's duration old, and with a default
    /// fallback no serving fleet is billed.
    #[test]
    fn batch_serving_hits_staleness_and_cost() {
        let config = ServingConfig {
            mode: ServingMode::Batch,
            precompute: Precompute {
                refresh_hours: 6.0,
                coverage: 0.8,
                population: 2_000_000,
                fallback: Fallback::Default,
            },
            traffic: Traffic::constant(20.0, 24.0),
            ..ServingConfig::default()
        };
        let report = simulate(&config, Seed(4)).expect("valid");
        let stats = report.precompute.expect("batch stats");
        assert!((stats.hit_rate - 0.8).abs() < 0.005, "{}", stats.hit_rate);
        assert!((stats.fallback_rate - 0.2).abs() < 0.005);
        let expected = 3.0 + stats.job_hours;
        assert!(
            (stats.mean_staleness_hours - expected).abs() < 0.05,
            "{} vs {expected}",
            stats.mean_staleness_hours
        );
        assert!(stats.max_staleness_hours <= 6.0 + stats.job_hours + 1e-9);
        assert_eq!(stats.jobs, 4);
        assert!(report.mean_replicas.abs() < 1e-12);
        let job_cost = 4.0 * config.job_hours() * Hardware::Cpu.profile().cost_per_hour;
        assert!((report.cost_total - job_cost).abs() < 1e-9);
        // Every request is a lookup: network plus the key-value read.
        assert!((report.latency.max_ms - 3.0).abs() < 1e-9);
    }

    /// The busiest quarter hour of a day: 24 intervals of 37.5 s at the
    /// peak rate, batch predictions as old as the time since the midnight
    /// job, and that job charged by the quarter hour.
    #[test]
    fn the_busiest_stretch_is_simulated_at_the_peak_in_24_intervals() {
        let day = Traffic {
            mean_qps: 200.0,
            bursts_per_day: 0.0,
            ..Traffic::default()
        };
        let config = ServingConfig {
            mode: ServingMode::Batch,
            traffic: day.busiest(0.25),
            ..ServingConfig::default()
        };
        let report = simulate(&config, Seed(5)).expect("valid");
        assert_eq!(report.hourly.len(), 24);
        assert!((report.interval_s - 37.5).abs() < 1e-9);
        // 320 a second at the 8 pm peak: 288,000 in the quarter hour.
        let expected = 320.0 * 900.0;
        let n = report.requests as f64;
        assert!((n - expected).abs() < 0.01 * expected, "{n}");
        let per_interval: f64 = report.hourly.iter().map(|h| h.qps * 37.5).sum();
        assert!((per_interval - n).abs() < 1.0, "{per_interval} vs {n}");
        // The daily job ran at midnight: about 20 hours old at 8 pm.
        let stats = report.precompute.expect("batch stats");
        let age = stats.mean_staleness_hours;
        assert!((age - 20.0).abs() < 0.05, "{age}");
        // The job's cost is a 96th of a day's; the fleet is billed 15 minutes.
        let profile = Hardware::Cpu.profile();
        let job = config.job_hours() * profile.cost_per_hour / 96.0;
        let fleet = 2.0 * 0.25 * profile.cost_per_hour;
        assert!(
            report.cost_total > job + fleet - 1e-3,
            "{}",
            report.cost_total
        );
        assert!(
            report.cost_total < job + fleet + 0.01,
            "{}",
            report.cost_total
        );
    }

    #[test]
    fn a_phone_serves_each_request_alone_for_free() {
        let model = ModelCost::dense(5_000_000, Precision::Int8);
        let config = ServingConfig {
            hardware: Hardware::Phone,
            model,
            traffic: Traffic::constant(100.0, 0.1),
            ..ServingConfig::default()
        };
        let report = simulate(&config, Seed(1)).expect("valid");
        let one = Hardware::Phone.profile().batch_ms(&model, 1);
        assert!((report.latency.mean_ms - one).abs() < 1e-9);
        assert!(report.cost_total.abs() < 1e-12);
        let too_big = ServingConfig {
            model: ModelCost::dense(1_000_000_000, Precision::Fp32),
            ..config
        };
        assert!(matches!(
            simulate(&too_big, Seed(1)),
            Err(ServingError::ModelTooLarge {
                hardware: "phone",
                ..
            })
        ));
    }

    #[test]
    fn bad_parameters_are_named_errors() {
        let cases = [
            (
                ServingConfig {
                    batch_size: 0,
                    ..ServingConfig::default()
                },
                "batch_size",
            ),
            (
                ServingConfig {
                    max_wait_ms: f64::NAN,
                    ..ServingConfig::default()
                },
                "max_wait_ms",
            ),
            (
                ServingConfig {
                    traffic: Traffic {
                        mean_qps: -1.0,
                        ..Traffic::default()
                    },
                    ..ServingConfig::default()
                },
                "traffic.mean_qps",
            ),
        ];
        for (config, name) in cases {
            match simulate(&config, Seed(1)) {
                Err(ServingError::OutOfRange { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        let flood = ServingConfig {
            traffic: Traffic::constant(1e6, 24.0),
            ..ServingConfig::default()
        };
        assert!(matches!(
            simulate(&flood, Seed(1)),
            Err(ServingError::TooManyRequests { .. })
        ));
        for mode in ServingMode::ALL {
            assert_eq!(ServingMode::from_id(mode.id()), Some(mode));
        }
    }

    #[test]
    fn the_report_is_consistent() {
        let report = simulate(&ServingConfig::default(), Seed(9)).expect("valid");
        let l = report.latency;
        assert!(l.p50_ms <= l.p95_ms && l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms);
        let charted: u64 = report.histogram.iter().map(|b| b.count).sum();
        assert_eq!(charted, report.requests);
        let hourly: f64 = report.hourly.iter().map(|h| h.qps * HOUR_S).sum();
        assert!((hourly - report.requests as f64).abs() < 1e-6 * hourly);
        assert_eq!(report.hourly.len(), 24);
        assert!(report.utilization > 0.0 && report.utilization < 1.0);
        // Two fixed CPU replicas for a day at $0.80/h.
        assert!((report.cost_total - 2.0 * 24.0 * 0.8).abs() < 0.05);
    }
}
