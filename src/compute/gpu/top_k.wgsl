// Users x items dot-product scoring with a partial top-k: each invocation
// scores one query against one chunk of items and keeps the chunk's best k
// (higher score first, then lower index); the host merges the chunks.
// Unused slots get index 0xffffffff.

struct Params {
    queries: u32,
    items: u32,
    width: u32,
    k: u32,
    chunk: u32,
    chunks: u32,
    groups_x: u32,
    pad: u32,
}

const MAX_K: u32 = 128u;
const WORKGROUP: u32 = 64u;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> items: array<f32>;
@group(0) @binding(3) var<storage, read_write> best_scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> best_items: array<u32>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = (wid.y * params.groups_x + wid.x) * WORKGROUP + lid;
    if t >= params.queries * params.chunks {
        return;
    }
    let query = t / params.chunks;
    let chunk = t % params.chunks;
    var s: array<f32, MAX_K>;
    var idx: array<u32, MAX_K>;
    var count = 0u;
    let start = chunk * params.chunk;
    let end = min(start + params.chunk, params.items);
    for (var j = start; j < end; j++) {
        var acc = 0.0;
        for (var d = 0u; d < params.width; d++) {
            acc += queries[query * params.width + d] * items[j * params.width + d];
        }
        // Items arrive in index order, so an equal score never displaces.
        if count == params.k && !(acc > s[count - 1u]) {
            continue;
        }
        var at = min(count, params.k - 1u);
        if count < params.k {
            count++;
        }
        while at > 0u && acc > s[at - 1u] {
            s[at] = s[at - 1u];
            idx[at] = idx[at - 1u];
            at--;
        }
        s[at] = acc;
        idx[at] = j;
    }
    let out = t * params.k;
    for (var m = 0u; m < params.k; m++) {
        if m < count {
            best_scores[out + m] = s[m];
            best_items[out + m] = idx[m];
        } else {
            best_scores[out + m] = 0.0;
            best_items[out + m] = NONE;
        }
    }
}
