//! The feed world: users and posts with latent topic vectors, creators with
//! quality and followers, and days of logged feed sessions in which each
//! impression's click, like, share and hide are drawn from a known relevance
//! through position bias (examination falls as 1 / rank^bias).
//!
//! The world is a simulator, not only a table: [`FeedWorld::relevance`] gives
//! the ground-truth engagement probability of any (user, post, day), so a
//! trained model can be served to the same simulated users later.

use rand::RngExt;
use rand_distr::StandardNormal;

use super::{WorldError, check_range};
use crate::engine::math::{pow, sigmoid};
use crate::engine::rng::{Fnv, Seed, StageRng, splitmix64};

/// Largest number of impressions a world may log; larger worlds are refused.
pub const MAX_IMPRESSIONS: u64 = 5_000_000;

/// How engagement depends on the latent factors. Fixed, so that lessons mean
/// the same across studies; the parameters below choose sizes and drift.
const W_AFFINITY: f64 = 2.0;
const W_QUALITY: f64 = 0.8;
const W_FOLLOW: f64 = 1.0;
const W_AGE: f64 = 0.4;
/// Weight of a post's own topic in its topic vector.
const TOPIC_WEIGHT: f32 = 2.0;
/// Weight of the post's spread over every topic.
const TOPIC_BLEND: f32 = 0.25;
/// Candidates the logging ranker looks at per slot shown.
pub const CANDIDATES_PER_SLOT: usize = 3;
/// Posts stay in the candidate pool this many days after the day they appear.
const POST_LIFETIME_DAYS: u16 = 3;

/// The parameters of a feed world.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedParams {
    pub users: u32,
    pub creators: u32,
    pub posts_per_day: u32,
    pub days: u16,
    /// Dimension of the latent topic space; also the number of discrete topics.
    pub topics: usize,
    /// Posts shown per session.
    pub session_len: u8,
    /// Mean fraction of users who open the feed on a given day.
    pub daily_active: f64,
    /// Examination probability at rank r is 1 / r^`position_bias`.
    pub position_bias: f64,
    /// Probability that a user follows a given creator.
    pub follow_rate: f64,
    /// Engagement logit of an average post for an average user.
    pub base_logit: f64,
    pub drift: Vec<FeedDrift>,
}

impl Default for FeedParams {
    fn default() -> Self {
        FeedParams {
            users: 4_000,
            creators: 400,
            posts_per_day: 600,
            days: 14,
            topics: 8,
            session_len: 10,
            daily_active: 0.5,
            position_bias: 1.0,
            follow_rate: 0.05,
            base_logit: -1.5,
            drift: Vec::new(),
        }
    }
}

/// The probabilities of each engagement with one shown post.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Engagement {
    /// P(engage | examined): the ground-truth relevance.
    pub relevance: f64,
    /// P(click) = P(examined) x relevance.
    pub click: f64,
    pub like_if_click: f64,
    pub share_if_click: f64,
    /// A hide needs the post examined and not clicked.
    pub hide_if_no_click: f64,
}

impl Engagement {
    /// The engagement of a post whose relevance logit (see
    /// [`FeedWorld::relevance_logit`]) is `logit`, examined with
    /// probability `examined`.
    pub fn from_logit(logit: f64, examined: f64) -> Engagement {
        let relevance = sigmoid(logit);
        Engagement {
            relevance,
            click: examined * relevance,
            like_if_click: sigmoid(logit - 1.0),
            share_if_click: sigmoid(logit - 2.5),
            hide_if_no_click: examined * sigmoid(-logit - 5.0),
        }
    }

    /// Expected likes, shares and hides: `[like, share, hide]`.
    pub fn expected(&self) -> [f64; 3] {
        [
            self.click * self.like_if_click,
            self.click * self.share_if_click,
            (1.0 - self.click) * self.hide_if_no_click,
        ]
    }
}

/// A change in the world from a given day on.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedDrift {
    /// Concept shift: users' interests move toward new ones by `strength` (0 to 1).
    InterestShift { day: u16, strength: f64 },
    /// Covariate shift: `users` new users join, with interests unlike the others'.
    NewCohort { day: u16, users: u32 },
    /// A topic trends: its posts get `boost` added to their engagement logit.
    TrendingTopic { day: u16, topic: usize, boost: f64 },
    /// Label shift: every engagement logit moves by `logit`.
    EngagementShift { day: u16, logit: f64 },
}

impl FeedParams {
    /// Checks every parameter and the world's size.
    ///
    /// # Errors
    /// [`WorldError`] naming the first parameter out of range, or the size.
    pub fn validate(&self) -> Result<(), WorldError> {
        check_range("users", f64::from(self.users), 10.0, 200_000.0)?;
        check_range("creators", f64::from(self.creators), 1.0, 50_000.0)?;
        check_range(
            "posts_per_day",
            f64::from(self.posts_per_day),
            1.0,
            100_000.0,
        )?;
        check_range("days", f64::from(self.days), 1.0, 90.0)?;
        check_range("topics", self.topics as f64, 2.0, 32.0)?;
        check_range("session_len", f64::from(self.session_len), 1.0, 50.0)?;
        check_range("daily_active", self.daily_active, 0.001, 1.0)?;
        check_range("position_bias", self.position_bias, 0.0, 3.0)?;
        check_range("follow_rate", self.follow_rate, 0.0, 1.0)?;
        check_range("base_logit", self.base_logit, -10.0, 5.0)?;
        for drift in &self.drift {
            let day = match *drift {
                FeedDrift::InterestShift { day, strength } => {
                    check_range("drift.strength", strength, 0.0, 1.0)?;
                    day
                }
                FeedDrift::NewCohort { day, users } => {
                    check_range("drift.users", f64::from(users), 0.0, 200_000.0)?;
                    day
                }
                FeedDrift::TrendingTopic { day, topic, boost } => {
                    check_range("drift.topic", topic as f64, 0.0, self.topics as f64 - 1.0)?;
                    check_range("drift.boost", boost, -5.0, 5.0)?;
                    day
                }
                FeedDrift::EngagementShift { day, logit } => {
                    check_range("drift.logit", logit, -5.0, 5.0)?;
                    day
                }
            };
            check_range("drift.day", f64::from(day), 0.0, f64::from(self.days))?;
        }
        let estimated = self.expected_impressions();
        if estimated > MAX_IMPRESSIONS {
            return Err(WorldError::TooLarge {
                what: "impressions",
                estimated,
                cap: MAX_IMPRESSIONS,
            });
        }
        Ok(())
    }

    /// Upper estimate of the impressions the world logs.
    pub fn expected_impressions(&self) -> u64 {
        let cohort: u64 = self
            .drift
            .iter()
            .map(|d| match *d {
                FeedDrift::NewCohort { users, .. } => u64::from(users),
                _ => 0,
            })
            .sum();
        let users = u64::from(self.users) + cohort;
        // Activity is capped at 1 per day, so this bounds the mean from above.
        let active = (self.daily_active * 1.5).min(1.0);
        (users as f64 * f64::from(self.days) * active * f64::from(self.session_len)) as u64
    }
}

/// The users: latent interests before and after any interest shift, activity,
/// and the day they joined.
#[derive(Clone, Debug, Default)]
pub struct Users {
    /// Row-major, `topics` values per user.
    pub interests: Vec<f32>,
    /// The interests an interest shift moves toward.
    pub interests_after: Vec<f32>,
    /// Probability of opening the feed on a day.
    pub activity: Vec<f32>,
    pub join_day: Vec<u16>,
}

/// The creators: a latent topic centre and a quality.
#[derive(Clone, Debug, Default)]
pub struct Creators {
    pub centre: Vec<f32>,
    pub quality: Vec<f32>,
}

/// The posts, in the order they were created.
#[derive(Clone, Debug, Default)]
pub struct Posts {
    pub creator: Vec<u32>,
    /// Row-major, `topics` values per post.
    pub topic_vec: Vec<f32>,
    /// The post's main topic: the largest component of its topic vector.
    pub topic: Vec<u8>,
    pub quality: Vec<f32>,
    pub created_day: Vec<u16>,
}

/// The logged impressions, one entry per post shown, columnar.
#[derive(Clone, Debug, Default)]
pub struct Impressions {
    pub session: Vec<u32>,
    pub user: Vec<u32>,
    pub post: Vec<u32>,
    pub day: Vec<u16>,
    /// Rank in the session, from 1.
    pub position: Vec<u8>,
    pub click: Vec<bool>,
    pub like: Vec<bool>,
    pub share: Vec<bool>,
    pub hide: Vec<bool>,
    /// Ground truth: probability of engaging if the post is examined.
    pub relevance: Vec<f32>,
}

impl Impressions {
    /// Number of impressions.
    pub fn len(&self) -> usize {
        self.user.len()
    }

    /// Whether no impression was logged.
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
    }

    /// A fingerprint of every column, to check that two platforms or two runs
    /// produced the same bits.
    pub fn digest(&self) -> u64 {
        let mut h = Fnv::default();
        for i in 0..self.len() {
            h.write_u64(u64::from(self.session[i]));
            h.write_u64((u64::from(self.user[i]) << 32) | u64::from(self.post[i]));
            h.write_u64((u64::from(self.day[i]) << 8) | u64::from(self.position[i]));
            let flags = [self.click[i], self.like[i], self.share[i], self.hide[i]];
            h.write_u64(flags.iter().fold(0, |acc, &f| (acc << 1) | u64::from(f)));
            h.write_u64(u64::from(self.relevance[i].to_bits()));
        }
        h.finish()
    }
}

/// A generated feed world and its logged impressions.
#[derive(Clone, Debug)]
pub struct FeedWorld {
    pub params: FeedParams,
    pub users: Users,
    pub creators: Creators,
    pub posts: Posts,
    pub impressions: Impressions,
    follow_salt: u64,
}

impl FeedWorld {
    /// Generates the world and the impressions a popularity-ranked feed logs.
    ///
    /// # Errors
    /// [`WorldError`] if the parameters are out of range or too large.
    pub fn generate(params: &FeedParams, seed: Seed) -> Result<FeedWorld, WorldError> {
        params.validate()?;
        let d = params.topics;
        let users = generate_users(params, &mut seed.stream("feed.users"));
        let creators = generate_creators(params, &mut seed.stream("feed.creators"));
        let posts = generate_posts(params, &creators, &mut seed.stream("feed.posts"));
        let follow_salt = seed.stream("feed.follows").random();
        let mut world = FeedWorld {
            params: params.clone(),
            users,
            creators,
            posts,
            impressions: Impressions::default(),
            follow_salt,
        };
        debug_assert_eq!(world.users.interests.len(), world.user_count() * d);
        world.impressions = world.log_sessions(seed);
        Ok(world)
    }

    /// Days a post stays a candidate, its day of creation included.
    pub fn post_lifetime_days(&self) -> u16 {
        POST_LIFETIME_DAYS
    }

    /// Number of users, new cohorts included.
    pub fn user_count(&self) -> usize {
        self.users.activity.len()
    }

    /// Whether `user` follows `creator`: a fixed property of the pair.
    pub fn follows(&self, user: u32, creator: u32) -> bool {
        let mut state = self.follow_salt ^ ((u64::from(user) << 32) | u64::from(creator));
        let h = splitmix64(&mut state);
        (h >> 11) as f64 / (1u64 << 53) as f64 <= self.params.follow_rate
    }

    /// The ground-truth engagement logit of `user` for `post` on `day`, if the
    /// user examines it.
    pub fn relevance_logit(&self, user: u32, post: u32, day: u16) -> f64 {
        let d = self.params.topics;
        let (u, p) = (user as usize, post as usize);
        let shift = self.interest_shift(day);
        let before = &self.users.interests[u * d..(u + 1) * d];
        let after = &self.users.interests_after[u * d..(u + 1) * d];
        let topic = &self.posts.topic_vec[p * d..(p + 1) * d];
        let mut affinity = 0.0;
        for k in 0..d {
            let interest = f64::from(before[k]) * (1.0 - shift) + f64::from(after[k]) * shift;
            affinity += interest * f64::from(topic[k]);
        }
        let creator = self.posts.creator[p];
        let age = day.saturating_sub(self.posts.created_day[p]);
        let mut logit = self.params.base_logit
            + W_AFFINITY * affinity
            + W_QUALITY * f64::from(self.posts.quality[p])
            + if self.follows(user, creator) {
                W_FOLLOW
            } else {
                0.0
            }
            - W_AGE * f64::from(age);
        for drift in &self.params.drift {
            match *drift {
                FeedDrift::TrendingTopic {
                    day: from,
                    topic,
                    boost,
                } if day >= from && usize::from(self.posts.topic[p]) == topic => logit += boost,
                FeedDrift::EngagementShift {
                    day: from,
                    logit: l,
                } if day >= from => logit += l,
                _ => {}
            }
        }
        logit
    }

    /// The ground-truth engagement probability (see [`Self::relevance_logit`]).
    pub fn relevance(&self, user: u32, post: u32, day: u16) -> f64 {
        sigmoid(self.relevance_logit(user, post, day))
    }

    /// How `user` responds to `post` on `day` when it is examined with
    /// probability `examined`: the probabilities the log draws from, and
    /// that online evaluation takes expectations of.
    pub fn engagement(&self, user: u32, post: u32, day: u16, examined: f64) -> Engagement {
        Engagement::from_logit(self.relevance_logit(user, post, day), examined)
    }

    /// Probability that a post shown at `position` (from 1) is examined.
    pub fn examination(&self, position: u8) -> f64 {
        pow(f64::from(position.max(1)), -self.params.position_bias)
    }

    /// How far interests have moved by `day` (0 before any interest shift).
    fn interest_shift(&self, day: u16) -> f64 {
        self.params
            .drift
            .iter()
            .filter_map(|d| match *d {
                FeedDrift::InterestShift {
                    day: from,
                    strength,
                } if day >= from => Some(strength),
                _ => None,
            })
            .fold(0.0, f64::max)
    }

    /// Draws the candidates a feed request considers on `day` into `out`:
    /// random recent posts, each with the logging policy's noisy popularity
    /// prior, without repeats (a post drawn twice keeps its first prior),
    /// best prior first. The logging policy shows the first `session_len`.
    pub fn candidates(&self, day: u16, rng: &mut StageRng, out: &mut Vec<(f64, u32)>) {
        let params = &self.params;
        let first_post = posts_created_before(params, day.saturating_sub(POST_LIFETIME_DAYS - 1));
        let pool = posts_created_before(params, day + 1) - first_post;
        out.clear();
        for _ in 0..usize::from(params.session_len) * CANDIDATES_PER_SLOT {
            let post = first_post + rng.random_range(0..pool);
            let noise: f64 = rng.sample(StandardNormal);
            let prior = f64::from(self.posts.quality[post as usize]) + 0.5 * noise;
            out.push((prior, post));
        }
        out.sort_by_key(|c| c.1);
        out.dedup_by_key(|c| c.1);
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }

    /// Logs every day's sessions under the logging policy: each session looks
    /// at random recent posts and shows the best by a noisy popularity prior.
    fn log_sessions(&self, seed: Seed) -> Impressions {
        let params = &self.params;
        let len = usize::from(params.session_len);
        let mut log = Impressions::default();
        let capacity = params.expected_impressions() as usize;
        log.session.reserve(capacity);
        let mut session: u32 = 0;
        let mut candidates: Vec<(f64, u32)> = Vec::with_capacity(len * CANDIDATES_PER_SLOT);
        let examination: Vec<f64> = (1..=params.session_len)
            .map(|p| self.examination(p))
            .collect();
        for day in 0..params.days {
            let mut rng = seed.substream("feed.sessions", u64::from(day));
            for user in 0..self.user_count() as u32 {
                let u = user as usize;
                // Draw the same numbers whether or not the user is active, so one
                // user's activity never shifts another's draws.
                let opens: f64 = rng.random();
                if self.users.join_day[u] > day || opens >= f64::from(self.users.activity[u]) {
                    continue;
                }
                self.candidates(day, &mut rng, &mut candidates);
                for (rank, &(_, post)) in candidates.iter().take(len).enumerate() {
                    let position = (rank + 1) as u8;
                    let e = self.engagement(user, post, day, examination[rank]);
                    let [r_click, r_like, r_share, r_hide]: [f64; 4] =
                        [rng.random(), rng.random(), rng.random(), rng.random()];
                    let click = r_click < e.click;
                    log.session.push(session);
                    log.user.push(user);
                    log.post.push(post);
                    log.day.push(day);
                    log.position.push(position);
                    log.click.push(click);
                    log.like.push(click && r_like < e.like_if_click);
                    log.share.push(click && r_share < e.share_if_click);
                    log.hide.push(!click && r_hide < e.hide_if_no_click);
                    log.relevance.push(e.relevance as f32);
                }
                session += 1;
            }
        }
        log
    }
}

/// Index of the first post created on `day` (posts are stored by day).
fn posts_created_before(params: &FeedParams, day: u16) -> u32 {
    u32::from(day) * params.posts_per_day
}

fn normal(rng: &mut StageRng) -> f32 {
    let x: f64 = rng.sample(StandardNormal);
    x as f32
}

fn generate_users(params: &FeedParams, rng: &mut StageRng) -> Users {
    let d = params.topics;
    let scale = 1.0 / (d as f32).sqrt();
    let mut users = Users::default();
    let mut push_user = |rng: &mut StageRng, offset: &[f32], join_day: u16| {
        for &o in offset {
            users.interests.push((normal(rng) + o) * scale);
        }
        for _ in 0..d {
            users.interests_after.push(normal(rng) * scale);
        }
        // Log-normal activity around the mean daily-active fraction.
        let activity =
            params.daily_active * crate::engine::math::exp(0.5 * f64::from(normal(rng)) - 0.125);
        users.activity.push(activity.min(1.0) as f32);
        users.join_day.push(join_day);
    };
    let zero = vec![0.0; d];
    for _ in 0..params.users {
        push_user(rng, &zero, 0);
    }
    for drift in &params.drift {
        if let FeedDrift::NewCohort { day, users: n } = *drift {
            // The cohort's interests sit away from the others', along a random direction.
            let offset: Vec<f32> = (0..d).map(|_| 1.5 * normal(rng)).collect();
            for _ in 0..n {
                push_user(rng, &offset, day);
            }
        }
    }
    users
}

fn generate_creators(params: &FeedParams, rng: &mut StageRng) -> Creators {
    let mut creators = Creators::default();
    for _ in 0..params.creators {
        for _ in 0..params.topics {
            creators.centre.push(normal(rng));
        }
        creators.quality.push(0.5 * normal(rng));
    }
    creators
}

fn generate_posts(params: &FeedParams, creators: &Creators, rng: &mut StageRng) -> Posts {
    let d = params.topics;
    let mut posts = Posts::default();
    for day in 0..params.days {
        for _ in 0..params.posts_per_day {
            // Few creators post most: the index is skewed toward low numbers.
            let u: f64 = rng.random();
            let creator = ((u * u * f64::from(params.creators)) as u32).min(params.creators - 1);
            let c = creator as usize;
            // A post is about one topic, drawn near its creator's centre, with
            // a little of the others: interest in the topic is what a user's
            // history can learn, the rest is the post's own.
            let start = posts.topic_vec.len();
            let mut best = (f32::NEG_INFINITY, 0usize);
            for k in 0..d {
                let v = 0.8 * creators.centre[c * d + k] + 0.6 * normal(rng);
                posts.topic_vec.push(TOPIC_BLEND * v);
                if v > best.0 {
                    best = (v, k);
                }
            }
            posts.topic_vec[start + best.1] += TOPIC_WEIGHT;
            posts.creator.push(creator);
            posts.topic.push(best.1 as u8);
            posts.quality.push(creators.quality[c] + 0.3 * normal(rng));
            posts.created_day.push(day);
        }
    }
    posts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> FeedParams {
        FeedParams {
            users: 2_000,
            days: 7,
            ..FeedParams::default()
        }
    }

    #[test]
    fn same_seed_same_world_other_seed_other_world() {
        let a = FeedWorld::generate(&small(), Seed(1)).unwrap();
        let b = FeedWorld::generate(&small(), Seed(1)).unwrap();
        let c = FeedWorld::generate(&small(), Seed(2)).unwrap();
        assert_eq!(a.impressions.click, b.impressions.click);
        assert_eq!(a.impressions.post, b.impressions.post);
        assert_ne!(a.impressions.post, c.impressions.post);
    }

    #[test]
    fn click_rate_by_position_falls_about_as_one_over_rank() {
        let world = FeedWorld::generate(&small(), Seed(3)).unwrap();
        let log = &world.impressions;
        // Divide out relevance so only examination is left: clicks / sum of relevance.
        let mut clicks = [0.0f64; 11];
        let mut relevance = [0.0f64; 11];
        for i in 0..log.len() {
            let p = usize::from(log.position[i]);
            clicks[p] += f64::from(u8::from(log.click[i]));
            relevance[p] += f64::from(log.relevance[i]);
        }
        let exam = |p: usize| clicks[p] / relevance[p];
        let top = exam(1);
        assert!((top - 1.0).abs() < 0.05, "examination at rank 1 = {top}");
        for p in [2usize, 5, 10] {
            let ratio = exam(p) / top;
            let expected = 1.0 / p as f64;
            assert!(
                (ratio - expected).abs() < 0.25 * expected,
                "rank {p}: {ratio} vs {expected}"
            );
        }
    }

    #[test]
    fn engagement_rates_are_realistic() {
        let world = FeedWorld::generate(&small(), Seed(4)).unwrap();
        let log = &world.impressions;
        let rate = |v: &[bool]| v.iter().filter(|&&x| x).count() as f64 / v.len() as f64;
        let ctr = rate(&log.click);
        assert!((0.02..0.25).contains(&ctr), "ctr {ctr}");
        assert!(rate(&log.like) < ctr && rate(&log.share) < rate(&log.like));
        let hide = rate(&log.hide);
        assert!(hide > 0.001 && hide < 0.02, "hide rate {hide}, ctr {ctr}");
        let expected = small().expected_impressions() as f64;
        assert!((log.len() as f64) < expected && log.len() as f64 > expected * 0.4);
    }

    #[test]
    #[allow(clippy::float_cmp)] // the same inputs must give the same bits
    fn interest_shift_changes_relevance_from_its_day_only() {
        let mut params = small();
        params.drift = vec![FeedDrift::InterestShift {
            day: 4,
            strength: 1.0,
        }];
        let world = FeedWorld::generate(&params, Seed(5)).unwrap();
        // A post from day 5 has age 0 on every earlier day, so only the shift moves it.
        let (u, p) = (17, 5 * world.params.posts_per_day + 3);
        assert_eq!(world.relevance(u, p, 2), world.relevance(u, p, 3));
        assert_ne!(world.relevance(u, p, 3), world.relevance(u, p, 4));
    }

    #[test]
    fn new_cohort_joins_on_its_day() {
        let mut params = small();
        params.drift = vec![FeedDrift::NewCohort { day: 3, users: 500 }];
        let world = FeedWorld::generate(&params, Seed(6)).unwrap();
        assert_eq!(world.user_count(), 2_500);
        let log = &world.impressions;
        let first_day = (0..log.len())
            .filter(|&i| log.user[i] >= 2_000)
            .map(|i| log.day[i])
            .min();
        assert_eq!(first_day, Some(3));
    }

    #[test]
    fn absurd_sizes_are_refused_with_the_parameter_named() {
        let err = FeedWorld::generate(
            &FeedParams {
                users: 0,
                ..FeedParams::default()
            },
            Seed(1),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`users`"), "{err}");
        let huge = FeedParams {
            users: 200_000,
            days: 90,
            daily_active: 1.0,
            ..FeedParams::default()
        };
        assert!(matches!(huge.validate(), Err(WorldError::TooLarge { .. })));
    }
}
