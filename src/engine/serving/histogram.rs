//! A latency histogram with log-linear buckets, for percentiles in constant
//! memory and for chart bins.
//!
//! Hand-written rather than taken from `hdrhistogram`: that crate depends on
//! num-traits with its `std` feature, which Cargo would then switch on for the
//! whole build, and num-traits' `Float` (which `rand_distr` and `statrs` use)
//! would call the platform's maths instead of libm, so a seed would no longer
//! give the same bits natively and in wasm32. The bucketing is 40 lines.
//!
//! A value's bucket is read from its `f64` bits: the exponent picks the
//! octave, the top `sub_bits` bits of the mantissa the slot inside it, so a
//! bucket spans at most `2^-sub_bits` of its value (0.8% at 7 bits) and a
//! percentile read at a bucket's midpoint is within 0.4% of the true one.
//! Values are clamped to `[2^-10, 2^24)` milliseconds (1 µs to 4.6 hours).

use serde::Serialize;

use crate::engine::math;

const MIN_EXP: i64 = -10;
const MAX_EXP: i64 = 24;

/// Counts of latencies (milliseconds) in log-linear buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyHistogram {
    sub_bits: u32,
    counts: Vec<u64>,
    total: u64,
    min: f64,
    max: f64,
}

/// One bar of a latency chart.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HistogramBin {
    /// Lower edge, milliseconds.
    pub lo_ms: f64,
    /// Upper edge, milliseconds.
    pub hi_ms: f64,
    /// Requests whose latency fell in the bin.
    pub count: u64,
}

impl LatencyHistogram {
    /// An empty histogram whose buckets span `2^-sub_bits` of their value.
    pub fn new(sub_bits: u32) -> LatencyHistogram {
        let sub_bits = sub_bits.clamp(1, 10);
        let octaves = (MAX_EXP - MIN_EXP) as usize;
        LatencyHistogram {
            sub_bits,
            counts: vec![0; octaves << sub_bits],
            total: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn index(&self, ms: f64) -> usize {
        let lo = f64::from_bits(((1023 + MIN_EXP) as u64) << 52);
        let v = ms.max(lo);
        let bits = v.to_bits();
        let exp = ((bits >> 52) & 0x7ff).cast_signed() - 1023;
        if exp >= MAX_EXP {
            return self.counts.len() - 1;
        }
        let slot = (bits >> (52 - self.sub_bits)) & ((1 << self.sub_bits) - 1);
        (((exp - MIN_EXP) as u64) << self.sub_bits | slot) as usize
    }

    /// Lower edge of bucket `index`, milliseconds.
    fn lower(&self, index: usize) -> f64 {
        let exp = (index as u64 >> self.sub_bits).cast_signed() + MIN_EXP;
        let slot = (index as u64) & ((1 << self.sub_bits) - 1);
        f64::from_bits(((exp + 1023) as u64) << 52 | slot << (52 - self.sub_bits))
    }

    /// Middle of bucket `index`, milliseconds.
    fn middle(&self, index: usize) -> f64 {
        let lo = self.lower(index);
        lo + 0.5 * lo * (1.0 / (1u64 << self.sub_bits) as f64) / (1.0 + self.fraction(index))
    }

    /// The bucket's offset inside its octave, in `[0, 1)`.
    fn fraction(&self, index: usize) -> f64 {
        ((index as u64) & ((1 << self.sub_bits) - 1)) as f64 / (1u64 << self.sub_bits) as f64
    }

    /// Records one latency. Non-finite or negative values count as the
    /// smallest bucket; the caller never produces them.
    pub fn record(&mut self, ms: f64) {
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        let index = self.index(ms);
        self.counts[index] += 1;
        self.total += 1;
        self.min = self.min.min(ms);
        self.max = self.max.max(ms);
    }

    /// Number of recorded latencies.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The largest recorded latency (exact); 0 when nothing was recorded.
    pub fn max(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.max }
    }

    /// The `q`-quantile (nearest rank: the smallest recorded value with at
    /// least `q` of the values at or below it), read at its bucket's middle
    /// and clamped to the recorded range; 0 when nothing was recorded.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return self.middle(index).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// About `bins` log-spaced bars from the smallest to the largest latency.
    pub fn chart(&self, bins: usize) -> Vec<HistogramBin> {
        if self.total == 0 || bins == 0 {
            return Vec::new();
        }
        let lo = self
            .min
            .max(f64::from_bits(((1023 + MIN_EXP) as u64) << 52));
        let hi = self.max.max(lo * 1.000_001);
        let span = math::ln(hi / lo);
        let edges: Vec<f64> = (0..=bins)
            .map(|k| lo * math::exp(span * k as f64 / bins as f64))
            .collect();
        let mut out: Vec<HistogramBin> = edges
            .windows(2)
            .map(|w| HistogramBin {
                lo_ms: w[0],
                hi_ms: w[1],
                count: 0,
            })
            .collect();
        for (index, &count) in self.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let mid = self.middle(index).clamp(lo, hi);
            let k = ((math::ln(mid / lo) / span * bins as f64) as usize).min(bins - 1);
            out[k].count += count;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_resolution() {
        let mut h = LatencyHistogram::new(7);
        // 1..=10_000 ms: the exact p50 is 5000, p99 9900.
        for v in 1..=10_000 {
            h.record(f64::from(v));
        }
        assert_eq!(h.total(), 10_000);
        for (q, exact) in [(0.5, 5000.0), (0.95, 9500.0), (0.99, 9900.0)] {
            let got = h.quantile(q);
            assert!((got / exact - 1.0).abs() < 0.004, "q{q}: {got}");
        }
        assert!((h.quantile(1.0) - 10_000.0).abs() < 1e-9);
        assert!((h.quantile(0.0) - 1.0).abs() < 0.004);
    }

    #[test]
    fn chart_bins_hold_every_count_and_tile_the_range() {
        let mut h = LatencyHistogram::new(7);
        for v in [0.5, 3.0, 3.0, 40.0, 1e5, 1e9] {
            h.record(v);
        }
        let bins = h.chart(20);
        assert_eq!(bins.len(), 20);
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 6);
        assert!((bins[0].lo_ms - 0.5).abs() < 1e-12);
        assert!(
            bins.windows(2)
                .all(|w| (w[0].hi_ms - w[1].lo_ms).abs() < 1e-9 * w[1].lo_ms)
        );
        assert!(LatencyHistogram::new(7).chart(10).is_empty());
    }
}
