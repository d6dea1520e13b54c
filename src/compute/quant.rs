//! Numeric precision and post-training quantization of dense layers.
//!
//! Quantization is real: a layer quantized to f16 keeps weights rounded to
//! the nearest f16 (ties to even, as GPU f16 storage rounds), and a layer
//! quantized to int8 keeps one signed byte per weight with a scale per output
//! channel, and runs on integers.
//!
//! **int8, exactly.** Weights: per output channel `o`, symmetric,
//! `s_o = max_i |w_oi| / 127`, `q_oi = round(w_oi / s_o)` (ties to even).
//! Inputs: one static scale per layer, calibrated on sample rows before
//! serving (`s_x = max |x| / 127`), so an input is quantized by a
//! multiplication, `q_i = clamp(round(x_i * (127 / max |x|)), -127, 127)`,
//! which IEEE arithmetic rounds the same way on every backend. The dot
//! product accumulates `q_oi * q_i` in 32-bit integers (exact), then
//! dequantizes: `y_o = acc_o * (s_o * s_x) + b_o`.

use serde::Serialize;

/// Numeric precision of the model's weights and arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats: 4 bytes per parameter.
    #[default]
    Fp32,
    /// 16-bit floats: 2 bytes per parameter.
    F16,
    /// 8-bit integers after quantization: 1 byte per parameter.
    Int8,
}

impl Precision {
    /// Every precision, in the order the UI lists them.
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::F16, Precision::Int8];

    /// Bytes per parameter.
    pub fn bytes_per_param(self) -> u64 {
        match self {
            Precision::Fp32 => 4,
            Precision::F16 => 2,
            Precision::Int8 => 1,
        }
    }

    /// The stable name used in reports and URLs.
    pub fn id(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }

    /// The precision called `id`, if any.
    pub fn from_id(id: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.id() == id)
    }

    /// `x` as stored at this precision, for weights quantized one value at
    /// a time (f16); fp32 and int8 (which needs a scale) return `x`.
    pub fn round(self, x: f32) -> f32 {
        match self {
            Precision::F16 => round_f16(x),
            Precision::Fp32 | Precision::Int8 => x,
        }
    }
}

/// `x` rounded to the nearest f16 (ties to even) and back; beyond f16's
/// range it becomes infinite, as the GPU's conversion does.
pub fn round_f16(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

/// A symmetric int8 code for a group of values: one scale, one byte each.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Group {
    pub scale: f32,
    pub q: Vec<i8>,
}

impl Int8Group {
    /// Quantizes `values` with `scale = max |v| / 127` (a zero group keeps
    /// scale 0 and all-zero codes).
    pub fn quantize(values: &[f32]) -> Int8Group {
        let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = max / 127.0;
        let q = values
            .iter()
            .map(|&v| {
                if scale > 0.0 {
                    (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8
                } else {
                    0
                }
            })
            .collect();
        Int8Group { scale, q }
    }

    /// Value `i` as the quantized model sees it: `q_i * scale`.
    pub fn dequantize(&self, i: usize) -> f32 {
        f32::from(self.q[i]) * self.scale
    }
}

/// Rounds `values` in place to what a group quantized at `precision` holds
/// (f16 per value, int8 with one scale for the group). Used for tables that
/// are looked up, not multiplied (embeddings, per-id weights, leaf values).
pub fn round_group(values: &mut [f32], precision: Precision) {
    match precision {
        Precision::Fp32 => {}
        Precision::F16 => values.iter_mut().for_each(|v| *v = round_f16(*v)),
        Precision::Int8 => {
            let group = Int8Group::quantize(values);
            for (i, v) in values.iter_mut().enumerate() {
                *v = group.dequantize(i);
            }
        }
    }
}

/// Bytes a table of `values` takes at `precision`: the values, plus one f32
/// scale per group of `group` values at int8.
pub fn table_bytes(values: usize, group: usize, precision: Precision) -> u64 {
    let scales = match precision {
        Precision::Int8 => values.div_ceil(group.max(1)) as u64 * 4,
        Precision::Fp32 | Precision::F16 => 0,
    };
    values as u64 * precision.bytes_per_param() + scales
}

/// The multiplier that quantizes a layer's inputs: `127 / max |x|` over
/// calibration values (1 if all are zero, so zero stays zero).
pub fn input_multiplier(max_abs: f32) -> f32 {
    if max_abs > 0.0 && max_abs.is_finite() {
        127.0 / max_abs
    } else {
        1.0
    }
}

/// One input quantized with `multiplier` (see the module notes).
pub fn quantize_input(x: f32, multiplier: f32) -> i32 {
    (x * multiplier).round_ties_even().clamp(-127.0, 127.0) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_codes_span_the_group_and_round_ties_to_even() {
        let g = Int8Group::quantize(&[1.27, -0.635, 0.0, 0.005]);
        assert!((g.scale - 0.01).abs() < 1e-9);
        assert_eq!(g.q, vec![127, -64, 0, 0]);
        assert!((g.dequantize(1) + 0.64).abs() < 1e-6);
        let zero = Int8Group::quantize(&[0.0, 0.0]);
        assert_eq!((zero.scale, zero.q), (0.0, vec![0, 0]));
    }

    #[test]
    fn f16_rounding_keeps_eleven_significant_bits() {
        let bits = |x: f32| round_f16(x).to_bits();
        assert_eq!(bits(1.0), 1f32.to_bits());
        // 1 + 2^-11 lies halfway between two f16 values: ties go to even.
        assert_eq!(bits(1.0 + 2f32.powi(-11)), 1f32.to_bits());
        assert_eq!(
            bits(1.0 + 3.0 * 2f32.powi(-11)),
            (1.0 + 2f32.powi(-9)).to_bits()
        );
        assert!(round_f16(1e6).is_infinite());
    }

    #[test]
    fn rounding_a_group_and_its_size() {
        let mut v = vec![0.3f32, -0.1, 0.7];
        round_group(&mut v, Precision::Int8);
        let s = 0.7 / 127.0;
        assert!(v.iter().all(|x| ((x / s).round() * s - x).abs() < 1e-6));
        assert_eq!(table_bytes(1000, 100, Precision::Int8), 1000 + 40);
        assert_eq!(table_bytes(1000, 100, Precision::F16), 2000);
        assert_eq!(quantize_input(0.5, input_multiplier(1.0)), 64);
        assert_eq!(quantize_input(-9.0, input_multiplier(1.0)), -127);
    }
}
