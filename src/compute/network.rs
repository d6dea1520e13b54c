//! The kernels' inputs and outputs: row-major matrices, a stack of dense
//! layers at a precision, top-k lists and per-class histograms.

use super::quant::{Int8Group, Precision, input_multiplier, round_f16};

/// A row-major matrix borrowed from its owner: `data.len() / width` rows.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub width: usize,
}

impl<'a> Rows<'a> {
    /// A view of `data` as rows of `width` values; `None` if `data` is not a
    /// whole number of rows (or `width` is zero while `data` is not empty).
    pub fn new(data: &'a [f32], width: usize) -> Option<Rows<'a>> {
        let whole = if width == 0 {
            data.is_empty()
        } else {
            data.len().is_multiple_of(width)
        };
        whole.then_some(Rows { data, width })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.width..(i + 1) * self.width]
    }
}

/// What a layer applies to its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
}

impl Activation {
    pub fn apply(self, y: f32) -> f32 {
        match self {
            Activation::Identity => y,
            Activation::Relu => y.max(0.0),
        }
    }
}

/// The integer form of a layer (see `quant.rs` for the scheme).
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Layer {
    /// `outputs x inputs` codes, output-major.
    pub q: Vec<i8>,
    /// Per output: weight scale times input scale, the dequantizing factor.
    pub dequant: Vec<f32>,
    /// Quantizes an input: `round(x * input_multiplier)`.
    pub input_multiplier: f32,
}

/// `y = activation(W x + b)`. `weight` is output-major (`weight[o * inputs +
/// i]`) and holds the values the layer computes with: at f16 already
/// rounded to f16; at int8 `int8` holds the codes the layer computes with.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseLayer {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub activation: Activation,
    pub int8: Option<Int8Layer>,
}

impl DenseLayer {
    /// An fp32 layer; `weight` is output-major.
    ///
    /// # Errors
    /// [`NetworkError`] if the shapes disagree or a side is empty.
    pub fn new(
        inputs: usize,
        outputs: usize,
        weight: Vec<f32>,
        bias: Vec<f32>,
        activation: Activation,
    ) -> Result<DenseLayer, NetworkError> {
        if weight.len() != inputs * outputs || bias.len() != outputs || inputs == 0 || outputs == 0
        {
            return Err(NetworkError(format!(
                "a {inputs}x{outputs} layer needs {} weights and {outputs} biases, got {} and {}",
                inputs * outputs,
                weight.len(),
                bias.len()
            )));
        }
        Ok(DenseLayer {
            inputs,
            outputs,
            weight,
            bias,
            activation,
            int8: None,
        })
    }
}

/// Why a network cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NetworkError(pub String);

/// Dense layers applied in order, all at one precision.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    layers: Vec<DenseLayer>,
    precision: Precision,
}

impl Network {
    /// The widest layer the GPU kernel keeps in registers; a wider network
    /// runs on the CPU.
    pub const MAX_WIDTH: usize = 256;

    /// An fp32 network; each layer's inputs must be the previous one's
    /// outputs. (The GPU takes layers up to [`Network::MAX_WIDTH`] wide; the
    /// CPU any.)
    ///
    /// # Errors
    /// [`NetworkError`] naming the layer that does not fit.
    pub fn new(layers: Vec<DenseLayer>) -> Result<Network, NetworkError> {
        if layers.is_empty() {
            return Err(NetworkError("a network needs at least one layer".into()));
        }
        for pair in layers.windows(2) {
            if pair[0].outputs != pair[1].inputs {
                return Err(NetworkError(format!(
                    "a layer with {} outputs feeds a layer with {} inputs",
                    pair[0].outputs, pair[1].inputs
                )));
            }
        }
        Ok(Network {
            layers,
            precision: Precision::Fp32,
        })
    }

    /// A network of layers already at `precision`: at int8 every layer
    /// must carry its codes, dequantizing factors and input multiplier.
    ///
    /// # Errors
    /// As [`Network::new`], and for an int8 layer without its codes.
    pub fn with_precision(
        layers: Vec<DenseLayer>,
        precision: Precision,
    ) -> Result<Network, NetworkError> {
        let mut network = Network::new(layers)?;
        if precision == Precision::Int8 {
            for layer in &network.layers {
                let whole = layer.int8.as_ref().is_some_and(|q| {
                    q.q.len() == layer.inputs * layer.outputs && q.dequant.len() == layer.outputs
                });
                if !whole {
                    return Err(NetworkError(format!(
                        "an int8 {}x{} layer needs {} codes and {} dequantizing factors",
                        layer.inputs,
                        layer.outputs,
                        layer.inputs * layer.outputs,
                        layer.outputs
                    )));
                }
            }
        }
        network.precision = precision;
        Ok(network)
    }

    /// The widest layer's inputs or outputs.
    pub fn width(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.inputs.max(l.outputs))
            .max()
            .unwrap_or(0)
    }

    pub fn layers(&self) -> &[DenseLayer] {
        &self.layers
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Inputs of the first layer.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// Outputs of the last layer.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    /// Number of weights and biases.
    pub fn params(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum()
    }

    /// Bytes of the weights at the network's precision (biases and int8
    /// scales stay f32).
    pub fn bytes(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| {
                let scales = if l.int8.is_some() {
                    l.outputs as u64 * 4 + 4
                } else {
                    0
                };
                l.weight.len() as u64 * self.precision.bytes_per_param()
                    + l.bias.len() as u64 * 4
                    + scales
            })
            .sum()
    }

    /// This fp32 network at `precision`. int8 calibrates each layer's input
    /// scale on `calibration` (the largest magnitude each layer's input
    /// reaches on those rows, run through the fp32 network).
    #[must_use]
    pub fn quantize(&self, precision: Precision, calibration: Rows<'_>) -> Network {
        let mut layers = self.layers.clone();
        match precision {
            Precision::Fp32 => {}
            Precision::F16 => {
                for layer in &mut layers {
                    layer.weight.iter_mut().for_each(|w| *w = round_f16(*w));
                }
            }
            Precision::Int8 => {
                let max_abs = self.input_ranges(calibration);
                for (layer, max) in layers.iter_mut().zip(max_abs) {
                    let multiplier = input_multiplier(max);
                    let mut q = Vec::with_capacity(layer.weight.len());
                    let mut dequant = Vec::with_capacity(layer.outputs);
                    for o in 0..layer.outputs {
                        let group = Int8Group::quantize(
                            &layer.weight[o * layer.inputs..(o + 1) * layer.inputs],
                        );
                        dequant.push(group.scale / multiplier);
                        for (i, w) in group.q.iter().enumerate() {
                            layer.weight[o * layer.inputs + i] = group.dequantize(i);
                            q.push(*w);
                        }
                    }
                    layer.int8 = Some(Int8Layer {
                        q,
                        dequant,
                        input_multiplier: multiplier,
                    });
                }
            }
        }
        Network { layers, precision }
    }

    /// The largest magnitude of each layer's input over `rows`, in fp32.
    fn input_ranges(&self, rows: Rows<'_>) -> Vec<f32> {
        let layers: Vec<_> = self.layers.iter().map(super::cpu::Prepared::new).collect();
        let mut max = vec![0.0f32; self.layers.len()];
        let (mut x, mut y, mut acc) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..rows.len() {
            x.clear();
            x.extend_from_slice(rows.row(r));
            for (k, layer) in layers.iter().enumerate() {
                max[k] = x.iter().fold(max[k], |m, v| m.max(v.abs()));
                layer.run(&x, &mut y, &mut acc);
                std::mem::swap(&mut x, &mut y);
            }
        }
        max
    }
}

/// For each query, the best `k` items: `indices[q * k + j]` and
/// `scores[q * k + j]`, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct TopK {
    pub k: usize,
    pub indices: Vec<u32>,
    pub scores: Vec<f32>,
}

/// Counts per bin for label 0 (`negative`) and label 1 (`positive`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassHistogram {
    pub negative: Vec<u32>,
    pub positive: Vec<u32>,
}

/// The bin of `score` among `bins` equal bins over [0, 1]: `floor(score *
/// bins)` clamped to the bins (NaN counts in the first). One IEEE
/// multiplication, so every backend bins alike.
pub fn bin_of(score: f32, bins: usize) -> usize {
    let x = score * bins as f32;
    if x >= 1.0 {
        (x as usize).min(bins - 1)
    } else {
        0
    }
}
