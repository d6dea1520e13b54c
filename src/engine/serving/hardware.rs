//! Hardware profiles and the model's cost: how long a batch of predictions
//! takes on a CPU server, a GPU server or a phone, from the model's parameter
//! count, FLOPs per item and bytes at its numeric precision.
//!
//! The service time of a batch of `k` items is a roofline:
//! `overhead + max(k * flops_per_item / flops(precision), bytes / bandwidth)`.
//! The weights are read once per batch, which is why batching pays on a GPU:
//! a small model is memory- or overhead-bound and `k` items cost little more
//! than one. The constants are round figures for teaching (sustained, not
//! peak, throughput of a typical machine of each kind), not measurements.

use serde::Serialize;

use super::ServingError;

pub use crate::compute::Precision;

/// What one prediction costs: the model's size and arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ModelCost {
    /// Number of parameters (weights and embedding entries).
    pub params: u64,
    /// Floating-point (or integer) operations for one item's prediction.
    pub flops_per_item: f64,
    /// Bytes of weights read per batch: `params` at `precision`.
    pub bytes: u64,
    /// Precision the model runs at.
    pub precision: Precision,
}

impl ModelCost {
    /// A model of `params` parameters doing `flops_per_item` operations per
    /// prediction at `precision`; its bytes follow from the precision.
    pub fn new(params: u64, flops_per_item: f64, precision: Precision) -> ModelCost {
        ModelCost {
            params,
            flops_per_item,
            bytes: params.saturating_mul(precision.bytes_per_param()),
            precision,
        }
    }

    /// A dense network's usual estimate: two operations (multiply and add)
    /// per parameter per item.
    pub fn dense(params: u64, precision: Precision) -> ModelCost {
        ModelCost::new(params, 2.0 * params as f64, precision)
    }

    /// Checks the cost is simulable, naming the field if not.
    pub(crate) fn validate(&self) -> Result<(), ServingError> {
        super::check_range("model.params", self.params as f64, 1.0, 1e12)?;
        super::check_range("model.flops_per_item", self.flops_per_item, 0.0, 1e15)?;
        super::check_range("model.bytes", self.bytes as f64, 1.0, 4e12)
    }
}

/// Where the model runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Hardware {
    /// A 16-core x86 server: cheap, modest arithmetic, low per-batch overhead.
    Cpu,
    /// A server with one data-centre GPU: fast arithmetic and memory, a few
    /// milliseconds of per-batch overhead (host-device copies, kernel launches).
    Gpu,
    /// The user's own phone: no network hop, no queue shared with other
    /// users, no serving bill, but little memory and slow fp32.
    Phone,
}

/// The constants of a hardware profile.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HardwareProfile {
    /// Sustained fp32 operations per second.
    pub fp32_flops: f64,
    /// Sustained f16 operations per second.
    pub f16_flops: f64,
    /// Sustained int8 operations per second.
    pub int8_ops: f64,
    /// Memory bandwidth, bytes per second.
    pub bandwidth: f64,
    /// Fixed cost of running one batch, milliseconds.
    pub overhead_ms: f64,
    /// Network round trip added to every request, milliseconds.
    pub network_ms: f64,
    /// Memory available to the model's weights, bytes.
    pub memory_bytes: f64,
    /// What one replica costs per hour, in dollars.
    pub cost_per_hour: f64,
}

impl Hardware {
    /// Every profile, in the order the UI lists them.
    pub const ALL: [Hardware; 3] = [Hardware::Cpu, Hardware::Gpu, Hardware::Phone];

    /// The stable name used in reports and URLs.
    pub fn id(self) -> &'static str {
        match self {
            Hardware::Cpu => "cpu",
            Hardware::Gpu => "gpu",
            Hardware::Phone => "phone",
        }
    }

    /// The profile called `id`, if any.
    pub fn from_id(id: &str) -> Option<Hardware> {
        Hardware::ALL.into_iter().find(|h| h.id() == id)
    }

    /// The profile's constants.
    pub fn profile(self) -> HardwareProfile {
        match self {
            // AVX-512 with VNNI: f16 runs at fp32 speed, int8 about 4x.
            Hardware::Cpu => HardwareProfile {
                fp32_flops: 0.6e12,
                f16_flops: 0.6e12,
                int8_ops: 2.4e12,
                bandwidth: 80e9,
                overhead_ms: 0.2,
                network_ms: 2.0,
                memory_bytes: 64e9,
                cost_per_hour: 0.80,
            },
            // An inference GPU with tensor cores (about half of peak).
            Hardware::Gpu => HardwareProfile {
                fp32_flops: 15e12,
                f16_flops: 60e12,
                int8_ops: 120e12,
                bandwidth: 600e9,
                overhead_ms: 1.5,
                network_ms: 2.0,
                memory_bytes: 24e9,
                cost_per_hour: 1.50,
            },
            // A recent phone: fp32 on the CPU, f16 on the GPU, int8 on the NPU;
            // an app should keep its model under about 500 MB.
            Hardware::Phone => HardwareProfile {
                fp32_flops: 0.05e12,
                f16_flops: 0.5e12,
                int8_ops: 2.0e12,
                bandwidth: 30e9,
                overhead_ms: 2.0,
                network_ms: 0.0,
                memory_bytes: 0.5e9,
                cost_per_hour: 0.0,
            },
        }
    }
}

impl HardwareProfile {
    /// Operations per second at `precision`.
    pub fn flops(&self, precision: Precision) -> f64 {
        match precision {
            Precision::Fp32 => self.fp32_flops,
            Precision::F16 => self.f16_flops,
            Precision::Int8 => self.int8_ops,
        }
    }

    /// Milliseconds to predict a batch of `items` (the roofline above).
    pub fn batch_ms(&self, model: &ModelCost, items: usize) -> f64 {
        let compute_s = items as f64 * model.flops_per_item / self.flops(model.precision);
        let memory_s = model.bytes as f64 / self.bandwidth;
        self.overhead_ms + 1e3 * compute_s.max(memory_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for h in Hardware::ALL {
            assert_eq!(Hardware::from_id(h.id()), Some(h));
        }
        for p in Precision::ALL {
            assert_eq!(Precision::from_id(p.id()), Some(p));
        }
        assert_eq!(Hardware::from_id("tpu"), None);
    }

    #[test]
    fn batching_amortizes_the_weights_and_quantization_shrinks_them() {
        let gpu = Hardware::Gpu.profile();
        let model = ModelCost::dense(10_000_000, Precision::Fp32);
        assert_eq!(model.bytes, 40_000_000);
        let one = gpu.batch_ms(&model, 1);
        let many = gpu.batch_ms(&model, 64);
        // 64 items cost less than twice one item on a GPU...
        assert!(many < 2.0 * one, "{one} {many}");
        // ...but over three times one item on a CPU, where arithmetic dominates.
        let cpu = Hardware::Cpu.profile();
        assert!(cpu.batch_ms(&model, 64) > 3.0 * cpu.batch_ms(&model, 1));
        let int8 = ModelCost::dense(10_000_000, Precision::Int8);
        assert_eq!(int8.bytes, 10_000_000);
        assert!(cpu.batch_ms(&int8, 64) < cpu.batch_ms(&model, 64) / 2.0);
    }
}
