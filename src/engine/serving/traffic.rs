//! Request traffic: a Poisson process whose rate follows a daily QPS curve,
//! with random bursts.
//!
//! The rate is piecewise constant: each hour has its rate from the daily
//! curve, multiplied during a burst. Arrivals inside a piece are drawn with
//! exponential gaps; at a piece's end the process restarts at the next rate,
//! which is exact for a Poisson process (it has no memory).

use rand::RngExt;
use rand_distr::{Distribution, Exp, Poisson};
use serde::Serialize;

use super::ServingError;
use crate::engine::math;
use crate::engine::rng::StageRng;

/// Seconds in an hour.
pub(crate) const HOUR_S: f64 = 3600.0;

/// The offered load over time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Traffic {
    /// Mean requests per second over a day.
    pub mean_qps: f64,
    /// Relative swing of the daily curve: the peak hour runs at about
    /// `mean_qps * (1 + daily_amplitude)`, the trough at `1 - daily_amplitude`.
    pub daily_amplitude: f64,
    /// Hour of the day (0 to 24) at which traffic peaks.
    pub peak_hour: f64,
    /// Hour of the day (0 to 24) at which the simulated span starts.
    pub start_hour: f64,
    /// Simulated duration, hours.
    pub hours: f64,
    /// Mean number of bursts per day (a Poisson count, uniform start times).
    pub bursts_per_day: f64,
    /// How much a burst multiplies the rate.
    pub burst_multiplier: f64,
    /// How long a burst lasts, minutes.
    pub burst_minutes: f64,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            mean_qps: 50.0,
            daily_amplitude: 0.6,
            peak_hour: 20.0,
            start_hour: 0.0,
            hours: 24.0,
            bursts_per_day: 2.0,
            burst_multiplier: 3.0,
            burst_minutes: 10.0,
        }
    }
}

impl Traffic {
    /// A constant rate of `qps` for `hours`: no daily curve, no bursts.
    pub fn constant(qps: f64, hours: f64) -> Traffic {
        Traffic {
            mean_qps: qps,
            daily_amplitude: 0.0,
            peak_hour: 0.0,
            start_hour: 0.0,
            hours,
            bursts_per_day: 0.0,
            burst_multiplier: 1.0,
            burst_minutes: 1.0,
        }
    }

    /// Checks every field, naming the first that is out of range.
    pub(crate) fn validate(&self) -> Result<(), ServingError> {
        use super::check_range;
        check_range("traffic.mean_qps", self.mean_qps, 1e-6, 1e6)?;
        check_range("traffic.daily_amplitude", self.daily_amplitude, 0.0, 0.95)?;
        check_range("traffic.peak_hour", self.peak_hour, 0.0, 24.0)?;
        check_range("traffic.start_hour", self.start_hour, 0.0, 24.0)?;
        check_range("traffic.hours", self.hours, 1e-3, 24.0 * 28.0)?;
        check_range("traffic.bursts_per_day", self.bursts_per_day, 0.0, 1000.0)?;
        check_range(
            "traffic.burst_multiplier",
            self.burst_multiplier,
            1.0,
            100.0,
        )?;
        check_range(
            "traffic.burst_minutes",
            self.burst_minutes,
            1e-3,
            24.0 * 60.0,
        )
    }

    /// The curve's rate during hour `hour` (counted from the start), before
    /// bursts: its value at the middle of the part of that hour simulated.
    pub fn hourly_qps(&self, hour: usize) -> f64 {
        let from = hour as f64;
        self.qps_at(0.5 * (from + (from + 1.0).min(self.hours.max(from))))
    }

    /// The curve's rate `hours` after the start, before bursts.
    pub fn qps_at(&self, hours: f64) -> f64 {
        let hour_of_day = (self.start_hour + hours) % 24.0;
        let phase = 2.0 * core::f64::consts::PI * (hour_of_day - self.peak_hour) / 24.0;
        self.mean_qps * (1.0 + self.daily_amplitude * math::cos(phase))
    }

    /// The busiest `hours` of the day: this traffic over a span of `hours`
    /// centred on the peak (the whole day from midnight when `hours` is 24
    /// or more).
    #[must_use]
    pub fn busiest(self, hours: f64) -> Traffic {
        if hours >= 24.0 {
            return Traffic {
                start_hour: 0.0,
                hours,
                ..self
            };
        }
        Traffic {
            start_hour: (self.peak_hour - hours / 2.0).rem_euclid(24.0),
            hours,
            ..self
        }
    }

    /// Expected number of requests, bursts included, to bound the work.
    pub fn expected_requests(&self) -> f64 {
        let burst_extra = self.bursts_per_day * self.burst_minutes / (24.0 * 60.0)
            * (self.burst_multiplier - 1.0);
        self.mean_qps * (1.0 + burst_extra) * self.hours * HOUR_S
    }
}

/// A span of constant rate.
#[derive(Clone, Copy, Debug)]
struct Piece {
    end: f64,
    rate: f64,
}

/// The arrival times, in order, drawn lazily so a million requests need no
/// million-element buffer.
pub(crate) struct Arrivals {
    pieces: Vec<Piece>,
    piece: usize,
    t: f64,
    rng: StageRng,
}

impl Arrivals {
    /// Draws the bursts and prepares the stream. Burst windows come from
    /// `rng` first, then the arrival gaps.
    pub(crate) fn new(traffic: &Traffic, mut rng: StageRng) -> Arrivals {
        let horizon = traffic.hours * HOUR_S;
        let mut bursts: Vec<(f64, f64)> = Vec::new();
        let expected = traffic.bursts_per_day * traffic.hours / 24.0;
        if expected > 0.0 && traffic.burst_multiplier > 1.0 {
            let count = Poisson::new(expected).map_or(0.0, |d| d.sample(&mut rng)) as usize;
            for _ in 0..count {
                let start = rng.random::<f64>() * horizon;
                bursts.push((start, (start + traffic.burst_minutes * 60.0).min(horizon)));
            }
        }
        // Breakpoints: hour boundaries and burst edges.
        let whole_hours = (horizon / HOUR_S).ceil() as usize;
        let mut cuts: Vec<f64> = (1..whole_hours).map(|h| h as f64 * HOUR_S).collect();
        for &(start, end) in &bursts {
            cuts.push(start);
            cuts.push(end);
        }
        cuts.push(horizon);
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        let mut pieces = Vec::with_capacity(cuts.len());
        let mut begin = 0.0;
        for end in cuts {
            if end <= begin {
                continue;
            }
            let mid = 0.5 * (begin + end);
            let hour = (mid / HOUR_S) as usize;
            let in_burst = bursts.iter().any(|&(s, e)| s <= mid && mid < e);
            let multiplier = if in_burst {
                traffic.burst_multiplier
            } else {
                1.0
            };
            pieces.push(Piece {
                end,
                rate: traffic.hourly_qps(hour) * multiplier,
            });
            begin = end;
        }
        Arrivals {
            pieces,
            piece: 0,
            t: 0.0,
            rng,
        }
    }
}

impl Iterator for Arrivals {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        loop {
            let piece = *self.pieces.get(self.piece)?;
            let gap = Exp::new(piece.rate).map_or(f64::INFINITY, |d| d.sample(&mut self.rng));
            let t = self.t + gap;
            if t < piece.end {
                self.t = t;
                return Some(t);
            }
            self.t = piece.end;
            self.piece += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;

    #[test]
    fn the_daily_curve_averages_to_the_mean_and_peaks_on_time() {
        let traffic = Traffic {
            mean_qps: 100.0,
            daily_amplitude: 0.5,
            peak_hour: 18.0,
            ..Traffic::default()
        };
        let rates: Vec<f64> = (0..24).map(|h| traffic.hourly_qps(h)).collect();
        let mean = rates.iter().sum::<f64>() / 24.0;
        assert!((mean - 100.0).abs() < 1e-9, "{mean}");
        let peak = (0..24).max_by(|&a, &b| rates[a].total_cmp(&rates[b]));
        assert!(matches!(peak, Some(17 | 18)), "{peak:?}");
    }

    #[test]
    fn the_busiest_stretch_is_centred_on_the_peak() {
        let day = Traffic::default();
        let peak = day.busiest(0.25);
        assert!((peak.start_hour - (day.peak_hour - 0.125)).abs() < 1e-12);
        // The one (partial) hour is rated at the peak itself.
        let top = day.mean_qps * (1.0 + day.daily_amplitude);
        assert!(
            (peak.hourly_qps(0) - top).abs() < 1e-9,
            "{}",
            peak.hourly_qps(0)
        );
        // Across midnight: a 6-hour stretch around a 2 am peak starts at 11 pm.
        let late = Traffic {
            peak_hour: 2.0,
            ..day
        }
        .busiest(6.0);
        assert!((late.start_hour - 23.0).abs() < 1e-12);
        assert!(late.hourly_qps(2) > late.hourly_qps(0));
        // A whole day is unchanged.
        assert_eq!(day.busiest(24.0), day);
    }

    #[test]
    fn arrivals_are_ordered_and_their_count_matches_the_rate() {
        let traffic = Traffic::constant(200.0, 1.0);
        let times: Vec<f64> = Arrivals::new(&traffic, Seed(3).stream("t")).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // 720,000 expected; Poisson sd 849, so 1% is over 8 sd.
        let n = times.len() as f64;
        assert!((n - 720_000.0).abs() < 7_200.0, "{n}");
    }

    #[test]
    fn bursts_add_traffic() {
        let calm = Traffic {
            bursts_per_day: 0.0,
            ..Traffic::default()
        };
        let stormy = Traffic {
            bursts_per_day: 20.0,
            burst_multiplier: 5.0,
            burst_minutes: 30.0,
            ..Traffic::default()
        };
        let count = |t: &Traffic| Arrivals::new(t, Seed(1).stream("t")).count() as f64;
        // 20 bursts of 30 min at 5x cover about 8 of the 24 hours (some
        // overlap) at 4x extra: about 2.3x the calm day, far above noise.
        assert!(count(&stormy) > 1.8 * count(&calm));
    }
}
