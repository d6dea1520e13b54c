//! The CPU reference path: plain loops in a fixed order, the oracle every
//! GPU kernel is tested against, and the path that always works.

use super::network::{ClassHistogram, DenseLayer, Network, Rows, TopK, bin_of};
use super::quant::quantize_input;
use super::{ComputeError, Kernels};

/// The CPU backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

/// One fp32 (or f16-rounded) layer on one input: each output sums its terms
/// in input order, starting from zero, then adds the bias.
pub fn dense_f32(layer: &DenseLayer, x: &[f32], y: &mut Vec<f32>) {
    y.clear();
    y.extend(
        layer
            .weight
            .chunks_exact(layer.inputs.max(1))
            .take(layer.outputs)
            .zip(&layer.bias)
            .map(|(w, b)| {
                let mut acc = 0.0f32;
                for (w, x) in w.iter().zip(x) {
                    acc += w * x;
                }
                layer.activation.apply(acc + b)
            }),
    );
}

/// The integer accumulators of an int8 layer on one input: `acc_o = sum_i
/// q_oi * round(x_i * multiplier)`, exact in 32 bits (at most 256 inputs of
/// magnitude 127 x 127).
pub fn int8_accumulators(layer: &DenseLayer, x: &[f32], acc: &mut Vec<i32>) {
    acc.clear();
    let Some(int8) = &layer.int8 else {
        return;
    };
    let qx: Vec<i32> = x
        .iter()
        .map(|&v| quantize_input(v, int8.input_multiplier))
        .collect();
    acc.extend(
        int8.q
            .chunks_exact(layer.inputs.max(1))
            .take(layer.outputs)
            .map(|w| {
                w.iter()
                    .zip(&qx)
                    .map(|(&w, &q)| i32::from(w) * q)
                    .sum::<i32>()
            }),
    );
    acc.resize(layer.outputs, 0);
}

/// One layer on one input at the layer's precision.
fn dense(layer: &DenseLayer, x: &[f32], y: &mut Vec<f32>, acc: &mut Vec<i32>) {
    match &layer.int8 {
        None => dense_f32(layer, x, y),
        Some(int8) => {
            int8_accumulators(layer, x, acc);
            y.clear();
            y.extend(
                acc.iter()
                    .zip(&int8.dequant)
                    .zip(&layer.bias)
                    .map(|((&a, &m), &b)| layer.activation.apply(a as f32 * m + b)),
            );
        }
    }
}

/// `network` on every row of `rows`.
///
/// # Errors
/// [`ComputeError::Shape`] if the rows are not as wide as the network's inputs.
pub fn forward(network: &Network, rows: Rows<'_>) -> Result<Vec<f32>, ComputeError> {
    check_width(rows, network.inputs(), "the network's inputs")?;
    let mut out = Vec::with_capacity(rows.len() * network.outputs());
    let (mut x, mut y, mut acc) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rows.len() {
        x.clear();
        x.extend_from_slice(rows.row(r));
        for layer in network.layers() {
            dense(layer, &x, &mut y, &mut acc);
            std::mem::swap(&mut x, &mut y);
        }
        out.extend_from_slice(&x);
    }
    Ok(out)
}

/// A dot product summed in index order.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        acc += x * y;
    }
    acc
}

/// Whether (score, index) `a` ranks before `b`: higher score, then lower
/// index. NaN scores rank last.
pub fn ranks_before(a: (f32, u32), b: (f32, u32)) -> bool {
    let key = |s: f32| if s.is_nan() { f32::NEG_INFINITY } else { s };
    match key(a.0).partial_cmp(&key(b.0)) {
        Some(std::cmp::Ordering::Greater) => true,
        Some(std::cmp::Ordering::Less) => false,
        _ => a.1 < b.1,
    }
}

/// Every query's `k` best items by dot product.
///
/// # Errors
/// [`ComputeError::Shape`] if items and queries differ in width.
pub fn top_k(queries: Rows<'_>, items: Rows<'_>, k: usize) -> Result<TopK, ComputeError> {
    check_width(items, queries.width, "the queries' width")?;
    let k = k.min(items.len());
    let mut out = TopK {
        k,
        indices: Vec::new(),
        scores: Vec::new(),
    };
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for q in 0..queries.len() {
        best.clear();
        let query = queries.row(q);
        for j in 0..items.len() {
            let candidate = (dot(query, items.row(j)), j as u32);
            if best.len() == k
                && !best
                    .last()
                    .is_some_and(|&last| ranks_before(candidate, last))
            {
                continue;
            }
            let at = best.partition_point(|&b| ranks_before(b, candidate));
            best.insert(at, candidate);
            best.truncate(k);
        }
        out.scores.extend(best.iter().map(|b| b.0));
        out.indices.extend(best.iter().map(|b| b.1));
    }
    Ok(out)
}

/// Counts per class and bin.
///
/// # Errors
/// As [`check_histogram`].
pub fn histogram(
    scores: &[f32],
    labels: &[bool],
    bins: usize,
) -> Result<ClassHistogram, ComputeError> {
    check_histogram(scores, labels, bins)?;
    let mut h = ClassHistogram {
        negative: vec![0; bins],
        positive: vec![0; bins],
    };
    for (&s, &y) in scores.iter().zip(labels) {
        let counts = if y { &mut h.positive } else { &mut h.negative };
        counts[bin_of(s, bins)] += 1;
    }
    Ok(h)
}

/// The checks every backend makes of a histogram's inputs.
///
/// # Errors
/// [`ComputeError::Shape`] if scores and labels differ in number, or the
/// bins are not 1 to 1024.
pub fn check_histogram(scores: &[f32], labels: &[bool], bins: usize) -> Result<(), ComputeError> {
    if scores.len() != labels.len() {
        return Err(ComputeError::Shape(format!(
            "{} scores but {} labels",
            scores.len(),
            labels.len()
        )));
    }
    if bins == 0 || bins > 1024 {
        return Err(ComputeError::Shape(format!("{bins} bins: use 1 to 1024")));
    }
    Ok(())
}

/// Checks that `rows` are `width` wide.
///
/// # Errors
/// [`ComputeError::Shape`] naming `what` if they are not.
pub fn check_width(rows: Rows<'_>, width: usize, what: &str) -> Result<(), ComputeError> {
    if rows.width == width {
        Ok(())
    } else {
        Err(ComputeError::Shape(format!(
            "rows of {} values do not match {what} ({width})",
            rows.width
        )))
    }
}

impl Kernels for Cpu {
    async fn forward(&self, network: &Network, rows: Rows<'_>) -> Result<Vec<f32>, ComputeError> {
        forward(network, rows)
    }

    async fn top_k(
        &self,
        queries: Rows<'_>,
        items: Rows<'_>,
        k: usize,
    ) -> Result<TopK, ComputeError> {
        top_k(queries, items, k)
    }

    async fn histogram(
        &self,
        scores: &[f32],
        labels: &[bool],
        bins: usize,
    ) -> Result<ClassHistogram, ComputeError> {
        histogram(scores, labels, bins)
    }
}
