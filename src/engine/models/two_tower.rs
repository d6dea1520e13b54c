//! A two-tower retrieval model: a user tower (a learned user embedding) and an
//! item tower (the sum of learned post, creator and topic embeddings), scored
//! by their dot product. Trained pointwise on logged impressions (click or
//! not) by SGD with Adagrad steps. The creator and topic parts let a post that
//! was never seen in training (every new post) still get a useful vector.
//!
//! Hand-written for the same reasons as the MLP (`mlp.rs`): small, fast,
//! deterministic, and no minutes-long framework build.

use rand::RngExt;
use rand::seq::SliceRandom;
use rand_distr::StandardNormal;

use super::{Progress, TrainingCurve};
use crate::engine::math::{ln, sigmoid};
use crate::engine::rng::StageRng;

/// One logged impression, as the towers see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub item: Item,
    pub clicked: bool,
}

/// An item's ids, the item tower's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    pub post: u32,
    pub creator: u32,
    pub topic: u32,
}

/// Sizes of the id spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vocab {
    pub users: u32,
    pub posts: u32,
    pub creators: u32,
    pub topics: u32,
}

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TwoTowerConfig {
    /// Length of user and item vectors.
    pub dim: usize,
    pub learning_rate: f64,
    pub l2: f64,
    pub max_epochs: usize,
    pub patience: usize,
}

impl Default for TwoTowerConfig {
    fn default() -> Self {
        TwoTowerConfig {
            dim: 16,
            learning_rate: 0.05,
            l2: 1e-5,
            max_epochs: 6,
            patience: 1,
        }
    }
}

/// The trained towers.
#[derive(Clone, Debug, PartialEq)]
pub struct TwoTowerModel {
    pub dim: usize,
    pub bias: f32,
    /// Row-major tables, `dim` values per id.
    pub user: Vec<f32>,
    pub post: Vec<f32>,
    pub creator: Vec<f32>,
    pub topic: Vec<f32>,
}

/// The `id`-th row of a table, or `None` for an id outside it.
fn row(table: &[f32], dim: usize, id: u32) -> Option<&[f32]> {
    table.get(id as usize * dim..(id as usize + 1) * dim)
}

impl TwoTowerModel {
    fn new(vocab: Vocab, dim: usize, rng: &mut StageRng) -> TwoTowerModel {
        let mut table = |n: u32| -> Vec<f32> {
            (0..n as usize * dim)
                .map(|_| (rng.sample::<f64, _>(StandardNormal) * 0.1) as f32)
                .collect()
        };
        TwoTowerModel {
            dim,
            bias: 0.0,
            user: table(vocab.users),
            post: table(vocab.posts),
            creator: table(vocab.creators),
            topic: table(vocab.topics),
        }
    }

    /// The user tower's output (zeros for an unknown user).
    pub fn user_vector(&self, user: u32) -> Vec<f32> {
        row(&self.user, self.dim, user).map_or_else(|| vec![0.0; self.dim], <[f32]>::to_vec)
    }

    /// The item tower's output: post + creator + topic embeddings.
    pub fn item_vector(&self, item: Item) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        for (table, id) in [
            (&self.post, item.post),
            (&self.creator, item.creator),
            (&self.topic, item.topic),
        ] {
            if let Some(r) = row(table, self.dim, id) {
                for (a, b) in v.iter_mut().zip(r) {
                    *a += b;
                }
            }
        }
        v
    }

    /// Click probability of `user` on `item`.
    pub fn predict(&self, user: u32, item: Item) -> f64 {
        let u = self.user_vector(user);
        let v = self.item_vector(item);
        let z: f32 = u.iter().zip(&v).map(|(a, b)| a * b).sum::<f32>() + self.bias;
        sigmoid(f64::from(z))
    }

    /// Number of parameters.
    pub fn params(&self) -> usize {
        1 + self.user.len() + self.post.len() + self.creator.len() + self.topic.len()
    }

    fn mean_loss(&self, data: &[Interaction]) -> f64 {
        let total: f64 = data
            .iter()
            .map(|x| {
                let p = self.predict(x.user, x.item).clamp(1e-7, 1.0 - 1e-7);
                -ln(if x.clicked { p } else { 1.0 - p })
            })
            .sum();
        total / data.len().max(1) as f64
    }
}

/// Trains the towers on `train`, keeping the epoch with the best log loss on `valid`.
pub fn train(
    train: &[Interaction],
    valid: &[Interaction],
    vocab: Vocab,
    config: &TwoTowerConfig,
    rng: &mut StageRng,
) -> (TwoTowerModel, TrainingCurve) {
    let dim = config.dim.max(1);
    let mut model = TwoTowerModel::new(vocab, dim, rng);
    let mut best = model.clone();
    let mut curve = TrainingCurve::default();
    let mut sum_sq = model.clone();
    for t in [
        &mut sum_sq.user,
        &mut sum_sq.post,
        &mut sum_sq.creator,
        &mut sum_sq.topic,
    ] {
        t.fill(1e-6);
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    let lr = config.learning_rate as f32;
    let l2 = config.l2 as f32;
    for _ in 0..config.max_epochs {
        order.shuffle(rng);
        let mut loss = 0.0;
        for &k in &order {
            let x = train[k];
            let u = model.user_vector(x.user);
            let v = model.item_vector(x.item);
            let z: f32 = u.iter().zip(&v).map(|(a, b)| a * b).sum::<f32>() + model.bias;
            let p = sigmoid(f64::from(z));
            let y = if x.clicked { 1.0 } else { 0.0 };
            loss -= ln((if x.clicked { p } else { 1.0 - p }).clamp(1e-7, 1.0));
            let g = (p - y) as f32;
            model.bias -= lr * g * 0.1;
            // Adagrad step on each touched row: d/du = g v, d/d(each item part) = g u.
            let step = |table: &mut Vec<f32>, acc: &mut Vec<f32>, id: u32, grad_of: &[f32]| {
                let r = id as usize * dim..(id as usize + 1) * dim;
                if let (Some(w), Some(a)) = (table.get_mut(r.clone()), acc.get_mut(r)) {
                    for ((w, a), d) in w.iter_mut().zip(a.iter_mut()).zip(grad_of) {
                        let gk = g * d + l2 * *w;
                        *a += gk * gk;
                        *w -= lr * gk / a.sqrt();
                    }
                }
            };
            step(&mut model.user, &mut sum_sq.user, x.user, &v);
            step(&mut model.post, &mut sum_sq.post, x.item.post, &u);
            step(&mut model.creator, &mut sum_sq.creator, x.item.creator, &u);
            step(&mut model.topic, &mut sum_sq.topic, x.item.topic, &u);
        }
        curve.train_loss.push(loss / train.len().max(1) as f64);
        let valid_loss = (!valid.is_empty()).then(|| model.mean_loss(valid));
        match curve.record_valid(valid_loss, config.patience) {
            Progress::Improved => best = model.clone(),
            Progress::Worse => {}
            Progress::Stop => break,
        }
    }
    (best, curve)
}

/// Retrieval quality: for each query (a user, the candidate items, and the
/// items the user engaged with), the share of engaged items found among the
/// `k` highest-scoring candidates; averaged over queries with any engagement.
/// `None` if no query has an engaged item.
pub fn recall_at_k(
    model: &TwoTowerModel,
    queries: &[(u32, &[Item], &[Item])],
    k: usize,
) -> Option<f64> {
    let mut total = 0.0;
    let mut counted = 0usize;
    for &(user, candidates, relevant) in queries {
        if relevant.is_empty() {
            continue;
        }
        let u = model.user_vector(user);
        let mut scored: Vec<(f32, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, &item)| {
                let v = model.item_vector(item);
                (u.iter().zip(&v).map(|(a, b)| a * b).sum::<f32>(), i)
            })
            .collect();
        // Highest score first; ties by candidate order, so results are stable.
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let hits = scored
            .iter()
            .take(k)
            .filter(|(_, i)| relevant.contains(&candidates[*i]))
            .count();
        total += hits as f64 / relevant.len() as f64;
        counted += 1;
    }
    (counted > 0).then(|| total / counted as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;

    /// A low-rank world: users and posts with hidden 4-d tastes; the click
    /// probability is sigmoid(2 u.v - 2). Creators and topics are noise ids.
    fn world(seed: u64) -> (Vec<Interaction>, Vec<[f32; 4]>, Vec<[f32; 4]>) {
        let mut rng = Seed(seed).stream("test.towers");
        let mut latent = |n: usize| -> Vec<[f32; 4]> {
            (0..n)
                .map(|_| std::array::from_fn(|_| rng.sample::<f64, _>(StandardNormal) as f32 * 0.7))
                .collect()
        };
        let users = latent(200);
        let posts = latent(300);
        let mut rng = Seed(seed).stream("test.clicks");
        let mut log = Vec::new();
        for _ in 0..40_000 {
            let u = rng.random_range(0..200u32);
            let p = rng.random_range(0..300u32);
            let dot: f32 = users[u as usize]
                .iter()
                .zip(&posts[p as usize])
                .map(|(a, b)| a * b)
                .sum();
            let clicked = rng.random::<f64>() < sigmoid(2.0 * f64::from(dot) - 2.0);
            log.push(Interaction {
                user: u,
                item: Item {
                    post: p,
                    creator: p % 7,
                    topic: p % 3,
                },
                clicked,
            });
        }
        (log, users, posts)
    }

    #[test]
    fn learns_tastes_and_retrieves_far_better_than_chance() {
        let (log, users, posts) = world(1);
        let (train_set, valid_set) = log.split_at(36_000);
        let vocab = Vocab {
            users: 200,
            posts: 300,
            creators: 7,
            topics: 3,
        };
        let (model, curve) = train(
            train_set,
            valid_set,
            vocab,
            &TwoTowerConfig::default(),
            &mut Seed(2).stream("t"),
        );
        // The kept towers beat always predicting the click rate.
        let rate = valid_set.iter().filter(|x| x.clicked).count() as f64 / valid_set.len() as f64;
        let constant = -(rate * ln(rate) + (1.0 - rate) * ln(1.0 - rate));
        assert!(
            curve.valid_loss[curve.best_epoch] < constant - 0.01,
            "{curve:?} vs constant {constant}"
        );
        // For 50 users, the relevant items are their true top 10 of all posts.
        let items: Vec<Item> = (0..300u32)
            .map(|p| Item {
                post: p,
                creator: p % 7,
                topic: p % 3,
            })
            .collect();
        let truth: Vec<(u32, Vec<Item>)> = (0..50u32)
            .map(|u| {
                let mut by_dot: Vec<(f32, Item)> = items
                    .iter()
                    .map(|&it| {
                        let d: f32 = users[u as usize]
                            .iter()
                            .zip(&posts[it.post as usize])
                            .map(|(a, b)| a * b)
                            .sum();
                        (d, it)
                    })
                    .collect();
                by_dot.sort_by(|a, b| b.0.total_cmp(&a.0));
                (u, by_dot.iter().take(10).map(|x| x.1).collect())
            })
            .collect();
        let queries: Vec<(u32, &[Item], &[Item])> = truth
            .iter()
            .map(|(u, rel)| (*u, items.as_slice(), rel.as_slice()))
            .collect();
        let recall = recall_at_k(&model, &queries, 30).unwrap();
        // Chance is 30 / 300 = 0.1.
        assert!(recall > 0.4, "recall@30 {recall}");
        assert!(model.params() > 200 * 16);
    }

    #[test]
    fn unknown_ids_score_without_panicking() {
        let model = TwoTowerModel::new(
            Vocab {
                users: 2,
                posts: 2,
                creators: 1,
                topics: 1,
            },
            4,
            &mut Seed(1).stream("t"),
        );
        let item = Item {
            post: 99,
            creator: 99,
            topic: 99,
        };
        assert!((model.predict(1_000, item) - 0.5).abs() < 1e-9);
        assert_eq!(recall_at_k(&model, &[(0, &[item], &[])], 5), None);
    }
}
