//! The GPU path through wgpu: WebGPU in the browser; Vulkan, Metal or DX12
//! natively (Mesa's lavapipe where there is no GPU, which is how the tests
//! run real WGSL on machines without one).
//!
//! One WGSL file per kernel lives beside this file. Pipelines are created
//! once, when the device is; buffers are kept by role and reused while they
//! are big enough; every result comes back through one async read-back
//! helper (`map_async` and a one-shot channel), natively and in wasm32 alike.
//! Large inputs go in slices that fit the device's binding limit and the
//! 65,535-workgroup limit of a dispatch dimension. Every call runs inside
//! error scopes, and a lost device is remembered, so a failure is an error
//! the caller can fall back from, never a panic.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytemuck::{Pod, Zeroable};

use super::cpu::{check_histogram, check_width, ranks_before};
use super::network::{ClassHistogram, Network, Rows, TopK};
use super::quant::Precision;
use super::{AdapterDescription, Backend, ComputeError, Kernels};

/// The WGSL source of every kernel, by file name (validated by naga in tests).
pub const KERNELS: [(&str, &str); 3] = [
    ("forward.wgsl", include_str!("gpu/forward.wgsl")),
    ("top_k.wgsl", include_str!("gpu/top_k.wgsl")),
    ("histogram.wgsl", include_str!("gpu/histogram.wgsl")),
];

/// The most items one top-k call keeps per query (the kernel's `MAX_K`).
pub const MAX_K: usize = 128;
const FORWARD_GROUP: u32 = 64;
const TOP_K_GROUP: u32 = 64;
const HISTOGRAM_GROUP: u32 = 256;
const MAX_GROUPS_X: u32 = 65_535;

/// How to look for an adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuOptions {
    /// Ask for the platform's software adapter (lavapipe, `SwiftShader`).
    pub force_fallback_adapter: bool,
    /// Bind at most this many bytes at once (the device's limit otherwise);
    /// tests set it low to exercise the slicing of large inputs.
    pub max_binding: Option<u64>,
}

/// A GPU device with the kernels' pipelines.
#[derive(Debug)]
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    backend: Backend,
    max_binding: u64,
    forward: wgpu::ComputePipeline,
    top_k: wgpu::ComputePipeline,
    histogram: wgpu::ComputePipeline,
    buffers: RefCell<HashMap<&'static str, wgpu::Buffer>>,
    /// Kernel results read back so far.
    read_backs: Cell<u64>,
    /// Why the device was lost, once it has been.
    lost: Arc<Mutex<Option<String>>>,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ForwardParams {
    rows: u32,
    inputs: u32,
    outputs: u32,
    layers: u32,
    mode: u32,
    groups_x: u32,
    pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LayerInfo {
    inputs: u32,
    outputs: u32,
    weight_offset: u32,
    row_words: u32,
    bias_offset: u32,
    relu: u32,
    input_multiplier: f32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct TopKParams {
    queries: u32,
    items: u32,
    width: u32,
    k: u32,
    chunk: u32,
    chunks: u32,
    groups_x: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct HistogramParams {
    n: u32,
    bins: u32,
    groups_x: u32,
    pad: u32,
}

fn device_error(e: impl std::fmt::Display) -> ComputeError {
    ComputeError::Device(e.to_string())
}

/// Workgroups for `threads` threads: `(x, y)` with `x` at most 65,535.
fn groups(threads: u64, group: u32) -> (u32, u32) {
    let total = threads.div_ceil(u64::from(group)).max(1);
    let x = total.min(u64::from(MAX_GROUPS_X));
    (x as u32, total.div_ceil(x) as u32)
}

impl Gpu {
    /// Asks for an adapter and a device and builds every pipeline.
    ///
    /// # Errors
    /// [`ComputeError::Unavailable`] when there is no usable GPU (the CPU
    /// path is then the one to use).
    pub async fn new(options: GpuOptions) -> Result<Gpu, ComputeError> {
        let backends = if cfg!(target_arch = "wasm32") {
            wgpu::Backends::BROWSER_WEBGPU
        } else {
            wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12
        };
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: options.force_fallback_adapter,
                ..Default::default()
            })
            .await
            .map_err(|e| ComputeError::Unavailable(e.to_string()))?;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("casebook"),
                required_limits: wgpu::Limits {
                    max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                    max_buffer_size: limits.max_buffer_size,
                    ..wgpu::Limits::default()
                },
                ..Default::default()
            })
            .await
            .map_err(|e| ComputeError::Unavailable(e.to_string()))?;
        let lost = Arc::new(Mutex::new(None));
        let on_lost = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = on_lost.lock() {
                *slot = Some(format!("device lost ({reason:?}): {message}"));
            }
        });
        // Errors outside a scope would panic by default; inside our calls
        // the scopes catch them, so anything here is only remembered.
        let uncaught = Arc::clone(&lost);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut slot) = uncaught.lock() {
                slot.get_or_insert_with(|| error.to_string());
            }
        }));
        let info = adapter.get_info();
        let adapter_description = AdapterDescription {
            vendor: format!("{:#06x}", info.vendor),
            architecture: String::new(),
            device: info.name.clone(),
            description: info.name,
        };
        let backend = if cfg!(target_arch = "wasm32") {
            Backend::WebGpu(adapter_description)
        } else {
            Backend::NativeGpu {
                api: format!("{:?}", info.backend),
                adapter: adapter_description,
            }
        };
        let pipeline = |source: &str, label: &str| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                cache: None,
            })
        };
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let forward = pipeline(KERNELS[0].1, "forward");
        let top_k = pipeline(KERNELS[1].1, "top_k");
        let histogram = pipeline(KERNELS[2].1, "histogram");
        if let Some(error) = scope.pop().await {
            return Err(ComputeError::Unavailable(error.to_string()));
        }
        Ok(Gpu {
            max_binding: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size)
                .min(options.max_binding.unwrap_or(u64::MAX))
                .max(256),
            device,
            queue,
            backend,
            forward,
            top_k,
            histogram,
            buffers: RefCell::new(HashMap::new()),
            read_backs: Cell::new(0),
            lost,
        })
    }

    /// [`Gpu::new`], blocking until done (native only).
    ///
    /// # Errors
    /// As [`Gpu::new`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking(options: GpuOptions) -> Result<Gpu, ComputeError> {
        pollster::block_on(Gpu::new(options))
    }

    /// The backend and adapter, for the UI and reports.
    pub fn backend(&self) -> Backend {
        self.backend.clone()
    }

    /// Names the adapter as the platform describes it. In the browser that
    /// is `GPUAdapter.info` ("google swiftshader"), which wgpu's WebGPU
    /// backend does not read: without this the badge would say
    /// "WebGPU (0x0000)".
    pub fn describe(&mut self, described: AdapterDescription) {
        match &mut self.backend {
            Backend::WebGpu(adapter) | Backend::NativeGpu { adapter, .. } => *adapter = described,
            Backend::Cpu => {}
        }
    }

    /// Destroys the device, as a lost device would be: every later call
    /// fails with [`ComputeError::Device`].
    pub fn destroy(&self) {
        if let Ok(mut slot) = self.lost.lock() {
            slot.get_or_insert_with(|| "the device was destroyed".to_owned());
        }
        self.device.destroy();
    }

    /// How many kernel results this device has read back: each kernel call
    /// that ran here reads back at least one.
    pub fn read_backs(&self) -> u64 {
        self.read_backs.get()
    }

    /// The largest buffer one binding may hold, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.max_binding
    }

    fn check_lost(&self) -> Result<(), ComputeError> {
        match self.lost.lock().ok().and_then(|slot| slot.clone()) {
            Some(reason) => Err(ComputeError::Device(reason)),
            None => Ok(()),
        }
    }

    /// The buffer kept for `role`, with room for `size` bytes (grown to the
    /// next power of two when too small).
    fn buffer(&self, role: &'static str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        let size = size.max(16).next_multiple_of(4);
        let mut buffers = self.buffers.borrow_mut();
        if let Some(b) = buffers.get(role).filter(|b| b.size() >= size) {
            return b.clone();
        }
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(role),
            size: size.next_power_of_two().min(self.max_binding.max(size)),
            usage,
            mapped_at_creation: false,
        });
        buffers.insert(role, buffer.clone());
        buffer
    }

    /// A storage buffer for `role` holding `data`.
    fn upload<T: Pod>(&self, role: &'static str, data: &[T]) -> wgpu::Buffer {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buffer = self.buffer(
            role,
            bytes.len() as u64,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        );
        if !bytes.is_empty() {
            self.queue.write_buffer(&buffer, 0, bytes);
        }
        buffer
    }

    /// The kernel's parameters, in the uniform buffer every call reuses.
    fn uniform<T: Pod>(&self, value: &T) -> wgpu::Buffer {
        let bytes = bytemuck::bytes_of(value);
        let usage = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let buffer = self.buffer("params", bytes.len() as u64, usage);
        self.queue.write_buffer(&buffer, 0, bytes);
        buffer
    }

    /// Runs `pipeline` over `(x, y)` workgroups with `buffers` bound in
    /// order, then copies the first `size` bytes of each of `outputs` into
    /// read-back buffers and returns their contents.
    async fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        workgroups: (u32, u32),
        outputs: &[(&wgpu::Buffer, u64)],
    ) -> Result<Vec<Vec<u8>>, ComputeError> {
        self.check_lost()?;
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(workgroups.0, workgroups.1, 1);
        }
        let roles = ["read back 0", "read back 1"];
        let mut staging = Vec::with_capacity(outputs.len());
        for (&(buffer, size), role) in outputs.iter().zip(roles) {
            let size = size.next_multiple_of(4).max(4);
            let target = self.buffer(
                role,
                size,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            );
            encoder.copy_buffer_to_buffer(buffer, 0, &target, 0, size);
            staging.push((target, size));
        }
        self.queue.submit([encoder.finish()]);
        let memory_error = memory.pop().await;
        let validation_error = validation.pop().await;
        if let Some(error) = memory_error.or(validation_error) {
            return Err(device_error(error));
        }
        let mut results = Vec::with_capacity(staging.len());
        for (buffer, size) in &staging {
            results.push(self.read_back(buffer, *size).await?);
        }
        self.check_lost()?;
        Ok(results)
    }

    /// The first `size` bytes of a mappable buffer, once the GPU is done.
    async fn read_back(&self, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>, ComputeError> {
        let slice = buffer.slice(..size);
        let (sender, receiver) = futures_channel::oneshot::channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(device_error)?;
        receiver
            .await
            .map_err(|_| ComputeError::Device("the read-back was cancelled".into()))?
            .map_err(device_error)?;
        let bytes = slice.get_mapped_range().map_err(device_error)?.to_vec();
        buffer.unmap();
        self.read_backs.set(self.read_backs.get() + 1);
        Ok(bytes)
    }

    /// Packs the network's weights into words and its biases (and int8
    /// dequantizing factors) into floats, with a table of layers.
    fn pack(network: &Network) -> (Vec<LayerInfo>, Vec<u32>, Vec<f32>) {
        let precision = network.precision();
        let (mut infos, mut words, mut floats) = (Vec::new(), Vec::new(), Vec::new());
        for layer in network.layers() {
            let row_words = match precision {
                Precision::Fp32 => layer.inputs,
                Precision::F16 => layer.inputs.div_ceil(2),
                Precision::Int8 => layer.inputs.div_ceil(4),
            };
            infos.push(LayerInfo {
                inputs: layer.inputs as u32,
                outputs: layer.outputs as u32,
                weight_offset: words.len() as u32,
                row_words: row_words as u32,
                bias_offset: floats.len() as u32,
                relu: u32::from(layer.activation == super::Activation::Relu),
                input_multiplier: layer.int8.as_ref().map_or(1.0, |q| q.input_multiplier),
                pad: 0,
            });
            floats.extend_from_slice(&layer.bias);
            match (&layer.int8, precision) {
                (Some(int8), Precision::Int8) => {
                    floats.extend_from_slice(&int8.dequant);
                    for row in int8.q.chunks_exact(layer.inputs) {
                        words.extend(row.chunks(4).map(|c| {
                            c.iter()
                                .enumerate()
                                .fold(0u32, |w, (k, &b)| w | (u32::from(b as u8) << (8 * k)))
                        }));
                    }
                }
                (_, Precision::F16) => {
                    for row in layer.weight.chunks_exact(layer.inputs) {
                        words.extend(row.chunks(2).map(|c| {
                            let lo = half::f16::from_f32(c[0]).to_bits();
                            let hi = c.get(1).map_or(0, |&v| half::f16::from_f32(v).to_bits());
                            u32::from(lo) | (u32::from(hi) << 16)
                        }));
                    }
                }
                _ => words.extend(layer.weight.iter().map(|w| w.to_bits())),
            }
        }
        (infos, words, floats)
    }
}

impl Kernels for Gpu {
    async fn forward(&self, network: &Network, rows: Rows<'_>) -> Result<Vec<f32>, ComputeError> {
        check_width(rows, network.inputs(), "the network's inputs")?;
        self.check_lost()?;
        if network.width() > Network::MAX_WIDTH {
            return Err(ComputeError::Unsupported(format!(
                "a layer {} wide (the kernel keeps at most {})",
                network.width(),
                Network::MAX_WIDTH
            )));
        }
        let (infos, words, floats) = Gpu::pack(network);
        let layer_buffer = self.upload("layers", &infos);
        let weight_buffer = self.upload("weights", &words);
        let bias_buffer = self.upload("biases", &floats);
        let (inputs, outputs) = (network.inputs(), network.outputs());
        let row_bytes = 4 * inputs.max(outputs) as u64;
        let limit =
            (self.max_binding / row_bytes).min(u64::from(MAX_GROUPS_X) * u64::from(FORWARD_GROUP));
        let slice_rows = (limit as usize).max(1);
        let mut out = Vec::with_capacity(rows.len() * outputs);
        for start in (0..rows.len()).step_by(slice_rows) {
            let n = slice_rows.min(rows.len() - start);
            let x = self.upload("x", &rows.data[start * inputs..(start + n) * inputs]);
            let y_bytes = 4 * (n * outputs) as u64;
            let y = self.buffer(
                "y",
                y_bytes,
                wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            );
            let workgroups = groups(n as u64, FORWARD_GROUP);
            let params = self.uniform(&ForwardParams {
                rows: n as u32,
                inputs: inputs as u32,
                outputs: outputs as u32,
                layers: infos.len() as u32,
                mode: match network.precision() {
                    Precision::Fp32 => 0,
                    Precision::F16 => 1,
                    Precision::Int8 => 2,
                },
                groups_x: workgroups.0,
                pad: [0; 2],
            });
            let buffers = [&params, &layer_buffer, &weight_buffer, &bias_buffer, &x, &y];
            let result = self
                .dispatch(&self.forward, &buffers, workgroups, &[(&y, y_bytes)])
                .await?;
            out.extend_from_slice(
                &bytemuck::pod_collect_to_vec::<u8, f32>(&result[0])[..n * outputs],
            );
        }
        Ok(out)
    }

    async fn top_k(
        &self,
        queries: Rows<'_>,
        items: Rows<'_>,
        k: usize,
    ) -> Result<TopK, ComputeError> {
        check_width(items, queries.width, "the queries' width")?;
        self.check_lost()?;
        if k > MAX_K {
            return Err(ComputeError::Unsupported(format!(
                "k = {k}: the GPU keeps at most {MAX_K}"
            )));
        }
        let k = k.min(items.len());
        let width = queries.width.max(1);
        let mut best: Vec<Vec<(f32, u32)>> = vec![Vec::new(); queries.len()];
        if k > 0 && !queries.is_empty() {
            let query_buffer = self.upload("queries", queries.data);
            let slice_items = ((self.max_binding / (4 * width as u64)) as usize).max(1);
            for start in (0..items.len()).step_by(slice_items) {
                let n = slice_items.min(items.len() - start);
                self.top_k_slice(&query_buffer, queries, items, (start, n), k, &mut best)
                    .await?;
            }
        }
        let mut out = TopK {
            k,
            indices: Vec::new(),
            scores: Vec::new(),
        };
        for list in best {
            out.scores.extend(list.iter().map(|b| b.0));
            out.indices.extend(list.iter().map(|b| b.1));
        }
        Ok(out)
    }

    async fn histogram(
        &self,
        scores: &[f32],
        labels: &[bool],
        bins: usize,
    ) -> Result<ClassHistogram, ComputeError> {
        check_histogram(scores, labels, bins)?;
        self.check_lost()?;
        let mut counts = vec![0u32; 2 * bins];
        let slice = ((self.max_binding / 4) as usize)
            .min(MAX_GROUPS_X as usize * HISTOGRAM_GROUP as usize)
            / 32
            * 32;
        for start in (0..scores.len()).step_by(slice.max(32)) {
            let n = slice.min(scores.len() - start);
            let mut label_words = vec![0u32; n.div_ceil(32)];
            for (i, _) in labels[start..start + n]
                .iter()
                .enumerate()
                .filter(|(_, y)| **y)
            {
                label_words[i / 32] |= 1 << (i % 32);
            }
            let score_buffer = self.upload("scores", &scores[start..start + n]);
            let label_buffer = self.upload("labels", &label_words);
            let count_bytes = 8 * bins as u64;
            let count_buffer = self.upload("counts", &vec![0u32; 2 * bins]);
            let workgroups = groups(n as u64, HISTOGRAM_GROUP);
            let params = self.uniform(&HistogramParams {
                n: n as u32,
                bins: bins as u32,
                groups_x: workgroups.0,
                pad: 0,
            });
            let buffers = [&params, &score_buffer, &label_buffer, &count_buffer];
            let result = self
                .dispatch(
                    &self.histogram,
                    &buffers,
                    workgroups,
                    &[(&count_buffer, count_bytes)],
                )
                .await?;
            for (c, v) in counts
                .iter_mut()
                .zip(bytemuck::pod_collect_to_vec::<u8, u32>(&result[0]))
            {
                *c += v;
            }
        }
        let positive = counts.split_off(bins);
        Ok(ClassHistogram {
            negative: counts,
            positive,
        })
    }
}

impl Gpu {
    /// One slice of items (`start`, `n`) against every query: the kernel's
    /// per-chunk lists, merged into `best` (each query's list kept sorted and
    /// cut at `k`).
    async fn top_k_slice(
        &self,
        query_buffer: &wgpu::Buffer,
        queries: Rows<'_>,
        items: Rows<'_>,
        (start, n): (usize, usize),
        k: usize,
        best: &mut [Vec<(f32, u32)>],
    ) -> Result<(), ComputeError> {
        let width = items.width;
        let item_buffer = self.upload("items", &items.data[start * width..(start + n) * width]);
        // Enough chunks to keep a large GPU busy, few enough to read back:
        // 64 items a chunk, or four times `k` (a chunk no longer than its
        // list would read back every item).
        let chunks = n.div_ceil((4 * k).max(64)).clamp(1, 16_384).min(n.max(1));
        let chunk = n.div_ceil(chunks).max(1);
        let chunks = n.div_ceil(chunk).max(1);
        let threads = (queries.len() * chunks) as u64;
        let out_bytes = threads * k as u64 * 4;
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let score_out = self.buffer("best scores", out_bytes, usage);
        let item_out = self.buffer("best items", out_bytes, usage);
        let workgroups = groups(threads, TOP_K_GROUP);
        let params = self.uniform(&TopKParams {
            queries: queries.len() as u32,
            items: n as u32,
            width: width as u32,
            k: k as u32,
            chunk: chunk as u32,
            chunks: chunks as u32,
            groups_x: workgroups.0,
            pad: 0,
        });
        let buffers = [&params, query_buffer, &item_buffer, &score_out, &item_out];
        let result = self
            .dispatch(
                &self.top_k,
                &buffers,
                workgroups,
                &[(&score_out, out_bytes), (&item_out, out_bytes)],
            )
            .await?;
        let scores = bytemuck::pod_collect_to_vec::<u8, f32>(&result[0]);
        let indices = bytemuck::pod_collect_to_vec::<u8, u32>(&result[1]);
        for (q, list) in best.iter_mut().enumerate() {
            let range = q * chunks * k..(q + 1) * chunks * k;
            for (&s, &i) in scores[range.clone()].iter().zip(&indices[range]) {
                if i != u32::MAX {
                    list.push((s, start as u32 + i));
                }
            }
            list.sort_by(|&a, &b| {
                if ranks_before(a, b) {
                    std::cmp::Ordering::Less
                } else if ranks_before(b, a) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            list.truncate(k);
        }
        Ok(())
    }
}
