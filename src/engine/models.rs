//! Models, each really trained on a [`Dataset`](crate::engine::data::Dataset),
//! with the loss per epoch recorded for training curves.

pub mod gbdt;
pub mod logistic;
pub mod mlp;
pub mod two_tower;

/// Rows of a training set that quantization reads to set activation
/// ranges: the first ones, at most this many. A pipeline that keeps a
/// model to quantize later keeps only these rows of its training set.
pub const CALIBRATION_ROWS: usize = 2_000;

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

/// What early stopping says after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// The best validation loss so far: keep this model.
    Improved,
    /// Not better, but within patience.
    Worse,
    /// `patience` epochs without improvement: stop.
    Stop,
}

impl TrainingCurve {
    /// Records an epoch: its weighted training loss (`loss_sum` over
    /// `weight_sum`, 0 without weight), then its validation loss through
    /// [`Self::record_valid`].
    pub(crate) fn record_epoch(
        &mut self,
        loss_sum: f64,
        weight_sum: f64,
        valid_loss: Option<f64>,
        patience: usize,
    ) -> Progress {
        self.train_loss.push(if weight_sum > 0.0 {
            loss_sum / weight_sum
        } else {
            0.0
        });
        self.record_valid(valid_loss, patience)
    }

    /// Records an epoch's validation loss (`None` without validation rows:
    /// then every epoch counts as an improvement) and applies early stopping.
    pub(crate) fn record_valid(&mut self, loss: Option<f64>, patience: usize) -> Progress {
        let epoch = self.valid_loss.len();
        let best = self.valid_loss.get(self.best_epoch).copied();
        self.valid_loss.push(loss.unwrap_or(f64::NAN));
        let improved = match (loss, best) {
            (None, _) | (Some(_), None) => true,
            (Some(l), Some(b)) => l < b,
        };
        if improved {
            self.best_epoch = epoch;
            Progress::Improved
        } else if epoch - self.best_epoch >= patience {
            Progress::Stop
        } else {
            Progress::Worse
        }
    }
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
