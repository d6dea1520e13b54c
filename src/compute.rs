//! Where Casebook's numbers are computed: the CPU reference path everywhere,
//! or a GPU through wgpu (WebGPU in the browser; Vulkan, Metal or DX12
//! natively, including Mesa's software Vulkan where there is no GPU).
//!
//! The kernels are one interface, [`Kernels`], with two implementations:
//! [`Cpu`] (`cpu.rs`, the reference and the test oracle) and [`Gpu`]
//! (`gpu.rs`, one WGSL file per kernel beside it). [`Compute`] picks one and
//! falls back to the CPU, for good, if the GPU fails in the middle of a call
//! (a lost device, say): the call still completes, on the CPU.
//!
//! The interface is async because reading a GPU buffer back is, in the
//! browser; the CPU's futures are ready at once.

use std::cell::Cell;

mod cpu;
mod gpu;
mod network;
mod quant;
#[cfg(target_arch = "wasm32")]
mod web;

pub use cpu::{
    Cpu, dot, forward as cpu_forward, histogram as cpu_histogram, int8_accumulators,
    top_k as cpu_top_k,
};
pub use gpu::{Gpu, GpuOptions, KERNELS as WGSL_KERNELS, MAX_K};
pub use network::{
    Activation, ClassHistogram, DenseLayer, Int8Layer, Network, NetworkError, Rows, TopK,
};
pub use quant::{
    Int8Group, Precision, input_multiplier, quantize_input, round_f16, round_group, table_bytes,
};
#[cfg(target_arch = "wasm32")]
pub use web::probe_webgpu;

/// Why a kernel call did not complete on the GPU.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    /// No adapter, or the device could not be created.
    #[error("no GPU: {0}")]
    Unavailable(String),
    /// The device reported an error (validation, out of memory, lost).
    #[error("the GPU failed: {0}")]
    Device(String),
    /// The inputs do not fit the kernel (shapes, sizes).
    #[error("{0}")]
    Shape(String),
    /// The GPU kernel does not take this input (a layer wider than it keeps
    /// in registers, say); the CPU does, so this call runs there.
    #[error("not on this GPU kernel: {0}")]
    Unsupported(String),
}

/// The kernels, each with a CPU reference and a GPU implementation that give
/// the same answers (integer results bit for bit; float results within the
/// tolerance each conformance test states).
#[allow(
    async_fn_in_trait,
    reason = "the futures are awaited where they are made; WebGPU's are not Send"
)]
pub trait Kernels {
    /// `network`'s outputs for every row of `rows` (row-major, `rows.len()`
    /// rows times the last layer's outputs).
    async fn forward(&self, network: &Network, rows: Rows<'_>) -> Result<Vec<f32>, ComputeError>;

    /// For every query row, the `k` items with the highest dot product,
    /// best first (ties: lower index first).
    async fn top_k(
        &self,
        queries: Rows<'_>,
        items: Rows<'_>,
        k: usize,
    ) -> Result<TopK, ComputeError>;

    /// Counts of `scores` in `bins` equal bins over [0, 1], per class (label 0
    /// or 1); scores outside [0, 1] count in the first or last bin.
    async fn histogram(
        &self,
        scores: &[f32],
        labels: &[bool],
        bins: usize,
    ) -> Result<ClassHistogram, ComputeError>;
}

/// The backend a run uses, with the CPU fallback built in.
///
/// Its calls take `&self`, so the engine can hand one `Compute` to every
/// stage of a run at once (the monitoring loop's deploy and view steps
/// both score); the fallback is a flag, set for good when the GPU fails.
#[derive(Debug, Default)]
pub struct Compute {
    gpu: Option<Box<Gpu>>,
    /// Set when the GPU failed: every later call runs on the CPU.
    failed: Cell<bool>,
}

impl Compute {
    /// The CPU reference path only.
    pub fn cpu() -> Compute {
        Compute::default()
    }

    /// `gpu` first, the CPU when it fails.
    pub fn gpu(gpu: Gpu) -> Compute {
        Compute {
            gpu: Some(Box::new(gpu)),
            failed: Cell::new(false),
        }
    }

    /// The GPU where the platform has a usable one (WebGPU in the browser;
    /// Vulkan, Metal or DX12 natively), else the CPU. Never fails: no GPU
    /// is the CPU path.
    pub async fn detect() -> Compute {
        match Gpu::new(GpuOptions::default()).await {
            Ok(gpu) => Compute::gpu(gpu),
            Err(_) => Compute::cpu(),
        }
    }

    /// The GPU this `Compute` still uses, if any.
    pub fn active_gpu(&self) -> Option<&Gpu> {
        self.gpu.as_deref().filter(|_| !self.failed.get())
    }

    /// The backend as the UI and reports name it: the one the next call
    /// runs on.
    pub fn backend(&self) -> Backend {
        match self.active_gpu() {
            Some(gpu) => gpu.backend(),
            None => Backend::Cpu,
        }
    }

    /// Runs `call` on the GPU if there is one, and on the CPU if there is
    /// none or the GPU fails; after a failure this `Compute` stays on the CPU.
    async fn with_fallback<T, F, G>(&self, gpu_call: F, cpu_call: G) -> Result<T, ComputeError>
    where
        F: AsyncFnOnce(&Gpu) -> Result<T, ComputeError>,
        G: AsyncFnOnce(&Cpu) -> Result<T, ComputeError>,
    {
        if let Some(gpu) = self.active_gpu() {
            match gpu_call(gpu).await {
                Err(ComputeError::Device(_) | ComputeError::Unavailable(_)) => {
                    self.failed.set(true);
                }
                Err(ComputeError::Unsupported(_)) => {}
                other => return other,
            }
        }
        cpu_call(&Cpu).await
    }

    /// [`Kernels::forward`] with the CPU fallback.
    ///
    /// # Errors
    /// Only [`ComputeError::Shape`]: device errors fall back to the CPU.
    pub async fn forward(
        &self,
        network: &Network,
        rows: Rows<'_>,
    ) -> Result<Vec<f32>, ComputeError> {
        self.with_fallback(
            async |g| g.forward(network, rows).await,
            async |c| c.forward(network, rows).await,
        )
        .await
    }

    /// [`Kernels::top_k`] with the CPU fallback.
    ///
    /// # Errors
    /// Only [`ComputeError::Shape`]: device errors fall back to the CPU.
    pub async fn top_k(
        &self,
        queries: Rows<'_>,
        items: Rows<'_>,
        k: usize,
    ) -> Result<TopK, ComputeError> {
        self.with_fallback(
            async |g| g.top_k(queries, items, k).await,
            async |c| c.top_k(queries, items, k).await,
        )
        .await
    }

    /// [`Kernels::histogram`] with the CPU fallback.
    ///
    /// # Errors
    /// Only [`ComputeError::Shape`]: device errors fall back to the CPU.
    pub async fn histogram(
        &self,
        scores: &[f32],
        labels: &[bool],
        bins: usize,
    ) -> Result<ClassHistogram, ComputeError> {
        self.with_fallback(
            async |g| g.histogram(scores, labels, bins).await,
            async |c| c.histogram(scores, labels, bins).await,
        )
        .await
    }
}

/// Drives `future` to its end from synchronous code: natively by blocking
/// (a GPU read-back waits for the device); in the browser, where a thread
/// may not block, by polling it once, which completes every future of the
/// CPU path (its kernels never wait).
///
/// # Panics
/// In the browser, if `future` waits on the GPU: drive a GPU run with
/// `await` there.
pub fn block_on<F: Future>(future: F) -> F::Output {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(future)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => {
                panic!("a GPU computation was driven synchronously in the browser; await it")
            }
        }
    }
}

/// What the browser said about its WebGPU adapter (`GPUAdapter.info`). Any
/// field may be empty: browsers hide details on purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdapterDescription {
    pub vendor: String,
    pub architecture: String,
    pub device: String,
    pub description: String,
}

impl AdapterDescription {
    /// The most specific non-empty wording of the adapter: its description,
    /// else its device, else vendor and architecture, else "unnamed adapter".
    pub fn summary(&self) -> String {
        let pick = [&self.description, &self.device]
            .into_iter()
            .find(|s| !s.trim().is_empty());
        if let Some(s) = pick {
            return s.trim().to_owned();
        }
        let parts: Vec<&str> = [&self.vendor, &self.architecture]
            .into_iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            "unnamed adapter".to_owned()
        } else {
            parts.join(" ")
        }
    }
}

/// The compute backend in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The CPU reference path; always available.
    Cpu,
    /// A WebGPU adapter, in the browser.
    WebGpu(AdapterDescription),
    /// A native adapter through wgpu: its graphics API and the adapter.
    NativeGpu {
        api: String,
        adapter: AdapterDescription,
    },
}

impl Backend {
    /// The short label the UI and reports show: `CPU`, or `WebGPU (adapter)`.
    pub fn label(&self) -> String {
        match self {
            Backend::Cpu => "CPU".to_owned(),
            Backend::WebGpu(adapter) => format!("WebGPU ({})", adapter.summary()),
            Backend::NativeGpu { api, adapter } => format!("{api} ({})", adapter.summary()),
        }
    }

    /// The label of a run whose GPU, `failed`, failed partway: the rest of
    /// the run, and every later one, computed on the CPU.
    pub fn fallback_label(failed: &Backend) -> String {
        format!("CPU (after {} failed)", failed.label())
    }

    /// Whether `label` is a [`Backend::fallback_label`].
    pub fn is_fallback_label(label: &str) -> bool {
        label.starts_with("CPU (after ") && label.ends_with(" failed)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_prefer_the_most_specific_name() {
        assert_eq!(Backend::Cpu.label(), "CPU");
        let swiftshader = AdapterDescription {
            vendor: "google".into(),
            architecture: "swiftshader".into(),
            ..AdapterDescription::default()
        };
        assert_eq!(
            Backend::WebGpu(swiftshader).label(),
            "WebGPU (google swiftshader)"
        );
        let named = AdapterDescription {
            vendor: "nvidia".into(),
            description: " NVIDIA H100 ".into(),
            ..AdapterDescription::default()
        };
        assert_eq!(Backend::WebGpu(named).label(), "WebGPU (NVIDIA H100)");
        assert_eq!(
            Backend::WebGpu(AdapterDescription::default()).label(),
            "WebGPU (unnamed adapter)"
        );
        let h100 = AdapterDescription {
            description: "NVIDIA H100".into(),
            ..AdapterDescription::default()
        };
        let fallback = Backend::fallback_label(&Backend::WebGpu(h100));
        assert_eq!(fallback, "CPU (after WebGPU (NVIDIA H100) failed)");
        assert!(Backend::is_fallback_label(&fallback));
        assert!(!Backend::is_fallback_label("CPU"));
        assert!(!Backend::is_fallback_label("WebGPU (NVIDIA H100)"));
    }
}
