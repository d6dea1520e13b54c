//! Synthetic worlds with ground truth: generative models of users, items and
//! behaviour from which every dataset, label and online metric is drawn.

pub mod content;
pub mod feed;

use thiserror::Error;

/// A world's parameters that cannot be simulated. Each names the parameter.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum WorldError {
    #[error("world parameter `{name}` is {value}, but must be between {min} and {max}")]
    OutOfRange {
        name: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error(
        "the world would hold about {estimated} {what}, more than the {cap} a browser can \
         simulate in reasonable time; lower its sizes"
    )]
    TooLarge {
        what: &'static str,
        estimated: u64,
        cap: u64,
    },
}

/// Checks that `value` lies in `[min, max]`, naming the parameter if not.
pub(crate) fn check_range(
    name: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<(), WorldError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(WorldError::OutOfRange {
            name,
            value,
            min,
            max,
        })
    }
}
