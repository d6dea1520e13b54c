//! The app's state in a URL query: which study, the seed, every knob that
//! differs from the study's default, the current step, and in compare mode
//! the pinned design (`pin=model:gbdt,trees:100`: the knobs where it differs
//! from the default, at the same seed; `pin=` pins the default). Reading never
//! fails: a bad value gets a notice and the default for that one setting,
//! so a link always opens something.
//!
//! Embed mode (`embed=1`) is the compact view a blog post puts in an
//! iframe: `panels=` chooses what shows (`narrative`, `knobs`, `charts`,
//! `cards`; knobs, charts and cards unless it says otherwise) and `knobs=`
//! which knobs, by id, from any step (the current step's unless it says).
//!
//! This module works on decoded `(name, value)` pairs; the browser's
//! `URLSearchParams` does the percent-encoding.

use super::knobs::{DEFAULT_SEED, Design};
use super::{DesignStep, Study};

/// Query names that are not knobs.
const STUDY: &str = "study";
const SEED: &str = "seed";
const STEP: &str = "step";
const PIN: &str = "pin";
const EMBED: &str = "embed";
const PANELS: &str = "panels";
const KNOBS: &str = "knobs";

/// Every query name this module reads itself; no knob may be named so.
pub const NAMES: [&str; 7] = [STUDY, SEED, STEP, PIN, EMBED, PANELS, KNOBS];

/// What an embedded view can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    /// The current step's narrative.
    Narrative,
    /// The knobs, with their help text.
    Knobs,
    /// The current step's charts.
    Charts,
    /// The metric cards, with the change against the default design.
    Cards,
}

impl Panel {
    pub const ALL: [Panel; 4] = [Panel::Narrative, Panel::Knobs, Panel::Charts, Panel::Cards];
    /// Shown when `panels=` is absent or names nothing valid.
    pub const DEFAULT: [Panel; 3] = [Panel::Knobs, Panel::Charts, Panel::Cards];

    pub fn id(self) -> &'static str {
        match self {
            Panel::Narrative => "narrative",
            Panel::Knobs => "knobs",
            Panel::Charts => "charts",
            Panel::Cards => "cards",
        }
    }
}

/// The compact view for an iframe.
#[derive(Clone, Debug, PartialEq)]
pub struct Embed {
    /// What shows, in the order the URL named it (duplicates dropped).
    pub panels: Vec<Panel>,
    /// The knobs shown, by id; `None` shows the current step's.
    pub knobs: Option<Vec<String>>,
}

impl Embed {
    pub fn shows(&self, panel: Panel) -> bool {
        self.panels.contains(&panel)
    }
}

impl Default for Embed {
    fn default() -> Self {
        Embed {
            panels: Panel::DEFAULT.to_vec(),
            knobs: None,
        }
    }
}

/// What a URL asks for, after every value was checked.
#[derive(Clone, Debug, PartialEq)]
pub struct UrlState {
    /// Index of the study in the list the URL was read against.
    pub study: usize,
    pub design: Design,
    pub step: DesignStep,
    /// The pinned design, in compare mode.
    pub pin: Option<Design>,
    /// Embed mode's compact view, when `embed=1`.
    pub embed: Option<Embed>,
    /// One sentence per setting that was ignored, and why.
    pub notices: Vec<String>,
}

/// Reads decoded query pairs against `studies` (the first is the default).
/// Settings the app itself adds, such as `embed`, are skipped when listed in
/// `reserved`.
pub fn read(pairs: &[(String, String)], studies: &[Study], reserved: &[&str]) -> UrlState {
    let mut notices = Vec::new();
    let mut study = 0;
    if let Some((_, id)) = pairs.iter().find(|(k, _)| k == STUDY) {
        match studies.iter().position(|s| s.meta.id == *id) {
            Some(i) => study = i,
            None => notices.push(format!(
                "There is no case study `{id}`; showing {}.",
                studies
                    .first()
                    .map_or("the default", |s| s.meta.title.as_str())
            )),
        }
    }
    let mut seed = DEFAULT_SEED;
    if let Some((_, text)) = pairs.iter().find(|(k, _)| k == SEED) {
        match text.trim().parse::<u64>() {
            Ok(s) => seed = s,
            Err(_) => notices.push(format!(
                "`seed={text}` is not a whole number from 0 to {}; using seed {DEFAULT_SEED}.",
                u64::MAX
            )),
        }
    }
    let mut step = DesignStep::ProblemFormulation;
    if let Some((_, id)) = pairs.iter().find(|(k, _)| k == STEP) {
        match DesignStep::from_id(id) {
            Some(s) => step = s,
            None => notices.push(format!(
                "`step={id}` is not a step; starting at {}.",
                step.title()
            )),
        }
    }
    let Some(chosen) = studies.get(study) else {
        return UrlState {
            study,
            design: Design {
                seed,
                values: std::collections::BTreeMap::new(),
            },
            step,
            pin: None,
            embed: None,
            notices,
        };
    };
    let mut design = chosen.default_design(seed);
    for (name, value) in pairs {
        if NAMES.contains(&name.as_str()) || reserved.contains(&name.as_str()) {
            continue;
        }
        if let Err(reason) = chosen.set(&mut design, name, value) {
            let fallback = chosen
                .knob(name)
                .map(|k| format!("; using the default, {}", k.default))
                .unwrap_or_default();
            notices.push(format!("Ignored `{name}={value}`: {reason}{fallback}."));
        }
    }
    let pin = pairs
        .iter()
        .find(|(k, _)| k == PIN)
        .map(|(_, text)| read_pin(chosen, seed, text, &mut notices));
    let embed = read_embed(pairs, chosen, &mut notices);
    UrlState {
        study,
        design,
        step,
        pin,
        embed,
        notices,
    }
}

/// Embed mode's settings: `embed=1` turns it on (`embed=0` or none leaves
/// it off); an unknown panel or knob gets a notice and is left out.
fn read_embed(
    pairs: &[(String, String)],
    study: &Study,
    notices: &mut Vec<String>,
) -> Option<Embed> {
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match value(EMBED).map(str::trim) {
        None | Some("0" | "false") => return None,
        Some("1" | "true" | "") => {}
        Some(other) => {
            notices.push(format!(
                "`embed={other}` is not 1 or 0; showing the embedded view."
            ));
        }
    }
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut embed = Embed::default();
    if let Some(text) = value(PANELS) {
        let mut panels = Vec::new();
        for name in list(text) {
            match Panel::ALL.into_iter().find(|p| p.id() == name) {
                Some(p) if !panels.contains(&p) => panels.push(p),
                Some(_) => {}
                None => {
                    let ids: Vec<&str> = Panel::ALL.iter().map(|p| p.id()).collect();
                    notices.push(format!(
                        "Ignored the panel `{name}`: panels are {}.",
                        ids.join(", ")
                    ));
                }
            }
        }
        if !panels.is_empty() {
            embed.panels = panels;
        }
    }
    if let Some(text) = value(KNOBS) {
        let mut knobs = Vec::new();
        for id in list(text) {
            if study.knob(&id).is_none() {
                notices.push(format!(
                    "Ignored the knob `{id}`: {} has no such knob.",
                    study.meta.title
                ));
            } else if !knobs.contains(&id) {
                knobs.push(id);
            }
        }
        embed.knobs = Some(knobs);
    }
    Some(embed)
}

/// The query pairs that turn on `embed`, to add to [`write`]'s.
pub fn embed_pairs(embed: &Embed) -> Vec<(String, String)> {
    let ids: Vec<&str> = embed.panels.iter().map(|p| p.id()).collect();
    let mut pairs = vec![
        (EMBED.to_owned(), "1".to_owned()),
        (PANELS.to_owned(), ids.join(",")),
    ];
    if let Some(knobs) = &embed.knobs {
        pairs.push((KNOBS.to_owned(), knobs.join(",")));
    }
    pairs
}

/// The HTML a blog post pastes to embed the view at `address` (a full,
/// percent-encoded URL that already carries the embed pairs).
pub fn embed_snippet(address: &str, title: &str) -> String {
    format!(
        "<iframe src=\"{}\" title=\"Casebook: {}\" width=\"100%\" height=\"640\" \
         style=\"border:0\" loading=\"lazy\"></iframe>",
        escape_attribute(address),
        escape_attribute(title)
    )
}

/// `text` made safe inside a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The pinned design `knob:value,knob:value` names; a part that is not a
/// valid knob and value gets a notice and is left at the default.
fn read_pin(study: &Study, seed: u64, text: &str, notices: &mut Vec<String>) -> Design {
    let mut pin = study.default_design(seed);
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let outcome = part
            .split_once(':')
            .ok_or_else(|| "write each knob of the pin as `knob:value`".to_owned())
            .and_then(|(name, value)| study.set(&mut pin, name.trim(), value.trim()));
        if let Err(reason) = outcome {
            notices.push(format!(
                "Ignored `{part}` in the pinned design: {reason}; it keeps the default."
            ));
        }
    }
    pin
}

/// The query pairs for a state: the study, the seed and step unless they
/// are the defaults, each knob whose value differs from the study's
/// default, in the study's knob order, and the pinned design.
pub fn write(
    study: &Study,
    design: &Design,
    step: DesignStep,
    pin: Option<&Design>,
) -> Vec<(String, String)> {
    let mut pairs = vec![(STUDY.to_owned(), study.meta.id.clone())];
    if design.seed != DEFAULT_SEED {
        pairs.push((SEED.to_owned(), design.seed.to_string()));
    }
    if step != DesignStep::ProblemFormulation {
        pairs.push((STEP.to_owned(), step.id().to_owned()));
    }
    pairs.extend(changed(study, design).map(|(id, value)| (id.to_owned(), value)));
    if let Some(pin) = pin {
        let parts: Vec<String> = changed(study, pin)
            .map(|(id, value)| format!("{id}:{value}"))
            .collect();
        pairs.push((PIN.to_owned(), parts.join(",")));
    }
    pairs
}

/// Each knob of `design` that differs from the study's default, in the
/// study's knob order, with its value as text.
fn changed<'a>(study: &'a Study, design: &'a Design) -> impl Iterator<Item = (&'a str, String)> {
    study.knobs().filter_map(|knob| {
        let value = design.get(&knob.id)?;
        (*value != knob.default).then(|| (knob.id.as_str(), value.to_string()))
    })
}

/// The pinned design in words: `model = gbdt, trees = 100`, or "the
/// default design".
pub fn describe_pin(study: &Study, pin: &Design) -> String {
    let parts: Vec<String> = changed(study, pin)
        .map(|(id, value)| {
            let label = study.knob(id).map_or(id, |k| k.label.as_str());
            format!("{label} = {value}")
        })
        .collect();
    if parts.is_empty() {
        "the default design".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::{KnobValue, bundled_studies};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_written_state_reads_back_the_same() {
        let studies = bundled_studies().unwrap();
        let study = &studies[0];
        let mut design = study.default_design(7);
        study.set(&mut design, "model", "gbdt").unwrap();
        study.set(&mut design, "neg_rate", "0.25").unwrap();
        study.set(&mut design, "recalibrate", "false").unwrap();
        let written = write(study, &design, DesignStep::Features, None);
        assert_eq!(
            written,
            pairs(&[
                ("study", "feed-ranking"),
                ("seed", "7"),
                ("step", "features"),
                ("neg_rate", "0.25"),
                ("recalibrate", "false"),
                ("model", "gbdt"),
            ])
        );
        let state = read(&written, &studies, &[]);
        assert_eq!(state.design, design);
        assert_eq!(state.step, DesignStep::Features);
        assert!(state.notices.is_empty(), "{:?}", state.notices);
    }

    #[test]
    fn bad_values_fall_back_per_setting_with_a_notice() {
        let studies = bundled_studies().unwrap();
        let state = read(
            &pairs(&[
                ("study", "feed-ranking"),
                ("seed", "-3"),
                ("step", "lunch"),
                ("model", "forest"),
                ("trees", "50"),
                ("colour", "red"),
                ("embed", "1"),
            ]),
            &studies,
            &["embed"],
        );
        assert_eq!(state.design.seed, DEFAULT_SEED);
        assert_eq!(state.step, DesignStep::ProblemFormulation);
        assert_eq!(
            state.design.get("model"),
            Some(&KnobValue::Choice("logistic".into()))
        );
        assert_eq!(state.design.get("trees"), Some(&KnobValue::Number(50.0)));
        assert_eq!(state.notices.len(), 4, "{:?}", state.notices);
        assert!(state.notices[2].contains("using the default, logistic"));
        assert!(state.notices[3].contains("colour"));
    }

    #[test]
    fn a_pin_round_trips_and_a_bad_part_keeps_the_default() {
        let studies = bundled_studies().unwrap();
        let study = &studies[0];
        let design = study.default_design(9);
        let mut pin = design.clone();
        study.set(&mut pin, "model", "gbdt").unwrap();
        study.set(&mut pin, "trees", "200").unwrap();
        let written = write(
            study,
            &design,
            DesignStep::ModelAndOfflineEvaluation,
            Some(&pin),
        );
        assert_eq!(
            written.last(),
            Some(&("pin".to_owned(), "model:gbdt,trees:200".to_owned()))
        );
        let state = read(&written, &studies, &[]);
        assert_eq!(state.pin.as_ref(), Some(&pin));
        assert_eq!(state.design, design);
        assert!(state.notices.is_empty(), "{:?}", state.notices);
        assert_eq!(describe_pin(study, &pin), "Model = gbdt, Trees = 200");

        // The default design pinned is an empty pin.
        let written = write(
            study,
            &design,
            DesignStep::ProblemFormulation,
            Some(&design),
        );
        assert_eq!(written.last(), Some(&("pin".to_owned(), String::new())));
        assert_eq!(read(&written, &studies, &[]).pin, Some(design.clone()));

        let state = read(
            &pairs(&[("pin", "model:forest,trees:200,oops")]),
            &studies,
            &[],
        );
        let pin = state.pin.unwrap();
        assert_eq!(
            pin.get("model"),
            Some(&KnobValue::Choice("logistic".into()))
        );
        assert_eq!(pin.get("trees"), Some(&KnobValue::Number(200.0)));
        assert_eq!(state.notices.len(), 2, "{:?}", state.notices);
        assert!(state.notices[0].contains("model:forest"));
        assert!(state.notices[1].contains("knob:value"));
    }

    #[test]
    fn embed_mode_reads_its_panels_and_knobs_and_writes_them_back() {
        let studies = bundled_studies().unwrap();
        let state = read(
            &pairs(&[("step", "model"), ("model", "gbdt"), ("embed", "1")]),
            &studies,
            &[],
        );
        assert_eq!(state.embed, Some(Embed::default()));
        assert!(state.notices.is_empty(), "{:?}", state.notices);
        assert_eq!(
            state.design.get("model"),
            Some(&KnobValue::Choice("gbdt".into()))
        );
        let state = read(
            &pairs(&[
                ("embed", "1"),
                ("panels", "cards,charts,cards,sidebar"),
                ("knobs", "model, quantization,colour"),
            ]),
            &studies,
            &[],
        );
        let embed = state.embed.unwrap();
        assert_eq!(embed.panels, vec![Panel::Cards, Panel::Charts]);
        assert!(embed.shows(Panel::Cards) && !embed.shows(Panel::Knobs));
        assert_eq!(
            embed.knobs.as_deref(),
            Some(&["model".to_owned(), "quantization".to_owned()][..])
        );
        assert_eq!(state.notices.len(), 2, "{:?}", state.notices);
        assert!(state.notices[0].contains("sidebar") && state.notices[0].contains("narrative"));
        assert!(state.notices[1].contains("colour"));
        let written = embed_pairs(&embed);
        assert_eq!(
            written,
            pairs(&[
                ("embed", "1"),
                ("panels", "cards,charts"),
                ("knobs", "model,quantization")
            ])
        );
        assert_eq!(read(&written, &studies, &[]).embed, Some(embed));
        assert_eq!(read(&pairs(&[("embed", "0")]), &studies, &[]).embed, None);
        assert_eq!(read(&pairs(&[]), &studies, &[]).embed, None);
    }

    #[test]
    fn the_embed_snippet_escapes_its_address_and_title() {
        let snippet = embed_snippet("https://x.test/?a=1&b=\"2\"", "Feed <ranking>");
        assert_eq!(
            snippet,
            "<iframe src=\"https://x.test/?a=1&amp;b=&quot;2&quot;\" \
             title=\"Casebook: Feed &lt;ranking&gt;\" width=\"100%\" height=\"640\" \
             style=\"border:0\" loading=\"lazy\"></iframe>"
        );
    }

    #[test]
    fn no_knob_of_any_world_is_named_like_a_setting_of_the_url() {
        for study in bundled_studies().unwrap() {
            for def in study.world.knob_defs() {
                assert!(!NAMES.contains(&def.id), "{} is a URL setting", def.id);
            }
        }
    }

    #[test]
    fn an_unknown_study_opens_the_default() {
        let studies = bundled_studies().unwrap();
        let state = read(&pairs(&[("study", "nope")]), &studies, &[]);
        assert_eq!(state.study, 0);
        assert_eq!(state.notices.len(), 1);
        assert_eq!(state.design, studies[0].default_design(DEFAULT_SEED));
    }
}
