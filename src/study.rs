//! Case studies: the nine design steps every study walks, and the study files
//! under `case_studies/`, parsed once into validated types.

use std::fmt;

use serde::Deserialize;
use thiserror::Error;

/// The nine steps of an ML system design, in the order a study walks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DesignStep {
    ProblemFormulation,
    Metrics,
    Architecture,
    DataAndLabels,
    Features,
    ModelAndOfflineEvaluation,
    PredictionService,
    OnlineTesting,
    ScalingAndMonitoring,
}

impl DesignStep {
    /// Every step, in order.
    pub const ALL: [DesignStep; 9] = [
        DesignStep::ProblemFormulation,
        DesignStep::Metrics,
        DesignStep::Architecture,
        DesignStep::DataAndLabels,
        DesignStep::Features,
        DesignStep::ModelAndOfflineEvaluation,
        DesignStep::PredictionService,
        DesignStep::OnlineTesting,
        DesignStep::ScalingAndMonitoring,
    ];

    /// The step's title as the UI shows it.
    pub fn title(self) -> &'static str {
        match self {
            DesignStep::ProblemFormulation => "Problem formulation",
            DesignStep::Metrics => "Metrics, offline and online",
            DesignStep::Architecture => "Architecture",
            DesignStep::DataAndLabels => "Data collection and labels",
            DesignStep::Features => "Feature engineering",
            DesignStep::ModelAndOfflineEvaluation => "Model development and offline evaluation",
            DesignStep::PredictionService => "Prediction service",
            DesignStep::OnlineTesting => "Online testing and deployment",
            DesignStep::ScalingAndMonitoring => "Scaling, monitoring and updates",
        }
    }

    /// The step's position, counted from 1.
    pub fn number(self) -> usize {
        self as usize + 1
    }
}

/// What a study is, as its card on the home page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudyMeta {
    /// Stable identifier, used in URLs: lowercase letters, digits and hyphens.
    pub id: String,
    pub title: String,
    pub summary: String,
    /// Estimated minutes to walk the whole study.
    pub minutes: u32,
    pub sources: Vec<String>,
}

/// A case-study file that failed to parse or validate. Every variant names the
/// file and, where there is one, the field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StudyError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: field `{field}` {reason}")]
    Invalid {
        file: String,
        field: &'static str,
        reason: String,
    },
}

/// The studies shipped with Casebook, in the order the home page lists them.
/// The first is the one the app opens by default.
const BUNDLED: [(&str, &str); 2] = [
    (
        "case_studies/feed-ranking.toml",
        include_str!("../case_studies/feed-ranking.toml"),
    ),
    (
        "case_studies/harmful-content.toml",
        include_str!("../case_studies/harmful-content.toml"),
    ),
];

/// Parses every bundled study. A bundled file that fails is a bug that the
/// tests catch; callers still get the error rather than a panic.
///
/// # Errors
/// The first bundled file that fails to parse or validate.
pub fn bundled_studies() -> Result<Vec<StudyMeta>, StudyError> {
    BUNDLED
        .iter()
        .map(|(file, text)| parse_study(file, text))
        .collect()
}

/// Parses and validates one study file; `file` names it in errors.
///
/// # Errors
/// [`StudyError::Syntax`] for malformed TOML, a missing or unknown key;
/// [`StudyError::Invalid`] for a value out of its allowed range.
pub fn parse_study(file: &str, text: &str) -> Result<StudyMeta, StudyError> {
    let raw: RawStudy = toml::from_str(text).map_err(|e| StudyError::Syntax {
        file: file.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let meta = raw.meta;
    let invalid = |field, reason: &str| StudyError::Invalid {
        file: file.to_owned(),
        field,
        reason: reason.to_owned(),
    };
    let id_ok = !meta.id.is_empty()
        && meta
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(invalid(
            "meta.id",
            "must be non-empty and use only lowercase letters, digits and hyphens",
        ));
    }
    if meta.title.trim().is_empty() {
        return Err(invalid("meta.title", "must not be empty"));
    }
    if meta.summary.trim().is_empty() {
        return Err(invalid("meta.summary", "must not be empty"));
    }
    if !(1..=600).contains(&meta.minutes) {
        return Err(invalid("meta.minutes", "must be between 1 and 600"));
    }
    Ok(StudyMeta {
        id: meta.id,
        title: meta.title,
        summary: meta.summary,
        minutes: meta.minutes,
        sources: meta.sources,
    })
}

impl fmt::Display for StudyMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}\t{} min", self.id, self.title, self.minutes)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    meta: RawMeta,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    id: String,
    title: String,
    summary: String,
    minutes: u32,
    #[serde(default)]
    sources: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_steps_numbered_in_order() {
        let numbers: Vec<usize> = DesignStep::ALL.iter().map(|s| s.number()).collect();
        assert_eq!(numbers, (1..=9).collect::<Vec<_>>());
        assert_eq!(
            DesignStep::ALL[8].title(),
            "Scaling, monitoring and updates"
        );
    }

    #[test]
    fn bundled_studies_parse_with_distinct_ids() {
        let studies = bundled_studies().expect("bundled studies are valid");
        let ids: Vec<&str> = studies.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["feed-ranking", "harmful-content"]);
        assert!(studies.iter().all(|s| s.summary.len() > 80));
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let text = "[meta]\nid = \"x\"\ntitle = \"T\"\nsummary = \"S\"\nminutes = 3\ncolour = 1\n";
        let err = parse_study("mine.toml", text).unwrap_err().to_string();
        assert!(err.starts_with("mine.toml: "), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn bad_id_names_the_field() {
        let text = "[meta]\nid = \"Feed Ranking\"\ntitle = \"T\"\nsummary = \"S\"\nminutes = 3\n";
        let err = parse_study("mine.toml", text).unwrap_err();
        assert!(
            matches!(
                err,
                StudyError::Invalid {
                    field: "meta.id",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_meta_is_an_error_not_a_panic() {
        let err = parse_study("empty.toml", "").unwrap_err().to_string();
        assert!(err.contains("meta"), "{err}");
    }
}
