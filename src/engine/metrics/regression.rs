//! Regression metrics: mean squared error and mean absolute error, as
//! scikit-learn's `mean_squared_error` and `mean_absolute_error`.

use super::{MetricError, check_finite, check_lengths};

/// Validates a target/prediction pair and returns the row count.
fn check_pair(targets: &[f64], predictions: &[f64]) -> Result<usize, MetricError> {
    let rows = check_lengths(targets.len(), predictions.len())?;
    check_finite(targets)?;
    check_finite(predictions)?;
    Ok(rows)
}

/// Mean of `(target - prediction)^2`.
///
/// # Errors
///
/// [`MetricError::EmptyInput`], [`MetricError::LengthMismatch`] or
/// [`MetricError::NonFinite`].
pub fn mean_squared_error(targets: &[f64], predictions: &[f64]) -> Result<f64, MetricError> {
    let rows = check_pair(targets, predictions)?;
    let total: f64 = targets
        .iter()
        .zip(predictions)
        .map(|(&y, &p)| (y - p) * (y - p))
        .sum();
    Ok(total / rows as f64)
}

/// Mean of `|target - prediction|`.
///
/// # Errors
///
/// [`MetricError::EmptyInput`], [`MetricError::LengthMismatch`] or
/// [`MetricError::NonFinite`].
pub fn mean_absolute_error(targets: &[f64], predictions: &[f64]) -> Result<f64, MetricError> {
    let rows = check_pair(targets, predictions)?;
    let total: f64 = targets
        .iter()
        .zip(predictions)
        .map(|(&y, &p)| (y - p).abs())
        .sum();
    Ok(total / rows as f64)
}
