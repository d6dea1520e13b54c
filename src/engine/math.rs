//! Transcendental functions for the engine, from `libm`.
//!
//! `f64::exp` and friends call the platform's C library natively and a Rust
//! port in wasm32; the two can differ in the last bit, and a last bit is
//! enough to flip a Bernoulli draw and change a report. The engine calls these
//! instead, so a seed gives the same bits natively and in the browser. Clippy's
//! `disallowed-methods` (clippy.toml) keeps the std versions out.

/// e^x.
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// Natural logarithm.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// x^y.
#[inline]
pub fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// Cosine (radians).
#[inline]
pub fn cos(x: f64) -> f64 {
    libm::cos(x)
}

/// The error function.
#[inline]
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// The complementary error function 1 - erf(x), accurate where erf(x) is near 1.
#[inline]
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// The standard normal CDF, Φ(x) = erfc(-x / √2) / 2, accurate in both tails.
#[inline]
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * core::f64::consts::FRAC_1_SQRT_2)
}

/// The logistic function 1 / (1 + e^-x), stable for large |x|: 1 / (1 + e)
/// for x >= 0 and e / (1 + e) below, with e = e^-|x|. One `exp` and a
/// select rather than a branch on the sign, which mispredicts on scores of
/// either sign (GBDT's gradient pass, each tree, over every training row);
/// the same bits as the branching form (a test checks).
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    let e = exp(-x.abs());
    let numerator = if x >= 0.0 { 1.0 } else { e };
    numerator / (1.0 + e)
}

/// The inverse of [`sigmoid`]: ln(p / (1 - p)).
#[inline]
pub fn logit(p: f64) -> f64 {
    ln(p / (1.0 - p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // sigmoid(0) is exactly one half
    fn sigmoid_and_logit_invert_each_other() {
        for &x in &[-30.0, -2.5, 0.0, 0.7, 12.0] {
            assert!((logit(sigmoid(x)) - x).abs() < 1e-6, "{x}");
        }
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-800.0) >= 0.0 && sigmoid(800.0) <= 1.0);
    }

    #[test]
    fn sigmoid_gives_the_bits_of_the_branching_form() {
        let branching = |x: f64| {
            if x >= 0.0 {
                1.0 / (1.0 + exp(-x))
            } else {
                let e = exp(x);
                e / (1.0 + e)
            }
        };
        for k in -4000..=4000 {
            let x = f64::from(k) * 0.01 + 1e-7 * f64::from(k % 7);
            assert_eq!(sigmoid(x).to_bits(), branching(x).to_bits(), "{x}");
        }
        for x in [0.0, -0.0, 745.0, -745.0, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(sigmoid(x).to_bits(), branching(x).to_bits(), "{x}");
        }
        assert!(sigmoid(f64::NAN).is_nan());
    }
}
