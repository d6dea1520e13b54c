//! The content world's raw features, one row per post, as a production
//! system has them when the post is created: the author's profile, the
//! author's history over earlier days only, and the post's token bag. An
//! option adds features from the future (the post's own views and reports,
//! known only after it has been seen).
//!
//! Trees cannot read a bag, so [`text_columns`] turns text into dense
//! columns for them: keyword hits per category, and counts of the tokens
//! most predictive of the training labels (chosen on training rows only).

use super::{RawCategorical, RawNumeric, RawTable};
use crate::engine::data::BagField;
use crate::engine::world::content::ContentWorld;
use crate::engine::world::content::labels::NEVER;

/// Which raw features to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentFeatureOptions {
    /// The author's earlier posts and how many of them were reported.
    pub author_history: bool,
    /// The author's id as a categorical column: lets a model memorize authors.
    pub author_id: bool,
    /// Features from the future: the post's total views and reports.
    pub future_leak: bool,
}

impl Default for ContentFeatureOptions {
    fn default() -> Self {
        ContentFeatureOptions {
            author_history: true,
            author_id: false,
            future_leak: false,
        }
    }
}

/// The name of the token bag.
pub const TOKENS: &str = "tokens";

/// Builds the raw table of every post; the label is the ground truth (any harm).
pub fn raw_table(world: &ContentWorld, options: ContentFeatureOptions) -> RawTable {
    let posts = &world.posts;
    let authors = &world.authors;
    let n = posts.len();
    let numeric = |name: &str, values: Vec<f32>, heavy_tailed: bool| RawNumeric {
        name: name.to_owned(),
        values,
        heavy_tailed,
    };
    let author = |i: usize| posts.author[i] as usize;
    let mut table = RawTable::default();
    table.numeric.push(numeric(
        "account_age_days",
        (0..n)
            .map(|i| authors.account_age(author(i), posts.day[i]).max(0) as f32)
            .collect(),
        true,
    ));
    table.numeric.push(numeric(
        "followers",
        (0..n)
            .map(|i| authors.followers[author(i)] as f32)
            .collect(),
        true,
    ));
    table.numeric.push(numeric(
        "prior_strikes",
        (0..n)
            .map(|i| f32::from(authors.prior_strikes[author(i)]))
            .collect(),
        true,
    ));
    table.numeric.push(numeric(
        "post_tokens",
        (0..n).map(|i| posts.tokens_of(i).len() as f32).collect(),
        false,
    ));
    if options.author_history {
        let (past_posts, report_rate) = author_history(world);
        table
            .numeric
            .push(numeric("author_past_posts", past_posts, true));
        table
            .numeric
            .push(numeric("author_past_report_rate", report_rate, true));
    }
    if options.future_leak {
        table.numeric.push(numeric(
            "post_views_total",
            posts.views.iter().map(|&v| v as f32).collect(),
            true,
        ));
        table.numeric.push(numeric(
            "post_reports_total",
            posts.reports.iter().map(|&r| f32::from(r)).collect(),
            true,
        ));
    }
    if options.author_id {
        table.categorical.push(RawCategorical {
            name: "author".to_owned(),
            ids: posts.author.clone(),
            cardinality: authors.len() as u32,
        });
    }
    let mut tokens = BagField::new(TOKENS, world.vocabulary.len());
    tokens.offsets.clone_from(&posts.token_start);
    tokens.ids.clone_from(&posts.tokens);
    table.bags.push(tokens);
    table.label = (0..n)
        .map(|i| f32::from(u8::from(posts.is_harmful(i))))
        .collect();
    table.day.clone_from(&posts.day);
    table.group = (0..n as u32).collect();
    table
}

/// Per post: the author's posts on earlier days, and the share of them
/// reported by the start of the post's day (`NaN` without earlier posts).
fn author_history(world: &ContentWorld) -> (Vec<f32>, Vec<f32>) {
    let posts = &world.posts;
    let n = posts.len();
    let days = usize::from(world.params.days);
    let mut past = vec![0u32; world.authors.len()];
    let mut reported = vec![0u32; world.authors.len()];
    // A report on day d is known from day d + 1.
    let mut reports_known_on: Vec<Vec<u32>> = vec![Vec::new(); days + 1];
    for i in 0..n {
        let day = posts.report_day[i];
        if day != NEVER && usize::from(day) < days {
            reports_known_on[usize::from(day) + 1].push(posts.author[i]);
        }
    }
    let mut past_posts = Vec::with_capacity(n);
    let mut report_rate = Vec::with_capacity(n);
    let mut day_start = 0;
    let mut current = 0u16;
    for i in 0..=n {
        if i == n || posts.day[i] != current {
            // The day is over: its posts join the history.
            for j in day_start..i {
                past[posts.author[j] as usize] += 1;
            }
            if i == n {
                break;
            }
            let known = usize::from(current) + 1..=usize::from(posts.day[i]);
            for &a in reports_known_on[known].iter().flatten() {
                reported[a as usize] += 1;
            }
            day_start = i;
            current = posts.day[i];
        }
        let a = posts.author[i] as usize;
        past_posts.push(past[a] as f32);
        report_rate.push(if past[a] == 0 {
            f32::NAN
        } else {
            reported[a] as f32 / past[a] as f32
        });
    }
    (past_posts, report_rate)
}

/// Dense text columns for models that cannot read bags: keyword-rule hits
/// per category, then counts of the `top_tokens` tokens with the highest
/// smoothed positive rate among `train_rows` (labels from `label`, indexed
/// by row; a token needs `MIN_TOKEN_ROWS` training rows to be considered).
pub fn text_columns(
    world: &ContentWorld,
    table: &RawTable,
    train_rows: &[usize],
    label: &[f32],
    top_tokens: usize,
) -> Vec<RawNumeric> {
    const MIN_TOKEN_ROWS: u32 = 5;
    /// Pseudo-rows at the base rate added to each token's count.
    const PRIOR_ROWS: f64 = 10.0;
    let n = table.len();
    let Some(bag) = table.bags.iter().find(|b| b.name == TOKENS) else {
        return Vec::new();
    };
    let mut columns: Vec<RawNumeric> = (0..world.categories())
        .map(|c| RawNumeric {
            name: format!("keyword_hits_{}", world.params.categories[c].name),
            values: Vec::with_capacity(n),
            heavy_tailed: true,
        })
        .collect();
    let mut hits = vec![0u16; world.categories()];
    for i in 0..n {
        world.keyword_hits(i, &mut hits);
        for (col, &h) in columns.iter_mut().zip(&hits) {
            col.values.push(f32::from(h));
        }
    }
    // Rows and positive rows per token, each row counted once per token.
    let vocab = bag.vocab as usize;
    let mut rows = vec![0u32; vocab];
    let mut positives = vec![0u32; vocab];
    let mut seen = vec![u32::MAX; vocab];
    let mut total_positive = 0.0;
    for (k, &i) in train_rows.iter().enumerate() {
        let y = label[i] > 0.5;
        total_positive += f64::from(u8::from(y));
        for &t in bag.row(i) {
            let t = (t as usize).min(vocab - 1);
            if seen[t] != k as u32 {
                seen[t] = k as u32;
                rows[t] += 1;
                positives[t] += u32::from(y);
            }
        }
    }
    let base = total_positive / train_rows.len().max(1) as f64;
    let mut ranked: Vec<(f64, u32)> = (0..vocab as u32)
        .filter(|&t| rows[t as usize] >= MIN_TOKEN_ROWS)
        .map(|t| {
            let (r, p) = (
                f64::from(rows[t as usize]),
                f64::from(positives[t as usize]),
            );
            ((p + PRIOR_ROWS * base) / (r + PRIOR_ROWS), t)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.truncate(top_tokens);
    for &(_, t) in &ranked {
        columns.push(RawNumeric {
            name: format!("token_{t}"),
            values: (0..n)
                .map(|i| bag.row(i).iter().filter(|&&x| x == t).count() as f32)
                .collect(),
            heavy_tailed: false,
        });
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;
    use crate::engine::world::content::ContentParams;

    fn world() -> ContentWorld {
        let params = ContentParams {
            posts_per_day: 2_000,
            days: 6,
            ..ContentParams::default()
        };
        ContentWorld::generate(&params, Seed(31)).unwrap()
    }

    fn column<'a>(table: &'a RawTable, name: &str) -> &'a [f32] {
        table.numeric_column(name).unwrap()
    }

    #[test]
    fn history_uses_only_earlier_days() {
        let w = world();
        let table = raw_table(&w, ContentFeatureOptions::default());
        let past = column(&table, "author_past_posts");
        let rate = column(&table, "author_past_report_rate");
        for i in 0..table.len() {
            if table.day[i] == 0 {
                assert!(past[i] < 0.5 && rate[i].is_nan());
            }
        }
        // Recount one late post's history by hand.
        let i = table.len() - 1;
        let a = w.posts.author[i];
        let day = w.posts.day[i];
        let earlier: Vec<usize> = (0..i)
            .filter(|&j| w.posts.author[j] == a && w.posts.day[j] < day)
            .collect();
        let reported = earlier
            .iter()
            .filter(|&&j| w.posts.report_day[j] < day)
            .count();
        assert!((past[i] - earlier.len() as f32).abs() < 0.5);
        if !earlier.is_empty() {
            assert!((rate[i] - reported as f32 / earlier.len() as f32).abs() < 1e-6);
        }
        assert_eq!(table.bags[0].row(5), w.posts.tokens_of(5));
    }

    #[test]
    fn options_choose_the_columns() {
        let w = world();
        let names = |o| {
            raw_table(&w, o)
                .numeric
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        let plain = names(ContentFeatureOptions {
            author_history: false,
            author_id: false,
            future_leak: false,
        });
        assert_eq!(
            plain,
            [
                "account_age_days",
                "followers",
                "prior_strikes",
                "post_tokens"
            ]
        );
        let leaky = names(ContentFeatureOptions {
            future_leak: true,
            ..ContentFeatureOptions::default()
        });
        assert_eq!(leaky.last().map(String::as_str), Some("post_reports_total"));
    }

    #[test]
    fn text_columns_pick_harmful_tokens_from_training_labels() {
        let w = world();
        let table = raw_table(&w, ContentFeatureOptions::default());
        let train: Vec<usize> = (0..table.len()).filter(|&i| table.day[i] < 4).collect();
        let columns = text_columns(&w, &table, &train, &table.label, 20);
        assert_eq!(columns.len(), 4 + 20);
        assert_eq!(columns[0].name, "keyword_hits_spam");
        // Most chosen tokens are lexicon tokens (harmful-looking), though
        // 8,000 rows leave room for lucky benign ones.
        let lexicon = columns[4..]
            .iter()
            .filter(|c| {
                let t: u32 = c.name.trim_start_matches("token_").parse().unwrap();
                w.vocabulary.harm_category(t).is_some()
            })
            .count();
        assert!(lexicon >= 12, "{lexicon} of 20");
    }
}
