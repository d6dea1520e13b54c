//! The feed world's raw features, computed as a production system would:
//! history features use only the days before an impression's day, unless the
//! study switches on the future leak.

use super::{RawCategorical, RawNumeric, RawTable};
use crate::engine::world::feed::FeedWorld;

/// Which raw features to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedFeatureOptions {
    /// Features from the user's own past: sessions, click rate, topic share.
    pub user_history: bool,
    /// The rank the post was shown at. Serving then asks as if at rank 1.
    pub position: bool,
    /// A feature computed from the future: each post's click rate over the
    /// whole log, the impression's own click included.
    pub future_leak: bool,
}

impl Default for FeedFeatureOptions {
    fn default() -> Self {
        FeedFeatureOptions {
            user_history: true,
            position: true,
            future_leak: false,
        }
    }
}

/// The categorical columns of the feed table, in order.
pub const CATEGORICAL: [&str; 4] = ["user", "creator", "topic", "post"];

/// Builds the raw table of every logged impression; the label is the click.
pub fn raw_table(world: &FeedWorld, options: FeedFeatureOptions) -> RawTable {
    let log = &world.impressions;
    let n = log.len();
    let users = world.user_count();
    let creators = world.params.creators as usize;
    let topics = world.params.topics;
    let posts = world.posts.creator.len();

    let h = history(world);

    let numeric = |name: &str, values: Vec<f32>, heavy_tailed: bool| RawNumeric {
        name: name.to_owned(),
        values,
        heavy_tailed,
    };
    let mut table = RawTable::default();
    if options.position {
        table.numeric.push(numeric("position", h.position, false));
    }
    table.numeric.push(numeric("post_age_days", h.age, false));
    table
        .numeric
        .push(numeric("follows_creator", h.follows, false));
    table
        .numeric
        .push(numeric("creator_past_ctr", h.creator_ctr, true));
    if options.user_history {
        table
            .numeric
            .push(numeric("user_past_sessions", h.past_sessions, true));
        table
            .numeric
            .push(numeric("user_past_ctr", h.past_ctr, true));
        table
            .numeric
            .push(numeric("user_topic_click_share", h.topic_share, false));
    }
    if options.future_leak {
        let mut shown = vec![0u32; posts];
        let mut clicks = vec![0u32; posts];
        for i in 0..n {
            shown[log.post[i] as usize] += 1;
            clicks[log.post[i] as usize] += u32::from(log.click[i]);
        }
        let leak = (0..n)
            .map(|i| rate(clicks[log.post[i] as usize], shown[log.post[i] as usize]))
            .collect();
        table
            .numeric
            .push(numeric("post_ctr_whole_log", leak, true));
    }
    let categorical = |name: &str, ids: Vec<u32>, cardinality: usize| RawCategorical {
        name: name.to_owned(),
        ids,
        cardinality: cardinality as u32,
    };
    let creator_of = |i: usize| world.posts.creator[log.post[i] as usize];
    let topic_of = |i: usize| u32::from(world.posts.topic[log.post[i] as usize]);
    table.categorical = vec![
        categorical(CATEGORICAL[0], log.user.clone(), users),
        categorical(CATEGORICAL[1], (0..n).map(creator_of).collect(), creators),
        categorical(CATEGORICAL[2], (0..n).map(topic_of).collect(), topics),
        categorical(CATEGORICAL[3], log.post.clone(), posts),
    ];
    table.label = log.click.iter().map(|&c| f32::from(u8::from(c))).collect();
    table.day.clone_from(&log.day);
    table.group.clone_from(&log.session);
    table
}

/// Per-impression columns, history ones counted over the days before.
struct History {
    position: Vec<f32>,
    age: Vec<f32>,
    follows: Vec<f32>,
    creator_ctr: Vec<f32>,
    past_sessions: Vec<f32>,
    past_ctr: Vec<f32>,
    topic_share: Vec<f32>,
}

fn rate(clicks: u32, shown: u32) -> f32 {
    if shown == 0 {
        f32::NAN
    } else {
        clicks as f32 / shown as f32
    }
}

fn history(world: &FeedWorld) -> History {
    let log = &world.impressions;
    let n = log.len();
    let users = world.user_count();
    let creators = world.params.creators as usize;
    let topics = world.params.topics;
    let mut user_sessions = vec![0u32; users];
    let mut user_impressions = vec![0u32; users];
    let mut user_clicks = vec![0u32; users];
    let mut user_topic_clicks = vec![0u32; users * topics];
    let mut creator_impressions = vec![0u32; creators];
    let mut creator_clicks = vec![0u32; creators];

    let mut position = Vec::with_capacity(n);
    let mut age = Vec::with_capacity(n);
    let mut follows = Vec::with_capacity(n);
    let mut creator_ctr = Vec::with_capacity(n);
    let mut past_sessions = Vec::with_capacity(n);
    let mut past_ctr = Vec::with_capacity(n);
    let mut topic_share = Vec::with_capacity(n);

    // Rows come in day order; a day's rows join the history once the day ends.
    let mut day_start = 0;
    for i in 0..=n {
        if i == n || (i > day_start && log.day[i] != log.day[day_start]) {
            let mut last_session = None;
            for j in day_start..i {
                let (u, p) = (log.user[j] as usize, log.post[j] as usize);
                let c = world.posts.creator[p] as usize;
                let clicked = u32::from(log.click[j]);
                if last_session != Some(log.session[j]) {
                    user_sessions[u] += 1;
                    last_session = Some(log.session[j]);
                }
                user_impressions[u] += 1;
                user_clicks[u] += clicked;
                user_topic_clicks[u * topics + usize::from(world.posts.topic[p])] += clicked;
                creator_impressions[c] += 1;
                creator_clicks[c] += clicked;
            }
            day_start = i;
        }
        if i == n {
            break;
        }
        let (u, p) = (log.user[i] as usize, log.post[i] as usize);
        let c = world.posts.creator[p] as usize;
        position.push(f32::from(log.position[i]));
        age.push(f32::from(
            log.day[i].saturating_sub(world.posts.created_day[p]),
        ));
        follows.push(f32::from(u8::from(
            world.follows(log.user[i], world.posts.creator[p]),
        )));
        creator_ctr.push(rate(creator_clicks[c], creator_impressions[c]));
        past_sessions.push(user_sessions[u] as f32);
        past_ctr.push(rate(user_clicks[u], user_impressions[u]));
        let topic = usize::from(world.posts.topic[p]);
        let all_clicks: u32 = user_topic_clicks[u * topics..(u + 1) * topics].iter().sum();
        topic_share.push(rate(user_topic_clicks[u * topics + topic], all_clicks));
    }

    History {
        position,
        age,
        follows,
        creator_ctr,
        past_sessions,
        past_ctr,
        topic_share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;
    use crate::engine::world::feed::FeedParams;

    fn world() -> FeedWorld {
        let params = FeedParams {
            users: 800,
            days: 4,
            ..FeedParams::default()
        };
        FeedWorld::generate(&params, Seed(11)).unwrap()
    }

    fn column<'a>(table: &'a RawTable, name: &str) -> &'a [f32] {
        &table
            .numeric
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .values
    }

    #[test]
    fn history_uses_only_earlier_days() {
        let w = world();
        let table = raw_table(&w, FeedFeatureOptions::default());
        let sessions = column(&table, "user_past_sessions");
        let ctr = column(&table, "user_past_ctr");
        for i in 0..table.len() {
            if table.day[i] == 0 {
                assert!(sessions[i] < 0.5, "no sessions before day 0");
                assert!(ctr[i].is_nan(), "no history on day 0");
            }
        }
        // By the last day most users have history.
        let last = w.params.days - 1;
        let with_history = (0..table.len())
            .filter(|&i| table.day[i] == last && !ctr[i].is_nan())
            .count();
        let on_last = (0..table.len()).filter(|&i| table.day[i] == last).count();
        assert!(with_history * 2 > on_last);
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
        let plain = names(FeedFeatureOptions {
            user_history: false,
            position: false,
            future_leak: false,
        });
        assert_eq!(
            plain,
            ["post_age_days", "follows_creator", "creator_past_ctr"]
        );
        let leaky = names(FeedFeatureOptions {
            future_leak: true,
            ..FeedFeatureOptions::default()
        });
        assert_eq!(leaky.first().map(String::as_str), Some("position"));
        assert_eq!(leaky.last().map(String::as_str), Some("post_ctr_whole_log"));
    }
}
