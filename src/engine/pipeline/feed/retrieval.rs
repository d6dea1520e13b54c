//! Candidate retrieval, the first stage of the feed's two-stage architecture
//! (step 3): before the ranker scores a few dozen candidates, retrieval picks
//! them from every live post.
//!
//! A two-tower model (`models/two_tower.rs`) is trained on the logged
//! impressions before the first test day; each live post (created within
//! the world's post lifetime) gets an item vector, each sampled user of that
//! day a user vector. Three ways to retrieve `k` posts per user:
//! - **popularity**: the posts with the most logged clicks so far, the same
//!   list for everyone (a post created today has none);
//! - **exact**: the `k` largest dot products over the whole corpus, through
//!   the compute kernels' top-k (every item scanned);
//! - **ivf**: an inverted-file index, as approximate-nearest-neighbour
//!   libraries build it: k-means clusters of the item vectors, and each query
//!   scans only the items of the `probes` clusters whose centroids score
//!   highest.
//!
//! Nothing is assumed: `recall_at_k` is measured against the world's ground
//! truth (the share of each user's 20 truly most relevant live posts that the
//! `k` retrieved include), and `neighbour_recall` against exact search (the
//! share of the exact top `k` that the method returns).

use rand::seq::SliceRandom;
use serde::Serialize;

use crate::compute::{self, Compute, Rows};
use crate::engine::models::TrainingCurve;
use crate::engine::models::two_tower::{
    self, Interaction, Item, TwoTowerConfig, TwoTowerModel, Vocab,
};
use crate::engine::rng::Seed;
use crate::engine::world::feed::FeedWorld;

/// How many of a user's truly most relevant live posts define recall.
pub const RELEVANT_PER_USER: usize = 20;

/// The towers train on at most this many of the latest impressions before
/// the validation day: enough for every user and creator to be seen, and it
/// keeps the first run of a large world short (0.6 M impressions would take
/// about two seconds in the browser).
pub const MAX_TOWER_ROWS: usize = 150_000;

/// How candidates are retrieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetrievalMethod {
    Popularity,
    Exact,
    Ivf,
}

impl RetrievalMethod {
    /// The stable name used in reports and URLs.
    pub fn id(self) -> &'static str {
        match self {
            RetrievalMethod::Popularity => "popularity",
            RetrievalMethod::Exact => "exact",
            RetrievalMethod::Ivf => "ivf",
        }
    }
}

/// The retrieval stage's choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetrievalDesign {
    pub method: RetrievalMethod,
    /// Candidates retrieved per user.
    pub k: usize,
    /// IVF: clusters of the corpus.
    pub clusters: usize,
    /// IVF: clusters scanned per query.
    pub probes: usize,
    /// Users sampled as queries.
    pub users: usize,
}

impl Default for RetrievalDesign {
    fn default() -> Self {
        RetrievalDesign {
            method: RetrievalMethod::Ivf,
            k: 100,
            clusters: 32,
            probes: 4,
            users: 500,
        }
    }
}

/// What retrieval found, measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetrievalReport {
    pub method: &'static str,
    pub k: usize,
    /// Live posts on the retrieval day.
    pub corpus: usize,
    pub queries: usize,
    /// Mean share of each user's truly most relevant live posts retrieved.
    pub recall_at_k: f64,
    /// Mean share of the exact top `k` (by the towers) retrieved.
    pub neighbour_recall: f64,
    /// Mean items whose score a query computed.
    pub items_scanned: f64,
    /// The towers' parameters.
    pub tower_params: usize,
}

/// The trained towers and the curve of their training.
#[derive(Debug)]
pub struct Towers {
    pub model: TwoTowerModel,
    pub training: TrainingCurve,
}

/// The day retrieval serves: the first of the last `online_days`.
fn retrieval_day(world: &FeedWorld, online_days: u16) -> u16 {
    world.params.days.saturating_sub(online_days)
}

fn item(world: &FeedWorld, post: u32) -> Item {
    Item {
        post,
        creator: world.posts.creator[post as usize],
        topic: u32::from(world.posts.topic[post as usize]),
    }
}

/// Trains the towers on the latest [`MAX_TOWER_ROWS`] impressions before
/// the day before the retrieval day, which validates.
pub fn train_towers(world: &FeedWorld, online_days: u16, seed: Seed) -> Towers {
    let day = retrieval_day(world, online_days);
    let log = &world.impressions;
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for i in 0..log.len() {
        let x = Interaction {
            user: log.user[i],
            item: item(world, log.post[i]),
            clicked: log.click[i],
        };
        if log.day[i] + 1 < day {
            train.push(x);
        } else if log.day[i] + 1 == day {
            valid.push(x);
        }
    }
    // The log is in day order: keep its most recent rows.
    let train = train.split_off(train.len().saturating_sub(MAX_TOWER_ROWS));
    let vocab = Vocab {
        users: world.user_count() as u32,
        posts: world.posts.creator.len() as u32,
        creators: world.params.creators,
        topics: world.params.topics as u32,
    };
    let mut rng = seed.stream("retrieval.towers");
    let (model, training) =
        two_tower::train(&train, &valid, vocab, &TwoTowerConfig::default(), &mut rng);
    Towers { model, training }
}

/// Retrieves candidates for sampled users of the retrieval day and
/// measures them.
///
/// # Panics
/// Never: the items and the queries are both the towers' width.
pub async fn retrieve(
    world: &FeedWorld,
    towers: &Towers,
    design: &RetrievalDesign,
    online_days: u16,
    seed: Seed,
    compute: &Compute,
) -> RetrievalReport {
    let day = retrieval_day(world, online_days);
    let corpus: Vec<u32> = (0..world.posts.created_day.len() as u32)
        .filter(|&p| {
            let created = world.posts.created_day[p as usize];
            created <= day && created + world.post_lifetime_days() > day
        })
        .collect();
    let model = &towers.model;
    let dim = model.dim;
    let items: Vec<f32> = corpus
        .iter()
        .flat_map(|&p| model.item_vector(item(world, p)))
        .collect();
    let users = sample_users(world, day, design.users, seed);
    let queries: Vec<f32> = users.iter().flat_map(|&u| model.user_vector(u)).collect();
    let k = design.k.min(corpus.len()).max(1);
    let (item_rows, query_rows) = (
        Rows::new(&items, dim).unwrap_or(Rows {
            data: &[],
            width: dim,
        }),
        Rows::new(&queries, dim).unwrap_or(Rows {
            data: &[],
            width: dim,
        }),
    );
    let exact = compute
        .top_k(query_rows, item_rows, k)
        .await
        .expect("items and queries share the towers' width");
    let (retrieved, scanned): (Vec<Vec<u32>>, f64) = match design.method {
        RetrievalMethod::Exact => (
            (0..users.len())
                .map(|q| exact.indices[q * k..(q + 1) * k].to_vec())
                .collect(),
            corpus.len() as f64,
        ),
        RetrievalMethod::Popularity => {
            let top = popular(world, &corpus, day, k);
            (vec![top; users.len()], 0.0)
        }
        RetrievalMethod::Ivf => {
            let index = Ivf::build(item_rows, design.clusters, seed);
            let mut total = 0usize;
            let lists = (0..users.len())
                .map(|q| {
                    let (found, n) = index.search(query_rows.row(q), item_rows, k, design.probes);
                    total += n;
                    found
                })
                .collect();
            (lists, total as f64 / users.len().max(1) as f64)
        }
    };
    let (mut recall, mut neighbours) = (0.0, 0.0);
    for (q, &user) in users.iter().enumerate() {
        let found = &retrieved[q];
        let relevant = most_relevant(world, user, &corpus, day);
        recall += relevant.iter().filter(|i| found.contains(i)).count() as f64
            / relevant.len().max(1) as f64;
        let exact_q = &exact.indices[q * k..(q + 1) * k];
        neighbours += exact_q.iter().filter(|i| found.contains(i)).count() as f64 / k as f64;
    }
    let n = users.len().max(1) as f64;
    RetrievalReport {
        method: design.method.id(),
        k,
        corpus: corpus.len(),
        queries: users.len(),
        recall_at_k: recall / n,
        neighbour_recall: neighbours / n,
        items_scanned: scanned,
        tower_params: model.params(),
    }
}

/// Up to `n` users active on `day`, drawn from a stream of their own.
fn sample_users(world: &FeedWorld, day: u16, n: usize, seed: Seed) -> Vec<u32> {
    let log = &world.impressions;
    let mut active: Vec<u32> = (0..log.len())
        .filter(|&i| log.day[i] == day)
        .map(|i| log.user[i])
        .collect();
    active.sort_unstable();
    active.dedup();
    active.shuffle(&mut seed.stream("retrieval.users"));
    active.truncate(n);
    active
}

/// Corpus positions of `user`'s truly most relevant live posts.
fn most_relevant(world: &FeedWorld, user: u32, corpus: &[u32], day: u16) -> Vec<u32> {
    let mut scored: Vec<(f64, u32)> = corpus
        .iter()
        .enumerate()
        .map(|(i, &p)| (world.relevance_logit(user, p, day), i as u32))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(RELEVANT_PER_USER);
    scored.into_iter().map(|(_, i)| i).collect()
}

/// Corpus positions of the `k` live posts with the most clicks logged
/// before `day` (ties: older posts, then lower ids).
fn popular(world: &FeedWorld, corpus: &[u32], day: u16, k: usize) -> Vec<u32> {
    let log = &world.impressions;
    let mut clicks = vec![0u32; world.posts.created_day.len()];
    for i in 0..log.len() {
        if log.day[i] < day && log.click[i] {
            clicks[log.post[i] as usize] += 1;
        }
    }
    let mut order: Vec<u32> = (0..corpus.len() as u32).collect();
    order.sort_by(|&a, &b| {
        clicks[corpus[b as usize] as usize]
            .cmp(&clicks[corpus[a as usize] as usize])
            .then(a.cmp(&b))
    });
    order.truncate(k);
    order
}

/// An inverted-file index: k-means centroids and the items of each cluster.
struct Ivf {
    dim: usize,
    centroids: Vec<f32>,
    lists: Vec<Vec<u32>>,
}

impl Ivf {
    /// Lloyd's k-means (eight rounds) from distinct items drawn at random.
    fn build(items: Rows<'_>, clusters: usize, seed: Seed) -> Ivf {
        let dim = items.width;
        let clusters = clusters.clamp(1, items.len().max(1));
        let mut start: Vec<usize> = (0..items.len()).collect();
        start.shuffle(&mut seed.stream("retrieval.kmeans"));
        let mut centroids: Vec<f32> = start
            .iter()
            .take(clusters)
            .flat_map(|&i| items.row(i).to_vec())
            .collect();
        let mut assignment = vec![0usize; items.len()];
        for _ in 0..8 {
            for (i, a) in assignment.iter_mut().enumerate() {
                *a = nearest(&centroids, dim, items.row(i));
            }
            let mut sums = vec![0.0f64; centroids.len()];
            let mut counts = vec![0usize; clusters];
            for (i, &a) in assignment.iter().enumerate() {
                counts[a] += 1;
                for (s, v) in sums[a * dim..(a + 1) * dim].iter_mut().zip(items.row(i)) {
                    *s += f64::from(*v);
                }
            }
            for c in 0..clusters {
                if counts[c] > 0 {
                    for d in 0..dim {
                        centroids[c * dim + d] = (sums[c * dim + d] / counts[c] as f64) as f32;
                    }
                }
            }
        }
        let mut lists = vec![Vec::new(); clusters];
        for (i, &a) in assignment.iter().enumerate() {
            lists[a].push(i as u32);
        }
        Ivf {
            dim,
            centroids,
            lists,
        }
    }

    /// The `k` best items of the `probes` clusters whose centroids score
    /// highest, and how many items were scanned.
    fn search(&self, query: &[f32], items: Rows<'_>, k: usize, probes: usize) -> (Vec<u32>, usize) {
        let mut order: Vec<(f32, usize)> = self
            .centroids
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(c, centroid)| (compute::dot(query, centroid), c))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut scored: Vec<(f32, u32)> = Vec::new();
        for &(_, c) in order.iter().take(probes.max(1)) {
            scored.extend(
                self.lists[c]
                    .iter()
                    .map(|&i| (compute::dot(query, items.row(i as usize)), i)),
            );
        }
        let scanned = scored.len();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(k);
        (scored.into_iter().map(|(_, i)| i).collect(), scanned)
    }
}

/// The centroid nearest `x` in Euclidean distance.
fn nearest(centroids: &[f32], dim: usize, x: &[f32]) -> usize {
    let mut best = (f32::INFINITY, 0);
    for (c, centroid) in centroids.chunks_exact(dim).enumerate() {
        let d: f32 = centroid.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best.0 {
            best = (d, c);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::world::feed::FeedParams;

    #[test]
    fn ivf_probing_every_cluster_is_exact_search_and_popularity_scans_nothing() {
        let params = FeedParams {
            users: 600,
            creators: 60,
            posts_per_day: 120,
            days: 6,
            ..FeedParams::default()
        };
        let seed = Seed(3);
        let world = FeedWorld::generate(&params, seed).expect("world");
        let towers = train_towers(&world, 2, seed);
        let run = |method, probes| {
            let design = RetrievalDesign {
                method,
                k: 20,
                clusters: 8,
                probes,
                users: 50,
            };
            compute::block_on(retrieve(&world, &towers, &design, 2, seed, &Compute::cpu()))
        };
        let exact = run(RetrievalMethod::Exact, 0);
        let all = run(RetrievalMethod::Ivf, 8);
        assert_eq!(exact.corpus, 360);
        assert_eq!((exact.k, exact.queries), (20, 50));
        assert!((all.neighbour_recall - 1.0).abs() < 1e-12);
        assert!((all.recall_at_k - exact.recall_at_k).abs() < 1e-12);
        assert!((all.items_scanned - 360.0).abs() < 1e-12);
        let one = run(RetrievalMethod::Ivf, 1);
        assert!(one.items_scanned < 360.0 && one.neighbour_recall < 1.0);
        let popular = run(RetrievalMethod::Popularity, 0);
        assert!(popular.items_scanned.abs() < 1e-12);
        // The towers beat handing everyone the same list.
        assert!(exact.recall_at_k > popular.recall_at_k);
    }
}
