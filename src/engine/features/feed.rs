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

/// Feed requests to score at serving time: for each row, the user, the
/// candidate post, the day and the request it belongs to. Rows must come in
/// day order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServingRows {
    pub user: Vec<u32>,
    pub post: Vec<u32>,
    pub day: Vec<u16>,
    pub request: Vec<u32>,
}

/// The rows a table is built for, and what they know.
struct Rows<'a> {
    user: &'a [u32],
    post: &'a [u32],
    day: &'a [u16],
    /// Logged positions; at serving time every candidate is asked about as
    /// if shown at rank 1.
    position: Option<&'a [u8]>,
    /// Whether the leak feature sees the whole log (offline, the leak) or
    /// only the days before (what a serving system can compute).
    leak_sees_future: bool,
}

/// Builds the raw table of every logged impression; the label is the click.
pub fn raw_table(world: &FeedWorld, options: FeedFeatureOptions) -> RawTable {
    let log = &world.impressions;
    let rows = Rows {
        user: &log.user,
        post: &log.post,
        day: &log.day,
        position: Some(&log.position),
        leak_sees_future: true,
    };
    let mut table = build(world, &rows, options);
    table.label = log.click.iter().map(|&c| f32::from(u8::from(c))).collect();
    table.group.clone_from(&log.session);
    table
}

/// Builds the raw table of serving-time requests, with the same columns as
/// [`raw_table`] for the same options, computed only from what is known when
/// the request arrives: history from earlier days, position 1, and the
/// "future" feature as far as the log goes so far. Labels are 0: the world
/// decides what happens.
pub fn serving_table(
    world: &FeedWorld,
    requests: &ServingRows,
    options: FeedFeatureOptions,
) -> RawTable {
    let rows = Rows {
        user: &requests.user,
        post: &requests.post,
        day: &requests.day,
        position: None,
        leak_sees_future: false,
    };
    let mut table = build(world, &rows, options);
    table.label = vec![0.0; requests.user.len()];
    table.group.clone_from(&requests.request);
    table
}

fn build(world: &FeedWorld, rows: &Rows<'_>, options: FeedFeatureOptions) -> RawTable {
    let n = rows.user.len();
    let users = world.user_count();
    let creators = world.params.creators as usize;
    let topics = world.params.topics;
    let posts = world.posts.creator.len();

    let h = history(world, rows);

    let numeric = |name: &str, values: Vec<f32>, heavy_tailed: bool| RawNumeric {
        name: name.to_owned(),
        values,
        heavy_tailed,
    };
    let mut table = RawTable::default();
    if options.position {
        let position = match rows.position {
            Some(p) => p.iter().map(|&r| f32::from(r)).collect(),
            None => vec![1.0; n],
        };
        table.numeric.push(numeric("position", position, false));
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
        let leak = if rows.leak_sees_future {
            let log = &world.impressions;
            let mut shown = vec![0u32; posts];
            let mut clicks = vec![0u32; posts];
            for i in 0..log.len() {
                shown[log.post[i] as usize] += 1;
                clicks[log.post[i] as usize] += u32::from(log.click[i]);
            }
            rows.post
                .iter()
                .map(|&p| rate(clicks[p as usize], shown[p as usize]))
                .collect()
        } else {
            h.post_past_ctr
        };
        table
            .numeric
            .push(numeric("post_ctr_whole_log", leak, true));
    }
    let categorical = |name: &str, ids: Vec<u32>, cardinality: usize| RawCategorical {
        name: name.to_owned(),
        ids,
        cardinality: cardinality as u32,
    };
    let creator_of = |&p: &u32| world.posts.creator[p as usize];
    let topic_of = |&p: &u32| u32::from(world.posts.topic[p as usize]);
    table.categorical = vec![
        categorical(CATEGORICAL[0], rows.user.to_vec(), users),
        categorical(
            CATEGORICAL[1],
            rows.post.iter().map(creator_of).collect(),
            creators,
        ),
        categorical(
            CATEGORICAL[2],
            rows.post.iter().map(topic_of).collect(),
            topics,
        ),
        categorical(CATEGORICAL[3], rows.post.to_vec(), posts),
    ];
    table.day = rows.day.to_vec();
    table
}

/// Per-row columns, history ones counted over the days before the row's.
struct History {
    age: Vec<f32>,
    follows: Vec<f32>,
    creator_ctr: Vec<f32>,
    past_sessions: Vec<f32>,
    past_ctr: Vec<f32>,
    topic_share: Vec<f32>,
    /// The post's click rate over earlier days: what a serving system knows.
    post_past_ctr: Vec<f32>,
}

fn rate(clicks: u32, shown: u32) -> f32 {
    if shown == 0 {
        f32::NAN
    } else {
        clicks as f32 / shown as f32
    }
}

/// Running counts over the log, folded in one logged impression at a time.
struct Counts {
    user_sessions: Vec<u32>,
    user_impressions: Vec<u32>,
    user_clicks: Vec<u32>,
    user_topic_clicks: Vec<u32>,
    creator_impressions: Vec<u32>,
    creator_clicks: Vec<u32>,
    post_impressions: Vec<u32>,
    post_clicks: Vec<u32>,
    last_session: Option<u32>,
}

impl Counts {
    fn new(world: &FeedWorld) -> Counts {
        let users = world.user_count();
        let creators = world.params.creators as usize;
        let posts = world.posts.creator.len();
        Counts {
            user_sessions: vec![0; users],
            user_impressions: vec![0; users],
            user_clicks: vec![0; users],
            user_topic_clicks: vec![0; users * world.params.topics],
            creator_impressions: vec![0; creators],
            creator_clicks: vec![0; creators],
            post_impressions: vec![0; posts],
            post_clicks: vec![0; posts],
            last_session: None,
        }
    }

    fn fold(&mut self, world: &FeedWorld, j: usize) {
        let log = &world.impressions;
        let (u, p) = (log.user[j] as usize, log.post[j] as usize);
        let c = world.posts.creator[p] as usize;
        let clicked = u32::from(log.click[j]);
        // Sessions are contiguous in the log.
        if self.last_session != Some(log.session[j]) {
            self.user_sessions[u] += 1;
            self.last_session = Some(log.session[j]);
        }
        self.user_impressions[u] += 1;
        self.user_clicks[u] += clicked;
        self.user_topic_clicks[u * world.params.topics + usize::from(world.posts.topic[p])] +=
            clicked;
        self.creator_impressions[c] += 1;
        self.creator_clicks[c] += clicked;
        self.post_impressions[p] += 1;
        self.post_clicks[p] += clicked;
    }
}

fn history(world: &FeedWorld, rows: &Rows<'_>) -> History {
    let log = &world.impressions;
    let n = rows.user.len();
    let topics = world.params.topics;
    let mut counts = Counts::new(world);
    let mut h = History {
        age: Vec::with_capacity(n),
        follows: Vec::with_capacity(n),
        creator_ctr: Vec::with_capacity(n),
        past_sessions: Vec::with_capacity(n),
        past_ctr: Vec::with_capacity(n),
        topic_share: Vec::with_capacity(n),
        post_past_ctr: Vec::with_capacity(n),
    };
    // Logged impressions join the history once their day has ended.
    let mut folded = 0;
    for i in 0..n {
        let day = rows.day[i];
        debug_assert!(i == 0 || rows.day[i - 1] <= day, "rows come in day order");
        while folded < log.len() && log.day[folded] < day {
            counts.fold(world, folded);
            folded += 1;
        }
        let (u, p) = (rows.user[i] as usize, rows.post[i] as usize);
        let c = world.posts.creator[p] as usize;
        h.age
            .push(f32::from(day.saturating_sub(world.posts.created_day[p])));
        h.follows.push(f32::from(u8::from(
            world.follows(rows.user[i], world.posts.creator[p]),
        )));
        h.creator_ctr.push(rate(
            counts.creator_clicks[c],
            counts.creator_impressions[c],
        ));
        h.past_sessions.push(counts.user_sessions[u] as f32);
        h.past_ctr
            .push(rate(counts.user_clicks[u], counts.user_impressions[u]));
        let topic = usize::from(world.posts.topic[p]);
        let user_topics = &counts.user_topic_clicks[u * topics..(u + 1) * topics];
        let all_clicks: u32 = user_topics.iter().sum();
        h.topic_share.push(rate(user_topics[topic], all_clicks));
        h.post_past_ctr
            .push(rate(counts.post_clicks[p], counts.post_impressions[p]));
    }
    h
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
        table.numeric_column(name).unwrap()
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

    #[test]
    fn serving_features_match_the_logged_ones_for_the_same_rows() {
        // No training/serving skew: the same (user, post, day) gets the same
        // history features offline and at serving time; only the position
        // (rank 1 when serving) and the leak (the past only) differ.
        let w = world();
        let options = FeedFeatureOptions {
            future_leak: true,
            ..FeedFeatureOptions::default()
        };
        let offline = raw_table(&w, options);
        let log = &w.impressions;
        let requests = ServingRows {
            user: log.user.clone(),
            post: log.post.clone(),
            day: log.day.clone(),
            request: log.session.clone(),
        };
        let serving = serving_table(&w, &requests, options);
        assert_eq!(offline.categorical, serving.categorical);
        for (a, b) in offline.numeric.iter().zip(&serving.numeric) {
            assert_eq!(a.name, b.name);
            let same = a
                .values
                .iter()
                .zip(&b.values)
                .all(|(x, y)| x.to_bits() == y.to_bits());
            match a.name.as_str() {
                "position" => assert!(b.values.iter().all(|&p| p.to_bits() == 1.0f32.to_bits())),
                "post_ctr_whole_log" => {
                    assert!(!same, "the leak sees the future offline only");
                    // Serving sees no clicks of a post on its first day.
                    for i in 0..log.len() {
                        let created = w.posts.created_day[log.post[i] as usize];
                        if log.day[i] == created {
                            assert!(b.values[i].is_nan());
                        }
                    }
                }
                _ => assert!(same, "{} differs between offline and serving", a.name),
            }
        }
    }
}
