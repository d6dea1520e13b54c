//! Compute-kernel speed on this machine: `cargo bench --bench compute`.
//! The CPU reference path against the GPU path (natively: the first Vulkan,
//! Metal or DX12 adapter, lavapipe where there is no GPU), for the two cases
//! of BENCHMARKS.md: 1M items x 64 dimensions scored against one query with
//! a top-10, and an MLP 64-128-1 forward pass over 1M rows. GPU times include
//! the upload and read-back (the kernel alone is not timed separately here).
//! Prints the median of several runs; quote speed only from real hardware.

#[cfg(not(target_arch = "wasm32"))]
mod common;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Duration;

    use super::common::median_of;

    use casebook::compute::{
        Activation, Cpu, DenseLayer, Gpu, GpuOptions, Kernels, Network, Precision, Rows,
    };
    use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

    fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()
    }

    pub fn main() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (n, d) = (1_000_000, 64);
        let items = random(n * d, &mut rng);
        let query = random(d, &mut rng);
        let layer1 = DenseLayer::new(
            d,
            128,
            random(d * 128, &mut rng),
            random(128, &mut rng),
            Activation::Relu,
        );
        let layer2 = DenseLayer::new(
            128,
            1,
            random(128, &mut rng),
            random(1, &mut rng),
            Activation::Identity,
        );
        let net =
            Network::new(vec![layer1.expect("layer"), layer2.expect("layer")]).expect("network");
        let rows = Rows::new(&items, d).expect("rows");
        let q = Rows::new(&query, d).expect("rows");
        let gpu = Gpu::new_blocking(GpuOptions::default());
        match &gpu {
            Ok(g) => println!("GPU: {}", g.backend().label()),
            Err(e) => println!("GPU: none ({e})"),
        }
        let report = |name: &str, cpu: Duration, gpu: Option<Duration>| {
            let cpu_ms = cpu.as_secs_f64() * 1e3;
            match gpu {
                Some(g) => {
                    let gpu_ms = g.as_secs_f64() * 1e3;
                    println!(
                        "{name:<40} CPU {cpu_ms:>9.1} ms   GPU {gpu_ms:>9.1} ms   CPU/GPU {:>6.2}x",
                        cpu_ms / gpu_ms
                    );
                }
                None => println!("{name:<40} CPU {cpu_ms:>9.1} ms"),
            }
        };
        let cpu = median_of(3, || {
            drop(pollster::block_on(Cpu.top_k(q, rows, 10)).expect("cpu"));
        });
        let on_gpu = gpu.as_ref().ok().map(|g| {
            drop(pollster::block_on(g.top_k(q, rows, 10)).expect("gpu warm-up"));
            median_of(3, || {
                drop(pollster::block_on(g.top_k(q, rows, 10)).expect("gpu"));
            })
        });
        report("top-10 of 1M x 64 items, one query", cpu, on_gpu);
        for precision in Precision::ALL {
            let quantized =
                net.quantize(precision, Rows::new(&items[..1_000 * d], d).expect("rows"));
            let cpu = median_of(3, || {
                drop(pollster::block_on(Cpu.forward(&quantized, rows)).expect("cpu"));
            });
            let on_gpu = gpu.as_ref().ok().map(|g| {
                drop(pollster::block_on(g.forward(&quantized, rows)).expect("gpu warm-up"));
                median_of(3, || {
                    drop(pollster::block_on(g.forward(&quantized, rows)).expect("gpu"));
                })
            });
            report(
                &format!("MLP 64-128-1 over 1M rows, {}", precision.id()),
                cpu,
                on_gpu,
            );
        }
    }
}
