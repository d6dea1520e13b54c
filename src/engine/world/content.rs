//! The harmful-content world: authors with a latent propensity to post harm,
//! posts as bags of tokens, several harm categories at realistic prevalence,
//! heavy-tailed views, user reports, and drift over days.
//!
//! The vocabulary has benign words (Zipf-distributed) and, per harm category,
//! a lexicon of harmful-looking tokens ranked by frequency. The keyword rule
//! knows the head of each lexicon at launch. What makes the lessons real:
//!
//! - explicit harmful posts use lexicon tokens, mostly from the head;
//! - subtle harmful posts use only the lexicon's tail (coded language) or no
//!   lexicon token at all, so the keyword rule misses them;
//! - some benign posts quote head tokens (news, counter-speech, reclaimed
//!   words), usually next to context tokens, so the keyword rule flags them;
//! - harm correlates with the author: a latent propensity, young accounts,
//!   prior strikes, few followers;
//! - views grow with followers (heavy-tailed), and user reports grow with
//!   views, so reports over-represent visible posts.
//!
//! The labels each source would give, and when, are in [`labels`].

pub mod labels;

use rand::RngExt;
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::{WorldError, check_range};
use crate::engine::math::{exp, ln, logit, pow, sigmoid};
use crate::engine::rng::{Fnv, Seed, StageRng};
pub use labels::{ContentLabels, LabelSource, SourceLabels};

/// Largest number of posts a world may hold; larger worlds are refused.
pub const MAX_POSTS: u64 = 1_000_000;
/// Largest number of tokens (posts x mean tokens per post) a world may hold.
pub const MAX_TOKENS: u64 = 30_000_000;
/// Most harm categories a world may have.
pub const MAX_CATEGORIES: usize = 8;

/// How harm depends on the author. Fixed, so lessons mean the same across
/// studies; the parameters below choose sizes, prevalence and drift.
const W_PROPENSITY: f64 = 1.0;
/// Authors lean to one category: their favourite gets this logit bonus.
const W_FAVOURITE: f64 = 1.2;
/// Accounts younger than `NEW_ACCOUNT_DAYS` get this logit bonus.
const W_NEW_ACCOUNT: f64 = 0.8;
const NEW_ACCOUNT_DAYS: i32 = 30;
/// Zipf exponents of the benign vocabulary and of each lexicon.
const BENIGN_ZIPF: f64 = 1.05;
const LEXICON_ZIPF: f64 = 1.0;
/// Context tokens ("news", "report", "stop") that mark quoting posts.
const CONTEXT_TOKENS: u32 = 24;
/// Probability that a quoting benign post carries context tokens.
const CONTEXT_RATE: f64 = 0.75;
/// Tokens of a trending story.
const STORY_TOKENS: u32 = 16;
/// Views multiply by this on trending posts, and by `HARM_VIEW_BOOST` on harmful ones.
const TREND_VIEW_BOOST: f64 = 3.0;
const HARM_VIEW_BOOST: f64 = 1.35;
/// Quoting posts draw more false reports than other benign posts.
const QUOTE_REPORT_BOOST: f64 = 5.0;

/// A harm category and its base prevalence (share of posts).
#[derive(Clone, Debug, PartialEq)]
pub struct HarmCategory {
    pub name: String,
    pub prevalence: f64,
}

impl HarmCategory {
    /// A category called `name` with `prevalence`.
    pub fn new(name: &str, prevalence: f64) -> HarmCategory {
        HarmCategory {
            name: name.to_owned(),
            prevalence,
        }
    }
}

/// How human review labels posts.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewParams {
    /// Probability that a reviewer recognizes a harmful post (subtle ones
    /// are missed twice as often).
    pub accuracy: f64,
    /// Probability that a reviewer calls a benign post harmful (quoting
    /// posts ten times as often).
    pub false_flag_rate: f64,
    /// Posts the review team can label per day.
    pub capacity_per_day: u32,
    /// Cost of one review (dollars).
    pub cost_per_review: f64,
    /// Share of the capacity spent on a uniform random audit sample; the rest
    /// goes to the most-reported, then most-viewed posts of the day.
    pub audit_share: f64,
    /// Days between a post and its review label.
    pub delay_days: u16,
}

impl Default for ReviewParams {
    fn default() -> Self {
        ReviewParams {
            accuracy: 0.97,
            false_flag_rate: 0.002,
            capacity_per_day: 2_000,
            cost_per_review: 0.5,
            audit_share: 0.1,
            delay_days: 1,
        }
    }
}

/// How users report posts.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportParams {
    /// Expected reports per view of a harmful post.
    pub rate_per_view: f64,
    /// Expected reports per view of a benign post (false reports).
    pub false_rate_per_view: f64,
    /// Probability that a report on a harmful post names its true category.
    pub reason_accuracy: f64,
    /// Mean days from a post to its first report.
    pub mean_delay_days: f64,
    /// Days after which an unreported post counts as a negative.
    pub window_days: u16,
}

impl Default for ReportParams {
    fn default() -> Self {
        ReportParams {
            rate_per_view: 0.01,
            false_rate_per_view: 0.000_15,
            reason_accuracy: 0.75,
            mean_delay_days: 1.0,
            window_days: 2,
        }
    }
}

/// The parameters of a content world.
#[derive(Clone, Debug, PartialEq)]
pub struct ContentParams {
    pub posts_per_day: u32,
    pub days: u16,
    pub authors: u32,
    /// Benign words in the vocabulary.
    pub vocab: u32,
    /// Mean tokens per post.
    pub tokens_per_post: u16,
    pub categories: Vec<HarmCategory>,
    /// Harmful-looking tokens per category.
    pub lexicon_size: u32,
    /// Share of each lexicon (its most frequent tokens) the keyword rule knows.
    pub keyword_coverage: f64,
    /// Share of harmful posts that are subtle: lexicon tail tokens or none.
    pub subtle_share: f64,
    /// Share of benign posts that quote harmful-looking tokens.
    pub benign_quote_rate: f64,
    pub review: ReviewParams,
    pub reports: ReportParams,
    pub drift: Vec<ContentDrift>,
}

impl Default for ContentParams {
    fn default() -> Self {
        ContentParams {
            posts_per_day: 5_000,
            days: 14,
            authors: 4_000,
            vocab: 5_000,
            tokens_per_post: 12,
            categories: vec![
                HarmCategory::new("spam", 0.01),
                HarmCategory::new("harassment", 0.005),
                HarmCategory::new("violence", 0.002),
                HarmCategory::new("self_harm", 0.001),
            ],
            lexicon_size: 40,
            keyword_coverage: 0.5,
            subtle_share: 0.4,
            benign_quote_rate: 0.02,
            review: ReviewParams::default(),
            reports: ReportParams::default(),
            drift: Vec::new(),
        }
    }
}

/// A change in the world from a given day on.
#[derive(Clone, Debug, PartialEq)]
pub enum ContentDrift {
    /// Covariate shift: `authors` new accounts join, their latent propensity
    /// shifted by `propensity` (positive: a wave of bad actors).
    NewCohort {
        day: u16,
        authors: u32,
        propensity: f64,
    },
    /// Covariate shift: a news story trends. `share` of benign posts discuss
    /// it with its own tokens and get more views; half of them quote
    /// `category`'s harmful-looking tokens.
    TrendingTopic {
        day: u16,
        share: f64,
        category: usize,
    },
    /// Label shift: the odds of harm in `category` (all if `None`) multiply by `factor`.
    PrevalenceChange {
        day: u16,
        category: Option<usize>,
        factor: f64,
    },
    /// Concept shift: adversaries posting `category` (all if `None`) replace
    /// each lexicon token by a new variant with probability `share`.
    VocabularySwap {
        day: u16,
        category: Option<usize>,
        share: f64,
    },
}

impl ContentDrift {
    /// The day the drift starts.
    pub fn day(&self) -> u16 {
        match *self {
            ContentDrift::NewCohort { day, .. }
            | ContentDrift::TrendingTopic { day, .. }
            | ContentDrift::PrevalenceChange { day, .. }
            | ContentDrift::VocabularySwap { day, .. } => day,
        }
    }
}

impl ContentParams {
    /// Checks every parameter and the world's size.
    ///
    /// # Errors
    /// [`WorldError`] naming the first parameter out of range, or the size.
    pub fn validate(&self) -> Result<(), WorldError> {
        self.validate_world()?;
        self.validate_sources()?;
        self.validate_drift()?;
        self.validate_size()
    }

    fn validate_world(&self) -> Result<(), WorldError> {
        check_range(
            "posts_per_day",
            f64::from(self.posts_per_day),
            10.0,
            200_000.0,
        )?;
        check_range("days", f64::from(self.days), 1.0, 90.0)?;
        check_range("authors", f64::from(self.authors), 10.0, 1_000_000.0)?;
        check_range("vocab", f64::from(self.vocab), 500.0, 1_000_000.0)?;
        check_range(
            "tokens_per_post",
            f64::from(self.tokens_per_post),
            4.0,
            200.0,
        )?;
        check_range(
            "categories",
            self.categories.len() as f64,
            1.0,
            MAX_CATEGORIES as f64,
        )?;
        for c in &self.categories {
            check_range("categories.prevalence", c.prevalence, 0.0, 0.2)?;
        }
        let total: f64 = self.categories.iter().map(|c| c.prevalence).sum();
        check_range("total prevalence", total, 0.0, 0.5)?;
        check_range("lexicon_size", f64::from(self.lexicon_size), 4.0, 1_000.0)?;
        check_range("keyword_coverage", self.keyword_coverage, 0.0, 1.0)?;
        check_range("subtle_share", self.subtle_share, 0.0, 1.0)?;
        check_range("benign_quote_rate", self.benign_quote_rate, 0.0, 0.2)
    }

    fn validate_sources(&self) -> Result<(), WorldError> {
        let r = &self.review;
        check_range("review.accuracy", r.accuracy, 0.5, 1.0)?;
        check_range("review.false_flag_rate", r.false_flag_rate, 0.0, 0.1)?;
        check_range(
            "review.capacity_per_day",
            f64::from(r.capacity_per_day),
            0.0,
            1_000_000.0,
        )?;
        check_range("review.cost_per_review", r.cost_per_review, 0.0, 1_000.0)?;
        check_range("review.audit_share", r.audit_share, 0.0, 1.0)?;
        check_range("review.delay_days", f64::from(r.delay_days), 0.0, 30.0)?;
        let p = &self.reports;
        check_range("reports.rate_per_view", p.rate_per_view, 0.0, 1.0)?;
        check_range(
            "reports.false_rate_per_view",
            p.false_rate_per_view,
            0.0,
            0.1,
        )?;
        check_range("reports.reason_accuracy", p.reason_accuracy, 0.0, 1.0)?;
        check_range("reports.mean_delay_days", p.mean_delay_days, 0.0, 30.0)?;
        check_range("reports.window_days", f64::from(p.window_days), 0.0, 30.0)
    }

    fn validate_drift(&self) -> Result<(), WorldError> {
        let last_category = self.categories.len() as f64 - 1.0;
        for drift in &self.drift {
            match *drift {
                ContentDrift::NewCohort {
                    authors,
                    propensity,
                    ..
                } => {
                    check_range("drift.authors", f64::from(authors), 0.0, 1_000_000.0)?;
                    check_range("drift.propensity", propensity, -5.0, 5.0)?;
                }
                ContentDrift::TrendingTopic {
                    share, category, ..
                } => {
                    check_range("drift.share", share, 0.0, 1.0)?;
                    check_range("drift.category", category as f64, 0.0, last_category)?;
                }
                ContentDrift::PrevalenceChange {
                    category, factor, ..
                } => {
                    if let Some(c) = category {
                        check_range("drift.category", c as f64, 0.0, last_category)?;
                    }
                    check_range("drift.factor", factor, 0.0, 50.0)?;
                }
                ContentDrift::VocabularySwap {
                    category, share, ..
                } => {
                    if let Some(c) = category {
                        check_range("drift.category", c as f64, 0.0, last_category)?;
                    }
                    check_range("drift.share", share, 0.0, 1.0)?;
                }
            }
            check_range(
                "drift.day",
                f64::from(drift.day()),
                0.0,
                f64::from(self.days),
            )?;
        }
        Ok(())
    }

    fn validate_size(&self) -> Result<(), WorldError> {
        let cohorts: u64 = self
            .drift
            .iter()
            .map(|d| match *d {
                ContentDrift::NewCohort { authors, .. } => u64::from(authors),
                _ => 0,
            })
            .sum();
        let authors = u64::from(self.authors) + cohorts;
        if authors > 2_000_000 {
            return Err(WorldError::TooLarge {
                what: "authors",
                estimated: authors,
                cap: 2_000_000,
            });
        }
        let posts = self.posts();
        if posts > MAX_POSTS {
            return Err(WorldError::TooLarge {
                what: "posts",
                estimated: posts,
                cap: MAX_POSTS,
            });
        }
        let tokens = posts * u64::from(self.tokens_per_post);
        if tokens > MAX_TOKENS {
            return Err(WorldError::TooLarge {
                what: "tokens",
                estimated: tokens,
                cap: MAX_TOKENS,
            });
        }
        Ok(())
    }

    /// Number of posts the world holds.
    pub fn posts(&self) -> u64 {
        u64::from(self.posts_per_day) * u64::from(self.days)
    }
}

/// Where each kind of token lives in the token id space: benign words first,
/// then each category's launch lexicon, then each category's swapped
/// variants. Context and story tokens are benign words of fixed ranks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocabulary {
    pub benign: u32,
    pub categories: u32,
    pub lexicon_size: u32,
    /// Lexicon ranks below this are in the keyword rule's list.
    pub keyword_ranks: u32,
}

impl Vocabulary {
    /// Number of distinct token ids.
    pub fn len(&self) -> u32 {
        self.benign + 2 * self.categories * self.lexicon_size
    }

    /// Whether the vocabulary is empty (never, for a valid world).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The launch lexicon token of `category` at frequency rank `rank`.
    pub fn lexicon(&self, category: usize, rank: u32) -> u32 {
        self.benign + category as u32 * self.lexicon_size + rank
    }

    /// The variant adversaries swap in for [`Self::lexicon`] after a vocabulary swap.
    pub fn variant(&self, category: usize, rank: u32) -> u32 {
        self.lexicon(category, rank) + self.categories * self.lexicon_size
    }

    /// The category whose keyword list holds `token`, if any.
    pub fn keyword_category(&self, token: u32) -> Option<usize> {
        let offset = token.checked_sub(self.benign)?;
        let (category, rank) = (offset / self.lexicon_size, offset % self.lexicon_size);
        (category < self.categories && rank < self.keyword_ranks).then_some(category as usize)
    }

    /// The category whose launch lexicon or variants hold `token`, if any.
    pub fn harm_category(&self, token: u32) -> Option<usize> {
        let offset = token.checked_sub(self.benign)?;
        let category = (offset / self.lexicon_size) % self.categories.max(1);
        (offset < 2 * self.categories * self.lexicon_size).then_some(category as usize)
    }

    /// Context tokens: benign words of mid frequency ("news", "report", "stop").
    pub fn context(&self, k: u32) -> u32 {
        self.benign / 10 + k % CONTEXT_TOKENS
    }

    /// Tokens of a trending story: benign words of low frequency.
    pub fn story(&self, k: u32) -> u32 {
        self.benign / 4 + k % STORY_TOKENS
    }
}

/// The authors, base population first, then each cohort in order of joining.
#[derive(Clone, Debug, Default)]
pub struct Authors {
    /// Latent propensity to post harm (standard normal for the base population).
    pub propensity: Vec<f32>,
    /// The category the author leans to.
    pub favourite: Vec<u8>,
    /// Day the account was created, relative to the world's day 0 (negative: before).
    pub created_day: Vec<i32>,
    /// Day the author starts posting in the world.
    pub join_day: Vec<u16>,
    pub followers: Vec<u32>,
    /// Strikes for violations before the world starts.
    pub prior_strikes: Vec<u16>,
    /// Relative posting rate.
    pub activity: Vec<f32>,
}

impl Authors {
    /// Number of authors.
    pub fn len(&self) -> usize {
        self.activity.len()
    }

    /// Whether there are no authors.
    pub fn is_empty(&self) -> bool {
        self.activity.is_empty()
    }

    /// Account age in days on `day`.
    pub fn account_age(&self, author: usize, day: u16) -> i32 {
        i32::from(day) - self.created_day[author]
    }
}

/// Ground truth of a post's harm: 0 for benign, `c + 1` for category `c`.
pub const BENIGN: u8 = 0;

/// The posts, in the order they were created (by day), columnar.
#[derive(Clone, Debug, Default)]
pub struct Posts {
    pub author: Vec<u32>,
    pub day: Vec<u16>,
    /// [`BENIGN`] or `category + 1`.
    pub harm: Vec<u8>,
    /// Harmful with lexicon tail tokens only, or none.
    pub subtle: Vec<bool>,
    /// Benign but quoting harmful-looking tokens.
    pub quotes: Vec<bool>,
    /// Part of a trending story.
    pub trending: Vec<bool>,
    /// Post `i`'s tokens are `tokens[token_start[i]..token_start[i + 1]]`.
    pub token_start: Vec<u32>,
    pub tokens: Vec<u32>,
    /// Views over the post's life, if nothing removes it.
    pub views: Vec<u32>,
    /// User reports over the post's life.
    pub reports: Vec<u16>,
    /// Day of the first report ([`labels::NEVER`] if none).
    pub report_day: Vec<u16>,
    /// The category the first report names (0 if none, else `category + 1`).
    pub report_reason: Vec<u8>,
}

impl Posts {
    /// Number of posts.
    pub fn len(&self) -> usize {
        self.author.len()
    }

    /// Whether there are no posts.
    pub fn is_empty(&self) -> bool {
        self.author.is_empty()
    }

    /// The tokens of post `i`.
    pub fn tokens_of(&self, i: usize) -> &[u32] {
        &self.tokens[self.token_start[i] as usize..self.token_start[i + 1] as usize]
    }

    /// Whether post `i` is harmful.
    pub fn is_harmful(&self, i: usize) -> bool {
        self.harm[i] != BENIGN
    }
}

/// A generated content world with the labels each source would give.
#[derive(Clone, Debug)]
pub struct ContentWorld {
    pub params: ContentParams,
    pub vocabulary: Vocabulary,
    pub authors: Authors,
    pub posts: Posts,
    pub labels: ContentLabels,
}

impl ContentWorld {
    /// Generates authors, posts, views and reports, then the labels of every
    /// source.
    ///
    /// # Errors
    /// [`WorldError`] if the parameters are out of range or too large.
    pub fn generate(params: &ContentParams, seed: Seed) -> Result<ContentWorld, WorldError> {
        params.validate()?;
        let categories = params.categories.len() as u32;
        let vocabulary = Vocabulary {
            benign: params.vocab,
            categories,
            lexicon_size: params.lexicon_size,
            keyword_ranks: (f64::from(params.lexicon_size) * params.keyword_coverage).round()
                as u32,
        };
        let authors = generate_authors(params, &mut seed.stream("content.authors"));
        let posts = generate_posts(params, &vocabulary, &authors, seed);
        let mut world = ContentWorld {
            params: params.clone(),
            vocabulary,
            authors,
            posts,
            labels: ContentLabels::default(),
        };
        world.labels = ContentLabels::assign(&world, seed);
        Ok(world)
    }

    /// Number of harm categories.
    pub fn categories(&self) -> usize {
        self.params.categories.len()
    }

    /// Keyword-rule hits of post `i`, per category, into `hits` (cleared first).
    pub fn keyword_hits(&self, i: usize, hits: &mut [u16]) {
        hits.fill(0);
        for &t in self.posts.tokens_of(i) {
            if let Some(c) = self.vocabulary.keyword_category(t)
                && let Some(h) = hits.get_mut(c)
            {
                *h += 1;
            }
        }
    }

    /// Share of harmful posts in `days` (a range of days) that the keyword
    /// rule flags (at least one hit): its recall there.
    pub fn keyword_recall(&self, days: std::ops::Range<u16>) -> f64 {
        let mut hits = vec![0u16; self.categories()];
        let (mut found, mut harmful) = (0usize, 0usize);
        for i in 0..self.posts.len() {
            if days.contains(&self.posts.day[i]) && self.posts.is_harmful(i) {
                harmful += 1;
                self.keyword_hits(i, &mut hits);
                found += usize::from(hits.iter().any(|&h| h > 0));
            }
        }
        found as f64 / harmful.max(1) as f64
    }

    /// A fingerprint of every post and label, to check that two platforms or
    /// two runs produced the same bits.
    pub fn digest(&self) -> u64 {
        let p = &self.posts;
        let mut h = Fnv::default();
        for i in 0..p.len() {
            h.write_u64((u64::from(p.author[i]) << 32) | u64::from(p.day[i]));
            h.write_u64(
                (u64::from(p.harm[i]) << 24)
                    | (u64::from(p.subtle[i]) << 17)
                    | (u64::from(p.quotes[i]) << 16)
                    | u64::from(p.trending[i]),
            );
            for &t in p.tokens_of(i) {
                h.write_u64(u64::from(t));
            }
            h.write_u64((u64::from(p.views[i]) << 32) | u64::from(p.reports[i]));
            h.write_u64((u64::from(p.report_day[i]) << 8) | u64::from(p.report_reason[i]));
        }
        self.labels.hash_into(&mut h);
        h.finish()
    }
}

fn normal(rng: &mut StageRng) -> f64 {
    rng.sample(StandardNormal)
}

/// A sampler from a discrete distribution by its cumulative weights, for
/// draws from a prefix of the weights (authors who have joined so far).
struct Cdf(Vec<f64>);

impl Cdf {
    fn new(weights: impl Iterator<Item = f64>) -> Cdf {
        let mut total = 0.0;
        Cdf(weights
            .map(|w| {
                total += w;
                total
            })
            .collect())
    }

    /// An index drawn from the first `prefix` weights.
    fn sample_prefix(&self, prefix: usize, rng: &mut StageRng) -> usize {
        let prefix = prefix.clamp(1, self.0.len());
        let u = rng.random::<f64>() * self.0[prefix - 1];
        self.0[..prefix]
            .partition_point(|&c| c <= u)
            .min(prefix - 1)
    }

    fn sample(&self, rng: &mut StageRng) -> usize {
        self.sample_prefix(self.0.len(), rng)
    }
}

/// Walker's alias table: a draw from a fixed discrete distribution in
/// constant time (token draws dominate world generation).
struct Alias {
    /// Probability of keeping the drawn column rather than its alias.
    keep: Vec<f64>,
    alias: Vec<u32>,
}

impl Alias {
    fn new(weights: &[f64]) -> Alias {
        let n = weights.len().max(1);
        let total: f64 = weights.iter().sum();
        let mut keep: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        keep.resize(n, 1.0);
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&k| keep[k] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            keep[l] -= 1.0 - keep[s];
            if keep[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1 up to rounding.
        for k in small.into_iter().chain(large) {
            keep[k] = 1.0;
        }
        Alias { keep, alias }
    }

    fn zipf(n: u32, exponent: f64) -> Alias {
        let weights: Vec<f64> = (1..=n).map(|r| pow(f64::from(r), -exponent)).collect();
        Alias::new(&weights)
    }

    fn sample(&self, rng: &mut StageRng) -> usize {
        let k = rng.random_range(0..self.keep.len());
        if rng.random::<f64>() < self.keep[k] {
            k
        } else {
            self.alias[k] as usize
        }
    }
}

fn generate_authors(params: &ContentParams, rng: &mut StageRng) -> Authors {
    let mut authors = Authors::default();
    let favourite = Cdf::new(params.categories.iter().map(|c| c.prevalence + 1e-9));
    let mut push = |rng: &mut StageRng, shift: f64, join_day: u16, base: bool| {
        let z = normal(rng) + shift;
        let (age, followers, strikes) = if base {
            // Older accounts have more followers; bad actors skew young.
            let age = exp(ln(400.0) + 1.3 * normal(rng) - 0.4 * z).min(5_000.0);
            let followers = exp(3.5 + 1.6 * normal(rng) + 0.3 * ln(age / 400.0) - 0.2 * z);
            let lambda = 0.08 * exp(1.2 * z);
            let strikes = Poisson::new(lambda).map_or(0.0, |p| p.sample(rng));
            (age, followers, strikes)
        } else {
            (0.0, exp(1.5 + 1.2 * normal(rng)), 0.0)
        };
        authors.propensity.push(z as f32);
        authors.favourite.push(favourite.sample(rng) as u8);
        authors
            .created_day
            .push(i32::from(join_day) - age.round() as i32);
        authors.join_day.push(join_day);
        authors.followers.push(followers.min(5e7) as u32);
        authors.prior_strikes.push(strikes.min(1_000.0) as u16);
        authors
            .activity
            .push(exp(0.8 * normal(rng) + 0.2 * z) as f32);
    };
    for _ in 0..params.authors {
        push(rng, 0.0, 0, true);
    }
    let mut cohorts: Vec<(u16, u32, f64)> = params
        .drift
        .iter()
        .filter_map(|d| match *d {
            ContentDrift::NewCohort {
                day,
                authors,
                propensity,
            } => Some((day, authors, propensity)),
            _ => None,
        })
        .collect();
    // Stable: cohorts joining the same day keep the order they were listed in.
    cohorts.sort_by_key(|c| c.0);
    for (day, n, shift) in cohorts {
        for _ in 0..n {
            push(rng, shift, day, false);
        }
    }
    authors
}

/// The author's part of the harm logit for `category` on `day`.
fn author_logit(authors: &Authors, a: usize, category: usize, day: u16) -> f64 {
    let young = authors.account_age(a, day) < NEW_ACCOUNT_DAYS;
    W_PROPENSITY * f64::from(authors.propensity[a])
        + if usize::from(authors.favourite[a]) == category {
            W_FAVOURITE
        } else {
            0.0
        }
        + if young { W_NEW_ACCOUNT } else { 0.0 }
}

/// The base logit per category that gives each its prevalence over the base
/// authors' posts (weighted by activity, accounts aged to mid-world).
fn calibrate_base(params: &ContentParams, authors: &Authors) -> Vec<f64> {
    let base: Vec<usize> = (0..authors.len())
        .filter(|&a| authors.join_day[a] == 0)
        .collect();
    let total: f64 = base.iter().map(|&a| f64::from(authors.activity[a])).sum();
    let mid = params.days / 2;
    params
        .categories
        .iter()
        .enumerate()
        .map(|(c, cat)| {
            if cat.prevalence <= 0.0 {
                return f64::NEG_INFINITY;
            }
            let logits: Vec<(f64, f64)> = base
                .iter()
                .map(|&a| {
                    (
                        f64::from(authors.activity[a]) / total,
                        author_logit(authors, a, c, mid),
                    )
                })
                .collect();
            // Newton's method on the expected rate, from the logit of the
            // target: the rate is increasing and convex-concave in the base,
            // and a few steps reach 1e-9; the clamp guards the first steps.
            let mut b = logit(cat.prevalence);
            for _ in 0..12 {
                let (mut rate, mut slope) = (0.0, 0.0);
                for &(w, s) in &logits {
                    let p = sigmoid(b + s);
                    rate += w * p;
                    slope += w * p * (1.0 - p);
                }
                b = (b - (rate - cat.prevalence) / slope.max(1e-12)).clamp(b - 3.0, b + 3.0);
            }
            b
        })
        .collect()
}

/// The drift in effect on one day.
struct DayState {
    /// Added to each category's harm logit.
    logit_shift: Vec<f64>,
    /// Probability that a lexicon token of each category is swapped.
    swap: Vec<f64>,
    /// Share of benign posts on a trending story, and the category it quotes.
    trend: Option<(f64, usize)>,
}

fn day_state(params: &ContentParams, day: u16) -> DayState {
    let c = params.categories.len();
    let mut state = DayState {
        logit_shift: vec![0.0; c],
        swap: vec![0.0; c],
        trend: None,
    };
    for drift in &params.drift {
        if drift.day() > day {
            continue;
        }
        match *drift {
            ContentDrift::PrevalenceChange {
                category, factor, ..
            } => {
                for (k, shift) in state.logit_shift.iter_mut().enumerate() {
                    if category.is_none_or(|x| x == k) {
                        *shift += ln(factor.max(1e-9));
                    }
                }
            }
            ContentDrift::VocabularySwap {
                category, share, ..
            } => {
                for (k, swap) in state.swap.iter_mut().enumerate() {
                    if category.is_none_or(|x| x == k) {
                        *swap = swap.max(share);
                    }
                }
            }
            ContentDrift::TrendingTopic {
                share, category, ..
            } => state.trend = Some((share, category)),
            ContentDrift::NewCohort { .. } => {}
        }
    }
    state
}

/// What every post draws from: the parameters, the vocabulary, the authors
/// and the samplers shared by every day.
struct PostMaker<'a> {
    params: &'a ContentParams,
    vocabulary: &'a Vocabulary,
    authors: &'a Authors,
    benign: Alias,
    lexicon: Alias,
    /// Zipf over the keyword (head) ranks only: what quoting posts use.
    head: Alias,
    /// Zipf over the ranks past the keyword list: what subtle posts use.
    tail: Alias,
    /// Each category's base logit (see [`calibrate_base`]).
    base: Vec<f64>,
}

/// What kind of post is being written.
#[derive(Clone, Copy)]
struct Kind {
    harm: u8,
    subtle: bool,
    quotes: bool,
    trending: bool,
}

fn generate_posts(
    params: &ContentParams,
    vocabulary: &Vocabulary,
    authors: &Authors,
    seed: Seed,
) -> Posts {
    let n = params.posts() as usize;
    let mut posts = Posts {
        token_start: Vec::with_capacity(n + 1),
        tokens: Vec::with_capacity(n * usize::from(params.tokens_per_post) * 5 / 4),
        ..Posts::default()
    };
    posts.token_start.push(0);
    let maker = PostMaker {
        params,
        vocabulary,
        authors,
        benign: Alias::zipf(params.vocab, BENIGN_ZIPF),
        lexicon: Alias::zipf(params.lexicon_size, LEXICON_ZIPF),
        head: Alias::zipf(vocabulary.keyword_ranks.max(1), LEXICON_ZIPF),
        tail: Alias::zipf(
            (params.lexicon_size - vocabulary.keyword_ranks).max(1),
            LEXICON_ZIPF,
        ),
        base: calibrate_base(params, authors),
    };
    let activity = Cdf::new(authors.activity.iter().map(|&a| f64::from(a)));
    for day in 0..params.days {
        let mut rng = seed.substream("content.posts", u64::from(day));
        let state = day_state(params, day);
        // Authors are stored by join day, so those posting today are a prefix.
        let eligible = authors.join_day.partition_point(|&d| d <= day);
        for _ in 0..params.posts_per_day {
            let a = activity.sample_prefix(eligible, &mut rng);
            maker.push(&state, day, a, &mut rng, &mut posts);
        }
    }
    posts
}

impl PostMaker<'_> {
    /// Draws one post by author `a` on `day` and appends it to `posts`.
    fn push(&self, state: &DayState, day: u16, a: usize, rng: &mut StageRng, posts: &mut Posts) {
        let harm = self.harm(state, day, a, rng);
        let subtle_draw: f64 = rng.random();
        let quote_draw: f64 = rng.random();
        let trend_draw: f64 = rng.random();
        let kind = Kind {
            harm,
            subtle: harm != BENIGN && subtle_draw < self.params.subtle_share,
            quotes: harm == BENIGN && quote_draw < self.params.benign_quote_rate,
            trending: harm == BENIGN && state.trend.is_some_and(|(share, _)| trend_draw < share),
        };
        let kind = self.tokens(kind, state, rng, &mut posts.tokens);
        posts.token_start.push(posts.tokens.len() as u32);
        let (views, reports, report_day, reason) = self.reach(kind, day, a, rng);
        posts.author.push(a as u32);
        posts.day.push(day);
        posts.harm.push(kind.harm);
        posts.subtle.push(kind.subtle);
        posts.quotes.push(kind.quotes);
        posts.trending.push(kind.trending);
        posts.views.push(views);
        posts.reports.push(reports);
        posts.report_day.push(report_day);
        posts.report_reason.push(reason);
    }

    /// Harm: at most one category, drawn from each category's probability.
    fn harm(&self, state: &DayState, day: u16, a: usize, rng: &mut StageRng) -> u8 {
        let u: f64 = rng.random();
        let mut acc = 0.0;
        for c in 0..self.params.categories.len() {
            let z = self.base[c] + author_logit(self.authors, a, c, day) + state.logit_shift[c];
            acc += sigmoid(z);
            if u < acc {
                return c as u8 + 1;
            }
        }
        BENIGN
    }

    /// Appends the post's tokens; returns its kind (a trending post may quote).
    fn tokens(
        &self,
        mut kind: Kind,
        state: &DayState,
        rng: &mut StageRng,
        out: &mut Vec<u32>,
    ) -> Kind {
        let (params, vocabulary) = (self.params, self.vocabulary);
        let categories = params.categories.len();
        let len_noise = normal(rng);
        let len = (f64::from(params.tokens_per_post) * exp(0.35 * len_noise - 0.06)).round();
        let len = (len as usize).clamp(3, 4 * usize::from(params.tokens_per_post));
        let start = out.len();
        let context = |rng: &mut StageRng, out: &mut Vec<u32>| {
            out.push(vocabulary.context(rng.random_range(0..CONTEXT_TOKENS)));
        };
        if kind.harm != BENIGN {
            let c = usize::from(kind.harm - 1);
            let ranks: Vec<u32> = if kind.subtle {
                // Coded language: the lexicon's tail, which no keyword list
                // holds, a few coded words far more common than the rest.
                let count =
                    usize::from(rng.random::<f64>() < 0.8) + usize::from(rng.random::<f64>() < 0.4);
                (0..count)
                    .map(|_| vocabulary.keyword_ranks + self.tail.sample(rng) as u32)
                    .map(|rank| rank.min(params.lexicon_size - 1))
                    .collect()
            } else {
                let count = 1
                    + usize::from(rng.random::<f64>() < 0.5)
                    + usize::from(rng.random::<f64>() < 0.2);
                (0..count)
                    .map(|_| self.lexicon.sample(rng) as u32)
                    .collect()
            };
            for rank in ranks {
                let swapped = rng.random::<f64>() < state.swap[c];
                out.push(if swapped {
                    vocabulary.variant(c, rank)
                } else {
                    vocabulary.lexicon(c, rank)
                });
            }
            if rng.random::<f64>() < 0.05 {
                context(rng, out);
            }
        }
        let mut story_category = None;
        if kind.trending
            && let Some((_, category)) = state.trend
        {
            for _ in 0..rng.random_range(2..5) {
                out.push(vocabulary.story(rng.random_range(0..STORY_TOKENS)));
            }
            if rng.random::<f64>() < 0.5 {
                kind.quotes = true;
                story_category = Some(category);
            }
        }
        if kind.quotes {
            let c = story_category.unwrap_or_else(|| rng.random_range(0..categories));
            for _ in 0..=usize::from(rng.random::<f64>() < 0.3) {
                out.push(vocabulary.lexicon(c, self.head.sample(rng) as u32));
            }
            if rng.random::<f64>() < CONTEXT_RATE {
                for _ in 0..rng.random_range(1..3) {
                    context(rng, out);
                }
            }
        }
        while out.len() < start + len {
            out.push(self.benign.sample(rng) as u32);
        }
        kind
    }

    /// Views (heavy-tailed, growing with followers), reports (Poisson in
    /// views), the day of the first report and the category it names.
    fn reach(&self, kind: Kind, day: u16, a: usize, rng: &mut StageRng) -> (u32, u16, u16, u8) {
        let harmful = kind.harm != BENIGN;
        let followers = f64::from(self.authors.followers[a]);
        let mut log_views = 0.5 + 0.65 * ln(1.0 + followers) + 0.9 * normal(rng);
        if harmful {
            log_views += ln(HARM_VIEW_BOOST);
        }
        if kind.trending {
            log_views += ln(TREND_VIEW_BOOST);
        }
        let views = exp(log_views).min(1e8).floor();
        let reports = &self.params.reports;
        let rate = if harmful {
            reports.rate_per_view
        } else if kind.quotes {
            reports.false_rate_per_view * QUOTE_REPORT_BOOST
        } else {
            reports.false_rate_per_view
        };
        let lambda = views * rate;
        let count = if lambda > 1e-12 {
            Poisson::new(lambda).map_or(0.0, |p| p.sample(rng))
        } else {
            0.0
        };
        let delay_draw: f64 = rng.random();
        let reason_draw: f64 = rng.random();
        let reason_pick = rng.random_range(0..self.params.categories.len()) as u8 + 1;
        let (report_day, reason) = if count >= 1.0 {
            // A geometric number of days with mean `mean_delay_days`.
            let q = 1.0 / (1.0 + reports.mean_delay_days);
            let delay = (ln(1.0 - delay_draw) / ln(1.0 - q).min(-1e-12)).floor();
            let reason = if harmful && reason_draw < reports.reason_accuracy {
                kind.harm
            } else {
                reason_pick
            };
            (day.saturating_add(delay.min(1_000.0) as u16), reason)
        } else {
            (labels::NEVER, 0)
        };
        (views as u32, count.min(60_000.0) as u16, report_day, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ContentParams {
        ContentParams {
            posts_per_day: 4_000,
            days: 10,
            ..ContentParams::default()
        }
    }

    #[test]
    fn same_seed_same_digest_other_seed_other_digest() {
        let a = ContentWorld::generate(&small(), Seed(1)).unwrap();
        let b = ContentWorld::generate(&small(), Seed(1)).unwrap();
        let c = ContentWorld::generate(&small(), Seed(2)).unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn prevalence_per_category_matches_the_parameters() {
        let params = ContentParams {
            posts_per_day: 10_000,
            days: 20,
            ..ContentParams::default()
        };
        let world = ContentWorld::generate(&params, Seed(3)).unwrap();
        let n = world.posts.len() as f64;
        for (c, cat) in params.categories.iter().enumerate() {
            let count: usize = world
                .posts
                .harm
                .iter()
                .map(|&h| usize::from(h == c as u8 + 1))
                .sum();
            let count = count as f64;
            let rate = count / n;
            // Calibrated on expected author mix; sampling noise at 0.1% of
            // 200k posts is about 7%, so allow 25% relative.
            assert!(
                (rate - cat.prevalence).abs() < 0.25 * cat.prevalence,
                "{}: {rate} vs {}",
                cat.name,
                cat.prevalence
            );
        }
    }

    #[test]
    fn prevalence_change_moves_the_rate_from_its_day() {
        let mut params = small();
        params.drift = vec![ContentDrift::PrevalenceChange {
            day: 5,
            category: None,
            factor: 3.0,
        }];
        let world = ContentWorld::generate(&params, Seed(4)).unwrap();
        let rate = |days: std::ops::Range<u16>| {
            let rows: Vec<usize> = (0..world.posts.len())
                .filter(|&i| days.contains(&world.posts.day[i]))
                .collect();
            rows.iter().filter(|&&i| world.posts.is_harmful(i)).count() as f64 / rows.len() as f64
        };
        let (before, after) = (rate(0..5), rate(5..10));
        assert!(
            after > 2.3 * before && after < 3.5 * before,
            "{before} -> {after}"
        );
    }

    #[test]
    fn reports_are_biased_to_visible_posts() {
        let world = ContentWorld::generate(&small(), Seed(5)).unwrap();
        let p = &world.posts;
        let harmful: Vec<usize> = (0..p.len()).filter(|&i| p.is_harmful(i)).collect();
        let mut views: Vec<u32> = harmful.iter().map(|&i| p.views[i]).collect();
        views.sort_unstable();
        let median = views[views.len() / 2];
        let reported = |high: bool| {
            let rows: Vec<usize> = harmful
                .iter()
                .copied()
                .filter(|&i| (p.views[i] > median) == high)
                .collect();
            rows.iter().filter(|&&i| p.reports[i] > 0).count() as f64 / rows.len() as f64
        };
        let (low, high) = (reported(false), reported(true));
        assert!(
            high > 2.0 * low,
            "reported: high-view {high}, low-view {low}"
        );
        // Views are heavy-tailed: the top 1% of posts hold over 10% of views.
        let mut all: Vec<u64> = p.views.iter().map(|&v| u64::from(v)).collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        let top: u64 = all[..all.len() / 100].iter().sum();
        let total: u64 = all.iter().sum();
        assert!(top * 10 > total, "top 1% hold {top} of {total} views");
    }

    #[test]
    fn keyword_rule_has_false_positives_and_misses_subtle_harm() {
        let world = ContentWorld::generate(&small(), Seed(6)).unwrap();
        let p = &world.posts;
        let mut hits = vec![0u16; world.categories()];
        let (mut tp, mut fp, mut subtle_found, mut subtle) = (0, 0, 0, 0);
        for i in 0..p.len() {
            world.keyword_hits(i, &mut hits);
            let flagged = hits.iter().any(|&h| h > 0);
            if p.is_harmful(i) {
                tp += usize::from(flagged);
                if p.subtle[i] {
                    subtle += 1;
                    subtle_found += usize::from(flagged);
                }
            } else {
                fp += usize::from(flagged);
            }
        }
        let precision = tp as f64 / (tp + fp) as f64;
        assert!((0.2..0.7).contains(&precision), "precision {precision}");
        assert!(
            subtle > 50 && subtle_found * 20 < subtle,
            "{subtle_found} of {subtle}"
        );
    }

    #[test]
    fn vocabulary_swap_lowers_keyword_recall_after_its_day() {
        let mut params = small();
        params.drift = vec![ContentDrift::VocabularySwap {
            day: 5,
            category: None,
            share: 0.8,
        }];
        let world = ContentWorld::generate(&params, Seed(7)).unwrap();
        let (before, after) = (world.keyword_recall(0..5), world.keyword_recall(5..10));
        assert!(before > 0.45, "recall before the swap {before}");
        assert!(after < 0.5 * before, "recall {before} -> {after}");
    }

    #[test]
    fn new_cohort_posts_from_its_day_and_trending_topic_boosts_views() {
        let mut params = small();
        params.drift = vec![
            ContentDrift::NewCohort {
                day: 4,
                authors: 1_000,
                propensity: 1.0,
            },
            ContentDrift::TrendingTopic {
                day: 6,
                share: 0.2,
                category: 2,
            },
        ];
        let world = ContentWorld::generate(&params, Seed(8)).unwrap();
        let p = &world.posts;
        let first = (0..p.len())
            .filter(|&i| p.author[i] >= 4_000)
            .map(|i| p.day[i])
            .min();
        assert_eq!(first, Some(4));
        assert!((0..p.len()).all(|i| !p.trending[i] || p.day[i] >= 6));
        let mean = |trending: bool| {
            let rows: Vec<usize> = (0..p.len())
                .filter(|&i| p.day[i] >= 6 && p.trending[i] == trending)
                .collect();
            rows.iter().map(|&i| f64::from(p.views[i])).sum::<f64>() / rows.len() as f64
        };
        assert!(mean(true) > 2.0 * mean(false));
    }

    #[test]
    fn absurd_sizes_are_refused_with_the_parameter_named() {
        let err = ContentWorld::generate(
            &ContentParams {
                days: 0,
                ..ContentParams::default()
            },
            Seed(1),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`days`"), "{err}");
        let huge = ContentParams {
            posts_per_day: 200_000,
            days: 90,
            ..ContentParams::default()
        };
        assert!(matches!(huge.validate(), Err(WorldError::TooLarge { .. })));
        let bad_drift = ContentParams {
            drift: vec![ContentDrift::VocabularySwap {
                day: 3,
                category: Some(9),
                share: 0.5,
            }],
            ..ContentParams::default()
        };
        let err = bad_drift.validate().unwrap_err();
        assert!(err.to_string().contains("`drift.category`"), "{err}");
    }
}
