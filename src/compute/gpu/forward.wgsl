// A stack of dense layers on one row per invocation: y = act(W x + b).
// Weights are packed into 32-bit words at the network's precision:
//   precision 0, fp32: one weight per word (bitcast);
//   precision 1, f16: two weights per word, widened exactly by unpack2x16float,
//     arithmetic in f32, so the answers match f16-rounded weights in fp32;
//   precision 2, int8: four signed bytes per word; inputs are quantized with
//     the layer's multiplier, round() ties to even, and accumulated in i32.
// Each layer's row of weights starts on a word boundary.

struct Params {
    rows: u32,
    inputs: u32,
    outputs: u32,
    layers: u32,
    mode: u32,
    groups_x: u32,
}

struct Layer {
    inputs: u32,
    outputs: u32,
    // Word offset of the layer's weights; each output's row takes
    // `row_words` words.
    weight_offset: u32,
    row_words: u32,
    // Offset of the layer's biases (and, at int8, of its dequantizing
    // factors, right after the biases) in `biases`.
    bias_offset: u32,
    relu: u32,
    input_multiplier: f32,
    pad: u32,
}

const MAX_WIDTH: u32 = 256u;
const WORKGROUP: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> layers: array<Layer>;
@group(0) @binding(2) var<storage, read> weights: array<u32>;
@group(0) @binding(3) var<storage, read> biases: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

fn weight(base: u32, i: u32) -> f32 {
    if params.mode == 1u {
        let pair = unpack2x16float(weights[base + i / 2u]);
        return select(pair.x, pair.y, (i & 1u) == 1u);
    }
    return bitcast<f32>(weights[base + i]);
}

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = (wid.y * params.groups_x + wid.x) * WORKGROUP + lid;
    if row >= params.rows {
        return;
    }
    var a: array<f32, MAX_WIDTH>;
    var b: array<f32, MAX_WIDTH>;
    var q: array<i32, MAX_WIDTH>;
    for (var i = 0u; i < params.inputs; i++) {
        a[i] = x[row * params.inputs + i];
    }
    for (var l = 0u; l < params.layers; l++) {
        let layer = layers[l];
        if params.mode == 2u {
            for (var i = 0u; i < layer.inputs; i++) {
                q[i] = i32(clamp(round(a[i] * layer.input_multiplier), -127.0, 127.0));
            }
        }
        for (var o = 0u; o < layer.outputs; o++) {
            let base = layer.weight_offset + o * layer.row_words;
            var v: f32;
            if params.mode == 2u {
                var acc = 0i;
                for (var w = 0u; w < layer.row_words; w++) {
                    let word = bitcast<i32>(weights[base + w]);
                    for (var k = 0u; k < 4u; k++) {
                        let i = w * 4u + k;
                        if i < layer.inputs {
                            acc += extractBits(word, k * 8u, 8u) * q[i];
                        }
                    }
                }
                let dequant = biases[layer.bias_offset + layer.outputs + o];
                v = f32(acc) * dequant + biases[layer.bias_offset + o];
            } else {
                var acc = 0.0;
                for (var i = 0u; i < layer.inputs; i++) {
                    acc += weight(base, i) * a[i];
                }
                v = acc + biases[layer.bias_offset + o];
            }
            if layer.relu != 0u {
                v = max(v, 0.0);
            }
            b[o] = v;
        }
        for (var o = 0u; o < layer.outputs; o++) {
            a[o] = b[o];
        }
    }
    for (var o = 0u; o < params.outputs; o++) {
        y[row * params.outputs + o] = a[o];
    }
}
