//! The CPU reference path: loops in a fixed order, the oracle every GPU
//! kernel is tested against, and the path that always works.

use super::network::{ClassHistogram, DenseLayer, Network, Rows, TopK, bin_of};
use super::quant::quantize_input;
use super::{ComputeError, Kernels};

/// The CPU backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

/// A layer laid out for the CPU: weights input-major, so that one input's
/// column is added to every output at once (the loop vectorizes across
/// outputs, and a zero input, half of them after a `ReLU`, is skipped),
/// while each output still sums its terms in input order, from zero, as the
/// GPU kernel does: the same answers as a plain dot product per output.
pub(super) struct Prepared<'a> {
    layer: &'a DenseLayer,
    /// `weight[i * outputs + o]`.
    columns: Vec<f32>,
    /// The int8 codes the same way, widened.
    codes: Vec<i32>,
}

impl<'a> Prepared<'a> {
    pub(super) fn new(layer: &'a DenseLayer) -> Prepared<'a> {
        let (n, m) = (layer.inputs, layer.outputs);
        let mut columns = vec![0.0; n * m];
        let mut codes = vec![0; if layer.int8.is_some() { n * m } else { 0 }];
        for o in 0..m {
            for i in 0..n {
                columns[i * m + o] = layer.weight[o * n + i];
                if let Some(int8) = &layer.int8 {
                    codes[i * m + o] = i32::from(int8.q[o * n + i]);
                }
            }
        }
        Prepared {
            layer,
            columns,
            codes,
        }
    }

    /// The layer on one input, at its precision.
    pub(super) fn run(&self, x: &[f32], y: &mut Vec<f32>, acc: &mut Vec<i32>) {
        let layer = self.layer;
        let m = layer.outputs;
        y.clear();
        match &layer.int8 {
            None => {
                y.resize(m, 0.0);
                for (column, &xi) in self.columns.chunks_exact(m).zip(x) {
                    if xi != 0.0 {
                        for (yo, w) in y.iter_mut().zip(column) {
                            *yo += w * xi;
                        }
                    }
                }
                for (yo, b) in y.iter_mut().zip(&layer.bias) {
                    *yo = layer.activation.apply(*yo + b);
                }
            }
            Some(int8) => {
                self.accumulate(x, int8.input_multiplier, acc);
                y.extend(
                    acc.iter()
                        .zip(&int8.dequant)
                        .zip(&layer.bias)
                        .map(|((&a, &d), &b)| layer.activation.apply(a as f32 * d + b)),
                );
            }
        }
    }

    /// The int8 accumulators: `acc_o = sum_i q_oi * round(x_i * multiplier)`.
    fn accumulate(&self, x: &[f32], multiplier: f32, acc: &mut Vec<i32>) {
        let m = self.layer.outputs;
        acc.clear();
        acc.resize(m, 0);
        for (column, &xi) in self.codes.chunks_exact(m).zip(x) {
            let q = quantize_input(xi, multiplier);
            if q != 0 {
                for (a, w) in acc.iter_mut().zip(column) {
                    *a += w * q;
                }
            }
        }
    }
}

/// The integer accumulators of an int8 layer on one input: `acc_o = sum_i
/// q_oi * round(x_i * multiplier)`, exact in 32 bits (at most 256 inputs of
/// magnitude 127 x 127 per output on the GPU). Empty for a float layer.
pub fn int8_accumulators(layer: &DenseLayer, x: &[f32], acc: &mut Vec<i32>) {
    acc.clear();
    if let Some(int8) = &layer.int8 {
        Prepared::new(layer).accumulate(x, int8.input_multiplier, acc);
    }
}

/// `network` on every row of `rows`.
///
/// # Errors
/// [`ComputeError::Shape`] if the rows are not as wide as the network's inputs.
pub fn forward(network: &Network, rows: Rows<'_>) -> Result<Vec<f32>, ComputeError> {
    check_width(rows, network.inputs(), "the network's inputs")?;
    let layers: Vec<Prepared<'_>> = network.layers().iter().map(Prepared::new).collect();
    let mut out = Vec::with_capacity(rows.len() * network.outputs());
    let (mut x, mut y, mut acc) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rows.len() {
        x.clear();
        x.extend_from_slice(rows.row(r));
        for layer in &layers {
            layer.run(&x, &mut y, &mut acc);
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
