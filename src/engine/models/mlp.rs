//! A multi-layer perceptron: learned embeddings for sparse ids and
//! mean-pooled embeddings for bags of ids (a post's tokens), concatenated
//! with dense columns, one or two `ReLU` hidden layers, and one logistic head
//! per task (the main label first, then any auxiliary labels), trained by
//! mini-batch Adam with early stopping on the main task's validation loss.
//!
//! Bags (text) meet the other inputs (author features) by early or late
//! [`Fusion`]: one shared network, or two towers that meet only at the heads.
//! Late fusion is a block-diagonal network: each hidden layer's weights from
//! one tower's units to the other's are zero and never trained.
//!
//! Hand-written rather than taken from burn or candle: both compile for
//! minutes on two cores and add hundreds of KB to the wasm, for a network this
//! size (a few thousand weights besides embeddings) that trains in tens of
//! lines; this one is deterministic on one thread and its gradients are
//! checked against finite differences in the tests.

use rand::RngExt;
use rand::seq::SliceRandom;
use rand_distr::StandardNormal;

use super::logistic::Pooling;
use super::{Progress, TrainingCurve, log_loss};
use crate::compute::{self, Activation, Compute, DenseLayer, Network, Precision, Rows};
use crate::engine::data::Dataset;
use crate::engine::math::sigmoid;
use crate::engine::rng::StageRng;

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpConfig {
    /// Widths of the hidden layers (one or two layers).
    pub hidden: Vec<usize>,
    /// Length of each sparse id's embedding.
    pub embedding_dim: usize,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub fusion: Fusion,
    /// How a bag's token embeddings combine: mean (the default) or sum.
    pub bag_pooling: Pooling,
}

/// How bag (text) inputs and the other inputs meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fusion {
    /// One network over every input: text and author features interact
    /// from the first hidden layer on.
    Early,
    /// Two towers, one over the bags and one over the rest, each with half of
    /// every hidden layer; their outputs are combined only by the heads, so
    /// text and author features add up but never interact.
    Late,
}

impl Fusion {
    /// The stable name used in reports and URLs.
    pub fn id(self) -> &'static str {
        match self {
            Fusion::Early => "early",
            Fusion::Late => "late",
        }
    }
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            hidden: vec![32],
            embedding_dim: 8,
            learning_rate: 0.01,
            batch_size: 128,
            max_epochs: 6,
            patience: 2,
            fusion: Fusion::Early,
            bag_pooling: Pooling::Mean,
        }
    }
}

/// A fully connected layer: `out = W x + b`. `W` is stored input-major,
/// `weight[j * outputs + o]`, so the forward pass adds one input's column to
/// every output at once (it vectorizes, and zero inputs, half of them after a
/// `ReLU`, are skipped); each output still sums its terms in input order.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    /// Block-diagonal (late fusion): `Some((i, o))` connects inputs below `i`
    /// only to outputs below `o`, and the other inputs only to the other
    /// outputs; the weights between blocks stay zero.
    pub split: Option<(usize, usize)>,
}

impl Layer {
    fn new(
        inputs: usize,
        outputs: usize,
        scale: f64,
        split: Option<(usize, usize)>,
        rng: &mut StageRng,
    ) -> Layer {
        let weight = (0..inputs * outputs)
            .map(|_| (rng.sample::<f64, _>(StandardNormal) * scale) as f32)
            .collect();
        let mut layer = Layer {
            inputs,
            outputs,
            weight,
            bias: vec![0.0; outputs],
            split,
        };
        for j in 0..inputs {
            let live = layer.outputs_of(j);
            for (o, w) in layer.weight[j * outputs..(j + 1) * outputs]
                .iter_mut()
                .enumerate()
            {
                if !live.contains(&o) {
                    *w = 0.0;
                }
            }
        }
        layer
    }

    /// The outputs input `j` feeds.
    fn outputs_of(&self, j: usize) -> std::ops::Range<usize> {
        match self.split {
            None => 0..self.outputs,
            Some((i, o)) if j < i => 0..o,
            Some((_, o)) => o..self.outputs,
        }
    }

    /// Number of trained weights and biases (zero blocks excluded).
    fn params(&self) -> usize {
        let weights = match self.split {
            None => self.inputs * self.outputs,
            Some((i, o)) => i * o + (self.inputs - i) * (self.outputs - o),
        };
        weights + self.outputs
    }

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for (j, (column, &xj)) in self.weight.chunks_exact(self.outputs).zip(x).enumerate() {
            if xj == 0.0 {
                continue;
            }
            let live = self.outputs_of(j);
            for (z, w) in out[live.clone()].iter_mut().zip(&column[live]) {
                *z += xj * w;
            }
        }
    }
}

/// Dot product in eight interleaved partial sums, added in a fixed order at
/// the end: the compiler turns it into SIMD (a single running sum cannot be,
/// since float addition is not associative), and the order, written out here,
/// is the same on every platform.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = a.chunks_exact(8).zip(b.chunks_exact(8));
    for (x, y) in chunks {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let tail = a.len() - a.len() % 8;
    let mut sum = 0.0f32;
    for (x, y) in a[tail..].iter().zip(&b[tail..]) {
        sum += x * y;
    }
    lanes.iter().fold(sum, |acc, l| acc + l)
}

/// Rows a prediction gathers into one matrix for the forward kernel: 16,384
/// rows of 100 inputs are 6.5 MB, one GPU dispatch and read-back.
const PREDICT_BLOCK: usize = 16_384;

/// `network`'s outputs on rows of `width` inputs, on the CPU reference
/// path (one row's logit).
fn network_logits(network: &Network, inputs: &[f32], width: usize) -> Vec<f32> {
    Rows::new(inputs, width)
        .and_then(|rows| compute::cpu_forward(network, rows).ok())
        .expect("the model's inputs are as wide as its first layer")
}

/// A trained network.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpModel {
    pub bag_pooling: Pooling,
    /// Per sparse field, then per bag field, `vocab x embedding_dim` values,
    /// row-major.
    pub embeddings: Vec<Vec<f32>>,
    pub embedding_dim: usize,
    /// Hidden layers, then the output layer (one output per task).
    pub layers: Vec<Layer>,
    /// After [`MlpModel::quantized`] at f16 or int8: the layers at that
    /// precision, which then compute every prediction (the embeddings are
    /// rounded in place).
    pub quantized: Option<Network>,
}

/// Activations of one row, kept for the backward pass.
struct Trace {
    /// Input of each layer; the last entry is the output logits.
    acts: Vec<Vec<f32>>,
}

impl MlpModel {
    fn new(data: &Dataset, tasks: usize, config: &MlpConfig, rng: &mut StageRng) -> MlpModel {
        let e = config.embedding_dim;
        let vocabs = data
            .sparse_fields
            .iter()
            .map(|f| f.vocab)
            .chain(data.bags.iter().map(|b| b.vocab));
        let embeddings = vocabs
            .map(|vocab| {
                (0..vocab as usize * e)
                    .map(|_| (rng.sample::<f64, _>(StandardNormal) * 0.05) as f32)
                    .collect()
            })
            .collect();
        let mut layers = Vec::new();
        // Inputs: dense, sparse embeddings (the author tower), bag embeddings (text).
        let mut tower = data.dense_dim() + data.sparse_dim() * e;
        let mut width = tower + data.bag_dim() * e;
        for &h in config.hidden.iter().take(2) {
            let split = match config.fusion {
                Fusion::Early => None,
                Fusion::Late => Some((tower, h - h / 2)),
            };
            // He initialization for ReLU layers.
            layers.push(Layer::new(
                width,
                h,
                (2.0 / width.max(1) as f64).sqrt(),
                split,
                rng,
            ));
            tower = h - h / 2;
            width = h;
        }
        layers.push(Layer::new(
            width,
            tasks,
            (1.0 / width.max(1) as f64).sqrt(),
            None,
            rng,
        ));
        MlpModel {
            bag_pooling: config.bag_pooling,
            embeddings,
            embedding_dim: e,
            layers,
            quantized: None,
        }
    }

    /// The network's input for row `i`: dense values, then each sparse
    /// field's embedding, then each bag's mean embedding (zeros if empty).
    fn input(&self, data: &Dataset, i: usize, x: &mut Vec<f32>) {
        x.clear();
        x.extend_from_slice(data.dense_row(i));
        let e = self.embedding_dim;
        let s = data.sparse_dim();
        for (table, &id) in self.embeddings.iter().zip(data.sparse_row(i)) {
            let id = id as usize;
            x.extend_from_slice(&table[id * e..(id + 1) * e]);
        }
        for (table, bag) in self.embeddings[s..].iter().zip(&data.bags) {
            let start = x.len();
            x.resize(start + e, 0.0);
            let ids = bag.row(i);
            let pooled = &mut x[start..];
            for &id in ids {
                let id = id as usize;
                for (p, v) in pooled.iter_mut().zip(&table[id * e..(id + 1) * e]) {
                    *p += v;
                }
            }
            let scale = self.bag_scale(ids.len());
            for p in pooled {
                *p *= scale;
            }
        }
    }

    fn forward(&self, data: &Dataset, i: usize, trace: &mut Trace) {
        trace.acts.resize(self.layers.len() + 1, Vec::new());
        let mut x = std::mem::take(&mut trace.acts[0]);
        self.input(data, i, &mut x);
        trace.acts[0] = x;
        let last = self.layers.len() - 1;
        for (k, layer) in self.layers.iter().enumerate() {
            let mut out = std::mem::take(&mut trace.acts[k + 1]);
            out.resize(layer.outputs, 0.0);
            layer.forward(&trace.acts[k], &mut out);
            if k < last {
                for v in &mut out {
                    *v = v.max(0.0);
                }
            }
            trace.acts[k + 1] = out;
        }
    }

    /// The factor each id's embedding gets in a bag of `len` ids.
    fn bag_scale(&self, len: usize) -> f32 {
        match self.bag_pooling {
            Pooling::Sum => 1.0,
            Pooling::Mean => 1.0 / len.max(1) as f32,
        }
    }

    /// The main task's logit for row `i`.
    pub fn logit(&self, data: &Dataset, i: usize) -> f64 {
        if let Some(network) = &self.quantized {
            let mut x = Vec::new();
            self.input(data, i, &mut x);
            let z = network_logits(network, &x, x.len());
            return z.first().map_or(0.0, |&z| f64::from(z));
        }
        let mut trace = Trace { acts: Vec::new() };
        self.forward(data, i, &mut trace);
        trace.acts.last().map_or(0.0, |z| f64::from(z[0]))
    }

    /// This model with its weights stored at `precision` (see
    /// `compute::quant`): each embedding row quantized as a group (one scale
    /// per row at int8), the layers through [`Network::quantize`], whose int8
    /// input scales are calibrated on up to 2,000 rows of `calibration` (the
    /// training rows). Predictions change; the training curve does not.
    #[must_use]
    pub fn quantized(&self, precision: Precision, calibration: &Dataset) -> MlpModel {
        let mut model = self.clone();
        if precision == Precision::Fp32 {
            return model;
        }
        let e = model.embedding_dim.max(1);
        for table in &mut model.embeddings {
            for row in table.chunks_mut(e) {
                compute::round_group(row, precision);
            }
        }
        let network = self.network();
        let mut inputs = Vec::new();
        let mut x = Vec::new();
        for i in 0..calibration.len().min(super::CALIBRATION_ROWS) {
            model.input(calibration, i, &mut x);
            inputs.extend_from_slice(&x);
        }
        let width = network.inputs();
        let rows = Rows::new(&inputs, width).unwrap_or(Rows { data: &[], width });
        model.quantized = Some(network.quantize(precision, rows));
        model
    }

    /// The layers as a compute [`Network`] (output-major weights).
    fn network(&self) -> Network {
        let last = self.layers.len() - 1;
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let mut weight = vec![0.0; l.inputs * l.outputs];
                for (j, column) in l.weight.chunks_exact(l.outputs).enumerate() {
                    for (o, w) in column.iter().enumerate() {
                        weight[o * l.inputs + j] = *w;
                    }
                }
                let activation = if k < last {
                    Activation::Relu
                } else {
                    Activation::Identity
                };
                DenseLayer::new(l.inputs, l.outputs, weight, l.bias.clone(), activation)
            })
            .collect::<Result<Vec<_>, _>>();
        layers
            .and_then(Network::new)
            .expect("trained layers chain: each layer's inputs are the previous one's outputs")
    }

    /// Bytes of the parameters at the model's precision: embeddings (with
    /// one f32 scale per row at int8) and layers.
    pub fn bytes(&self) -> u64 {
        let Some(network) = &self.quantized else {
            return self.params() as u64 * 4;
        };
        let precision = network.precision();
        let embeddings: u64 = self
            .embeddings
            .iter()
            .map(|t| compute::table_bytes(t.len(), self.embedding_dim, precision))
            .sum();
        embeddings + network.bytes()
    }

    /// The precision the model computes at.
    pub fn precision(&self) -> Precision {
        self.quantized
            .as_ref()
            .map_or(Precision::Fp32, Network::precision)
    }

    /// Predicted probability of the main task for every row of `data`, on
    /// the CPU.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        self.predict_task(data, 0)
    }

    /// Predicted probability of task `task` (0 is the main label), on the
    /// CPU.
    pub fn predict_task(&self, data: &Dataset, task: usize) -> Vec<f64> {
        compute::block_on(self.predict_task_on(data, task, &Compute::cpu()))
    }

    /// [`MlpModel::predict`] through `compute`'s forward kernel.
    pub async fn predict_on(&self, data: &Dataset, compute: &Compute) -> Vec<f64> {
        self.predict_task_on(data, 0, compute).await
    }

    /// Probabilities of `task` through the network at the model's
    /// precision on `compute`'s forward kernel, in blocks of
    /// [`PREDICT_BLOCK`] rows gathered into one matrix each.
    ///
    /// # Panics
    /// Never: a dataset's rows make inputs as wide as the first layer.
    pub async fn predict_task_on(
        &self,
        data: &Dataset,
        task: usize,
        compute: &Compute,
    ) -> Vec<f64> {
        let fp32;
        let network = if let Some(network) = &self.quantized {
            network
        } else {
            fp32 = self.network();
            &fp32
        };
        let width = network.inputs();
        let mut out = Vec::with_capacity(data.len());
        let (mut block, mut x) = (Vec::new(), Vec::new());
        for start in (0..data.len()).step_by(PREDICT_BLOCK) {
            block.clear();
            for i in start..data.len().min(start + PREDICT_BLOCK) {
                self.input(data, i, &mut x);
                block.extend_from_slice(&x);
            }
            let rows = Rows::new(&block, width)
                .expect("the model's inputs are as wide as its first layer");
            let logits = compute
                .forward(network, rows)
                .await
                .expect("the network takes rows of its width");
            out.extend(
                logits
                    .chunks_exact(network.outputs())
                    .map(|z| sigmoid(f64::from(z.get(task).copied().unwrap_or(0.0)))),
            );
        }
        out
    }

    /// Number of trained parameters, embeddings included (the zero blocks
    /// of late fusion excluded).
    pub fn params(&self) -> usize {
        self.embeddings.iter().map(Vec::len).sum::<usize>()
            + self.layers.iter().map(Layer::params).sum::<usize>()
    }

    /// Operations to score one row of `data`'s shape: a multiply and an add
    /// per weight of every layer (biases and activations included), and an
    /// add per embedding value gathered (one embedding per sparse id, one per
    /// bag id).
    pub fn flops_per_item(&self, data: &Dataset) -> f64 {
        let layers: usize = self.layers.iter().map(|l| 2 * l.params()).sum();
        let gathered = data.sparse_dim() as f64 + data.mean_bag_ids();
        layers as f64 + gathered * self.embedding_dim as f64
    }

    /// Zeroed gradients shaped like the model.
    fn zero_grads(&self) -> MlpModel {
        let mut g = self.clone();
        for t in &mut g.embeddings {
            t.fill(0.0);
        }
        for l in &mut g.layers {
            l.weight.fill(0.0);
            l.bias.fill(0.0);
        }
        g
    }

    /// Adds the gradient of row `i`'s weighted loss (summed over tasks) to
    /// `grads`, and returns the main task's loss. `labels[t][i]` is task t's label.
    fn backward(
        &self,
        data: &Dataset,
        labels: &[&[f32]],
        i: usize,
        trace: &mut Trace,
        grads: &mut Grads,
    ) -> f64 {
        self.forward(data, i, trace);
        let w = data.weight[i];
        let n_layers = self.layers.len();
        let logits = &trace.acts[n_layers];
        let mut delta: Vec<f32> = logits
            .iter()
            .zip(labels)
            .map(|(&z, y)| w * (sigmoid(f64::from(z)) as f32 - y[i]))
            .collect();
        let p = sigmoid(f64::from(logits[0])).clamp(1e-7, 1.0 - 1e-7);
        let loss = -crate::engine::math::ln(if labels[0][i] > 0.5 { p } else { 1.0 - p });
        for k in (0..n_layers).rev() {
            let layer = &self.layers[k];
            let input = &trace.acts[k];
            let g = &mut grads.model.layers[k];
            let mut back = vec![0.0f32; layer.inputs];
            for (b, d) in g.bias.iter_mut().zip(&delta) {
                *b += d;
            }
            let columns = layer.weight.chunks_exact(layer.outputs);
            let grad_columns = g.weight.chunks_exact_mut(layer.outputs);
            let rows = columns.zip(grad_columns).zip(input).zip(&mut back);
            for (j, (((column, grad), &xj), bj)) in rows.enumerate() {
                let live = layer.outputs_of(j);
                if xj != 0.0 {
                    for (gw, d) in grad[live.clone()].iter_mut().zip(&delta[live.clone()]) {
                        *gw += d * xj;
                    }
                }
                *bj = dot(&column[live.clone()], &delta[live]);
            }
            if k > 0 {
                // Through the ReLU of the layer below.
                for (b, &a) in back.iter_mut().zip(input) {
                    if a <= 0.0 {
                        *b = 0.0;
                    }
                }
            }
            delta = back;
        }
        // `delta` is now the gradient of the input: dense part, then embeddings.
        let e = self.embedding_dim;
        let d = data.dense_dim();
        for (f, &id) in data.sparse_row(i).iter().enumerate() {
            grads.touch(f, id);
            let id = id as usize;
            let src = &delta[d + f * e..d + (f + 1) * e];
            let dst = &mut grads.model.embeddings[f][id * e..(id + 1) * e];
            for (g, s) in dst.iter_mut().zip(src) {
                *g += s;
            }
        }
        // A bag's mean passes 1 / len of its gradient to each id's embedding.
        let s = data.sparse_dim();
        for (b, bag) in data.bags.iter().enumerate() {
            let ids = bag.row(i);
            let scale = self.bag_scale(ids.len());
            let at = d + (s + b) * e;
            let src = &delta[at..at + e];
            for &id in ids {
                grads.touch(s + b, id);
                let id = id as usize;
                let dst = &mut grads.model.embeddings[s + b][id * e..(id + 1) * e];
                for (g, v) in dst.iter_mut().zip(src) {
                    *g += v * scale;
                }
            }
        }
        loss
    }
}

/// A batch's gradients, shaped like the model, with the embedding rows the
/// batch touched: only those are updated and cleared (lazy Adam). Updating
/// every embedding row each batch made training 30x slower at the default
/// world size, where most ids appear in few batches.
struct Grads {
    model: MlpModel,
    touched: Vec<Vec<u32>>,
    flagged: Vec<Vec<bool>>,
}

impl Grads {
    fn new(model: &MlpModel) -> Grads {
        let e = model.embedding_dim.max(1);
        Grads {
            model: model.zero_grads(),
            touched: vec![Vec::new(); model.embeddings.len()],
            flagged: model
                .embeddings
                .iter()
                .map(|t| vec![false; t.len() / e])
                .collect(),
        }
    }

    fn touch(&mut self, field: usize, id: u32) {
        let flag = &mut self.flagged[field][id as usize];
        if !*flag {
            *flag = true;
            self.touched[field].push(id);
        }
    }

    fn clear(&mut self) {
        let e = self.model.embedding_dim;
        for f in 0..self.touched.len() {
            for &id in &self.touched[f] {
                let id = id as usize;
                self.model.embeddings[f][id * e..(id + 1) * e].fill(0.0);
                self.flagged[f][id] = false;
            }
            self.touched[f].clear();
        }
        for l in &mut self.model.layers {
            l.weight.fill(0.0);
            l.bias.fill(0.0);
        }
    }
}

/// Adam state, one moment pair per parameter, in the model's own shape.
struct Adam {
    m: MlpModel,
    v: MlpModel,
    /// B1^t and B2^t, kept as running products (no `powi`, whose rounding
    /// may differ between platforms).
    b1_t: f32,
    b2_t: f32,
}

const B1: f32 = 0.9;
const B2: f32 = 0.999;

impl Adam {
    fn new(model: &MlpModel) -> Adam {
        Adam {
            m: model.zero_grads(),
            v: model.zero_grads(),
            b1_t: 1.0,
            b2_t: 1.0,
        }
    }

    fn apply(&mut self, model: &mut MlpModel, grads: &Grads, scale: f32, lr: f64) {
        const EPS: f32 = 1e-8;
        self.b1_t *= B1;
        self.b2_t *= B2;
        let c1 = 1.0 - self.b1_t;
        let c2 = 1.0 - self.b2_t;
        let lr = lr as f32;
        let update = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
            for k in 0..p.len() {
                let gk = g[k] * scale;
                m[k] = B1 * m[k] + (1.0 - B1) * gk;
                v[k] = B2 * v[k] + (1.0 - B2) * gk * gk;
                p[k] -= lr * (m[k] / c1) / ((v[k] / c2).sqrt() + EPS);
            }
        };
        let e = model.embedding_dim;
        for (f, table) in model.embeddings.iter_mut().enumerate() {
            for &id in &grads.touched[f] {
                let r = id as usize * e..(id as usize + 1) * e;
                update(
                    &mut table[r.clone()],
                    &grads.model.embeddings[f][r.clone()],
                    &mut self.m.embeddings[f][r.clone()],
                    &mut self.v.embeddings[f][r],
                );
            }
        }
        for (k, layer) in model.layers.iter_mut().enumerate() {
            let (m, v) = (&mut self.m.layers[k], &mut self.v.layers[k]);
            let g = &grads.model.layers[k];
            update(&mut layer.weight, &g.weight, &mut m.weight, &mut v.weight);
            update(&mut layer.bias, &g.bias, &mut m.bias, &mut v.bias);
        }
    }
}

/// Trains on `train` with the main label and any `aux_labels` (each a label
/// per training row) as extra heads; keeps the epoch with the best main-task
/// log loss on `valid`.
pub fn train(
    train: &Dataset,
    aux_labels: &[Vec<f32>],
    valid: &Dataset,
    config: &MlpConfig,
    rng: &mut StageRng,
) -> (MlpModel, TrainingCurve) {
    let tasks = 1 + aux_labels.len();
    let mut model = MlpModel::new(train, tasks, config, rng);
    let mut curve = TrainingCurve::default();
    let mut best = model.clone();
    if train.is_empty() {
        return (model, curve);
    }
    let mut labels: Vec<&[f32]> = vec![&train.label];
    labels.extend(aux_labels.iter().map(Vec::as_slice));
    let mut adam = Adam::new(&model);
    let mut grads = Grads::new(&model);
    let mut trace = Trace { acts: Vec::new() };
    let batch_size = config.batch_size.max(1);
    let mut batches: Vec<usize> = (0..train.len().div_ceil(batch_size)).collect();
    for _ in 0..config.max_epochs {
        batches.shuffle(rng);
        let (mut loss_sum, mut weight_sum) = (0.0, 0.0);
        for &b in &batches {
            let rows = b * batch_size..((b + 1) * batch_size).min(train.len());
            let mut batch_weight = 0.0f32;
            for i in rows {
                let w = train.weight[i];
                loss_sum +=
                    f64::from(w) * model.backward(train, &labels, i, &mut trace, &mut grads);
                weight_sum += f64::from(w);
                batch_weight += w;
            }
            if batch_weight > 0.0 {
                adam.apply(&mut model, &grads, 1.0 / batch_weight, config.learning_rate);
            }
            grads.clear();
        }
        let valid_loss =
            (!valid.is_empty()).then(|| log_loss(&valid.label, &model.predict(valid), None));
        match curve.record_epoch(loss_sum, weight_sum, valid_loss, config.patience) {
            Progress::Improved => best = model.clone(),
            Progress::Worse => {}
            Progress::Stop => break,
        }
    }
    (best, curve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::data::SparseField;
    use crate::engine::rng::Seed;

    /// Positive inside a square (no linear model fits it), plus a sparse id
    /// that shifts the odds; the auxiliary label is the id being 1.
    fn data(n: usize, seed: u64) -> (Dataset, Vec<f32>) {
        let mut rng = Seed(seed).stream("test.mlp");
        let mut d = Dataset {
            dense_names: vec!["x".into(), "y".into()],
            sparse_fields: vec![SparseField {
                name: "id".into(),
                vocab: 3,
            }],
            ..Dataset::default()
        };
        let mut aux = Vec::new();
        for _ in 0..n {
            let x: f32 = rng.random::<f32>() * 2.0 - 1.0;
            let y: f32 = rng.random::<f32>() * 2.0 - 1.0;
            let id = rng.random_range(0..3u32);
            let inside = x.abs() < 0.5 && y.abs() < 0.5;
            let p = if inside { 0.85 } else { 0.1 } + if id == 2 { 0.1 } else { 0.0 };
            d.push_row(&[x, y], &[id], rng.random::<f64>() < p);
            aux.push(f32::from(u8::from(id == 1)));
        }
        (d, aux)
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (d, aux) = data(5, 1);
        let config = MlpConfig {
            hidden: vec![4, 3],
            embedding_dim: 2,
            ..MlpConfig::default()
        };
        let model = MlpModel::new(&d, 2, &config, &mut Seed(2).stream("init"));
        let labels: Vec<&[f32]> = vec![&d.label, &aux];
        let mut batch = Grads::new(&model);
        let mut trace = Trace { acts: Vec::new() };
        model.backward(&d, &labels, 3, &mut trace, &mut batch);
        let grads = batch.model;
        // Loss of row 3 summed over both tasks, in f64 from the f32 logits.
        let total_loss = |m: &MlpModel| {
            let mut t = Trace { acts: Vec::new() };
            m.forward(&d, 3, &mut t);
            let z = t.acts.last().unwrap();
            (0..2)
                .map(|k| {
                    let p = sigmoid(f64::from(z[k]));
                    let y = f64::from(labels[k][3]);
                    -(y * crate::engine::math::ln(p) + (1.0 - y) * crate::engine::math::ln(1.0 - p))
                })
                .sum::<f64>()
        };
        let h = 1e-2f32;
        let mut checked = 0;
        for layer in 0..model.layers.len() {
            for k in (0..model.layers[layer].weight.len()).step_by(3) {
                let mut plus = model.clone();
                plus.layers[layer].weight[k] += h;
                let mut minus = model.clone();
                minus.layers[layer].weight[k] -= h;
                let numeric = (total_loss(&plus) - total_loss(&minus)) / (2.0 * f64::from(h));
                let analytic = f64::from(grads.layers[layer].weight[k]);
                assert!(
                    (numeric - analytic).abs() < 2e-3 + 0.05 * analytic.abs(),
                    "layer {layer} weight {k}: {numeric} vs {analytic}"
                );
                checked += 1;
            }
        }
        let id = d.sparse_row(3)[0] as usize;
        for k in 0..2 {
            let mut plus = model.clone();
            plus.embeddings[0][id * 2 + k] += h;
            let mut minus = model.clone();
            minus.embeddings[0][id * 2 + k] -= h;
            let numeric = (total_loss(&plus) - total_loss(&minus)) / (2.0 * f64::from(h));
            let analytic = f64::from(grads.embeddings[0][id * 2 + k]);
            assert!(
                (numeric - analytic).abs() < 2e-3 + 0.05 * analytic.abs(),
                "{numeric} vs {analytic}"
            );
        }
        assert!(checked > 5);
    }

    /// A dense `x` and a bag of tokens from 0..6: positive (85%) when token
    /// 0 is in the bag exactly when x > 0, an interaction of text and author
    /// that no sum of a text part and an author part can fit.
    fn text_and_author(n: usize, seed: u64) -> Dataset {
        let mut rng = Seed(seed).stream("test.fusion");
        let mut d = Dataset {
            dense_names: vec!["x".into()],
            bags: vec![crate::engine::data::BagField::new("tokens", 6)],
            ..Dataset::default()
        };
        for _ in 0..n {
            let x: f32 = rng.random::<f32>() * 2.0 - 1.0;
            let len = rng.random_range(1..5);
            let ids: Vec<u32> = (0..len).map(|_| rng.random_range(0..6u32)).collect();
            let agree = ids.contains(&0) == (x > 0.0);
            let p = if agree { 0.85 } else { 0.15 };
            d.push_row_with_bags(&[x], &[], &[&ids], rng.random::<f64>() < p);
        }
        d
    }

    #[test]
    fn bag_and_late_fusion_gradients_match_finite_differences() {
        let d = text_and_author(6, 8);
        let config = MlpConfig {
            hidden: vec![6, 4],
            embedding_dim: 3,
            fusion: Fusion::Late,
            ..MlpConfig::default()
        };
        let model = MlpModel::new(&d, 1, &config, &mut Seed(9).stream("init"));
        let labels: Vec<&[f32]> = vec![&d.label];
        let row = 2;
        let mut batch = Grads::new(&model);
        let mut trace = Trace { acts: Vec::new() };
        model.backward(&d, &labels, row, &mut trace, &mut batch);
        let grads = batch.model;
        let loss = |m: &MlpModel| {
            let p = sigmoid(m.logit(&d, row));
            let y = f64::from(d.label[row]);
            -(y * crate::engine::math::ln(p) + (1.0 - y) * crate::engine::math::ln(1.0 - p))
        };
        let h = 1e-2f32;
        let check = |numeric: f64, analytic: f64, what: &str| {
            assert!(
                (numeric - analytic).abs() < 2e-3 + 0.05 * analytic.abs(),
                "{what}: {numeric} vs {analytic}"
            );
        };
        for &id in d.bags[0].row(row) {
            for k in 0..3 {
                let at = id as usize * 3 + k;
                let mut plus = model.clone();
                plus.embeddings[0][at] += h;
                let mut minus = model.clone();
                minus.embeddings[0][at] -= h;
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * f64::from(h));
                check(
                    numeric,
                    f64::from(grads.embeddings[0][at]),
                    "token embedding",
                );
            }
        }
        for layer in 0..model.layers.len() {
            for k in 0..model.layers[layer].weight.len() {
                let mut plus = model.clone();
                plus.layers[layer].weight[k] += h;
                let mut minus = model.clone();
                minus.layers[layer].weight[k] -= h;
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * f64::from(h));
                let analytic = f64::from(grads.layers[layer].weight[k]);
                check(numeric, analytic, "layer weight");
                if model.layers[layer].weight[k] == 0.0 {
                    // A zero block of the block-diagonal layer gets no gradient.
                    assert!(
                        analytic.abs() < 1e-12,
                        "layer {layer} weight {k}: {analytic}"
                    );
                }
            }
        }
        // Each tower has half of every hidden layer: dense x -> 3 units, the
        // 3-wide token embedding -> 3 units, then 2 + 2 units, then one head.
        assert_eq!(
            model.params(),
            18 + (3 + 3 * 3 + 6) + (3 * 2 + 3 * 2 + 4) + (4 + 1)
        );
    }

    #[test]
    fn early_fusion_learns_a_text_author_interaction_that_late_fusion_cannot() {
        let train_set = text_and_author(8_000, 10);
        let valid_set = text_and_author(2_000, 11);
        let run = |fusion| {
            let config = MlpConfig {
                hidden: vec![16],
                max_epochs: 15,
                patience: 3,
                fusion,
                ..MlpConfig::default()
            };
            let (model, _) = train(
                &train_set,
                &[],
                &valid_set,
                &config,
                &mut Seed(12).stream("t"),
            );
            log_loss(&valid_set.label, &model.predict(&valid_set), None)
        };
        let (early, late) = (run(Fusion::Early), run(Fusion::Late));
        // Bayes loss is the entropy of 0.85/0.15, about 0.42; a sum of parts
        // can do no better than the base rate, ln 2.
        assert!(early < 0.5, "early {early}, late {late}");
        assert!(late > 0.65, "early {early}, late {late}");
    }

    #[test]
    #[allow(clippy::float_cmp)] // the best epoch's loss is the minimum itself
    fn learns_a_nonlinear_boundary_and_an_auxiliary_head() {
        let (train_set, aux) = data(8_000, 3);
        let (valid_set, valid_aux) = data(2_000, 4);
        let config = MlpConfig {
            hidden: vec![32, 16],
            max_epochs: 30,
            patience: 4,
            ..MlpConfig::default()
        };
        let (model, curve) = train(
            &train_set,
            &[aux],
            &valid_set,
            &config,
            &mut Seed(5).stream("t"),
        );
        let loss = log_loss(&valid_set.label, &model.predict(&valid_set), None);
        let (linear, _) = crate::engine::models::logistic::train(
            &train_set,
            &valid_set,
            &crate::engine::models::logistic::LogisticConfig::default(),
            &mut Seed(5).stream("t"),
        );
        let linear_loss = log_loss(&valid_set.label, &linear.predict(&valid_set), None);
        let truth: Vec<f64> = (0..valid_set.len())
            .map(|i| {
                let r = valid_set.dense_row(i);
                let inside = r[0].abs() < 0.5 && r[1].abs() < 0.5;
                (if inside { 0.85 } else { 0.1 })
                    + if valid_set.sparse_row(i)[0] == 2 {
                        0.1
                    } else {
                        0.0
                    }
            })
            .collect();
        let bayes = log_loss(&valid_set.label, &truth, None);
        assert!(
            loss < linear_loss - 0.02,
            "mlp {loss}, linear {linear_loss}, bayes {bayes}"
        );
        assert!(
            loss < bayes + 0.05,
            "mlp {loss}, linear {linear_loss}, bayes {bayes}"
        );
        assert_eq!(
            curve.valid_loss[curve.best_epoch],
            curve
                .valid_loss
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
        );
        let aux_loss = log_loss(&valid_aux, &model.predict_task(&valid_set, 1), None);
        assert!(
            aux_loss < 0.1,
            "the auxiliary head learns id == 1: {aux_loss}"
        );
        assert!(model.params() > 100);
    }

    #[test]
    fn training_is_deterministic() {
        let (d, aux) = data(1_000, 6);
        let run = || {
            train(
                &d,
                std::slice::from_ref(&aux),
                &d,
                &MlpConfig::default(),
                &mut Seed(7).stream("t"),
            )
            .0
        };
        assert_eq!(run(), run());
    }
}
