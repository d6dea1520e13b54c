//! From the raw file to the validated [`Study`]: every rule of the format,
//! each failure naming the field (as a dotted path through ids) and why.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::world::WorldError;
use crate::engine::world::content::{ContentDrift, ContentParams};
use crate::engine::world::feed::{FeedDrift, FeedParams};

use super::knobs::{Accepts, KnobDef};
use super::raw::{
    RawClaim, RawContentDrift, RawContentWorld, RawFeedDrift, RawFeedWorld, RawKnob, RawMeta,
    RawStep, RawStudy, RawValue, RawWorld,
};
use super::{
    BROWSER_MAX_IMPRESSIONS, BROWSER_MAX_POSTS, Chart, Claim, DesignStep, Direction, Knob,
    KnobKind, KnobValue, Step, Study, StudyMeta, WorldSpec,
};

/// A field path and the reason it is wrong.
pub(super) type Failure = (String, String);

fn fail<T>(field: impl Into<String>, reason: impl Into<String>) -> Result<T, Failure> {
    Err((field.into(), reason.into()))
}

pub(super) fn study(raw: RawStudy) -> Result<Study, Failure> {
    let meta = meta(raw.meta)?;
    let world = world(raw.world)?;
    let steps = steps(&raw.steps, &world)?;
    let mut study = Study {
        meta,
        world,
        steps,
        claims: Vec::new(),
    };
    study.claims = claims(raw.claims, &study)?;
    Ok(study)
}

fn meta(meta: RawMeta) -> Result<StudyMeta, Failure> {
    let id_ok = !meta.id.is_empty()
        && meta
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return fail(
            "meta.id",
            "must be non-empty and use only lowercase letters, digits and hyphens",
        );
    }
    if meta.title.trim().is_empty() {
        return fail("meta.title", "must not be empty");
    }
    if meta.summary.trim().is_empty() {
        return fail("meta.summary", "must not be empty");
    }
    if !(1..=600).contains(&meta.minutes) {
        return fail("meta.minutes", "must be between 1 and 600");
    }
    Ok(StudyMeta {
        id: meta.id,
        title: meta.title,
        summary: meta.summary,
        minutes: meta.minutes,
        sources: meta.sources,
    })
}

fn world(raw: RawWorld) -> Result<WorldSpec, Failure> {
    match raw {
        RawWorld::Feed(w) => feed_world(w).map(WorldSpec::Feed),
        RawWorld::Content(w) => content_world(w).map(WorldSpec::Content),
    }
}

fn content_world(w: RawContentWorld) -> Result<ContentParams, Failure> {
    let d = ContentParams::default();
    let base = ContentParams {
        posts_per_day: w.posts_per_day.unwrap_or(d.posts_per_day),
        days: w.days.unwrap_or(d.days),
        authors: w.authors.unwrap_or(d.authors),
        vocab: w.vocab.unwrap_or(d.vocab),
        tokens_per_post: w.tokens_per_post.unwrap_or(d.tokens_per_post),
        lexicon_size: w.lexicon_size.unwrap_or(d.lexicon_size),
        keyword_coverage: w.keyword_coverage.unwrap_or(d.keyword_coverage),
        subtle_share: w.subtle_share.unwrap_or(d.subtle_share),
        benign_quote_rate: w.benign_quote_rate.unwrap_or(d.benign_quote_rate),
        drift: w
            .drift
            .into_iter()
            .map(|event| match event {
                RawContentDrift::NewCohort {
                    day,
                    authors,
                    propensity,
                } => ContentDrift::NewCohort {
                    day,
                    authors,
                    propensity,
                },
                RawContentDrift::TrendingTopic {
                    day,
                    share,
                    category,
                } => ContentDrift::TrendingTopic {
                    day,
                    share,
                    category,
                },
                RawContentDrift::PrevalenceChange {
                    day,
                    category,
                    factor,
                } => ContentDrift::PrevalenceChange {
                    day,
                    category,
                    factor,
                },
                RawContentDrift::VocabularySwap {
                    day,
                    category,
                    share,
                } => ContentDrift::VocabularySwap {
                    day,
                    category,
                    share,
                },
            })
            .collect(),
        ..d
    };
    let params = match w.prevalence {
        Some(p) if !(p.is_finite() && p > 0.0) => {
            return fail("world.prevalence", format!("is {p}, but must be above 0"));
        }
        Some(p) => super::content::with_prevalence(&base, p),
        None => base,
    };
    params.validate().or_else(|e| match e {
        WorldError::OutOfRange { name, .. } if name.contains("prevalence") => {
            fail("world.prevalence", e.to_string())
        }
        WorldError::OutOfRange { name, .. } => fail(format!("world.{name}"), e.to_string()),
        WorldError::TooLarge { .. } => fail("world", e.to_string()),
    })?;
    let posts = params.posts();
    if posts > BROWSER_MAX_POSTS {
        return fail(
            "world",
            format!(
                "asks for {posts} posts, more than the {BROWSER_MAX_POSTS} a browser runs in \
                 about a second; lower posts_per_day or days"
            ),
        );
    }
    Ok(params)
}

fn feed_world(w: RawFeedWorld) -> Result<FeedParams, Failure> {
    let d = FeedParams::default();
    let params = FeedParams {
        users: w.users.unwrap_or(d.users),
        creators: w.creators.unwrap_or(d.creators),
        posts_per_day: w.posts_per_day.unwrap_or(d.posts_per_day),
        days: w.days.unwrap_or(d.days),
        topics: w.topics.unwrap_or(d.topics),
        session_len: w.session_len.unwrap_or(d.session_len),
        daily_active: w.daily_active.unwrap_or(d.daily_active),
        position_bias: w.position_bias.unwrap_or(d.position_bias),
        follow_rate: w.follow_rate.unwrap_or(d.follow_rate),
        base_logit: w.base_logit.unwrap_or(d.base_logit),
        drift: w
            .drift
            .into_iter()
            .map(|event| match event {
                RawFeedDrift::InterestShift { day, strength } => {
                    FeedDrift::InterestShift { day, strength }
                }
                RawFeedDrift::NewCohort { day, users } => FeedDrift::NewCohort { day, users },
                RawFeedDrift::TrendingTopic { day, topic, boost } => {
                    FeedDrift::TrendingTopic { day, topic, boost }
                }
                RawFeedDrift::EngagementShift { day, logit } => {
                    FeedDrift::EngagementShift { day, logit }
                }
            })
            .collect(),
    };
    params.validate().or_else(|e| match e {
        WorldError::OutOfRange { name, .. } => fail(format!("world.{name}"), e.to_string()),
        WorldError::TooLarge { .. } => fail("world", e.to_string()),
    })?;
    let estimated = params.expected_impressions();
    if estimated > BROWSER_MAX_IMPRESSIONS {
        return fail(
            "world",
            format!(
                "asks for about {estimated} impressions, more than the \
                 {BROWSER_MAX_IMPRESSIONS} a browser runs in about a second; lower users, \
                 days or session_len"
            ),
        );
    }
    Ok(params)
}

fn steps(raw: &[RawStep], world: &WorldSpec) -> Result<Vec<Step>, Failure> {
    let mut seen_knobs = BTreeSet::new();
    let mut steps = Vec::with_capacity(DesignStep::ALL.len());
    let ids: Vec<&str> = DesignStep::ALL.iter().map(|s| s.id()).collect();
    for (i, expected) in DesignStep::ALL.into_iter().enumerate() {
        let Some(step) = raw.get(i) else {
            return fail(
                "steps",
                format!(
                    "has {} steps, but a study needs all nine, in order ({}); \
                     `{}` is missing",
                    raw.len(),
                    ids.join(", "),
                    expected.id()
                ),
            );
        };
        if step.id != expected.id() {
            return fail(
                format!("steps[{}].id", i + 1),
                format!(
                    "is `{}`, but step {} must be `{}` (the steps, in order: {})",
                    step.id,
                    i + 1,
                    expected.id(),
                    ids.join(", ")
                ),
            );
        }
        let at = format!("steps.{}", expected.id());
        if step.narrative.trim().is_empty() {
            return fail(format!("{at}.narrative"), "must not be empty");
        }
        let charts = step
            .charts
            .iter()
            .map(|c| chart(c, &format!("{at}.charts")))
            .collect::<Result<Vec<_>, _>>()?;
        let knobs = step
            .knobs
            .iter()
            .map(|k| {
                let field = format!("{at}.knobs.{}", k.id);
                if !seen_knobs.insert(k.id.clone()) {
                    return fail(field, "is offered twice; a knob belongs to one step");
                }
                knob(k, world, &field)
            })
            .collect::<Result<Vec<_>, _>>()?;
        steps.push(Step {
            step: expected,
            narrative: step.narrative.clone(),
            knobs,
            charts,
        });
    }
    if raw.len() > DesignStep::ALL.len() {
        return fail(
            "steps",
            format!("has {} steps; a study has exactly nine", raw.len()),
        );
    }
    Ok(steps)
}

fn chart(id: &str, field: &str) -> Result<Chart, Failure> {
    Chart::ALL.into_iter().find(|c| c.id() == id).map_or_else(
        || {
            let ids: Vec<&str> = Chart::ALL.iter().map(|c| c.id()).collect();
            fail(
                field,
                format!(
                    "names `{id}`, which is not a chart; charts are {}",
                    ids.join(", ")
                ),
            )
        },
        Ok,
    )
}

fn knob(raw: &RawKnob, world: &WorldSpec, at: &str) -> Result<Knob, Failure> {
    let Some(def) = world.knob_defs().find(|d| d.id == raw.id) else {
        let ids: Vec<&str> = world.knob_defs().map(|d| d.id).collect();
        return fail(
            format!("{at}.id"),
            format!(
                "is not a knob of the {} world; its knobs are {}",
                world.kind(),
                ids.join(", ")
            ),
        );
    };
    if raw.label.trim().is_empty() {
        return fail(format!("{at}.label"), "must not be empty");
    }
    if raw.help.trim().is_empty() {
        return fail(format!("{at}.help"), "must not be empty");
    }
    let (kind, integer) = knob_kind(raw, def, at)?;
    let mut knob = Knob {
        id: raw.id.clone(),
        label: raw.label.clone(),
        help: raw.help.clone(),
        kind,
        default: KnobValue::Toggle(false),
        integer,
    };
    knob.default = value(&knob, &raw.default, &format!("{at}.default"))?;
    Ok(knob)
}

fn knob_kind(raw: &RawKnob, def: &KnobDef, at: &str) -> Result<(KnobKind, bool), Failure> {
    let kind_field = format!("{at}.kind");
    let misplaced = |key: &str, kind: &str| {
        fail::<(KnobKind, bool)>(
            format!("{at}.{key}"),
            format!("does not apply to a {kind} knob"),
        )
    };
    match (raw.kind.as_str(), def.accepts) {
        ("choice", Accepts::Choice(allowed)) => {
            if raw.min.is_some() || raw.max.is_some() || raw.step.is_some() {
                return misplaced("min", "choice");
            }
            let Some(values) = raw.values.clone().filter(|v| !v.is_empty()) else {
                return fail(
                    format!("{at}.values"),
                    format!("must list at least one of {}", allowed.join(", ")),
                );
            };
            let mut seen = BTreeSet::new();
            for v in &values {
                if !allowed.contains(&v.as_str()) {
                    return fail(
                        format!("{at}.values"),
                        format!("names `{v}`; valid values are {}", allowed.join(", ")),
                    );
                }
                if !seen.insert(v) {
                    return fail(format!("{at}.values"), format!("lists `{v}` twice"));
                }
            }
            Ok((KnobKind::Choice { values }, false))
        }
        ("slider", Accepts::Number { min, max, integer }) => {
            if raw.values.is_some() {
                return misplaced("values", "slider");
            }
            let lo = raw.min.unwrap_or(min);
            let hi = raw.max.unwrap_or(max);
            let step = raw
                .step
                .unwrap_or(if integer { 1.0 } else { (hi - lo) / 100.0 });
            if !(lo.is_finite() && hi.is_finite() && min <= lo && lo < hi && hi <= max) {
                return fail(
                    format!("{at}.min"),
                    format!("min {lo} and max {hi} must satisfy {min} <= min < max <= {max}"),
                );
            }
            if !(step.is_finite() && step > 0.0 && step <= hi - lo)
                || (integer && (step.fract() != 0.0 || lo.fract() != 0.0 || hi.fract() != 0.0))
            {
                return fail(
                    format!("{at}.step"),
                    "must be positive, no larger than the range, and whole for a whole-number knob",
                );
            }
            Ok((
                KnobKind::Slider {
                    min: lo,
                    max: hi,
                    step,
                },
                integer,
            ))
        }
        ("toggle", Accepts::Toggle) => {
            if raw.values.is_some() {
                return misplaced("values", "toggle");
            }
            if raw.min.is_some() || raw.max.is_some() || raw.step.is_some() {
                return misplaced("min", "toggle");
            }
            Ok((KnobKind::Toggle, false))
        }
        (kind @ ("choice" | "slider" | "toggle"), accepts) => {
            let wanted = match accepts {
                Accepts::Choice(_) => "choice",
                Accepts::Number { .. } => "slider",
                Accepts::Toggle => "toggle",
            };
            fail(
                kind_field,
                format!("is `{kind}`, but knob `{}` is a {wanted}", def.id),
            )
        }
        (other, _) => fail(
            kind_field,
            format!("is `{other}`; a knob is a choice, slider or toggle"),
        ),
    }
}

/// Reads a written value as a value of `knob`, checking it is allowed.
fn value(knob: &Knob, raw: &RawValue, field: &str) -> Result<KnobValue, Failure> {
    let value = match (&knob.kind, raw) {
        (KnobKind::Choice { .. }, RawValue::Text(t)) => KnobValue::Choice(t.clone()),
        (KnobKind::Slider { .. }, RawValue::Int(i)) => KnobValue::Number(*i as f64),
        (KnobKind::Slider { .. }, RawValue::Float(x)) => KnobValue::Number(*x),
        (KnobKind::Toggle, RawValue::Bool(b)) => KnobValue::Toggle(*b),
        _ => {
            return fail(
                field,
                format!(
                    "has the wrong type for knob `{}`; {}",
                    knob.id,
                    knob.valid()
                ),
            );
        }
    };
    knob.check(&value).or_else(|e| fail(field, e))?;
    Ok(value)
}

fn claims(raw: Vec<RawClaim>, study: &Study) -> Result<Vec<Claim>, Failure> {
    let mut ids = BTreeSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, c)| {
            if c.id.trim().is_empty() {
                return fail(format!("claims[{}].id", i + 1), "must not be empty");
            }
            let at = format!("claims.{}", c.id);
            if !ids.insert(c.id.clone()) {
                return fail(at, "is claimed twice; claim ids must be distinct");
            }
            claim(c, study, &at)
        })
        .collect()
}

fn claim(c: RawClaim, study: &Study, at: &str) -> Result<Claim, Failure> {
    let Some(step) = DesignStep::from_id(&c.step) else {
        let ids: Vec<&str> = DesignStep::ALL.iter().map(|s| s.id()).collect();
        return fail(
            format!("{at}.step"),
            format!("is `{}`; steps are {}", c.step, ids.join(", ")),
        );
    };
    let offered = |id: &str, field: String| {
        study.knob(id).map_or_else(
            || {
                let ids: Vec<&str> = study.knobs().map(|k| k.id.as_str()).collect();
                fail(
                    field,
                    format!(
                        "names `{id}`, which the study does not offer; its knobs are {}",
                        ids.join(", ")
                    ),
                )
            },
            Ok,
        )
    };
    let knob = offered(&c.knob, format!("{at}.knob"))?;
    let value_ = value(knob, &c.value, &format!("{at}.value"))?;
    let baseline = match &c.baseline {
        Some(b) => value(knob, b, &format!("{at}.baseline"))?,
        None => knob.default.clone(),
    };
    if value_ == baseline {
        return fail(
            format!("{at}.value"),
            "equals the baseline; a claim compares two different values",
        );
    }
    let mut given = BTreeMap::new();
    for (id, raw) in &c.given {
        let field = format!("{at}.given.{id}");
        if *id == c.knob {
            return fail(
                field,
                "is the claim's own knob; set it with value and baseline",
            );
        }
        let k = offered(id, field.clone())?;
        given.insert(id.clone(), value(k, raw, &field)?);
    }
    if study.world.metric(&c.metric).is_none() {
        return fail(
            format!("{at}.metric"),
            format!(
                "is `{}`, which the {} report does not have; its metrics are {}",
                c.metric,
                study.world.kind(),
                study
                    .world
                    .metrics()
                    .map(|m| m.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let (direction, by_at_least, by_at_most) = bounds(&c, at)?;
    if c.why.trim().is_empty() {
        return fail(format!("{at}.why"), "must not be empty");
    }
    Ok(Claim {
        id: c.id,
        step,
        knob: c.knob,
        value: value_,
        baseline,
        given,
        metric: c.metric,
        direction,
        by_at_least,
        by_at_most,
        why: c.why,
    })
}

/// A claim's direction and the bounds on its change.
fn bounds(c: &RawClaim, at: &str) -> Result<(Direction, f64, f64), Failure> {
    let direction = match c.direction.as_str() {
        "up" => Direction::Up,
        "down" => Direction::Down,
        "either" => Direction::Either,
        other => {
            return fail(
                format!("{at}.direction"),
                format!("is `{other}`; a direction is up, down or either"),
            );
        }
    };
    let by_at_least = c.by_at_least.unwrap_or(0.0);
    let by_at_most = c.by_at_most.unwrap_or(f64::INFINITY);
    if c.by_at_least.is_none() && c.by_at_most.is_none() {
        return fail(
            format!("{at}.by_at_least"),
            "is missing; a claim bounds the change with by_at_least, by_at_most or both",
        );
    }
    if !(by_at_least.is_finite() && by_at_least >= 0.0 && by_at_least < by_at_most)
        || by_at_most.is_nan()
    {
        return fail(
            format!("{at}.by_at_least"),
            "must satisfy 0 <= by_at_least < by_at_most",
        );
    }
    Ok((direction, by_at_least, by_at_most))
}
