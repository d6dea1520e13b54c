//! The event loop of the serving simulation: a binary heap of server
//! completions, batch timeouts, start-ups and autoscaling ticks, merged with
//! the ordered stream of arrivals. Times are seconds inside, milliseconds in
//! the report.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use rand::RngExt;
use rand_distr::{Distribution, Exp};

use super::traffic::{Arrivals, HOUR_S};
use super::{
    Fallback, Hardware, HardwareProfile, HourStats, LatencyHistogram, LatencySummary,
    PrecomputeStats, ServiceModel, ServingConfig, ServingMode, ServingReport,
};
use crate::engine::rng::{Seed, StageRng};

/// Bucket resolution of the overall histogram (0.8% buckets).
const SUB_BITS: u32 = 7;
/// Bucket resolution of the hourly histograms (6.25% buckets, p99 within 3.2%).
const HOUR_SUB_BITS: u32 = 4;
/// Bars in the report's latency chart.
const CHART_BINS: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Done(usize),
    Timeout,
    Ready(usize),
    Tick,
}

/// A scheduled event; the heap pops the earliest, ties in scheduling order.
#[derive(Clone, Copy, Debug)]
struct Event {
    time: f64,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed, so `BinaryHeap` (a max-heap) pops the earliest event.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .total_cmp(&self.time)
            .then(other.seq.cmp(&self.seq))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Off,
    Starting,
    Idle,
    Busy,
}

/// One hour's tallies.
struct Hour {
    arrivals: u64,
    latency_sum: f64,
    slo_misses: u64,
    histogram: LatencyHistogram,
    billed_s: f64,
    ready_s: f64,
    busy_s: f64,
}

struct Sim<'a> {
    cfg: &'a ServingConfig,
    profile: HardwareProfile,
    network_ms: f64,
    max_wait_s: f64,
    /// Service time of a batch of `k + 1` under the roofline, ms.
    batch_ms: Vec<f64>,
    exp: Option<Exp<f64>>,
    service_rng: StageRng,

    heap: BinaryHeap<Event>,
    seq: u64,
    queue: VecDeque<f64>,
    servers: Vec<Server>,
    retiring: Vec<bool>,
    idle: Vec<usize>,
    billed: u32,
    ready: u32,
    max_billed: u32,
    last_accrue: f64,
    timeout_at: Option<f64>,
    horizon: f64,

    histogram: LatencyHistogram,
    /// Seconds each entry of `hours` covers (see [`interval_s`]).
    bucket_s: f64,
    hours: Vec<Hour>,
    requests: u64,
    latency_sum: f64,
    slo_misses: u64,
    modelled: u64,
    queue_ms_sum: f64,
    service_ms_sum: f64,
    batches: u64,
    busy_s: f64,
    billed_s: f64,
    ready_s: f64,
    window_busy_s: f64,
    window_ready_s: f64,
    window_start: f64,
    /// When each busy server started its batch.
    busy_since: Vec<f64>,
    /// Recent autoscaling wishes (time, replicas), for the scale-down delay.
    recent: VecDeque<(f64, u32)>,
}

impl Sim<'_> {
    fn push(&mut self, time: f64, kind: Kind) {
        self.seq += 1;
        self.heap.push(Event {
            time,
            seq: self.seq,
            kind,
        });
    }

    /// The interval `t` falls in: the one whose end lies after `t`, so the
    /// loops that split time by interval always advance (a 24th of a short
    /// span is not exact in binary, and `t / bucket_s` can round down at an
    /// interval's end).
    fn hour_of(&self, t: f64) -> usize {
        let last = self.hours.len() - 1;
        let h = ((t / self.bucket_s) as usize).min(last);
        if h < last && (h + 1) as f64 * self.bucket_s <= t {
            h + 1
        } else {
            h
        }
    }

    /// Adds billed and ready replica-time up to `now`, split by hour.
    fn accrue(&mut self, now: f64) {
        let (billed, ready) = (f64::from(self.billed), f64::from(self.ready));
        while self.last_accrue < now {
            let h = self.hour_of(self.last_accrue);
            let end = if h + 1 == self.hours.len() {
                now
            } else {
                now.min((h + 1) as f64 * self.bucket_s)
            };
            let dt = end - self.last_accrue;
            let hour = &mut self.hours[h];
            hour.billed_s += billed * dt;
            hour.ready_s += ready * dt;
            self.billed_s += billed * dt;
            self.ready_s += ready * dt;
            self.window_ready_s += ready * dt;
            self.last_accrue = end;
        }
    }

    /// Credits a server's busy time from `from` to `to`, split by hour.
    fn add_busy(&mut self, from: f64, to: f64) {
        self.busy_s += to - from;
        self.window_busy_s += to - from.max(self.window_start);
        let mut t = from;
        while t < to {
            let h = self.hour_of(t);
            let end = if h + 1 == self.hours.len() {
                to
            } else {
                to.min((h + 1) as f64 * self.bucket_s)
            };
            self.hours[h].busy_s += end - t;
            t = end;
        }
    }

    /// Records one request that arrived at `arrival` and took `latency_ms`.
    fn record(&mut self, arrival: f64, latency_ms: f64) {
        let slow = latency_ms > self.cfg.slo_ms;
        self.histogram.record(latency_ms);
        self.latency_sum += latency_ms;
        self.slo_misses += u64::from(slow);
        let h = self.hour_of(arrival);
        let hour = &mut self.hours[h];
        hour.histogram.record(latency_ms);
        hour.latency_sum += latency_ms;
        hour.slo_misses += u64::from(slow);
    }

    /// Mean requests per batch so far (1 before the first batch).
    fn mean_batch(&self) -> f64 {
        if self.batches == 0 {
            1.0
        } else {
            self.modelled as f64 / self.batches as f64
        }
    }

    fn service_ms(&mut self, items: usize) -> f64 {
        match (self.cfg.service, &self.exp) {
            (ServiceModel::Exponential { .. }, Some(exp)) => exp.sample(&mut self.service_rng),
            (ServiceModel::Exponential { mean_ms }, None) => mean_ms,
            (ServiceModel::Roofline, _) => self.batch_ms[items - 1],
        }
    }

    /// Starts a batch on `server` at `now` with the oldest queued requests.
    fn dispatch(&mut self, now: f64, server: usize) {
        let items = self.cfg.batch_size.min(self.queue.len());
        let service_ms = self.service_ms(items);
        for _ in 0..items {
            let Some(arrival) = self.queue.pop_front() else {
                break;
            };
            let wait_ms = (now - arrival) * 1e3;
            self.queue_ms_sum += wait_ms;
            self.service_ms_sum += service_ms;
            self.modelled += 1;
            self.record(arrival, wait_ms + service_ms + self.network_ms);
        }
        self.busy_since[server] = now;
        self.batches += 1;
        self.servers[server] = Server::Busy;
        self.push(now + service_ms * 1e-3, Kind::Done(server));
    }

    /// Starts every batch that may start at `now`, or sets the timeout at
    /// which the oldest request's batch must go.
    fn try_dispatch(&mut self, now: f64) {
        while let Some(&oldest) = self.queue.front() {
            let Some(&server) = self.idle.last() else {
                break;
            };
            let deadline = oldest + self.max_wait_s;
            if self.queue.len() >= self.cfg.batch_size || now >= deadline {
                self.idle.pop();
                self.dispatch(now, server);
            } else {
                if self.timeout_at != Some(deadline) {
                    self.timeout_at = Some(deadline);
                    self.push(deadline, Kind::Timeout);
                }
                break;
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        let now = event.time;
        match event.kind {
            Kind::Done(server) => {
                self.add_busy(self.busy_since[server], now);
                if self.retiring[server] {
                    self.accrue(now);
                    self.retiring[server] = false;
                    self.servers[server] = Server::Off;
                    self.billed -= 1;
                    self.ready -= 1;
                } else {
                    self.servers[server] = Server::Idle;
                    self.idle.push(server);
                }
            }
            Kind::Timeout => {
                if self.timeout_at == Some(now) {
                    self.timeout_at = None;
                }
            }
            Kind::Ready(server) => {
                self.accrue(now);
                self.servers[server] = Server::Idle;
                self.ready += 1;
                self.idle.push(server);
            }
            Kind::Tick => self.autoscale(now),
        }
        self.try_dispatch(now);
    }

    /// One autoscaling decision at `now`.
    fn autoscale(&mut self, now: f64) {
        let Some(a) = self.cfg.autoscale else {
            return;
        };
        self.accrue(now);
        // Work done in the window by ready replicas, in-progress batches
        // included, plus the work waiting in the queue: replicas needed.
        for server in 0..self.servers.len() {
            if self.servers[server] == Server::Busy {
                self.window_busy_s += now - self.busy_since[server].max(self.window_start);
            }
        }
        let per_request_s = if self.modelled > 0 {
            self.service_ms_sum / self.modelled as f64 * 1e-3 / self.mean_batch()
        } else {
            self.batch_ms[0] * 1e-3
        };
        let window = now - self.window_start;
        let demand = (self.window_busy_s + self.queue.len() as f64 * per_request_s) / window;
        self.window_busy_s = 0.0;
        self.window_ready_s = 0.0;
        self.window_start = now;
        let wanted = (demand / a.target_utilization - 1e-9).ceil();
        let wanted = (wanted.max(0.0) as u32).clamp(a.min_replicas, a.max_replicas);
        // Scale down only to the largest wish of the last `scale_down_delay_s`.
        self.recent.push_back((now, wanted));
        while self
            .recent
            .front()
            .is_some_and(|&(t, _)| t < now - a.scale_down_delay_s)
        {
            self.recent.pop_front();
        }
        let wanted = self.recent.iter().map(|&(_, w)| w).max().unwrap_or(wanted);
        let retiring = self.retiring.iter().filter(|&&r| r).count() as u32;
        let current = self.billed - retiring;
        if wanted > current {
            let mut missing = wanted - current;
            for r in &mut self.retiring {
                if missing > 0 && *r {
                    *r = false;
                    missing -= 1;
                }
            }
            for server in 0..self.servers.len() {
                if missing == 0 {
                    break;
                }
                if self.servers[server] == Server::Off {
                    self.servers[server] = Server::Starting;
                    self.billed += 1;
                    missing -= 1;
                    self.push(now + a.startup_s, Kind::Ready(server));
                }
            }
            self.max_billed = self.max_billed.max(self.billed);
        } else {
            let mut extra = current - wanted;
            while extra > 0 {
                let Some(server) = self.idle.pop() else {
                    break;
                };
                self.servers[server] = Server::Off;
                self.billed -= 1;
                self.ready -= 1;
                extra -= 1;
            }
            for server in 0..self.servers.len() {
                if extra == 0 {
                    break;
                }
                if self.servers[server] == Server::Busy && !self.retiring[server] {
                    self.retiring[server] = true;
                    extra -= 1;
                }
            }
        }
        if now + a.interval_s < self.horizon {
            self.push(now + a.interval_s, Kind::Tick);
        }
    }
}

impl<'a> Sim<'a> {
    /// The fleet at the start: `fleet` says whether there is one at all.
    fn new(cfg: &'a ServingConfig, seed: Seed, fleet: bool) -> Sim<'a> {
        let profile = cfg.hardware.profile();
        let exponential = matches!(cfg.service, ServiceModel::Exponential { .. });
        let horizon = cfg.traffic.hours * HOUR_S;
        let (start, slots) = match (fleet, cfg.autoscale) {
            (false, _) => (0, 0),
            (true, None) => (cfg.replicas, cfg.replicas),
            (true, Some(a)) => (
                cfg.replicas.clamp(a.min_replicas, a.max_replicas),
                a.max_replicas,
            ),
        };
        let mut servers = vec![Server::Off; slots as usize];
        for s in servers.iter_mut().take(start as usize) {
            *s = Server::Idle;
        }
        let bucket_s = interval_s(cfg.traffic.hours);
        let hour_count = if cfg.traffic.hours < 24.0 {
            24
        } else {
            (cfg.traffic.hours.ceil() as usize).max(1)
        };
        Sim {
            cfg,
            profile,
            network_ms: if exponential { 0.0 } else { profile.network_ms },
            max_wait_s: cfg.max_wait_ms * 1e-3,
            batch_ms: (1..=cfg.batch_size)
                .map(|k| profile.batch_ms(&cfg.model, k))
                .collect(),
            exp: match cfg.service {
                ServiceModel::Exponential { mean_ms } => Exp::new(1.0 / mean_ms).ok(),
                ServiceModel::Roofline => None,
            },
            service_rng: seed.stream("serving.service"),
            heap: BinaryHeap::new(),
            seq: 0,
            queue: VecDeque::new(),
            servers,
            retiring: vec![false; slots as usize],
            idle: (0..start as usize).rev().collect(),
            billed: start,
            ready: start,
            max_billed: start,
            last_accrue: 0.0,
            timeout_at: None,
            horizon,
            histogram: LatencyHistogram::new(SUB_BITS),
            bucket_s,
            hours: (0..hour_count)
                .map(|_| Hour {
                    arrivals: 0,
                    latency_sum: 0.0,
                    slo_misses: 0,
                    histogram: LatencyHistogram::new(HOUR_SUB_BITS),
                    billed_s: 0.0,
                    ready_s: 0.0,
                    busy_s: 0.0,
                })
                .collect(),
            requests: 0,
            latency_sum: 0.0,
            slo_misses: 0,
            modelled: 0,
            queue_ms_sum: 0.0,
            service_ms_sum: 0.0,
            batches: 0,
            busy_s: 0.0,
            billed_s: 0.0,
            ready_s: 0.0,
            window_busy_s: 0.0,
            window_ready_s: 0.0,
            window_start: 0.0,
            busy_since: vec![0.0; slots as usize],
            recent: VecDeque::new(),
        }
    }
}

/// Seconds each entry of the report's `hourly` covers: an hour, or a 24th
/// of a span shorter than a day, so a short span still draws a curve.
pub(super) fn interval_s(hours: f64) -> f64 {
    if hours < 24.0 {
        hours * HOUR_S / 24.0
    } else {
        HOUR_S
    }
}

/// Runs a validated configuration.
pub(super) fn run(cfg: &ServingConfig, seed: Seed) -> ServingReport {
    let on_device = cfg.hardware == Hardware::Phone;
    let horizon = cfg.traffic.hours * HOUR_S;
    let batch = cfg.mode == ServingMode::Batch;
    let default_fallback = batch && cfg.precompute.fallback == Fallback::Default;
    let fleet = !on_device && !default_fallback;
    let mut sim = Sim::new(cfg, seed, fleet);
    if let (true, Some(a)) = (fleet, cfg.autoscale)
        && a.interval_s < horizon
    {
        sim.push(a.interval_s, Kind::Tick);
    }

    // Batch serving: predictions of the job started at k * refresh (since
    // midnight) are live from k * refresh + job duration; one ran the
    // period before the start.
    let refresh_s = cfg.precompute.refresh_hours * HOUR_S;
    let day_offset_s = cfg.traffic.start_hour * HOUR_S;
    let job_wall_s = if batch {
        cfg.job_hours() * HOUR_S / f64::from(cfg.replicas)
    } else {
        0.0
    };
    let mut cache_rng = seed.stream("serving.cache");
    let (mut hits, mut fallbacks, mut stale_sum, mut stale_max) = (0u64, 0u64, 0.0f64, 0.0f64);

    let mut arrivals = Arrivals::new(&cfg.traffic, seed.stream("serving.arrivals")).peekable();
    let mut end = horizon;
    loop {
        let next_event = sim.heap.peek().map(|e| e.time);
        let arrival = match (arrivals.peek().copied(), next_event) {
            (None, None) => break,
            (Some(a), Some(e)) if e <= a => None,
            (Some(_), _) => arrivals.next(),
            (None, Some(_)) => None,
        };
        let Some(t) = arrival else {
            if let Some(event) = sim.heap.pop() {
                end = end.max(event.time);
                sim.on_event(event);
            }
            continue;
        };
        sim.requests += 1;
        let h = sim.hour_of(t);
        sim.hours[h].arrivals += 1;
        if on_device {
            let service_ms = sim.service_ms(1);
            sim.modelled += 1;
            sim.batches += 1;
            sim.service_ms_sum += service_ms;
            sim.record(t, service_ms);
            continue;
        }
        if batch {
            if cache_rng.random::<f64>() < cfg.precompute.coverage {
                hits += 1;
                let day_t = t + day_offset_s;
                let job_start = ((day_t - job_wall_s) / refresh_s).floor() * refresh_s;
                let age_h = (day_t - job_start) / HOUR_S;
                stale_sum += age_h;
                stale_max = stale_max.max(age_h);
                sim.record(t, sim.network_ms + super::CACHE_LOOKUP_MS);
                continue;
            }
            fallbacks += 1;
            if !fleet {
                sim.record(t, sim.network_ms + super::CACHE_LOOKUP_MS);
                continue;
            }
        }
        sim.queue.push_back(t);
        sim.try_dispatch(t);
    }
    sim.accrue(end);
    report(
        &sim,
        end,
        batch.then(|| {
            let jobs = (horizon / refresh_s).ceil() as u32;
            PrecomputeStats {
                hit_rate: ratio(hits, sim.requests),
                fallback_rate: ratio(fallbacks, sim.requests),
                mean_staleness_hours: if hits > 0 {
                    stale_sum / hits as f64
                } else {
                    0.0
                },
                max_staleness_hours: stale_max,
                job_hours: job_wall_s / HOUR_S,
                jobs,
            }
        }),
    )
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn safe_div(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

fn report(sim: &Sim<'_>, end: f64, precompute: Option<PrecomputeStats>) -> ServingReport {
    let cfg = sim.cfg;
    let h = &sim.histogram;
    let (at_1, at_full) = match cfg.service {
        ServiceModel::Exponential { mean_ms } => (mean_ms, mean_ms),
        ServiceModel::Roofline => (sim.batch_ms[0], sim.batch_ms[cfg.batch_size - 1]),
    };
    let horizon = cfg.traffic.hours * HOUR_S;
    // The jobs' share of the span: a day's job is charged in full to a
    // day, and by the hour to a shorter span.
    let job_cost = precompute.map_or(0.0, |_| {
        horizon / (cfg.precompute.refresh_hours * HOUR_S)
            * cfg.job_hours()
            * sim.profile.cost_per_hour
    });
    let cost_total = sim.billed_s / HOUR_S * sim.profile.cost_per_hour + job_cost;
    let hourly = sim
        .hours
        .iter()
        .enumerate()
        .map(|(i, hour)| {
            let start = i as f64 * sim.bucket_s;
            let span = if i + 1 == sim.hours.len() {
                (horizon - start).max(1e-9)
            } else {
                sim.bucket_s
            };
            let billed_span = if i + 1 == sim.hours.len() {
                (end - start).max(1e-9)
            } else {
                sim.bucket_s
            };
            HourStats {
                hour: i as u32,
                qps: hour.arrivals as f64 / span,
                mean_ms: safe_div(hour.latency_sum, hour.histogram.total() as f64),
                p99_ms: hour.histogram.quantile(0.99),
                slo_violation_rate: ratio(hour.slo_misses, hour.histogram.total()),
                replicas: hour.billed_s / billed_span,
                utilization: safe_div(hour.busy_s, hour.ready_s),
            }
        })
        .collect();
    ServingReport {
        requests: sim.requests,
        latency: LatencySummary {
            mean_ms: safe_div(sim.latency_sum, sim.requests as f64),
            p50_ms: h.quantile(0.5),
            p95_ms: h.quantile(0.95),
            p99_ms: h.quantile(0.99),
            max_ms: h.max(),
        },
        mean_queue_ms: safe_div(sim.queue_ms_sum, sim.modelled as f64),
        mean_service_ms: safe_div(sim.service_ms_sum, sim.modelled as f64),
        histogram: h.chart(CHART_BINS),
        slo_ms: cfg.slo_ms,
        slo_violation_rate: ratio(sim.slo_misses, sim.requests),
        throughput_qps: safe_div(sim.requests as f64, end),
        utilization: safe_div(sim.busy_s, sim.ready_s),
        mean_batch_size: ratio(sim.modelled, sim.batches),
        mean_replicas: safe_div(sim.billed_s, end),
        max_replicas: sim.max_billed,
        cost_total,
        cost_per_million: safe_div(cost_total * 1e6, sim.requests as f64),
        batch_ms_at_1: at_1,
        batch_ms_at_full: at_full,
        replica_capacity_qps: cfg.batch_size as f64 / (at_full * 1e-3),
        interval_s: sim.bucket_s,
        hourly,
        precompute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::serving::Traffic;

    /// At and around every interval's end of a short span (whose 24th is not
    /// exact in binary), the interval found for a time ends after it, so
    /// splitting time by interval always advances: the loops that do it
    /// once spun forever at 15,001 requests a second.
    #[test]
    fn every_time_falls_in_an_interval_that_ends_after_it() {
        for hours in [
            0.005_786_651_260_286_35,
            0.004_340_277_777_777_778,
            1.0 / 3.0,
            12.4,
        ] {
            let cfg = ServingConfig {
                traffic: Traffic::default().busiest(hours),
                ..ServingConfig::default()
            };
            let sim = Sim::new(&cfg, Seed(1), true);
            let last = sim.hours.len() - 1;
            assert_eq!(last, 23);
            for k in 1..=24 {
                let edge = k as f64 * sim.bucket_s;
                for t in [edge.next_down(), edge, edge.next_up()] {
                    let h = sim.hour_of(t);
                    assert!(
                        h == last || (h + 1) as f64 * sim.bucket_s > t,
                        "{hours} h: {t} in interval {h}"
                    );
                }
            }
        }
    }
}
