//! Where Casebook's numbers are computed: the CPU reference path everywhere,
//! or a GPU through WebGPU where the browser offers an adapter.

#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
pub use web::probe_webgpu;

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
    /// A WebGPU adapter.
    WebGpu(AdapterDescription),
}

impl Backend {
    /// The short label the UI and reports show: `CPU`, or `WebGPU (adapter)`.
    pub fn label(&self) -> String {
        match self {
            Backend::Cpu => "CPU".to_owned(),
            Backend::WebGpu(adapter) => format!("WebGPU ({})", adapter.summary()),
        }
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
    }
}
