//! The labels each source would give every post of the content world, and
//! the day each becomes available, with the sources' real costs:
//!
//! - human review: accurate, a day late, and only `capacity_per_day` posts a
//!   day (a random audit sample, then the most-reported, then most-viewed);
//!   each review costs money;
//! - user reports: free, but late, noisy (false reports, wrong reasons) and
//!   biased toward visible posts; an unreported post counts as benign once
//!   its report window has passed;
//! - the keyword heuristic: free and immediate, and exactly as good as its
//!   lexicon.

use rand::RngExt;

use super::{BENIGN, ContentWorld};
use crate::engine::rng::{Fnv, Seed};

/// The available day of a label that never comes.
pub const NEVER: u16 = u16::MAX;

/// Where training labels come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelSource {
    HumanReview,
    UserReports,
    Heuristic,
}

impl LabelSource {
    /// Every source, in a fixed order.
    pub const ALL: [LabelSource; 3] = [
        LabelSource::HumanReview,
        LabelSource::UserReports,
        LabelSource::Heuristic,
    ];

    /// The stable name used in reports and URLs.
    pub fn id(self) -> &'static str {
        match self {
            LabelSource::HumanReview => "human_review",
            LabelSource::UserReports => "user_reports",
            LabelSource::Heuristic => "heuristic",
        }
    }

    /// The source with stable name `id`.
    pub fn from_id(id: &str) -> Option<LabelSource> {
        LabelSource::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// One source's label for every post: [`BENIGN`] or `category + 1`, and the
/// first day at whose start it is known ([`NEVER`] if the source never labels it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceLabels {
    pub harm: Vec<u8>,
    pub available_day: Vec<u16>,
}

impl SourceLabels {
    /// The label of post `i` if it is known by the start of `day`.
    pub fn known_by(&self, i: usize, day: u16) -> Option<u8> {
        (self.available_day[i] <= day && self.available_day[i] != NEVER).then_some(self.harm[i])
    }
}

/// The labels of every source, and the review team's verdicts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentLabels {
    /// What a reviewer would decide for each post, reviewed or not (the
    /// enforcement queue uses the same verdicts).
    pub verdict: Vec<u8>,
    pub human: SourceLabels,
    pub reports: SourceLabels,
    pub heuristic: SourceLabels,
    /// Posts reviewed for labels on each day.
    pub reviews_per_day: Vec<u32>,
}

impl ContentLabels {
    /// The labels of `source`.
    pub fn source(&self, source: LabelSource) -> &SourceLabels {
        match source {
            LabelSource::HumanReview => &self.human,
            LabelSource::UserReports => &self.reports,
            LabelSource::Heuristic => &self.heuristic,
        }
    }

    /// Computes every source's labels for the posts of `world`.
    pub(super) fn assign(world: &ContentWorld, seed: Seed) -> ContentLabels {
        let posts = &world.posts;
        let params = &world.params;
        let n = posts.len();
        let categories = world.categories();
        let review = &params.review;

        let mut rng = seed.stream("content.verdicts");
        let verdict: Vec<u8> = (0..n)
            .map(|i| {
                let u: f64 = rng.random();
                let wrong_category = rng.random_range(0..categories) as u8 + 1;
                let harm = posts.harm[i];
                if harm == BENIGN {
                    let flag = review.false_flag_rate * if posts.quotes[i] { 10.0 } else { 1.0 };
                    if u < flag { wrong_category } else { BENIGN }
                } else {
                    let miss = (1.0 - review.accuracy) * if posts.subtle[i] { 2.0 } else { 1.0 };
                    if u < miss { BENIGN } else { harm }
                }
            })
            .collect();

        let mut human = SourceLabels {
            harm: vec![BENIGN; n],
            available_day: vec![NEVER; n],
        };
        let mut reviews_per_day = Vec::with_capacity(usize::from(params.days));
        let per_day = params.posts_per_day as usize;
        let capacity = review.capacity_per_day as usize;
        for day in 0..params.days {
            let mut rng = seed.substream("content.review_queue", u64::from(day));
            let start = usize::from(day) * per_day;
            let mut queue: Vec<usize> = (start..start + per_day).collect();
            let take = capacity.min(per_day);
            let audit = ((take as f64 * review.audit_share).round() as usize).min(take);
            // A uniform audit sample first (partial Fisher-Yates) ...
            for k in 0..audit {
                let j = rng.random_range(k..queue.len());
                queue.swap(k, j);
            }
            // ... then the rest of the queue by reports, then views.
            queue[audit..].sort_by(|&a, &b| {
                posts.reports[b]
                    .cmp(&posts.reports[a])
                    .then(posts.views[b].cmp(&posts.views[a]))
                    .then(a.cmp(&b))
            });
            let ready = day.saturating_add(review.delay_days);
            for &i in &queue[..take] {
                human.harm[i] = verdict[i];
                human.available_day[i] = ready;
            }
            reviews_per_day.push(take as u32);
        }

        let window = params.reports.window_days;
        let reports = SourceLabels {
            harm: posts.report_reason.clone(),
            available_day: (0..n)
                .map(|i| {
                    if posts.reports[i] > 0 {
                        posts.report_day[i]
                    } else {
                        posts.day[i].saturating_add(window)
                    }
                })
                .collect(),
        };

        let mut hits = vec![0u16; categories];
        let heuristic = SourceLabels {
            harm: (0..n)
                .map(|i| {
                    world.keyword_hits(i, &mut hits);
                    // The category with the most hits; the first on ties.
                    let (best, &count) = hits
                        .iter()
                        .enumerate()
                        .rev()
                        .max_by_key(|&(_, h)| *h)
                        .unwrap_or((0, &0));
                    if count > 0 { best as u8 + 1 } else { BENIGN }
                })
                .collect(),
            available_day: posts.day.clone(),
        };

        ContentLabels {
            verdict,
            human,
            reports,
            heuristic,
            reviews_per_day,
        }
    }

    /// Total cost of the reviews done for labels on days before `day`.
    pub fn review_cost_before(&self, day: u16, cost_per_review: f64) -> f64 {
        let reviews: u64 = self
            .reviews_per_day
            .iter()
            .take(usize::from(day))
            .map(|&r| u64::from(r))
            .sum();
        reviews as f64 * cost_per_review
    }

    /// Adds every label to a fingerprint.
    pub(super) fn hash_into(&self, h: &mut Fnv) {
        for s in LabelSource::ALL {
            let labels = self.source(s);
            for (&harm, &day) in labels.harm.iter().zip(&labels.available_day) {
                h.write_u64((u64::from(harm) << 16) | u64::from(day));
            }
        }
        for &v in &self.verdict {
            h.write_u64(u64::from(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::world::content::ContentParams;

    fn world(capacity: u32) -> ContentWorld {
        let mut params = ContentParams {
            posts_per_day: 3_000,
            days: 8,
            ..ContentParams::default()
        };
        params.review.capacity_per_day = capacity;
        ContentWorld::generate(&params, Seed(21)).unwrap()
    }

    #[test]
    fn review_capacity_caps_labeled_posts_per_day() {
        let w = world(250);
        let human = &w.labels.human;
        for day in 0..8u16 {
            let labeled = (0..w.posts.len())
                .filter(|&i| w.posts.day[i] == day && human.available_day[i] != NEVER)
                .count();
            assert_eq!(labeled, 250, "day {day}");
            assert!(
                (0..w.posts.len())
                    .filter(|&i| w.posts.day[i] == day && human.available_day[i] != NEVER)
                    .all(|i| human.available_day[i] == day + 1),
                "reviews land a day later"
            );
        }
        assert!((w.labels.review_cost_before(4, 0.5) - 4.0 * 250.0 * 0.5).abs() < 1e-9);
        // The queue puts reported posts first, then the most viewed: every
        // reported post is reviewed (reports are fewer than the capacity),
        // and reviewed posts are seen far more than the others.
        let reported = (0..w.posts.len()).filter(|&i| w.posts.reports[i] > 0);
        let (mut count, mut missed) = (0, 0);
        for i in reported {
            count += 1;
            missed += usize::from(human.available_day[i] == NEVER);
        }
        assert!(
            count > 8 * 30 && missed == 0,
            "{missed} of {count} reported posts unreviewed"
        );
        let mean_views = |reviewed: bool| {
            let rows: Vec<usize> = (0..w.posts.len())
                .filter(|&i| (human.available_day[i] != NEVER) == reviewed)
                .collect();
            rows.iter()
                .map(|&i| f64::from(w.posts.views[i]))
                .sum::<f64>()
                / rows.len() as f64
        };
        assert!(mean_views(true) > 3.0 * mean_views(false));
    }

    #[test]
    fn sources_differ_in_noise_as_documented() {
        let w = world(1_000_000);
        let n = w.posts.len();
        let agree = |s: LabelSource| {
            let labels = w.labels.source(s);
            (0..n)
                .filter(|&i| (labels.harm[i] != BENIGN) == w.posts.is_harmful(i))
                .count() as f64
                / n as f64
        };
        let human = agree(LabelSource::HumanReview);
        assert!((0.99..0.999).contains(&human), "human {human}");
        // Recall of harm among positives of each source.
        let recall = |s: LabelSource| {
            let labels = w.labels.source(s);
            let harmful: Vec<usize> = (0..n).filter(|&i| w.posts.is_harmful(i)).collect();
            harmful
                .iter()
                .filter(|&&i| labels.harm[i] != BENIGN)
                .count() as f64
                / harmful.len() as f64
        };
        let (h, r, k) = (
            recall(LabelSource::HumanReview),
            recall(LabelSource::UserReports),
            recall(LabelSource::Heuristic),
        );
        assert!(h > 0.95 && r < 0.8 && k < 0.8, "{h} {r} {k}");
        assert_eq!(
            LabelSource::from_id("user_reports"),
            Some(LabelSource::UserReports)
        );
    }
}
