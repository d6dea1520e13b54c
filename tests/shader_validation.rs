//! Every WGSL kernel parses and validates with naga, the same front end wgpu
//! uses natively, with no device needed.

#![cfg(not(target_arch = "wasm32"))]

use casebook::compute::WGSL_KERNELS;

#[test]
fn every_kernel_validates() {
    assert!(!WGSL_KERNELS.is_empty());
    for (name, source) in WGSL_KERNELS {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        // `unpack2x16float` (the f16 weights) is core WGSL, which naga files
        // under this capability; WebGPU and Vulkan adapters have it.
        let capabilities = naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32;
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(
            module
                .entry_points
                .iter()
                .any(|e| e.name == "main" && e.stage == naga::ShaderStage::Compute),
            "{name} has a compute entry point called main"
        );
    }
}
