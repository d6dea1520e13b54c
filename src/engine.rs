//! The simulation engine: seeded synthetic worlds, data choices, real model
//! training and metrics. Pure Rust: no IO, no web dependency, no clock. The
//! same code runs natively and in wasm32 and gives the same bits on both.

pub mod data;
pub mod drift;
pub mod experiment;
pub mod features;
pub mod math;
pub mod metrics;
pub mod models;
pub mod pipeline;
pub mod rng;
pub mod sampling;
pub mod serving;
pub mod split;
pub mod world;
