//! The feed-ranking pipeline: world, raw features, split, sampling, feature
//! transforms, training, prediction on the test days, offline metrics.

use serde::Serialize;

use super::Memo;
pub use super::{ModelSummary, PipelineError};
use crate::engine::data::Dataset;
use crate::engine::features::feed::{FeedFeatureOptions, raw_table};
use crate::engine::features::{Encoding, FeatureSpec, RawTable, Scaling, fit};
use crate::engine::metrics::{RankedQueries, binary_report};
use crate::engine::models::TrainingCurve;
use crate::engine::models::gbdt::{self, GbdtConfig};
use crate::engine::models::logistic::{self, LogisticConfig};
use crate::engine::models::mlp::{self, MlpConfig};
use crate::engine::rng::Seed;
use crate::engine::sampling::{Imbalance, Sampling, rebalance, recalibrate, sample};
use crate::engine::split::{SplitKind, split};
use crate::engine::world::feed::{FeedParams, FeedWorld};

/// Every choice of a feed-ranking design.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedDesign {
    pub seed: u64,
    pub world: FeedParams,
    pub features: FeedFeatureOptions,
    pub scaling: Scaling,
    pub encoding: Encoding,
    /// Cross user x topic into one hashed field.
    pub user_topic_cross: bool,
    pub split: SplitKind,
    /// Statistics leakage: fit feature transforms on every row, test included.
    pub fit_on_all_rows: bool,
    pub sampling: Sampling,
    /// Undo negative downsampling on predictions (ignored for other sampling).
    pub recalibrate: bool,
    pub imbalance: Imbalance,
    pub model: FeedModel,
}

impl Default for FeedDesign {
    fn default() -> Self {
        FeedDesign {
            seed: 1,
            world: FeedParams::default(),
            features: FeedFeatureOptions::default(),
            scaling: Scaling::Standardize,
            encoding: Encoding::OneHot,
            user_topic_cross: true,
            split: SplitKind::ByTime {
                valid_days: 1,
                test_days: 2,
            },
            fit_on_all_rows: false,
            sampling: Sampling::All,
            recalibrate: true,
            imbalance: Imbalance::None,
            model: FeedModel::Logistic(LogisticConfig::default()),
        }
    }
}

/// Which model ranks the feed.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedModel {
    /// No learning: rank by the creator's past click rate.
    Popularity,
    Logistic(LogisticConfig),
    Gbdt(GbdtConfig),
    /// A multi-task MLP: the click head plus like, share and hide heads.
    Mlp(MlpConfig),
}

impl FeedModel {
    /// The stable name used in reports and URLs.
    pub fn id(&self) -> &'static str {
        match self {
            FeedModel::Popularity => "popularity",
            FeedModel::Logistic(_) => "logistic",
            FeedModel::Gbdt(_) => "gbdt",
            FeedModel::Mlp(_) => "mlp",
        }
    }
}

/// What a run of the design measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeedReport {
    pub offline: Offline,
    pub model: ModelSummary,
    pub data: DataSummary,
    pub training: TrainingCurve,
}

/// Offline metrics on the test rows (clicks as labels, sessions as queries).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Offline {
    pub auc: f64,
    pub pr_auc: f64,
    pub log_loss: f64,
    pub ne: f64,
    /// Mean predicted over observed click rate (1 is calibrated).
    pub calibration: f64,
    pub ece: f64,
    pub ndcg_at_10: f64,
}

/// How much data each stage saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataSummary {
    pub impressions: usize,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub test_rows: usize,
    /// Click rate among the rows the model trained on (after sampling).
    pub train_click_rate: f64,
    pub test_click_rate: f64,
}

/// Runs feed designs, reusing each stage's last result when its inputs match.
#[derive(Debug, Default)]
pub struct FeedPipeline {
    world: Memo<(u64, FeedParams), FeedWorld>,
    table: Memo<(u64, FeedParams, FeedFeatureOptions), RawTable>,
}

impl FeedPipeline {
    /// How many times the world stage has really run.
    pub fn world_runs(&self) -> u32 {
        self.world.runs()
    }

    /// Runs `design` to its offline report.
    ///
    /// # Errors
    /// [`PipelineError`] if the world is invalid, a split is empty, or the
    /// test rows hold one class only.
    pub fn run(&mut self, design: &FeedDesign) -> Result<FeedReport, PipelineError> {
        let seed = Seed(design.seed);
        let world_key = (design.seed, design.world.clone());
        let world = self.world.get_or_try(world_key.clone(), || {
            FeedWorld::generate(&design.world, seed)
        })?;
        let table = self
            .table
            .get_or_try((world_key.0, world_key.1, design.features), || {
                Ok::<_, PipelineError>(raw_table(&world, design.features))
            })?;

        let parts = split(&table.day, design.split, &mut seed.stream("split"));
        let hint = "lower the test or validation days, or add days to the world";
        if parts.train.is_empty() {
            return Err(PipelineError::EmptySplit {
                part: "training",
                hint,
            });
        }
        if parts.test.is_empty() {
            return Err(PipelineError::EmptySplit { part: "test", hint });
        }
        let chosen = sample(
            &parts.train,
            &table.label,
            &design.sampling,
            &mut seed.stream("sampling"),
        );
        let chosen = rebalance(
            chosen,
            &table.label,
            design.imbalance,
            &mut seed.stream("imbalance"),
        );

        let spec = FeatureSpec {
            scaling: design.scaling,
            encoding: design.encoding,
            missing_indicators: true,
            // user x topic: the categorical columns are user, creator, topic, post.
            crosses: if design.user_topic_cross {
                vec![(0, 2)]
            } else {
                Vec::new()
            },
            cross_buckets: 1 << 15,
            ..FeatureSpec::default()
        };
        let all_rows: Vec<usize> = (0..table.len()).collect();
        let fit_rows = if design.fit_on_all_rows {
            &all_rows
        } else {
            &parts.train
        };
        let fitted = fit(&table, fit_rows, &spec);
        let mut train_set = fitted.transform(&table, &chosen.rows);
        train_set.weight.clone_from(&chosen.weight);
        let valid_set = fitted.transform(&table, &parts.valid);
        let test_set = fitted.transform(&table, &parts.test);

        let inputs = TrainInputs {
            table: &table,
            world: &world,
            train_rows: &chosen.rows,
            test_rows: &parts.test,
            train_set: &train_set,
            valid_set: &valid_set,
            test_set: &test_set,
        };
        let (mut scores, model, training) = train_and_predict(design, &inputs, seed);
        if let (Sampling::NegativeDownsampling { rate }, true) =
            (&design.sampling, design.recalibrate)
        {
            for p in &mut scores {
                *p = recalibrate(*p, *rate);
            }
        }

        let labels: Vec<u8> = test_set.label.iter().map(|&y| u8::from(y > 0.5)).collect();
        let report = binary_report(&labels, &scores, 0.5, 10)?;
        let ranked = RankedQueries::new(&labels, &scores, &test_set.group)?;
        let ndcg = ranked.ndcg_at_k(10)?;
        Ok(FeedReport {
            offline: Offline {
                auc: report.roc_auc,
                pr_auc: report.average_precision,
                log_loss: report.log_loss,
                ne: report.normalized_entropy,
                calibration: report.calibration_ratio,
                ece: report.expected_calibration_error,
                ndcg_at_10: ndcg.mean,
            },
            model,
            data: DataSummary {
                impressions: table.len(),
                train_rows: train_set.len(),
                valid_rows: valid_set.len(),
                test_rows: test_set.len(),
                train_click_rate: train_set.positive_rate(),
                test_click_rate: test_set.positive_rate(),
            },
            training,
        })
    }
}

/// What training needs: the data splits, and the world for auxiliary labels.
struct TrainInputs<'a> {
    table: &'a RawTable,
    world: &'a FeedWorld,
    train_rows: &'a [usize],
    test_rows: &'a [usize],
    train_set: &'a Dataset,
    valid_set: &'a Dataset,
    test_set: &'a Dataset,
}

fn train_and_predict(
    design: &FeedDesign,
    data: &TrainInputs<'_>,
    seed: Seed,
) -> (Vec<f64>, ModelSummary, TrainingCurve) {
    let summary = |params: usize| ModelSummary {
        kind: design.model.id(),
        params,
        bytes: params * 4,
    };
    match &design.model {
        FeedModel::Popularity => {
            let fallback = data.train_set.positive_rate();
            let scores = popularity_scores(data.table, data.test_rows, fallback);
            (scores, summary(0), TrainingCurve::default())
        }
        FeedModel::Logistic(config) => {
            let mut rng = seed.stream("train.logistic");
            let (model, curve) = logistic::train(data.train_set, data.valid_set, config, &mut rng);
            (model.predict(data.test_set), summary(model.params()), curve)
        }
        FeedModel::Gbdt(config) => {
            let (model, curve) = gbdt::train(data.train_set, data.valid_set, config);
            (model.predict(data.test_set), summary(model.params()), curve)
        }
        FeedModel::Mlp(config) => {
            // Table rows are impressions, so the other engagement labels line up.
            let log = &data.world.impressions;
            let aux: Vec<Vec<f32>> = [&log.like, &log.share, &log.hide]
                .iter()
                .map(|labels| {
                    data.train_rows
                        .iter()
                        .map(|&i| f32::from(u8::from(labels[i])))
                        .collect()
                })
                .collect();
            let mut rng = seed.stream("train.mlp");
            let (model, curve) = mlp::train(data.train_set, &aux, data.valid_set, config, &mut rng);
            (model.predict(data.test_set), summary(model.params()), curve)
        }
    }
}

/// The creator's past click rate, or `fallback` for creators with no history.
fn popularity_scores(table: &RawTable, rows: &[usize], fallback: f64) -> Vec<f64> {
    let column = table.numeric.iter().find(|c| c.name == "creator_past_ctr");
    rows.iter()
        .map(|&i| {
            column
                .map(|c| c.values[i])
                .filter(|v| !v.is_nan())
                .map_or(fallback, f64::from)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> FeedDesign {
        FeedDesign {
            world: FeedParams {
                users: 1_500,
                days: 8,
                ..FeedParams::default()
            },
            ..FeedDesign::default()
        }
    }

    #[test]
    fn logistic_beats_the_popularity_baseline() {
        let mut pipeline = FeedPipeline::default();
        let learned = pipeline.run(&small()).unwrap();
        let baseline = pipeline
            .run(&FeedDesign {
                model: FeedModel::Popularity,
                ..small()
            })
            .unwrap();
        assert!(
            learned.offline.auc > baseline.offline.auc + 0.02,
            "logistic {} vs popularity {}",
            learned.offline.auc,
            baseline.offline.auc
        );
        assert!(learned.offline.auc > 0.6 && learned.offline.auc < 0.95);
        assert!(
            (learned.offline.calibration - 1.0).abs() < 0.15,
            "{:?}",
            learned.offline
        );
        assert_eq!(
            pipeline.world_runs(),
            1,
            "changing the model reuses the world"
        );
    }

    #[test]
    fn downsampling_without_recalibration_over_predicts() {
        let mut pipeline = FeedPipeline::default();
        let down = |recalibrate| FeedDesign {
            sampling: Sampling::NegativeDownsampling { rate: 0.2 },
            recalibrate,
            ..small()
        };
        let raw = pipeline.run(&down(false)).unwrap();
        let fixed = pipeline.run(&down(true)).unwrap();
        assert!(raw.offline.calibration > 1.8, "{:?}", raw.offline);
        assert!(
            (fixed.offline.calibration - 1.0).abs() < 0.2,
            "{:?}",
            fixed.offline
        );
        // Recalibration is monotone: ranking metrics do not move.
        assert!((raw.offline.auc - fixed.offline.auc).abs() < 1e-12);
    }

    #[test]
    fn gbdt_trains_and_reports_its_size() {
        let mut pipeline = FeedPipeline::default();
        let report = pipeline
            .run(&FeedDesign {
                model: FeedModel::Gbdt(GbdtConfig {
                    trees: 30,
                    ..GbdtConfig::default()
                }),
                ..small()
            })
            .unwrap();
        assert!(report.offline.auc > 0.6, "{:?}", report.offline);
        assert!(report.model.params > 30 && report.model.bytes == report.model.params * 4);
        assert!(!report.training.valid_loss.is_empty());
    }

    #[test]
    fn multi_task_mlp_trains_four_heads() {
        let mut pipeline = FeedPipeline::default();
        let report = pipeline
            .run(&FeedDesign {
                model: FeedModel::Mlp(MlpConfig {
                    max_epochs: 2,
                    ..MlpConfig::default()
                }),
                ..small()
            })
            .unwrap();
        assert!(report.offline.auc > 0.6, "{:?}", report.offline);
        assert_eq!(report.model.kind, "mlp");
        assert_eq!(report.training.train_loss.len(), 2);
    }

    #[test]
    fn a_split_with_no_training_days_is_an_error() {
        let mut pipeline = FeedPipeline::default();
        let design = FeedDesign {
            split: SplitKind::ByTime {
                valid_days: 4,
                test_days: 4,
            },
            ..small()
        };
        let err = pipeline.run(&design).unwrap_err();
        assert!(
            matches!(
                err,
                PipelineError::EmptySplit {
                    part: "training",
                    ..
                }
            ),
            "{err}"
        );
    }
}
