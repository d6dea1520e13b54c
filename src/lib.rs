//! Casebook: an in-browser simulator for machine-learning system design.
//!
//! The library holds everything; the binaries only start it. Dependencies
//! point one way: `ui -> export -> worker -> charts -> study -> engine ->
//! compute` (see ARCHITECTURE.md).

pub mod charts;
pub mod compute;
pub mod engine;
pub mod export;
mod markdown;
mod study;
#[cfg(target_arch = "wasm32")]
mod ui;
pub mod worker;

#[cfg(target_arch = "wasm32")]
pub use compute::probe_webgpu;
pub use compute::{AdapterDescription, Backend};
pub use markdown::markdown_to_html;
pub use study::{
    BROWSER_MAX_IMPRESSIONS, Better, Chart, Claim, ClaimResult, DEFAULT_SEED, Design, DesignStep,
    Direction, Knob, KnobKind, KnobValue, Metric, Report, RunError, Runner, Scope, Step, Study,
    StudyError, StudyMeta, StudyReport, WorldSpec, bundled_studies, parse_study, serving_traffic,
    url,
};
#[cfg(target_arch = "wasm32")]
pub use ui::{App, show_error_panel, start};
#[cfg(target_arch = "wasm32")]
pub use worker::start as start_worker;

/// Casebook's version, as `casebook --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
