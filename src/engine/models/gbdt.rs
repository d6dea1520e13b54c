//! Gradient-boosted decision trees for binary classification: histogram-based
//! (features bucketed into quantile bins), depth-wise growth, logistic loss
//! with second-order leaf values, L2 on leaves, early stopping on validation.
//!
//! Bag fields (tokens) are ignored: a split reads one value per feature, and a
//! bag has any number. Text reaches trees as dense columns instead; the
//! content pipeline gives keyword-hit counts per category and counts of the
//! tokens most predictive of the training labels.
//!
//! Hand-written: the wasm32-ready GBDT crates either only predict (loading
//! models trained elsewhere) or train exact splits on dense matrices, which
//! for 200k rows is several times slower than histograms; this one grows
//! 100 trees of depth 6 on 200k rows in about a second natively
//! (BENCHMARKS.md), deterministically on one thread.

use super::{Progress, TrainingCurve, log_loss};
use crate::compute::{self, Precision};
use crate::engine::data::Dataset;
use crate::engine::math::sigmoid;

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct GbdtConfig {
    pub trees: usize,
    pub max_depth: usize,
    pub learning_rate: f64,
    /// Most quantile bins per feature (at most 255).
    pub max_bins: usize,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// A split needs at least this much hessian on each side.
    pub min_child_weight: f64,
    /// Stop after this many trees without a better validation loss.
    pub patience: usize,
    /// Sparse fields with at most this many ids are used as ordinal features.
    pub max_sparse_vocab: u32,
}

impl Default for GbdtConfig {
    fn default() -> Self {
        GbdtConfig {
            trees: 100,
            max_depth: 6,
            learning_rate: 0.1,
            max_bins: 64,
            lambda: 1.0,
            min_child_weight: 1.0,
            patience: 10,
            max_sparse_vocab: 64,
        }
    }
}

/// A trained ensemble.
#[derive(Clone, Debug, PartialEq)]
pub struct GbdtModel {
    /// The starting logit (log odds of the weighted base rate).
    pub base: f32,
    pub trees: Vec<Tree>,
    /// Which inputs the features are, in order.
    features: Vec<Input>,
    /// The precision of the leaf values (see [`GbdtModel::quantized`]).
    pub precision: Precision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    Dense(usize),
    Sparse(usize),
}

/// One tree, nodes in an array; node 0 is the root.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// A split (go left when the feature is at most `threshold`) or a leaf.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Node {
    Split {
        feature: u16,
        threshold: f32,
        left: u32,
        right: u32,
    },
    Leaf {
        value: f32,
    },
}

impl GbdtModel {
    /// Operations to score one row: a comparison per level of each tree,
    /// and an add per tree.
    pub fn flops_per_item(&self) -> f64 {
        self.trees
            .iter()
            .map(|t| f64::from(usize::BITS - t.nodes.len().leading_zeros()))
            .sum::<f64>()
    }

    /// The feature values of row `i`, in the model's feature order.
    fn value(&self, data: &Dataset, i: usize, feature: usize) -> f32 {
        match self.features[feature] {
            Input::Dense(k) => data.dense_row(i)[k],
            Input::Sparse(k) => data.sparse_row(i)[k] as f32,
        }
    }

    /// The logit of row `i` of `data`.
    pub fn logit(&self, data: &Dataset, i: usize) -> f64 {
        let mut z = f64::from(self.base);
        for tree in &self.trees {
            z += f64::from(tree.leaf_value(|f| self.value(data, i, f)));
        }
        z
    }

    /// Predicted probability for every row of `data`.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        (0..data.len())
            .map(|i| sigmoid(self.logit(data, i)))
            .collect()
    }

    /// Number of parameters: a feature, a threshold and two children per
    /// split, a value per leaf, plus the base.
    pub fn params(&self) -> usize {
        1 + self
            .trees
            .iter()
            .flat_map(|t| &t.nodes)
            .map(|n| match n {
                Node::Split { .. } => 4,
                Node::Leaf { .. } => 1,
            })
            .sum::<usize>()
    }
}

impl GbdtModel {
    /// This ensemble with its leaf values stored at `precision`: each
    /// tree's leaves a group (one scale per tree at int8). Thresholds stay
    /// f32, since a rounded threshold would send rows down other branches
    /// than the ones trained, which no serving system does.
    #[must_use]
    pub fn quantized(&self, precision: Precision) -> GbdtModel {
        let mut model = self.clone();
        model.precision = precision;
        for tree in &mut model.trees {
            let mut leaves: Vec<f32> = tree
                .nodes
                .iter()
                .filter_map(|n| match n {
                    Node::Leaf { value } => Some(*value),
                    Node::Split { .. } => None,
                })
                .collect();
            compute::round_group(&mut leaves, precision);
            let mut rounded = leaves.into_iter();
            for node in &mut tree.nodes {
                if let Node::Leaf { value } = node {
                    *value = rounded.next().unwrap_or(*value);
                }
            }
        }
        model
    }

    /// Bytes of the ensemble: 16 per split (feature, threshold, two
    /// children), the leaves at the model's precision (with a scale per tree
    /// at int8), and the base.
    pub fn bytes(&self) -> u64 {
        let mut total = 4;
        for tree in &self.trees {
            let leaves = tree
                .nodes
                .iter()
                .filter(|n| matches!(n, Node::Leaf { .. }))
                .count();
            total += 16 * (tree.nodes.len() - leaves) as u64;
            total += compute::table_bytes(leaves, leaves, self.precision);
        }
        total
    }
}

impl Tree {
    /// Follows splits from the root, reading features through `value`.
    pub fn leaf_value(&self, value: impl Fn(usize) -> f32) -> f32 {
        let mut k = 0usize;
        loop {
            match self.nodes.get(k) {
                Some(Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                }) => {
                    k = if value(usize::from(*feature)) <= *threshold {
                        *left as usize
                    } else {
                        *right as usize
                    };
                }
                Some(Node::Leaf { value }) => return *value,
                None => return 0.0,
            }
        }
    }
}

/// Feature values of the training rows, binned.
struct Binned {
    /// Row-major: `bins[i * features + f]`, read row by row for histograms.
    bins: Vec<u8>,
    /// The same bins feature-major, `columns[f * rows + i]`, read one feature
    /// at a time when partitioning a node (row-major there missed the cache).
    columns: Vec<u8>,
    features: usize,
    /// Bins per feature in histograms (the most any feature has).
    stride: usize,
    /// Per feature, the upper edge of each bin but the last.
    edges: Vec<Vec<f32>>,
}

impl Binned {
    /// Feature `feature`'s bin of every row.
    fn column(&self, feature: usize) -> &[u8] {
        let n = self.columns.len() / self.features.max(1);
        &self.columns[feature * n..(feature + 1) * n]
    }
}

fn choose_inputs(data: &Dataset, config: &GbdtConfig) -> Vec<Input> {
    let mut inputs: Vec<Input> = (0..data.dense_dim()).map(Input::Dense).collect();
    for (k, field) in data.sparse_fields.iter().enumerate() {
        if field.vocab <= config.max_sparse_vocab {
            inputs.push(Input::Sparse(k));
        }
    }
    inputs
}

fn bin_features(data: &Dataset, model: &GbdtModel, max_bins: usize) -> Binned {
    let n = data.len();
    let features = model.features.len();
    let max_bins = max_bins.clamp(2, 255);
    // Quantile edges from at most 50k evenly spaced rows.
    let step = (n / 50_000).max(1);
    let mut edges = Vec::with_capacity(features);
    let mut column = Vec::with_capacity(n / step + 1);
    for f in 0..features {
        column.clear();
        column.extend((0..n).step_by(step).map(|i| model.value(data, i, f)));
        column.sort_by(f32::total_cmp);
        let mut e: Vec<f32> = (1..max_bins)
            .filter_map(|b| column.get(b * column.len() / max_bins).copied())
            .collect();
        e.dedup();
        // The top edge would leave the last bin empty.
        if e.last() == column.last() {
            e.pop();
        }
        edges.push(e);
    }
    let mut bins = vec![0u8; n * features];
    for i in 0..n {
        for f in 0..features {
            let x = model.value(data, i, f);
            bins[i * features + f] = edges[f].partition_point(|&e| e < x) as u8;
        }
    }
    let stride = edges.iter().map(|e| e.len() + 1).max().unwrap_or(1);
    let mut columns = vec![0u8; n * features];
    for i in 0..n {
        for f in 0..features {
            columns[f * n + i] = bins[i * features + f];
        }
    }
    Binned {
        bins,
        columns,
        features,
        stride,
        edges,
    }
}

/// Trains on `train`, keeping the number of trees with the best log loss on
/// `valid`. Deterministic: no randomness is used.
pub fn train(train: &Dataset, valid: &Dataset, config: &GbdtConfig) -> (GbdtModel, TrainingCurve) {
    let n = train.len();
    let weight_sum: f64 = train.weight.iter().map(|&w| f64::from(w)).sum();
    let positive: f64 = train
        .label
        .iter()
        .zip(&train.weight)
        .map(|(&y, &w)| f64::from(y) * f64::from(w))
        .sum();
    let rate = if weight_sum > 0.0 {
        (positive / weight_sum).clamp(1e-6, 1.0 - 1e-6)
    } else {
        0.5
    };
    let mut model = GbdtModel {
        base: crate::engine::math::logit(rate) as f32,
        trees: Vec::new(),
        features: choose_inputs(train, config),
        precision: Precision::Fp32,
    };
    let mut curve = TrainingCurve::default();
    if n == 0 {
        return (model, curve);
    }
    let binned = bin_features(train, &model, config.max_bins);
    let mut train_logit = vec![f64::from(model.base); n];
    let mut valid_logit: Vec<f64> = vec![f64::from(model.base); valid.len()];
    // Gradients and hessians in f32 halve the memory each histogram pass
    // reads; sums are still accumulated in f64.
    let mut gh = vec![[0.0f32; 2]; n];
    let mut best_trees = 0;
    let mut grower = Grower::new(&binned, config);
    for t in 0..config.trees {
        // The gradient pass also gives the training loss of the trees so far,
        // estimated on every LOSS_STRIDE-th row (a logarithm per row per tree
        // was a fifth of the training time).
        let (mut loss_sum, mut loss_weight) = (0.0, 0.0);
        for i in 0..n {
            let p = sigmoid(train_logit[i]);
            let w = f64::from(train.weight[i]);
            let y = f64::from(train.label[i]);
            gh[i] = [
                (w * (p - y)) as f32,
                (w * (p * (1.0 - p)).max(1e-12)) as f32,
            ];
            if i % LOSS_STRIDE == 0 {
                loss_sum -= w * ln_clipped(if y > 0.5 { p } else { 1.0 - p });
                loss_weight += w;
            }
        }
        if t > 0 && loss_weight > 0.0 {
            curve.train_loss.push(loss_sum / loss_weight);
        }
        let (tree, leaf_of_row) = grower.grow(&gh);
        for (i, z) in train_logit.iter_mut().enumerate() {
            if let Some(Node::Leaf { value }) = tree.nodes.get(leaf_of_row[i] as usize) {
                *z += f64::from(*value);
            }
        }
        for (i, z) in valid_logit.iter_mut().enumerate() {
            *z += f64::from(tree.leaf_value(|f| model.value(valid, i, f)));
        }
        model.trees.push(tree);
        let valid_loss = (!valid.is_empty()).then(|| {
            let p: Vec<f64> = valid_logit.iter().map(|&z| sigmoid(z)).collect();
            log_loss(&valid.label, &p, None)
        });
        match curve.record_valid(valid_loss, config.patience) {
            Progress::Improved => best_trees = t + 1,
            Progress::Worse => {}
            Progress::Stop => break,
        }
    }
    let p_train: Vec<f64> = train_logit.iter().map(|&z| sigmoid(z)).collect();
    curve
        .train_loss
        .push(log_loss(&train.label, &p_train, Some(&train.weight)));
    model.trees.truncate(best_trees);
    (model, curve)
}

/// The training loss in curves is measured on every this-many-th row.
const LOSS_STRIDE: usize = 8;

fn ln_clipped(p: f64) -> f64 {
    crate::engine::math::ln(p.clamp(1e-7, 1.0 - 1e-7))
}

/// Grows one tree at a time over the binned rows, reusing its buffers.
struct Grower<'a> {
    binned: &'a Binned,
    config: &'a GbdtConfig,
    /// Row indices, partitioned so each node's rows are contiguous.
    rows: Vec<u32>,
    scratch: Vec<u32>,
}

/// A node waiting to be split: its rows `rows[start..end]` and its sums.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    histogram: Vec<[f64; 2]>,
}

impl<'a> Grower<'a> {
    fn new(binned: &'a Binned, config: &'a GbdtConfig) -> Grower<'a> {
        let n = binned.bins.len() / binned.features.max(1);
        Grower {
            binned,
            config,
            rows: (0..n as u32).collect(),
            scratch: Vec::with_capacity(n),
        }
    }

    /// Gradient and hessian sums per (feature, bin) over `rows`.
    fn histogram(&self, rows: &[u32], gh: &[[f32; 2]]) -> Vec<[f64; 2]> {
        let f = self.binned.features;
        let stride = self.binned.stride;
        let mut hist = vec![[0.0f64; 2]; f * stride];
        // Feature k's cells start at k * stride. (Zipping the row with
        // `chunks_exact_mut(stride)` divided by the stride once per row.)
        for &r in rows {
            let r = r as usize;
            let [g, h] = gh[r].map(f64::from);
            let row = &self.binned.bins[r * f..(r + 1) * f];
            let mut base = 0;
            for &b in row {
                let cell = &mut hist[base + usize::from(b)];
                cell[0] += g;
                cell[1] += h;
                base += stride;
            }
        }
        hist
    }

    /// Grows a tree; returns it and, per training row, the leaf it falls in.
    fn grow(&mut self, gh: &[[f32; 2]]) -> (Tree, Vec<u32>) {
        let n = self.rows.len();
        for (k, r) in self.rows.iter_mut().enumerate() {
            *r = k as u32;
        }
        let lambda = self.config.lambda;
        let lr = self.config.learning_rate;
        let leaf = |g: f64, h: f64| Node::Leaf {
            value: (-g / (h + lambda) * lr) as f32,
        };
        let (g, h) = gh.iter().fold((0.0f64, 0.0f64), |(g, h), c| {
            (g + f64::from(c[0]), h + f64::from(c[1]))
        });
        let mut tree = Tree {
            nodes: vec![leaf(g, h)],
        };
        let mut queue = vec![Pending {
            node: 0,
            start: 0,
            end: n,
            depth: 0,
            g,
            h,
            histogram: if self.may_split(0, h) {
                self.histogram(&self.rows, gh)
            } else {
                Vec::new()
            },
        }];
        let mut leaf_of_row = vec![0u32; n];
        while let Some(p) = queue.pop() {
            let split = if self.may_split(p.depth, p.h) {
                self.best_split(&p)
            } else {
                None
            };
            let Some((feature, bin, gl, hl)) = split else {
                for &r in &self.rows[p.start..p.end] {
                    leaf_of_row[r as usize] = p.node as u32;
                }
                continue;
            };
            let (gr, hr) = (p.g - gl, p.h - hl);
            let left = tree.nodes.len();
            tree.nodes.push(leaf(gl, hl));
            tree.nodes.push(leaf(gr, hr));
            tree.nodes[p.node] = Node::Split {
                feature: feature as u16,
                threshold: self.binned.edges[feature][usize::from(bin)],
                left: left as u32,
                right: left as u32 + 1,
            };
            // Histogram of the smaller child; the larger one is the difference.
            // A child that cannot be split (at the depth limit, or with too
            // little hessian for two children) needs none: the deepest
            // level's histograms were one level of six, all thrown away.
            let depth = p.depth + 1;
            let (need_left, need_right) = (self.may_split(depth, hl), self.may_split(depth, hr));
            if !need_left && !need_right {
                // Both children are leaves: each row learns its leaf at
                // once, without the partition (the deepest level's
                // partition was a sixth of them all).
                let column = self.binned.column(feature);
                for &r in &self.rows[p.start..p.end] {
                    let right = u32::from(column[r as usize] > bin);
                    leaf_of_row[r as usize] = left as u32 + right;
                }
                continue;
            }
            let mid = self.partition(p.start, p.end, feature, bin);
            let (hist_left, hist_right) = self.children(&p, mid, [need_left, need_right], gh);
            queue.push(Pending {
                node: left + 1,
                start: mid,
                end: p.end,
                depth,
                g: gr,
                h: hr,
                histogram: hist_right,
            });
            queue.push(Pending {
                node: left,
                start: p.start,
                end: mid,
                depth,
                g: gl,
                h: hl,
                histogram: hist_left,
            });
        }
        (tree, leaf_of_row)
    }

    /// The histograms of `p`'s children, split at `mid`, where `need`
    /// says (left, right) one is wanted: the smaller child's built, the
    /// larger one's the difference from the parent's.
    fn children(
        &self,
        p: &Pending,
        mid: usize,
        need: [bool; 2],
        gh: &[[f32; 2]],
    ) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
        let left_small = mid - p.start <= p.end - mid;
        let small_rows = if left_small {
            &self.rows[p.start..mid]
        } else {
            &self.rows[mid..p.end]
        };
        let small = self.histogram(small_rows, gh);
        let large: Vec<[f64; 2]> = if need[usize::from(left_small)] {
            p.histogram
                .iter()
                .zip(&small)
                .map(|(a, b)| [a[0] - b[0], a[1] - b[1]])
                .collect()
        } else {
            Vec::new()
        };
        if left_small {
            (small, large)
        } else {
            (large, small)
        }
    }

    /// Whether a node at `depth` with hessian sum `h` may be split: below
    /// the depth limit, with room for two children of `min_child_weight`
    /// (with a margin, so that no split `best_split` would accept is ruled
    /// out by rounding).
    fn may_split(&self, depth: usize, h: f64) -> bool {
        depth < self.config.max_depth && h >= 2.0 * self.config.min_child_weight * (1.0 - 1e-9)
    }

    /// Partitions `rows[start..end]` stably and without branches (a branch
    /// here mispredicts half the time): rows whose bin of `feature` is at most
    /// `bin` go left. Returns where the right part starts.
    fn partition(&mut self, start: usize, end: usize, feature: usize, bin: u8) -> usize {
        let column = self.binned.column(feature);
        let slice = &mut self.rows[start..end];
        self.scratch.clear();
        self.scratch.resize(slice.len(), 0);
        let mut mid = 0;
        let mut right = 0;
        for k in 0..slice.len() {
            // mid <= k, so slice[k] is read before anything overwrites it.
            let r = slice[k];
            let left = usize::from(column[r as usize] <= bin);
            self.scratch[right] = r;
            slice[mid] = r;
            mid += left;
            right += 1 - left;
        }
        slice[mid..].copy_from_slice(&self.scratch[..right]);
        start + mid
    }

    /// The split with the largest gain: (feature, last bin going left, left
    /// gradient sum, left hessian sum), if any gains.
    fn best_split(&self, p: &Pending) -> Option<(usize, u8, f64, f64)> {
        let lambda = self.config.lambda;
        let min_h = self.config.min_child_weight;
        let score = |g: f64, h: f64| g * g / (h + lambda);
        let parent = score(p.g, p.h);
        let mut best: Option<(f64, usize, u8, f64, f64)> = None;
        for (feature, edges) in self.binned.edges.iter().enumerate() {
            let (mut gl, mut hl) = (0.0, 0.0);
            // Splitting after bin b for b in 0..edges.len(): the last bin is edges.len().
            for b in 0..edges.len() {
                let cell = p.histogram[feature * self.binned.stride + b];
                gl += cell[0];
                hl += cell[1];
                let (gr, hr) = (p.g - gl, p.h - hl);
                if hl < min_h || hr < min_h {
                    continue;
                }
                let gain = score(gl, hl) + score(gr, hr) - parent;
                if gain > 1e-9 && best.is_none_or(|(g, ..)| gain > g) {
                    best = Some((gain, feature, b as u8, gl, hl));
                }
            }
        }
        best.map(|(_, f, b, gl, hl)| (f, b, gl, hl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;
    use rand::RngExt;

    /// A target no linear model can fit: positive inside a square.
    fn square(n: usize, seed: u64) -> Dataset {
        let mut rng = Seed(seed).stream("test.square");
        let mut data = Dataset {
            dense_names: vec!["x".into(), "y".into()],
            ..Dataset::default()
        };
        for _ in 0..n {
            let x: f32 = rng.random::<f32>() * 2.0 - 1.0;
            let y: f32 = rng.random::<f32>() * 2.0 - 1.0;
            let inside = x.abs() < 0.5 && y.abs() < 0.5;
            let p = if inside { 0.9 } else { 0.1 };
            data.push_row(&[x, y], &[], rng.random::<f64>() < p);
        }
        data
    }

    #[test]
    fn learns_an_interaction_a_linear_model_cannot() {
        let train_set = square(20_000, 1);
        let valid_set = square(5_000, 2);
        let (model, curve) = train(&train_set, &valid_set, &GbdtConfig::default());
        let p = model.predict(&valid_set);
        // The Bayes-optimal loss here is the entropy of 0.9/0.1: about 0.325.
        let loss = log_loss(&valid_set.label, &p, None);
        assert!(loss < 0.36, "validation loss {loss}");
        assert!(curve.valid_loss[0] > loss);
        let centre = Dataset {
            dense: vec![0.0, 0.0, 0.9, 0.9],
            label: vec![0.0, 0.0],
            weight: vec![1.0, 1.0],
            day: vec![0, 0],
            group: vec![0, 1],
            ..valid_set.select(&[])
        };
        let q = model.predict(&centre);
        assert!(q[0] > 0.8 && q[1] < 0.2, "{q:?}");
    }

    #[test]
    fn training_is_deterministic_and_early_stopping_truncates() {
        let data = square(3_000, 3);
        let valid = square(1_000, 4);
        let config = GbdtConfig {
            trees: 300,
            learning_rate: 0.5,
            patience: 5,
            ..GbdtConfig::default()
        };
        let (a, curve) = train(&data, &valid, &config);
        let (b, _) = train(&data, &valid, &config);
        assert_eq!(a, b);
        assert!(a.trees.len() < 300, "overfits, so it stops early");
        assert_eq!(a.trees.len(), curve.best_epoch + 1);
        assert!(a.params() > a.trees.len());
    }
}
