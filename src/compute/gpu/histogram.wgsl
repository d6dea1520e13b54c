// Per-class score histogram: `bins` equal bins over [0, 1], negatives first,
// then positives. Counts gather in workgroup memory, then one atomic add per
// non-empty bin goes to the global counts. Labels are bits, 32 to a word.

struct Params {
    n: u32,
    bins: u32,
    groups_x: u32,
    pad: u32,
}

const MAX_BINS: u32 = 1024u;
const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> local_counts: array<atomic<u32>, 2048>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let cells = 2u * params.bins;
    for (var c = lid; c < cells; c += WORKGROUP) {
        atomicStore(&local_counts[c], 0u);
    }
    workgroupBarrier();
    let i = (wid.y * params.groups_x + wid.x) * WORKGROUP + lid;
    if i < params.n {
        let x = scores[i] * f32(params.bins);
        var bin = 0u;
        if x >= 1.0 {
            bin = min(u32(x), params.bins - 1u);
        }
        let label = (labels[i / 32u] >> (i % 32u)) & 1u;
        atomicAdd(&local_counts[label * params.bins + bin], 1u);
    }
    workgroupBarrier();
    for (var c = lid; c < cells; c += WORKGROUP) {
        let v = atomicLoad(&local_counts[c]);
        if v > 0u {
            atomicAdd(&counts[c], v);
        }
    }
}
