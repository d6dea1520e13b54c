//! Models, each really trained on a [`Dataset`](crate::engine::data::Dataset),
//! with the loss per epoch recorded for training curves.

pub mod gbdt;
pub mod logistic;
pub mod mlp;

/// Training and validation loss after each epoch (or tree), and where early
/// stopping kept the model.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrainingCurve {
    /// Weighted mean log loss on the training rows, per epoch.
    pub train_loss: Vec<f64>,
    /// Mean log loss on the validation rows, per epoch.
    pub valid_loss: Vec<f64>,
    /// The epoch (from 0) whose weights the model kept.
    pub best_epoch: usize,
}

/// Mean log loss of probabilities `p` against 0/1 `labels`, weighted if
/// `weights` is given. Probabilities are clipped to [1e-7, 1 - 1e-7].
pub(crate) fn log_loss(labels: &[f32], p: &[f64], weights: Option<&[f32]>) -> f64 {
    let mut total = 0.0;
    let mut weight_sum = 0.0;
    for (i, (&y, &q)) in labels.iter().zip(p).enumerate() {
        let w = weights.map_or(1.0, |w| f64::from(w[i]));
        let q = q.clamp(1e-7, 1.0 - 1e-7);
        let loss = if y > 0.5 {
            -crate::engine::math::ln(q)
        } else {
            -crate::engine::math::ln(1.0 - q)
        };
        total += w * loss;
        weight_sum += w;
    }
    if weight_sum > 0.0 {
        total / weight_sum
    } else {
        0.0
    }
}
