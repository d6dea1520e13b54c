//! Logistic regression with L2 regularization over dense columns, sparse
//! (one-hot or hashed) ids and bags of ids (hashed tokens: one weight per
//! bucket, summed or averaged over the bag), trained by mini-batch Adagrad
//! with early stopping.
//!
//! Hand-written: the wasm32-ready crates (linfa-logistic, smartcore) take dense
//! matrices only, so a hashed feature with 2^16 buckets would become a 65,536
//! column matrix; this model keeps one weight per id and touches only the ids
//! a row has. It trains 1M rows x 32 columns in well under a second natively
//! (BENCHMARKS.md).

use rand::seq::SliceRandom;

use super::{Progress, TrainingCurve, log_loss};
use crate::compute::{self, Activation, Compute, DenseLayer, Network, Precision, Rows};
use crate::engine::data::Dataset;
use crate::engine::math::sigmoid;
use crate::engine::rng::StageRng;

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticConfig {
    /// L2 penalty per row: each step shrinks weights by `l2 * lr`.
    pub l2: f64,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// How a bag's weights combine.
    pub bag_pooling: Pooling,
}

/// How the weights of a bag's ids combine into the logit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// Sum: a token used twice counts twice, long posts weigh more (bag of words).
    Sum,
    /// Mean: each bag contributes its average weight, whatever its length.
    Mean,
}

impl Default for LogisticConfig {
    fn default() -> Self {
        LogisticConfig {
            l2: 1e-6,
            learning_rate: 0.05,
            batch_size: 256,
            max_epochs: 8,
            patience: 2,
            bag_pooling: Pooling::Sum,
        }
    }
}

/// A trained logistic regression.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticModel {
    pub bias: f32,
    /// One weight per dense column.
    pub dense: Vec<f32>,
    /// One weight per id of every sparse field, then of every bag field,
    /// fields one after another.
    pub sparse: Vec<f32>,
    /// Where each sparse field's ids start in `sparse`.
    pub field_offset: Vec<usize>,
    /// Where each bag field's ids start in `sparse`.
    pub bag_offset: Vec<usize>,
    pub bag_pooling: Pooling,
    /// The precision of the weights (see [`LogisticModel::quantized`]).
    pub precision: Precision,
    /// At f16 or int8 with dense columns: the dense weights and the bias as
    /// a one-output layer at that precision, which then computes the dense
    /// part of every logit.
    pub dense_layer: Option<Network>,
}

impl LogisticModel {
    /// A model of zeros shaped for `data`.
    fn zeros(data: &Dataset, bag_pooling: Pooling) -> LogisticModel {
        let mut field_offset = Vec::with_capacity(data.sparse_dim());
        let mut total = 0usize;
        for field in &data.sparse_fields {
            field_offset.push(total);
            total += field.vocab as usize;
        }
        let mut bag_offset = Vec::with_capacity(data.bag_dim());
        for bag in &data.bags {
            bag_offset.push(total);
            total += bag.vocab as usize;
        }
        LogisticModel {
            bias: 0.0,
            dense: vec![0.0; data.dense_dim()],
            sparse: vec![0.0; total],
            field_offset,
            bag_offset,
            bag_pooling,
            precision: Precision::Fp32,
            dense_layer: None,
        }
    }

    /// The factor each id of a bag of `len` ids gets.
    fn bag_scale(&self, len: usize) -> f32 {
        match self.bag_pooling {
            Pooling::Sum => 1.0,
            Pooling::Mean => 1.0 / len.max(1) as f32,
        }
    }

    /// The logit of row `i` of `data`.
    pub fn logit(&self, data: &Dataset, i: usize) -> f64 {
        let dense = match &self.dense_layer {
            Some(layer) => dense_logits(layer, data.dense_row(i))[0],
            None => self.dense_logit(data.dense_row(i)),
        };
        self.add_sparse(data, i, dense)
    }

    /// The bias plus the dense columns' terms, in f64.
    fn dense_logit(&self, x: &[f32]) -> f64 {
        let mut z = f64::from(self.bias);
        for (w, x) in self.dense.iter().zip(x) {
            z += f64::from(*w) * f64::from(*x);
        }
        z
    }

    /// `z` plus the sparse ids' and bags' terms of row `i`.
    fn add_sparse(&self, data: &Dataset, i: usize, mut z: f64) -> f64 {
        for (offset, &id) in self.field_offset.iter().zip(data.sparse_row(i)) {
            z += f64::from(self.sparse[offset + id as usize]);
        }
        for (&offset, bag) in self.bag_offset.iter().zip(&data.bags) {
            let ids = bag.row(i);
            let sum: f32 = ids
                .iter()
                .map(|&id| self.sparse[offset + id as usize])
                .sum();
            z += f64::from(sum * self.bag_scale(ids.len()));
        }
        z
    }

    /// Predicted probability for every row of `data`, on the CPU.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        compute::block_on(self.predict_on(data, &Compute::cpu()))
    }

    /// Predicted probability for every row of `data`: the dense part of
    /// every row in one pass of the one-output dense layer through
    /// `compute`'s forward kernel, then the sparse ids' and bags' weights.
    ///
    /// # Panics
    /// Never: a dataset's dense rows are as wide as the model's layer.
    pub async fn predict_on(&self, data: &Dataset, compute: &Compute) -> Vec<f64> {
        let Some(layer) = self.dense_network() else {
            return (0..data.len())
                .map(|i| sigmoid(self.add_sparse(data, i, f64::from(self.bias))))
                .collect();
        };
        let rows =
            Rows::new(&data.dense, layer.inputs()).expect("dense rows are as wide as the layer");
        let dense = compute
            .forward(&layer, rows)
            .await
            .expect("the layer takes rows of its width");
        (0..data.len())
            .map(|i| sigmoid(self.add_sparse(data, i, f64::from(dense[i]))))
            .collect()
    }

    /// The dense weights and bias as a one-output layer at the model's
    /// precision; `None` without dense columns.
    fn dense_network(&self) -> Option<Network> {
        if let Some(layer) = &self.dense_layer {
            return Some(layer.clone());
        }
        let d = self.dense.len();
        if d == 0 {
            return None;
        }
        DenseLayer::new(
            d,
            1,
            self.dense.clone(),
            vec![self.bias],
            Activation::Identity,
        )
        .and_then(|l| Network::new(vec![l]))
        .ok()
    }

    /// This model with its weights stored at `precision`: each sparse or
    /// bag field's weights quantized as a group (one scale per field at
    /// int8), the dense weights and bias as a one-output layer through
    /// [`Network::quantize`], with the int8 input scale calibrated on up to
    /// 2,000 rows of `calibration` (the training rows).
    #[must_use]
    pub fn quantized(&self, precision: Precision, calibration: &Dataset) -> LogisticModel {
        let mut model = self.clone();
        if precision == Precision::Fp32 {
            return model;
        }
        model.precision = precision;
        let bounds = self.field_bounds();
        for pair in bounds.windows(2) {
            compute::round_group(&mut model.sparse[pair[0]..pair[1]], precision);
        }
        let d = self.dense.len();
        let layer = DenseLayer::new(
            d,
            1,
            self.dense.clone(),
            vec![self.bias],
            Activation::Identity,
        );
        if let Ok(network) = layer.and_then(|l| Network::new(vec![l])) {
            let rows = calibration.len().min(super::CALIBRATION_ROWS);
            let sample = Rows::new(&calibration.dense[..rows * d], d).unwrap_or(Rows {
                data: &[],
                width: d,
            });
            model.dense_layer = Some(network.quantize(precision, sample));
        } else {
            // No dense columns: the bias alone, rounded as one value.
            model.bias = precision.round(model.bias);
        }
        model
    }

    /// Where each sparse and bag field's weights start in `sparse`, then
    /// its end: field `f` holds `bounds[f]..bounds[f + 1]`.
    fn field_bounds(&self) -> Vec<usize> {
        let starts = self.field_offset.iter().chain(&self.bag_offset).copied();
        starts.chain([self.sparse.len()]).collect()
    }

    /// Bytes of the weights at the model's precision: the dense layer (or
    /// the bias) and each field's weights with, at int8, a scale per field.
    pub fn bytes(&self) -> u64 {
        if self.precision == Precision::Fp32 {
            return self.params() as u64 * 4;
        }
        let dense = self.dense_layer.as_ref().map_or(4, Network::bytes);
        let bounds = self.field_bounds();
        let sparse: u64 = bounds
            .windows(2)
            .map(|p| compute::table_bytes(p[1] - p[0], (p[1] - p[0]).max(1), self.precision))
            .sum();
        dense + sparse
    }

    /// Number of trained parameters.
    pub fn params(&self) -> usize {
        1 + self.dense.len() + self.sparse.len()
    }

    /// Operations to score one row of `data`'s shape: a multiply and an add
    /// per dense value, an add per sparse id and per bag id.
    pub fn flops_per_item(&self, data: &Dataset) -> f64 {
        2.0 * self.dense.len() as f64 + self.field_offset.len() as f64 + data.mean_bag_ids() + 1.0
    }
}

/// The one-output dense layer's logits on rows of dense values.
fn dense_logits(layer: &Network, dense: &[f32]) -> Vec<f64> {
    let rows = Rows::new(dense, layer.inputs()).expect("dense rows are as wide as the layer");
    compute::cpu_forward(layer, rows)
        .expect("the layer takes rows of its width")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Trains on `train`, keeping the epoch with the best log loss on `valid`.
/// Rows are visited in an order drawn from `rng`, so training is deterministic.
pub fn train(
    train: &Dataset,
    valid: &Dataset,
    config: &LogisticConfig,
    rng: &mut StageRng,
) -> (LogisticModel, TrainingCurve) {
    let mut model = LogisticModel::zeros(train, config.bag_pooling);
    let mut best = model.clone();
    let mut curve = TrainingCurve::default();
    if train.is_empty() {
        return (model, curve);
    }
    let mut state = Adagrad::new(&model);
    // Batches are runs of consecutive rows, visited in a shuffled order: the
    // same stochasticity as shuffling rows when rows are not sorted by label,
    // and memory is read in order (row-level shuffling of 1M rows was 3x slower).
    let batch_size = config.batch_size.max(1);
    let mut batches: Vec<usize> = (0..train.len().div_ceil(batch_size)).collect();
    for _ in 0..config.max_epochs {
        batches.shuffle(rng);
        let mut epoch_loss = 0.0;
        let mut epoch_weight = 0.0;
        for &batch in &batches {
            state.clear();
            let mut weight_sum = 0.0;
            for i in batch * batch_size..((batch + 1) * batch_size).min(train.len()) {
                let w = f64::from(train.weight[i]);
                let p = sigmoid(model.logit(train, i));
                let y = f64::from(train.label[i]);
                let q = p.clamp(1e-7, 1.0 - 1e-7);
                epoch_loss -= w * crate::engine::math::ln(if y > 0.5 { q } else { 1.0 - q });
                epoch_weight += w;
                weight_sum += w;
                let g = (w * (p - y)) as f32;
                state.grad_bias += g;
                for (acc, x) in state.grad_dense.iter_mut().zip(train.dense_row(i)) {
                    *acc += g * x;
                }
                for (offset, &id) in model.field_offset.iter().zip(train.sparse_row(i)) {
                    state.add_sparse(offset + id as usize, g);
                }
                for (&offset, bag) in model.bag_offset.iter().zip(&train.bags) {
                    let ids = bag.row(i);
                    let g = g * model.bag_scale(ids.len());
                    for &id in ids {
                        state.add_sparse(offset + id as usize, g);
                    }
                }
            }
            if weight_sum > 0.0 {
                state.step(&mut model, config, weight_sum as f32);
            }
        }
        let valid_loss =
            (!valid.is_empty()).then(|| log_loss(&valid.label, &model.predict(valid), None));
        match curve.record_epoch(epoch_loss, epoch_weight, valid_loss, config.patience) {
            Progress::Improved => best = model.clone(),
            Progress::Worse => {}
            Progress::Stop => break,
        }
    }
    (best, curve)
}

/// Per-coordinate Adagrad state, with a sparse gradient buffer so a batch only
/// touches the ids its rows have.
struct Adagrad {
    grad_bias: f32,
    grad_dense: Vec<f32>,
    grad_sparse: Vec<f32>,
    touched: Vec<usize>,
    sum_sq_bias: f32,
    sum_sq_dense: Vec<f32>,
    sum_sq_sparse: Vec<f32>,
}

impl Adagrad {
    fn new(model: &LogisticModel) -> Adagrad {
        Adagrad {
            grad_bias: 0.0,
            grad_dense: vec![0.0; model.dense.len()],
            grad_sparse: vec![0.0; model.sparse.len()],
            touched: Vec::new(),
            sum_sq_bias: 0.0,
            sum_sq_dense: vec![0.0; model.dense.len()],
            sum_sq_sparse: vec![0.0; model.sparse.len()],
        }
    }

    fn clear(&mut self) {
        self.grad_bias = 0.0;
        self.grad_dense.fill(0.0);
        for &k in &self.touched {
            self.grad_sparse[k] = 0.0;
        }
        self.touched.clear();
    }

    fn add_sparse(&mut self, k: usize, g: f32) {
        if self.grad_sparse[k] == 0.0 {
            self.touched.push(k);
        }
        self.grad_sparse[k] += g;
    }

    /// One Adagrad step on the mean gradient of a batch, with L2 on weights
    /// (not on the bias). Sparse weights are penalized only when touched.
    fn step(&mut self, model: &mut LogisticModel, config: &LogisticConfig, weight_sum: f32) {
        const EPS: f32 = 1e-8;
        let lr = config.learning_rate as f32;
        let l2 = config.l2 as f32;
        let update = |w: &mut f32, g: f32, sum_sq: &mut f32| {
            *sum_sq += g * g;
            *w -= lr * g / (sum_sq.sqrt() + EPS);
        };
        update(
            &mut model.bias,
            self.grad_bias / weight_sum,
            &mut self.sum_sq_bias,
        );
        for k in 0..model.dense.len() {
            let g = self.grad_dense[k] / weight_sum + l2 * model.dense[k];
            update(&mut model.dense[k], g, &mut self.sum_sq_dense[k]);
        }
        for &k in &self.touched {
            let g = self.grad_sparse[k] / weight_sum + l2 * model.sparse[k];
            update(&mut model.sparse[k], g, &mut self.sum_sq_sparse[k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::data::SparseField;
    use crate::engine::rng::Seed;
    use rand::RngExt;

    /// Rows with two dense columns and one sparse field whose true weights are
    /// known: y ~ Bernoulli(sigmoid(1.5 x0 - 2 x1 + b[id] - 1)).
    fn synthetic(n: usize, seed: u64) -> Dataset {
        let mut rng = Seed(seed).stream("test.data");
        let mut data = Dataset {
            dense_names: vec!["x0".into(), "x1".into()],
            sparse_fields: vec![SparseField {
                name: "id".into(),
                vocab: 4,
            }],
            ..Dataset::default()
        };
        let id_effect = [-1.0, 0.0, 1.0, 2.0];
        for _ in 0..n {
            let x0: f64 = rng.random::<f64>() * 2.0 - 1.0;
            let x1: f64 = rng.random::<f64>() * 2.0 - 1.0;
            let id = rng.random_range(0..4u32);
            let p = sigmoid(1.5 * x0 - 2.0 * x1 + id_effect[id as usize] - 1.0);
            data.push_row(&[x0 as f32, x1 as f32], &[id], rng.random::<f64>() < p);
        }
        data
    }

    #[test]
    fn recovers_known_weights() {
        let train_set = synthetic(40_000, 1);
        let valid_set = synthetic(5_000, 2);
        assert!(train_set.is_consistent());
        let config = LogisticConfig {
            max_epochs: 20,
            patience: 3,
            ..LogisticConfig::default()
        };
        let (model, curve) = train(&train_set, &valid_set, &config, &mut Seed(3).stream("t"));
        assert!((model.dense[0] - 1.5).abs() < 0.2, "{:?}", model.dense);
        assert!((model.dense[1] + 2.0).abs() < 0.2, "{:?}", model.dense);
        // Sparse weights are identified up to the bias: compare differences.
        let diff = model.sparse[3] - model.sparse[0];
        assert!((diff - 3.0).abs() < 0.3, "{:?}", model.sparse);
        // The kept model beats always predicting the base rate by a wide margin.
        let rate = valid_set.positive_rate();
        let constant = log_loss(&valid_set.label, &vec![rate; valid_set.len()], None);
        assert!(
            curve.valid_loss[curve.best_epoch] < constant - 0.1,
            "{curve:?} vs constant {constant}"
        );
        assert!(curve.train_loss.len() >= 2);
        assert_eq!(model.params(), 1 + 2 + 4);
    }

    /// Rows whose label depends on which tokens their bag holds: token 0
    /// pushes toward positive, token 1 toward negative, tokens 2..20 are noise.
    fn bags(n: usize, seed: u64) -> Dataset {
        let mut rng = Seed(seed).stream("test.bags");
        let mut data = Dataset {
            bags: vec![crate::engine::data::BagField::new("tokens", 20)],
            ..Dataset::default()
        };
        for _ in 0..n {
            let len = rng.random_range(1..6);
            let ids: Vec<u32> = (0..len).map(|_| rng.random_range(0..20u32)).collect();
            let z: f64 = ids
                .iter()
                .map(|&t| match t {
                    0 => 2.0,
                    1 => -2.0,
                    _ => 0.0,
                })
                .sum::<f64>()
                - 0.5;
            data.push_row_with_bags(&[], &[], &[&ids], rng.random::<f64>() < sigmoid(z));
        }
        data
    }

    #[test]
    fn learns_one_weight_per_bag_id_summed_or_averaged() {
        let train_set = bags(30_000, 5);
        let valid_set = bags(3_000, 6);
        assert!(train_set.is_consistent());
        let config = LogisticConfig {
            max_epochs: 15,
            ..LogisticConfig::default()
        };
        let (model, _) = train(&train_set, &valid_set, &config, &mut Seed(7).stream("t"));
        assert_eq!(model.params(), 1 + 20);
        assert!((model.sparse[0] - 2.0).abs() < 0.3, "{:?}", model.sparse);
        assert!((model.sparse[1] + 2.0).abs() < 0.3, "{:?}", model.sparse);
        assert!(model.sparse[2..].iter().all(|w| w.abs() < 0.3));
        // Averaging misfits a summed truth: long bags with token 0 are under-scored.
        let mean = LogisticConfig {
            bag_pooling: Pooling::Mean,
            ..config
        };
        let (averaged, _) = train(&train_set, &valid_set, &mean, &mut Seed(7).stream("t"));
        let loss = |m: &LogisticModel| log_loss(&valid_set.label, &m.predict(&valid_set), None);
        assert!(
            loss(&model) < loss(&averaged) - 0.005,
            "{} vs {}",
            loss(&model),
            loss(&averaged)
        );
    }

    #[test]
    fn training_is_deterministic() {
        let data = synthetic(2_000, 4);
        let run = || {
            train(
                &data,
                &data,
                &LogisticConfig::default(),
                &mut Seed(9).stream("t"),
            )
            .0
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn empty_training_set_gives_a_zero_model_not_a_panic() {
        let empty = Dataset::default();
        let (model, curve) = train(
            &empty,
            &empty,
            &LogisticConfig::default(),
            &mut Seed(1).stream("t"),
        );
        assert_eq!(model.params(), 1);
        assert!(curve.train_loss.is_empty());
    }
}
