//! Serving a trained ranker to the users of the logged sessions of some
//! days (see [`Online`]): each session becomes a request with a fresh
//! candidate pool, the ranker orders it, and the world's own click, like,
//! share and hide probabilities say what the shown slots are worth.
//!
//! Everything but the ranker's scores is the same at every precision: the
//! requests and their pools, the candidates' transformed rows, their
//! true relevance, and what the logging policy would have shown. That
//! part is a [`ServingPool`], built once per fitted model and days and
//! kept by the model ([`ServingCache`]), so a `quantization` change only
//! rescores the pools and re-sorts them (natively, a quantization change
//! took 166 to 201 ms with the pools rebuilt, most of it here).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::{Online, Trained, creator_ctr};
use crate::compute::Compute;
use crate::engine::data::Dataset;
use crate::engine::features::feed::{FeedFeatureOptions, ServingRows, serving_table};
use crate::engine::features::{FittedFeatures, RawTable};
use crate::engine::pipeline::feed::ab::ServedSessions;
use crate::engine::rng::Seed;
use crate::engine::world::feed::{Engagement, FeedWorld};

/// What serving a fitted ranker on some days reads that its precision
/// does not change.
#[derive(Debug)]
pub(super) struct ServingPool {
    /// Each request's user, one request per logged session.
    user: Vec<u32>,
    /// Request `r`'s candidates are `post[offset[r]..offset[r + 1]]`, in
    /// the logging policy's (prior) order.
    offset: Vec<usize>,
    post: Vec<u32>,
    /// The world's relevance logit of each candidate, for its request's
    /// user and day.
    logit: Vec<f64>,
    /// The candidates' rows through the ranker's fitted transforms.
    set: Dataset,
    /// The creator's past click rate of each candidate, which the
    /// popularity ranker scores by (`None` where the features lack it).
    creator_ctr: Option<Vec<f32>>,
    /// What the logging policy's first slots earn, per session and summed.
    control: Vec<Vec<f64>>,
    logging: Outcome,
}

impl ServingPool {
    /// Draws one request per logged session of `days`, each with a
    /// candidate pool of its own stream (the same for every design, so
    /// designs differ only in their ranking), and transforms the pools'
    /// rows with `fitted`.
    fn new(
        world: &FeedWorld,
        features: FeedFeatureOptions,
        fitted: &FittedFeatures,
        seed: Seed,
        days: Range<u16>,
    ) -> ServingPool {
        let log = &world.impressions;
        let start = log.day.partition_point(|&d| d < days.start);
        let end = log.day.partition_point(|&d| d < days.end);
        let mut requests = ServingRows::default();
        let mut pool = Vec::new();
        let (mut user, mut offset) = (Vec::new(), vec![0]);
        let mut i = start;
        while i < end {
            let (session, u, d) = (log.session[i], log.user[i], log.day[i]);
            let mut rng = seed.substream("feed.online", u64::from(session));
            world.candidates(d, &mut rng, &mut pool);
            let request = user.len() as u32;
            user.push(u);
            for &(_, post) in &pool {
                requests.user.push(u);
                requests.post.push(post);
                requests.day.push(d);
                requests.request.push(request);
            }
            offset.push(requests.post.len());
            while i < end && log.session[i] == session {
                i += 1;
            }
        }
        let logit: Vec<f64> = (0..requests.post.len())
            .map(|k| world.relevance_logit(requests.user[k], requests.post[k], requests.day[k]))
            .collect();
        let table = serving_table(world, &requests, features);
        let rows: Vec<usize> = (0..table.len()).collect();
        let set = fitted.transform(&table, &rows);
        let examination = examination(world);
        let mut logging = Outcome::default();
        let control = (0..user.len())
            .map(|r| {
                let shown = (offset[r]..offset[r + 1])
                    .take(examination.len())
                    .map(|k| (logit[k], requests.post[k]));
                logging.add(world, &examination, shown)
            })
            .collect();
        ServingPool {
            user,
            offset,
            post: requests.post,
            logit,
            set,
            creator_ctr: creator_ctr(&table).map(<[f32]>::to_vec),
            control,
            logging,
        }
    }

    /// Serves `trained`: each request's pool ranked by its scores.
    async fn serve(
        &self,
        world: &FeedWorld,
        trained: &Trained,
        compute: &Compute,
    ) -> (Online, ServedSessions) {
        let rows: Vec<usize> = (0..self.post.len()).collect();
        let scores = trained
            .scores(&self.set, self.creator_ctr.as_deref(), &rows, compute)
            .await;
        let examination = examination(world);
        let mut model = Outcome::default();
        let mut served = ServedSessions::default();
        let mut ranked: Vec<(f64, usize)> = Vec::new();
        for r in 0..self.user.len() {
            // The pool is in prior order; a stable sort by score keeps it for ties.
            ranked.clear();
            ranked.extend((self.offset[r]..self.offset[r + 1]).map(|k| (scores[k], k)));
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            let shown = ranked
                .iter()
                .take(examination.len())
                .map(|&(_, k)| (self.logit[k], self.post[k]));
            served.user.push(self.user[r]);
            served.treatment.push(model.add(world, &examination, shown));
        }
        served.control.clone_from(&self.control);
        let ctr = model.ctr();
        let ctr_logging_policy = self.logging.ctr();
        let online = Online {
            ctr,
            ctr_logging_policy,
            ctr_lift: if ctr_logging_policy > 0.0 {
                ctr / ctr_logging_policy - 1.0
            } else {
                0.0
            },
            engagement_per_session: model.engagement / model.sessions.max(1) as f64,
            hide_rate: model.hides / model.impressions.max(1) as f64,
            diversity: model.diversity / model.sessions.max(1) as f64,
            sessions: model.sessions,
        };
        (online, served)
    }
}

/// The chance of examining each slot of a session, from the first.
fn examination(world: &FeedWorld) -> Vec<f64> {
    (1..=world.params.session_len)
        .map(|p| world.examination(p))
        .collect()
}

/// What a fitted model keeps of the days it has served: their serving
/// pools, and their logged rows through its transforms (the monitor's
/// reference and daily scores).
#[derive(Debug, Default)]
pub(super) struct ServingCache {
    pools: Mutex<BTreeMap<(u16, u16), Arc<ServingPool>>>,
    logged: Mutex<BTreeMap<u16, Arc<Dataset>>>,
}

impl ServingCache {
    /// The pool of `days`, built unless kept.
    fn pool(
        &self,
        world: &FeedWorld,
        features: FeedFeatureOptions,
        fitted: &FittedFeatures,
        seed: Seed,
        days: Range<u16>,
    ) -> Arc<ServingPool> {
        kept(&self.pools, (days.start, days.end), || {
            #[cfg(test)]
            POOLS_BUILT.with(|n| n.set(n.get() + 1));
            ServingPool::new(world, features, fitted, seed, days)
        })
    }

    /// `rows`, the logged rows of `day` in `table`, through `fitted`,
    /// transformed unless kept.
    pub(super) fn logged(
        &self,
        table: &RawTable,
        fitted: &FittedFeatures,
        day: u16,
        rows: &[usize],
    ) -> Arc<Dataset> {
        kept(&self.logged, day, || fitted.transform(table, rows))
    }
}

#[cfg(test)]
thread_local! {
    /// Serving pools built on this thread (tests run one per thread).
    pub(super) static POOLS_BUILT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The value of `key` in `map`, made by `make` unless kept.
fn kept<K: Ord, V>(map: &Mutex<BTreeMap<K, Arc<V>>>, key: K, make: impl FnOnce() -> V) -> Arc<V> {
    // A poisoned lock only means a panic elsewhere; the map is still whole.
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(map.entry(key).or_insert_with(|| Arc::new(make())))
}

/// Serves `trained`, whose fitted transforms are `fitted` and whose pools
/// `cache` keeps, to the users of the logged sessions of `days`.
pub(super) async fn serve(
    world: &FeedWorld,
    features: FeedFeatureOptions,
    (trained, fitted, cache): (&Trained, &FittedFeatures, &ServingCache),
    seed: Seed,
    days: Range<u16>,
    compute: &Compute,
) -> (Online, ServedSessions) {
    cache
        .pool(world, features, fitted, seed, days)
        .serve(world, trained, compute)
        .await
}

/// Expected outcomes of served sessions, summed.
#[derive(Debug, Default)]
struct Outcome {
    sessions: usize,
    impressions: usize,
    clicks: f64,
    engagement: f64,
    hides: f64,
    diversity: f64,
}

impl Outcome {
    /// Adds a session whose slots show `shown` (each post with its
    /// relevance logit), examined as `examination` says; returns the
    /// slots' click probabilities.
    fn add(
        &mut self,
        world: &FeedWorld,
        examination: &[f64],
        shown: impl Iterator<Item = (f64, u32)>,
    ) -> Vec<f64> {
        let mut topics = 0u64;
        let mut count = 0;
        let mut clicks = Vec::new();
        for ((logit, post), &examined) in shown.zip(examination) {
            let e = Engagement::from_logit(logit, examined);
            let [like, share, hide] = e.expected();
            self.clicks += e.click;
            clicks.push(e.click);
            self.engagement += e.click + like + share;
            self.hides += hide;
            topics |= 1 << world.posts.topic[post as usize];
            count += 1;
        }
        if count > 0 {
            self.sessions += 1;
            self.impressions += count;
            self.diversity += f64::from(topics.count_ones()) / count as f64;
        }
        clicks
    }

    fn ctr(&self) -> f64 {
        self.clicks / self.impressions.max(1) as f64
    }
}
