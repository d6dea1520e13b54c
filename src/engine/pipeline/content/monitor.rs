//! Step 9 of the harmful-content world: a classifier trained before the
//! world's last days (by default [`MONITOR_DAYS`]) scores each day's new posts while the
//! authors of harmful posts may change their vocabulary. Each day records
//! the share of harmful posts the model catches (among the day's top-scored
//! posts, as many as the day has harmful ones: what a review team that
//! could check that many would find, whatever the thresholds, so the
//! timeline does not depend on the policy knobs), what the keyword rule
//! catches (any keyword it knows), the day's PR-AUC, and the drift detector
//! on the scores. A retraining trains on the chosen source's labels known by the
//! end of the newest labeled day (human review answers a day late), over
//! the retraining window, validating on that newest day.

use serde::Serialize;

use super::{ContentDesign, ContentFit, Prepared, train_classifier};
use super::{PolicyConfig, RolloutDesign};
use crate::compute::{Compute, Precision};
use crate::engine::features::RawTable;
use crate::engine::metrics::average_precision;
pub use crate::engine::pipeline::watch::MONITOR_DAYS;
use crate::engine::pipeline::watch::{DayView, Deployed, watch};
use crate::engine::pipeline::watch::{Deployments, MonitorDesign};
use crate::engine::rng::Seed;
use crate::engine::sampling::{rebalance, recalibrate_scores, sample};
use crate::engine::world::content::{BENIGN, ContentWorld};

/// One monitored day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContentMonitorDay {
    pub day: u16,
    /// Share of the day's harmful posts among its top-scored posts, as many
    /// as it has harmful ones (R-precision).
    pub recall: f64,
    /// Share of them with at least one keyword the rule knows.
    pub recall_keyword_rule: f64,
    /// The model's PR-AUC and ROC-AUC on the day's posts.
    pub pr_auc: f64,
    pub auc: f64,
    pub drift_statistic: f64,
    pub drift_p_value: f64,
    pub alert: bool,
    pub retrained: bool,
}

/// What monitoring found over the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContentMonitorReport {
    pub day_count: u16,
    /// Mean of the daily recalls.
    pub mean_recall: f64,
    /// The first monitored day's recall minus the last's.
    pub recall_drop: f64,
    pub mean_pr_auc: f64,
    pub alerts: u32,
    pub retrains: u32,
    pub days: Vec<ContentMonitorDay>,
}

/// The deployed model's scores of every monitored post.
struct Scored {
    /// Score of each row of [`Monitor::watched`].
    scores: Vec<f64>,
}

/// What the loop's deployments and days share.
struct Monitor<'a> {
    design: &'a ContentDesign,
    world: &'a ContentWorld,
    table: &'a RawTable,
    seed: Seed,
    /// The first monitored day.
    first: u16,
    /// Every monitored post, in order.
    watched: Vec<usize>,
    /// The label source's any-harm label of every post (0 where it has none).
    source_label: Vec<f32>,
}

/// Runs the monitoring loop of `design` over the world's last days.
pub(super) async fn monitor_days(
    design: &ContentDesign,
    world: &ContentWorld,
    table: &RawTable,
    seed: Seed,
    deployments: &mut Deployments<ContentDesign, ContentFit>,
    compute: &Compute,
) -> ContentMonitorReport {
    // What a deployment's training reads: not the precision, the detector
    // or the schedule (which only say when a deployment happens).
    let training = ContentDesign {
        quantization: Precision::Fp32,
        policy: PolicyConfig::default(),
        rollout: RolloutDesign::default(),
        monitor: MonitorDesign {
            window_days: design.monitor.window_days,
            days: design.monitor.days,
            ..MonitorDesign::default()
        },
        ..design.clone()
    };
    let last = world.params.days;
    let first = last.saturating_sub(design.monitor.days).max(2);
    let source = world.labels.source(design.label_source);
    let mut monitor = Monitor {
        design,
        world,
        table,
        seed,
        first,
        watched: Vec::new(),
        source_label: source
            .harm
            .iter()
            .map(|&h| f32::from(u8::from(h != BENIGN)))
            .collect(),
    };
    monitor.watched = monitor.rows_of(first, last);
    let (watched, retrains) = watch(
        first..last,
        design.monitor,
        async |newest| {
            monitor
                .deploy(newest, &training, deployments, compute)
                .await
        },
        async |model, day| monitor.view(model, day),
    )
    .await;
    let days: Vec<ContentMonitorDay> = watched
        .into_iter()
        .map(|w| ContentMonitorDay {
            day: w.day,
            recall: w.online.0,
            recall_keyword_rule: w.online.1,
            pr_auc: w.online.2,
            auc: w.auc,
            drift_statistic: w.drift_statistic,
            drift_p_value: w.drift_p_value,
            alert: w.alert,
            retrained: w.retrained,
        })
        .collect();
    let n = days.len().max(1) as f64;
    ContentMonitorReport {
        day_count: days.len() as u16,
        mean_recall: days.iter().map(|d| d.recall).sum::<f64>() / n,
        recall_drop: match (days.first(), days.last()) {
            (Some(a), Some(b)) => a.recall - b.recall,
            _ => 0.0,
        },
        mean_pr_auc: days.iter().map(|d| d.pr_auc).sum::<f64>() / n,
        alerts: days.iter().filter(|d| d.alert).count() as u32,
        retrains,
        days,
    }
}

impl Monitor<'_> {
    /// The posts of days `from..to`.
    fn rows_of(&self, from: u16, to: u16) -> Vec<usize> {
        (0..self.table.len())
            .filter(|&i| (from..to).contains(&self.table.day[i]))
            .collect()
    }

    /// Trains on the source's labels known by the end of day `newest`,
    /// validating on that day, and scores every monitored post.
    /// The model trained on labels up to `newest` (from `deployments` if it
    /// was trained for `training` before), quantized as the design says.
    async fn deploy(
        &self,
        newest: u16,
        training: &ContentDesign,
        deployments: &mut Deployments<ContentDesign, ContentFit>,
        compute: &Compute,
    ) -> Option<(Scored, Deployed)> {
        let design = self.design;
        // A retraining keeps the most recent days only (the window); the
        // first deployment trains on everything before the monitored days.
        let from = if newest + 1 > self.first {
            newest.saturating_sub(design.monitor.window_days)
        } else {
            0
        };
        let cutoff = newest + 1;
        let source = self.world.labels.source(design.label_source);
        let labeled = |rows: Vec<usize>| -> Vec<usize> {
            rows.into_iter()
                .filter(|&i| source.known_by(i, cutoff).is_some())
                .collect()
        };
        let train = labeled(self.rows_of(from, newest));
        let valid = labeled(self.rows_of(newest, newest + 1));
        if train.is_empty() || valid.is_empty() {
            return None;
        }
        // The validation day's posts first: their scores are the detector's
        // reference.
        let reference = self.rows_of(newest, newest + 1);
        let fit = deployments.get(training, newest, || {
            let index = u64::from(newest) + 1;
            let chosen = sample(
                &train,
                &self.source_label,
                &design.sampling,
                &mut self.seed.substream("monitor.sampling", index),
            );
            let chosen = rebalance(
                chosen,
                &self.source_label,
                design.imbalance,
                &mut self.seed.substream("monitor.imbalance", index),
            );
            let mut test = reference.clone();
            test.extend_from_slice(&self.watched);
            let prepared = Prepared {
                unlabeled: 0,
                train,
                valid,
                test,
                chosen: chosen.rows,
                weight: chosen.weight,
                source_label: self.source_label.clone(),
                cutoff,
            };
            train_classifier(design, self.world, self.table, &prepared, self.seed)
        });
        let (mut scores, _) = fit.predict(design, compute).await;
        recalibrate_scores(&mut scores, &design.sampling, design.recalibrate);
        let watched = scores.split_off(reference.len());
        Some((
            Scored { scores: watched },
            Deployed {
                reference_scores: scores,
            },
        ))
    }

    /// Day `day` under `model`: its scores against the truth, and the
    /// shares of harmful posts the model and the keyword rule catch, and
    /// the model's PR-AUC.
    fn view(&self, model: &Scored, day: u16) -> DayView<(f64, f64, f64)> {
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        let (mut harmful, mut keyword) = (0u32, 0u32);
        let mut hits = vec![0u16; self.world.categories()];
        for (&i, &score) in self.watched.iter().zip(&model.scores) {
            if self.table.day[i] != day {
                continue;
            }
            let y = self.table.label[i] > 0.5;
            scores.push(score);
            labels.push(u8::from(y));
            if y {
                harmful += 1;
                self.world.keyword_hits(i, &mut hits);
                keyword += u32::from(hits.iter().any(|&h| h > 0));
            }
        }
        // The top `harmful` posts by score (ties broken by order, a fixed
        // choice).
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let caught = order
            .iter()
            .take(harmful as usize)
            .map(|&k| u32::from(labels[k]))
            .sum::<u32>();
        let share = |n: u32| f64::from(n) / f64::from(harmful.max(1));
        let pr_auc = average_precision(&labels, &scores).unwrap_or(f64::NAN);
        DayView {
            scores,
            labels,
            online: (share(caught), share(keyword), pr_auc),
        }
    }
}
