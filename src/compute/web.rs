//! Asks the browser for a WebGPU adapter, from a window or a worker.
//!
//! This reads `navigator.gpu` through `js_sys::Reflect` rather than web-sys's
//! WebGPU bindings, which need the `web_sys_unstable_apis` cfg flag.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{AdapterDescription, Backend};

/// Requests a WebGPU adapter once. Returns `Backend::Cpu` when the browser has
/// no WebGPU, refuses an adapter, or anything along the way fails: the CPU
/// path always works, so a failed probe is never an error for the user.
pub async fn probe_webgpu() -> Backend {
    match request_adapter().await {
        Some(adapter) => Backend::WebGpu(adapter),
        None => Backend::Cpu,
    }
}

async fn request_adapter() -> Option<AdapterDescription> {
    let navigator = get(&js_sys::global(), "navigator")?;
    let gpu = get(&navigator, "gpu")?;
    let request: Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise).await.ok()?;
    if adapter.is_null() || adapter.is_undefined() {
        return None;
    }
    let info = get(&adapter, "info");
    let field = |name: &str| {
        info.as_ref()
            .and_then(|info| get(info, name))
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    Some(AdapterDescription {
        vendor: field("vendor"),
        architecture: field("architecture"),
        device: field("device"),
        description: field("description"),
    })
}

/// A property that exists and is neither `undefined` nor `null`.
fn get(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}
