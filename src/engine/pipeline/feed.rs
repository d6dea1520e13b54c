//! The feed-ranking pipeline: world, raw features, split, sampling, feature
//! transforms, training, prediction on the test days, offline metrics.

pub mod ab;
pub mod monitor;
pub mod retrieval;
mod serve;

use std::sync::Arc;

use serde::Serialize;

use crate::compute::{Compute, Precision, block_on};

use super::watch::{DayView, Deployed, Deployments};
use super::{Curves, Memo, Progress, RECENT, Scope, Stage};
pub use super::{ModelSummary, PipelineError};
use crate::engine::data::Dataset;
use crate::engine::features::feed::{FeedFeatureOptions, raw_table};
use crate::engine::features::{Encoding, FeatureSpec, FittedFeatures, RawTable, Scaling, fit};
use crate::engine::metrics::{RankedQueries, binary_report};
use crate::engine::models::gbdt::{self, GbdtConfig, GbdtModel};
use crate::engine::models::logistic::{self, LogisticConfig, LogisticModel};
use crate::engine::models::mlp::{self, MlpConfig, MlpModel};
use crate::engine::models::{CALIBRATION_ROWS, TrainingCurve};
use crate::engine::rng::Seed;
use crate::engine::sampling::{Imbalance, Sampling, rebalance, recalibrate_scores, sample};
use crate::engine::split::{Split, SplitKind, split};
use crate::engine::world::feed::{FeedParams, FeedWorld};
use ab::{AbDesign, AbReport, ServedSessions};
use monitor::{MonitorDesign, MonitorReport};
use retrieval::{RetrievalDesign, RetrievalReport, Towers, retrieve, train_towers};
use serve::{ServingCache, serve};

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
    /// Hash buckets of the cross.
    pub cross_buckets: u32,
    pub split: SplitKind,
    /// Statistics leakage: fit feature transforms on every row, test included.
    pub fit_on_all_rows: bool,
    pub sampling: Sampling,
    /// Undo negative downsampling on predictions (ignored for other sampling).
    pub recalibrate: bool,
    pub imbalance: Imbalance,
    pub model: FeedModel,
    /// The precision the trained model is stored and served at.
    pub quantization: Precision,
    /// Candidate retrieval, the first stage.
    pub retrieval: RetrievalDesign,
    /// The A/B test of the trained ranker against the production policy.
    pub ab: AbDesign,
    /// The monitoring step: drift detector and retraining policy.
    pub monitor: MonitorDesign,
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
            cross_buckets: 1 << 15,
            split: SplitKind::ByTime {
                valid_days: 1,
                test_days: 2,
            },
            fit_on_all_rows: false,
            sampling: Sampling::All,
            recalibrate: true,
            imbalance: Imbalance::None,
            model: FeedModel::Logistic(LogisticConfig::default()),
            quantization: Precision::Fp32,
            retrieval: RetrievalDesign::default(),
            ab: AbDesign::default(),
            monitor: MonitorDesign::default(),
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
    pub online: Online,
    pub ab: AbReport,
    /// Absent when the run's [`Scope`] left the monitored days out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitorReport>,
    /// Absent when the run's [`Scope`] left retrieval out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<RetrievalReport>,
    pub model: ModelSummary,
    pub data: DataSummary,
    pub training: TrainingCurve,
    /// The test rows' curves, for the charts.
    pub curves: Curves,
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
    /// ROC-AUC of each other engagement on the test rows: the multi-task
    /// MLP ranks each by its own head; other models by their click score
    /// (hides by its opposite: a post unlikely to be clicked is likelier
    /// hidden).
    pub auc_like: f64,
    pub auc_share: f64,
    pub auc_hide: f64,
}

/// What happens when the trained model ranks the feed of simulated users on
/// the world's last [`ONLINE_DAYS`] days: each logged session's user gets a
/// fresh candidate pool, the model (with serving-time features) picks and
/// orders the top `session_len`, and the world's ground truth gives the
/// expected clicks, likes, shares and hides through position bias.
/// Expectations, not draws: two designs differ only by their rankings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Online {
    /// Expected clicks per impression.
    pub ctr: f64,
    /// The same sessions ranked by the logging policy (a noisy popularity
    /// prior): the production baseline.
    pub ctr_logging_policy: f64,
    /// `ctr / ctr_logging_policy - 1`.
    pub ctr_lift: f64,
    /// Expected clicks, likes and shares per session.
    pub engagement_per_session: f64,
    /// Expected hides per impression.
    pub hide_rate: f64,
    /// Distinct topics over posts shown, averaged over sessions.
    pub diversity: f64,
    pub sessions: usize,
}

/// Days at the end of the world on which the model is served.
pub const ONLINE_DAYS: u16 = 2;

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
    /// The trained ranker's measurements, keyed by the design with the
    /// later stages' knobs (A/B test, retrieval, monitoring) at their
    /// defaults: changing one of those reruns its own stage only.
    ranker: Memo<FeedDesign, Ranked, RECENT>,
    /// The ranker at fp32, keyed as `ranker` with quantization at fp32:
    /// every precision quantizes the same training.
    fp32: Memo<FeedDesign, RankerFit, RECENT>,
    /// The monitoring step's deployments at fp32.
    deployments: Deployments<FeedDesign, FittedModel>,
    monitoring: Memo<FeedDesign, MonitorReport, RECENT>,
    towers: Memo<(u64, FeedParams), Towers>,
    retrieval: Memo<(u64, FeedParams, RetrievalDesign), RetrievalReport>,
}

impl FeedPipeline {
    /// How many times the world stage has really run.
    pub fn world_runs(&self) -> u32 {
        self.world.runs()
    }

    /// How many models have really been trained: the ranker, and the
    /// monitoring step's deployments.
    pub fn trainings(&self) -> u32 {
        self.fp32.runs() + self.deployments.trainings()
    }

    /// The monitoring timeline, memoized apart from the knobs it does not
    /// read: the A/B test's size and retrieval.
    async fn monitoring(
        &mut self,
        design: &FeedDesign,
        world: &FeedWorld,
        table: &RawTable,
        seed: Seed,
        compute: &Compute,
        progress: Progress<'_>,
    ) -> Result<MonitorReport, PipelineError> {
        let key = FeedDesign {
            ab: AbDesign::default(),
            retrieval: RetrievalDesign::default(),
            ..design.clone()
        };
        let deployments = &mut self.deployments;
        let report = self
            .monitoring
            .get_or_try_async(key, async || {
                progress(Stage::Monitoring);
                let report = monitor_days(design, world, table, seed, deployments, compute).await;
                Ok::<_, PipelineError>(report)
            })
            .await?;
        Ok((*report).clone())
    }

    /// The retrieval stage, memoized on the world and its own knobs (the
    /// towers on the world alone).
    async fn retrieval(
        &mut self,
        world_key: &(u64, FeedParams),
        world: &FeedWorld,
        design: RetrievalDesign,
        seed: Seed,
        compute: &Compute,
        progress: Progress<'_>,
    ) -> Result<RetrievalReport, PipelineError> {
        let key = (world_key.0, world_key.1.clone(), design);
        let towers = &mut self.towers;
        let report = self
            .retrieval
            .get_or_try_async(key, async || {
                progress(Stage::Retrieval);
                let towers = towers.get_or_try(world_key.clone(), || {
                    Ok::<_, PipelineError>(train_towers(world, ONLINE_DAYS, seed))
                })?;
                let report = retrieve(world, &towers, &design, ONLINE_DAYS, seed, compute).await;
                Ok::<_, PipelineError>(report)
            })
            .await?;
        Ok((*report).clone())
    }

    /// Runs `design` to its offline report.
    ///
    /// # Errors
    /// [`PipelineError`] if the world is invalid, a split is empty, or the
    /// test rows hold one class only.
    pub fn run(&mut self, design: &FeedDesign) -> Result<FeedReport, PipelineError> {
        self.run_with(design, &mut |_| {})
    }

    /// [`FeedPipeline::run`], telling `progress` each stage that really runs.
    ///
    /// # Errors
    /// As [`FeedPipeline::run`].
    pub fn run_with(
        &mut self,
        design: &FeedDesign,
        progress: Progress,
    ) -> Result<FeedReport, PipelineError> {
        self.run_scoped(design, Scope::ALL, progress)
    }

    /// [`FeedPipeline::run_with`], computing only the optional stages
    /// `scope` names.
    ///
    /// # Errors
    /// As [`FeedPipeline::run`].
    pub fn run_scoped(
        &mut self,
        design: &FeedDesign,
        scope: Scope,
        progress: Progress,
    ) -> Result<FeedReport, PipelineError> {
        block_on(self.run_on(design, scope, &Compute::cpu(), progress))
    }

    /// [`FeedPipeline::run_scoped`] with its kernels on `compute` (the
    /// ranker's scoring, the retrieval scan, the score histogram).
    ///
    /// # Errors
    /// As [`FeedPipeline::run`].
    pub async fn run_on(
        &mut self,
        design: &FeedDesign,
        scope: Scope,
        compute: &Compute,
        progress: Progress<'_>,
    ) -> Result<FeedReport, PipelineError> {
        let seed = Seed(design.seed);
        let world_key = (design.seed, design.world.clone());
        let world = self.world.get_or_try(world_key.clone(), || {
            progress(Stage::World);
            FeedWorld::generate(&design.world, seed)
        })?;
        let table =
            self.table
                .get_or_try((world_key.0, world_key.1.clone(), design.features), || {
                    progress(Stage::Features);
                    Ok::<_, PipelineError>(raw_table(&world, design.features))
                })?;

        let key = FeedDesign {
            ab: AbDesign::default(),
            retrieval: RetrievalDesign::default(),
            monitor: MonitorDesign::default(),
            ..design.clone()
        };
        let fit_key = FeedDesign {
            quantization: Precision::Fp32,
            ..key.clone()
        };
        let fp32 = &mut self.fp32;
        let ranked = self
            .ranker
            .get_or_try_async(key, async || {
                progress(Stage::Training);
                let fit = fp32.get_or_try(fit_key, || fit_ranker(design, &world, &table, seed))?;
                rank(design, (&world, &table), &fit, seed, compute).await
            })
            .await?;
        let ab = ab::run(&world, &ranked.served, design.ab, seed);
        let retrieval = if scope.retrieval {
            let retrieval = self.retrieval(
                &world_key,
                &world,
                design.retrieval,
                seed,
                compute,
                progress,
            );
            Some(retrieval.await?)
        } else {
            None
        };
        let monitoring = if scope.monitoring {
            let monitoring = self.monitoring(design, &world, &table, seed, compute, progress);
            Some(monitoring.await?)
        } else {
            None
        };
        Ok(FeedReport {
            offline: ranked.offline.clone(),
            online: ranked.online.clone(),
            ab,
            model: ranked.model.clone(),
            data: ranked.data.clone(),
            monitoring,
            retrieval,
            training: ranked.training.clone(),
            curves: ranked.curves.clone(),
        })
    }
}

/// What the trained ranker measures, offline on the test days and online
/// on the served sessions (which the A/B test reuses).
#[derive(Debug)]
struct Ranked {
    offline: Offline,
    online: Online,
    served: ServedSessions,
    model: ModelSummary,
    data: DataSummary,
    training: TrainingCurve,
    curves: Curves,
}

/// The ranker of a design trained at fp32 on its split.
#[derive(Debug)]
struct RankerFit {
    parts: Split,
    model: FittedModel,
    /// The test rows through the model's fitted transforms.
    test_set: Dataset,
}

/// Splits the rows and trains the ranker of `design` at fp32.
fn fit_ranker(
    design: &FeedDesign,
    world: &FeedWorld,
    table: &RawTable,
    seed: Seed,
) -> Result<RankerFit, PipelineError> {
    let parts = split(&table.day, design.split, &mut seed.stream("split"));
    check_parts(&parts)?;
    let all_rows: Vec<usize> = (0..table.len()).collect();
    let fit_rows = if design.fit_on_all_rows {
        &all_rows
    } else {
        &parts.train
    };
    let model = fit_and_train(
        design,
        world,
        table,
        &TrainRows {
            train: &parts.train,
            valid: &parts.valid,
            fit: fit_rows,
        },
        seed,
        &Streams::MAIN,
    );
    let test_set = model.fitted.transform(table, &parts.test);
    Ok(RankerFit {
        parts,
        model,
        test_set,
    })
}

/// Quantizes the ranker of `fit` as `design` says and measures it offline
/// and online.
async fn rank(
    design: &FeedDesign,
    (world, table): (&FeedWorld, &RawTable),
    fit: &RankerFit,
    seed: Seed,
    compute: &Compute,
) -> Result<Ranked, PipelineError> {
    let (parts, model, test_set) = (&fit.parts, &fit.model, &fit.test_set);
    let trained = &model.at(design.quantization);
    let calibrate = |mut scores: Vec<f64>| {
        recalibrate_scores(&mut scores, &design.sampling, design.recalibrate);
        scores
    };
    let scores = trained
        .scores(test_set, creator_ctr(table), &parts.test, compute)
        .await;
    let scores = calibrate(scores);
    let last = world.params.days;
    let (online, served) = serve(
        world,
        design.features,
        (trained, &model.fitted, &model.served),
        seed,
        last.saturating_sub(ONLINE_DAYS)..last,
        compute,
    )
    .await;

    let [auc_like, auc_share, auc_hide] =
        task_aucs(world, &parts.test, (trained, test_set), &scores, compute).await;
    let labels: Vec<u8> = test_set.label.iter().map(|&y| u8::from(y > 0.5)).collect();
    let report = binary_report(&labels, &scores, 0.5, 10)?;
    let curves = Curves::new(&report, &labels, &scores, 0.5, compute).await?;
    let ranked = RankedQueries::new(&labels, &scores, &test_set.group)?;
    let ndcg = ranked.ndcg_at_k(10)?;
    Ok(Ranked {
        offline: Offline {
            auc: report.roc_auc,
            pr_auc: report.average_precision,
            log_loss: report.log_loss,
            ne: report.normalized_entropy,
            calibration: report.calibration_ratio,
            ece: report.expected_calibration_error,
            ndcg_at_10: ndcg.mean,
            auc_like,
            auc_share,
            auc_hide,
        },
        online,
        served,
        model: ModelSummary::new(
            design.model.id(),
            trained.params(),
            trained.flops_per_item(test_set),
        )
        .at(design.quantization, trained.bytes()),
        data: DataSummary {
            impressions: table.len(),
            train_rows: model.train_rows,
            valid_rows: model.valid_rows,
            test_rows: test_set.len(),
            train_click_rate: model.train_click_rate,
            test_click_rate: test_set.positive_rate(),
        },
        training: model.training.clone(),
        curves,
    })
}

/// ROC-AUC of like, share and hide on the test rows (see [`Offline`]); NaN
/// where a task has one class only.
async fn task_aucs(
    world: &FeedWorld,
    rows: &[usize],
    (trained, set): (&Trained, &Dataset),
    click_scores: &[f64],
    compute: &Compute,
) -> [f64; 3] {
    let log = &world.impressions;
    let tasks = [&log.like, &log.share, &log.hide];
    let mut out = [f64::NAN; 3];
    for (k, labels) in tasks.iter().enumerate() {
        let y: Vec<u8> = rows.iter().map(|&i| u8::from(labels[i])).collect();
        let scores: Vec<f64> = match trained {
            // Head 0 is the click; the others follow in like, share, hide order.
            Trained::Mlp(model) => model.predict_task_on(set, k + 1, compute).await,
            _ if k == 2 => click_scores.iter().map(|p| -p).collect(),
            _ => click_scores.to_vec(),
        };
        out[k] = crate::engine::metrics::roc_auc(&y, &scores).unwrap_or(f64::NAN);
    }
    out
}

/// A split with no training or no test rows cannot be evaluated.
fn check_parts(parts: &Split) -> Result<(), PipelineError> {
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
    Ok(())
}

/// The feature transforms a design asks for.
fn feature_spec(design: &FeedDesign) -> FeatureSpec {
    FeatureSpec {
        scaling: design.scaling,
        encoding: design.encoding,
        missing_indicators: true,
        // user x topic: the categorical columns are user, creator, topic, post.
        crosses: if design.user_topic_cross {
            vec![(0, 2)]
        } else {
            Vec::new()
        },
        cross_buckets: design.cross_buckets,
        ..FeatureSpec::default()
    }
}

/// The rows a model is fitted on: training, validation (early stopping),
/// and the rows its feature transforms are fitted on.
struct TrainRows<'a> {
    train: &'a [usize],
    valid: &'a [usize],
    fit: &'a [usize],
}

/// Names of the random streams of one training.
struct Streams {
    sampling: &'static str,
    imbalance: &'static str,
    /// Substream index (the day of a retraining; 0 for the main model).
    index: u64,
}

impl Streams {
    const MAIN: Streams = Streams {
        sampling: "sampling",
        imbalance: "imbalance",
        index: 0,
    };
}

/// A model fitted on some rows, at fp32, with what the report says of its
/// data. It keeps the first rows of its training set, which quantization
/// reads, so that every precision is a quantization of the same training
/// (the `quantization` knob retrains nothing).
#[derive(Debug)]
struct FittedModel {
    fitted: FittedFeatures,
    trained: Trained,
    /// What the model keeps of the days it has served.
    served: ServingCache,
    /// The first [`CALIBRATION_ROWS`] rows of the training set.
    calibration: Dataset,
    training: TrainingCurve,
    train_rows: usize,
    valid_rows: usize,
    train_click_rate: f64,
}

impl FittedModel {
    /// The trained model stored and computed at `precision`.
    fn at(&self, precision: Precision) -> Trained {
        self.trained.quantized(precision, &self.calibration)
    }
}

/// Samples the training rows, fits the feature transforms and trains the
/// design's model at fp32: the offline pipeline's model, and each
/// retraining's. It reads no knob of a later stage, quantization included.
fn fit_and_train(
    design: &FeedDesign,
    world: &FeedWorld,
    table: &RawTable,
    rows: &TrainRows<'_>,
    seed: Seed,
    streams: &Streams,
) -> FittedModel {
    let stream = |name: &str| {
        if streams.index == 0 {
            seed.stream(name)
        } else {
            seed.substream(name, streams.index)
        }
    };
    let chosen = sample(
        rows.train,
        &table.label,
        &design.sampling,
        &mut stream(streams.sampling),
    );
    let chosen = rebalance(
        chosen,
        &table.label,
        design.imbalance,
        &mut stream(streams.imbalance),
    );
    let fitted = fit(table, rows.fit, &feature_spec(design));
    let mut train_set = fitted.transform(table, &chosen.rows);
    train_set.weight.clone_from(&chosen.weight);
    let valid_set = fitted.transform(table, rows.valid);
    let (trained, training) = train(design, world, &chosen.rows, &train_set, &valid_set, seed);
    let first: Vec<usize> = (0..train_set.len().min(CALIBRATION_ROWS)).collect();
    FittedModel {
        served: ServingCache::default(),
        calibration: train_set.select(&first),
        fitted,
        trained,
        training,
        train_rows: train_set.len(),
        valid_rows: valid_set.len(),
        train_click_rate: train_set.positive_rate(),
    }
}

/// A trained ranker, ready to score any rows of the feed's feature space.
#[derive(Clone, Debug)]
enum Trained {
    /// The creator's past click rate; `fallback` where it has none.
    Popularity {
        fallback: f64,
    },
    Logistic(LogisticModel),
    Gbdt(GbdtModel),
    Mlp(MlpModel),
}

impl Trained {
    /// Click scores for `rows` of a table whose transformed rows are `set`
    /// and whose creators' past click rates are `creator_ctr` (which only
    /// the popularity ranker reads).
    ///
    /// Logistic regression and the MLP score through `compute`'s forward
    /// kernel; boosted trees are no dense layer and score on the CPU.
    async fn scores(
        &self,
        set: &Dataset,
        creator_ctr: Option<&[f32]>,
        rows: &[usize],
        compute: &Compute,
    ) -> Vec<f64> {
        match self {
            Trained::Popularity { fallback } => popularity_scores(creator_ctr, rows, *fallback),
            Trained::Logistic(model) => model.predict_on(set, compute).await,
            Trained::Gbdt(model) => model.predict(set),
            Trained::Mlp(model) => model.predict_on(set, compute).await,
        }
    }

    /// Operations to score one row of `data`'s shape.
    fn flops_per_item(&self, data: &Dataset) -> f64 {
        match self {
            // A lookup of the creator's rate.
            Trained::Popularity { .. } => 1.0,
            Trained::Logistic(model) => model.flops_per_item(data),
            Trained::Gbdt(model) => model.flops_per_item(),
            Trained::Mlp(model) => model.flops_per_item(data),
        }
    }

    /// The model at `precision` (a popularity table has no weights).
    fn quantized(&self, precision: Precision, calibration: &Dataset) -> Trained {
        match self {
            Trained::Popularity { .. } => self.clone(),
            Trained::Logistic(model) => Trained::Logistic(model.quantized(precision, calibration)),
            Trained::Gbdt(model) => Trained::Gbdt(model.quantized(precision)),
            Trained::Mlp(model) => Trained::Mlp(model.quantized(precision, calibration)),
        }
    }

    /// Bytes of the model at its precision.
    fn bytes(&self) -> u64 {
        match self {
            Trained::Popularity { .. } => 0,
            Trained::Logistic(model) => model.bytes(),
            Trained::Gbdt(model) => model.bytes(),
            Trained::Mlp(model) => model.bytes(),
        }
    }

    fn params(&self) -> usize {
        match self {
            Trained::Popularity { .. } => 0,
            Trained::Logistic(model) => model.params(),
            Trained::Gbdt(model) => model.params(),
            Trained::Mlp(model) => model.params(),
        }
    }
}

fn train(
    design: &FeedDesign,
    world: &FeedWorld,
    train_rows: &[usize],
    train_set: &Dataset,
    valid_set: &Dataset,
    seed: Seed,
) -> (Trained, TrainingCurve) {
    match &design.model {
        FeedModel::Popularity => {
            let fallback = train_set.positive_rate();
            (Trained::Popularity { fallback }, TrainingCurve::default())
        }
        FeedModel::Logistic(config) => {
            let mut rng = seed.stream("train.logistic");
            let (model, curve) = logistic::train(train_set, valid_set, config, &mut rng);
            (Trained::Logistic(model), curve)
        }
        FeedModel::Gbdt(config) => {
            let (model, curve) = gbdt::train(train_set, valid_set, config);
            (Trained::Gbdt(model), curve)
        }
        FeedModel::Mlp(config) => {
            // Table rows are impressions, so the other engagement labels line up.
            let log = &world.impressions;
            let aux: Vec<Vec<f32>> = [&log.like, &log.share, &log.hide]
                .iter()
                .map(|labels| {
                    train_rows
                        .iter()
                        .map(|&i| f32::from(u8::from(labels[i])))
                        .collect()
                })
                .collect();
            let mut rng = seed.stream("train.mlp");
            let (model, curve) = mlp::train(train_set, &aux, valid_set, config, &mut rng);
            (Trained::Mlp(model), curve)
        }
    }
}

/// The monitoring step (see [`monitor`]): a model trained on the days
/// before the last `design.monitor.days` serves them one by one, retrained as the
/// design's policy says on the labels that have arrived. Each deployment
/// is trained at fp32 once per training design (`deployments`) and
/// quantized at the design's precision.
async fn monitor_days(
    design: &FeedDesign,
    world: &FeedWorld,
    table: &RawTable,
    seed: Seed,
    deployments: &mut Deployments<FeedDesign, FittedModel>,
    compute: &Compute,
) -> MonitorReport {
    // What a deployment's training reads: not the precision, the detector
    // or the schedule (which only say when a deployment happens).
    let training = FeedDesign {
        quantization: Precision::Fp32,
        ab: AbDesign::default(),
        retrieval: RetrievalDesign::default(),
        monitor: MonitorDesign {
            window_days: design.monitor.window_days,
            days: design.monitor.days,
            ..MonitorDesign::default()
        },
        ..design.clone()
    };
    let last = world.params.days;
    let first = last.saturating_sub(design.monitor.days).max(2);
    let rows_of = |from: u16, to: u16| -> Vec<usize> {
        let a = table.day.partition_point(|&d| d < from);
        let b = table.day.partition_point(|&d| d < to);
        (a..b).collect()
    };
    // Train on every labelled day before `newest`, validate on `newest`.
    let deploy = async |newest: u16| {
        if newest == 0 {
            return None;
        }
        // A retraining keeps the most recent days only (the window); the
        // first deployment trains on everything before the monitored days.
        let from = if newest + 1 > first {
            newest.saturating_sub(design.monitor.window_days)
        } else {
            0
        };
        let train = rows_of(from, newest);
        let valid = rows_of(newest, newest + 1);
        let all: Vec<usize> = rows_of(0, newest + 1);
        let fit_rows = if design.fit_on_all_rows { &all } else { &train };
        let model = deployments.get(&training, newest, || {
            fit_and_train(
                design,
                world,
                table,
                &TrainRows {
                    train: &train,
                    valid: &valid,
                    fit: fit_rows,
                },
                seed,
                &Streams {
                    sampling: "monitor.sampling",
                    imbalance: "monitor.imbalance",
                    index: u64::from(newest) + 1,
                },
            )
        });
        let trained = model.at(design.quantization);
        let valid_set = model.served.logged(table, &model.fitted, newest, &valid);
        let reference_scores = trained
            .scores(&valid_set, creator_ctr(table), &valid, compute)
            .await;
        (!reference_scores.is_empty()).then_some(((model, trained), Deployed { reference_scores }))
    };
    let view = async |(model, trained): &(Arc<FittedModel>, Trained), day: u16| {
        let rows = rows_of(day, day + 1);
        let set = model.served.logged(table, &model.fitted, day, &rows);
        let scores = trained
            .scores(&set, creator_ctr(table), &rows, compute)
            .await;
        let labels = rows
            .iter()
            .map(|&i| u8::from(table.label[i] > 0.5))
            .collect();
        let (online, _) = serve(
            world,
            design.features,
            (trained, &model.fitted, &model.served),
            seed,
            day..day + 1,
            compute,
        )
        .await;
        DayView {
            scores,
            labels,
            online: (online.ctr, online.ctr_logging_policy),
        }
    };
    monitor::run(first..last, design.monitor, deploy, view).await
}

/// The creator's past click rate, or `fallback` for creators with no history.
/// `column` is the creator's past click rate of every row (see [`creator_ctr`]).
fn popularity_scores(column: Option<&[f32]>, rows: &[usize], fallback: f64) -> Vec<f64> {
    rows.iter()
        .map(|&i| {
            column
                .map(|c| c[i])
                .filter(|v| !v.is_nan())
                .map_or(fallback, f64::from)
        })
        .collect()
}

/// The creator's past click rate of each row of `table`, if it has one.
fn creator_ctr(table: &RawTable) -> Option<&[f32]> {
    table.numeric_column("creator_past_ctr")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::experiment::Assignment;

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
    fn a_precision_or_detector_change_quantizes_the_same_training() {
        use crate::engine::drift::Detector;
        let mut pipeline = FeedPipeline::default();
        let fp32 = pipeline.run(&small()).unwrap();
        let trained = pipeline.trainings();
        assert!(trained >= 2, "the ranker and the first deployment");
        let pools = serve::POOLS_BUILT.with(std::cell::Cell::get);
        assert!(pools >= 2, "the online days and the monitored days");
        let int8_design = FeedDesign {
            quantization: Precision::Int8,
            ..small()
        };
        let int8 = pipeline.run(&int8_design).unwrap();
        let other_detector = pipeline
            .run(&FeedDesign {
                monitor: MonitorDesign {
                    detector: Detector::Ks,
                    ..MonitorDesign::default()
                },
                ..int8_design.clone()
            })
            .unwrap();
        assert_eq!(pipeline.trainings(), trained, "nothing retrained");
        assert_eq!(
            serve::POOLS_BUILT.with(std::cell::Cell::get),
            pools,
            "every serving pool reused"
        );
        assert_eq!(int8.model.precision, Precision::Int8);
        assert!(int8.model.bytes < fp32.model.bytes / 2, "{:?}", int8.model);
        assert_ne!(int8.offline.auc.to_bits(), fp32.offline.auc.to_bits());
        assert_eq!(other_detector.offline, int8.offline);
        // The same numbers as a fresh run of the int8 design.
        assert_eq!(FeedPipeline::default().run(&int8_design).unwrap(), int8);
    }

    #[test]
    fn serving_a_leaky_model_loses_online_what_it_gained_offline() {
        let mut pipeline = FeedPipeline::default();
        let honest = pipeline.run(&small()).unwrap();
        let leaky = pipeline
            .run(&FeedDesign {
                features: FeedFeatureOptions {
                    future_leak: true,
                    ..FeedFeatureOptions::default()
                },
                ..small()
            })
            .unwrap();
        assert!(
            leaky.offline.auc > honest.offline.auc + 0.01,
            "offline: leaky {} honest {}",
            leaky.offline.auc,
            honest.offline.auc
        );
        assert!(
            leaky.online.ctr < honest.online.ctr,
            "online: leaky {:?} honest {:?}",
            leaky.online,
            honest.online
        );
        // Both served the same sessions, with the same candidates.
        assert_eq!(leaky.online.sessions, honest.online.sessions);
        assert_eq!(
            leaky.online.ctr_logging_policy.to_bits(),
            honest.online.ctr_logging_policy.to_bits()
        );
        assert!(honest.online.ctr > honest.online.ctr_logging_policy);
        assert!(honest.online.diversity > 0.0 && honest.online.diversity <= 1.0);
    }

    #[test]
    fn a_large_ab_test_measures_the_lift_serving_predicted() {
        let mut pipeline = FeedPipeline::default();
        let report = pipeline
            .run(&FeedDesign {
                ab: AbDesign {
                    users_per_arm: 20_000,
                    days: 7,
                    mde: 0.05,
                    ..AbDesign::default()
                },
                ..small()
            })
            .unwrap();
        let (ab, online) = (&report.ab, &report.online);
        assert!(
            (ab.lift - online.ctr_lift).abs() < 0.1,
            "A/B lift {} vs expected {}",
            ab.lift,
            online.ctr_lift
        );
        assert!(ab.lift_ci_low < ab.lift && ab.lift < ab.lift_ci_high);
        assert_eq!(ab.significant, 1, "{ab:?}");
        // The calculator's 16 sigma^2 / delta^2 rule, with the control's sigma.
        let sigma2 = ab.required_users_per_arm as f64 * (0.05 * ab.control_mean).powi(2) / 15.7;
        assert!(
            sigma2 > ab.control_mean * 0.5,
            "clicks per user are overdispersed: {ab:?}"
        );
    }

    /// Thompson sampling sends most users to the better ranker, losing a
    /// fraction of the clicks a fixed split loses, and pays in power: the
    /// production arm is measured on a few hundred users.
    #[test]
    fn thompson_assignment_loses_fewer_clicks_and_measures_less() {
        let mut pipeline = FeedPipeline::default();
        let mut run = |assignment| {
            let design = FeedDesign {
                ab: AbDesign {
                    assignment,
                    ..AbDesign::default()
                },
                ..small()
            };
            pipeline.run(&design).unwrap().ab
        };
        let split = run(Assignment::Split);
        let thompson = run(Assignment::Thompson);
        assert!(split.treatment_mean > split.control_mean, "{split:?}");
        assert!((split.treatment_share - 0.5).abs() < 1e-12, "{split:?}");
        // A split gives half the users a ranker worse by the difference.
        let expected = f64::from(split.users_per_arm) * split.difference;
        assert!(
            (split.regret - expected).abs() < 0.2 * expected,
            "{} vs {expected}",
            split.regret
        );
        assert!(thompson.treatment_share > 0.75, "{thompson:?}");
        assert!(thompson.regret < 0.5 * split.regret, "{thompson:?}");
        assert!(thompson.power < split.power, "{thompson:?} {split:?}");
        assert!(
            thompson.ci_high - thompson.ci_low > split.ci_high - split.ci_low,
            "{thompson:?} {split:?}"
        );
    }

    #[test]
    fn monitoring_retrains_as_the_policy_says_and_sees_the_shift() {
        use crate::engine::drift::{Detector, RetrainPolicy};
        use crate::engine::world::feed::FeedDrift;
        let shifted = FeedParams {
            drift: vec![FeedDrift::InterestShift {
                day: 5,
                strength: 0.9,
            }],
            ..small().world
        };
        let design = |retrain: &str, detector| FeedDesign {
            world: shifted.clone(),
            monitor: MonitorDesign {
                retrain: RetrainPolicy::from_id(retrain, 0).unwrap(),
                detector,
                window_days: 4,
                days: monitor::MONITOR_DAYS,
            },
            ..small()
        };
        let mut pipeline = FeedPipeline::default();
        let never = pipeline
            .run(&design("never", Detector::Psi))
            .unwrap()
            .monitoring
            .unwrap();
        assert_eq!(never.day_count, monitor::MONITOR_DAYS);
        assert_eq!(never.retrains, 0);
        let days: Vec<u16> = never.days.iter().map(|d| d.day).collect();
        assert_eq!(days, [3, 4, 5, 6, 7]);
        // Clicks fall from the shift's day on.
        let before = never.days[1].ctr;
        let after = never.days[2].ctr;
        assert!(after < before * 0.95, "{:?}", never.days);
        let daily = pipeline
            .run(&design("daily", Detector::Psi))
            .unwrap()
            .monitoring
            .unwrap();
        assert_eq!(daily.retrains, u32::from(monitor::MONITOR_DAYS) - 1);
        assert!(daily.days.iter().skip(1).all(|d| d.retrained));
        // The KS test alerts on large samples, and on-alert retrains follow.
        let ks = pipeline
            .run(&design("on_alert", Detector::Ks))
            .unwrap()
            .monitoring
            .unwrap();
        assert!(ks.alerts >= 1 && ks.retrains >= 1, "{ks:?}");
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
