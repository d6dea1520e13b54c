//! The engine as a service: a request in, a reply out. In the browser it runs
//! in a dedicated Web Worker (`web.rs`, started by `src/bin/worker.rs`), so
//! the page's thread never waits for a training run; the page talks to it in
//! the messages of `protocol.rs`. The service itself is plain Rust and is
//! tested natively.

pub mod protocol;
#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
pub use web::start;

use crate::study::{Design, Runner, Study, bundled_studies, parse_study};
use protocol::{Reply, Request, RunSummary, StudyRef, design_from_pairs};

/// Summaries kept: the default design's, the pinned one's, and the last
/// few designs run, so pinning the design on screen or going back to a
/// recent one answers at once.
const CACHED_SUMMARIES: usize = 6;

/// Answers requests with one [`Runner`] kept across them, so a re-run only
/// recomputes the stages whose inputs changed.
#[derive(Debug, Default)]
pub struct Service {
    runner: Runner,
    /// The bundled studies, parsed on first use.
    bundled: Option<Vec<Study>>,
    /// Recent summaries, the most recently used last.
    summaries: Vec<(StudyRef, Design, RunSummary)>,
}

impl Service {
    /// Decodes a request, answers it, and encodes the reply.
    pub fn handle_text(&mut self, text: &str) -> String {
        let reply = match protocol::decode::<Request>(text) {
            Ok(request) => self.handle(request),
            Err(e) => Reply::Rejected {
                message: format!("the engine could not read a request: {e}"),
            },
        };
        protocol::encode(&reply)
    }

    /// Answers one request.
    pub fn handle(&mut self, request: Request) -> Reply {
        match request {
            Request::Run {
                generation,
                study,
                seed,
                design,
                pinned,
            } => {
                let (report, baseline) = self.run(&study, seed, &design);
                let pinned = pinned.map(|pairs| {
                    let study_ref = &study;
                    let study = self.study(study_ref)?;
                    let design = design_from_pairs(&study, seed, &pairs)?;
                    self.summary(study_ref, &study, &design)
                });
                Reply::Ran {
                    generation,
                    report,
                    baseline,
                    pinned,
                }
            }
            Request::Check {
                id,
                study,
                claim,
                seed,
            } => Reply::Checked {
                id,
                outcome: self.check(&study, &claim, seed),
            },
        }
    }

    /// The design's summary and the default design's.
    fn run(
        &mut self,
        study_ref: &StudyRef,
        seed: u64,
        pairs: &[(String, String)],
    ) -> (Result<RunSummary, String>, Option<RunSummary>) {
        let study = match self.study(study_ref) {
            Ok(study) => study,
            Err(e) => return (Err(e), None),
        };
        let baseline = self.summary(study_ref, &study, &study.default_design(seed));
        let report = design_from_pairs(&study, seed, pairs)
            .and_then(|design| self.summary(study_ref, &study, &design));
        (report, baseline.ok())
    }

    /// The summary of `design`: kept from a recent run, or run now.
    fn summary(
        &mut self,
        study_ref: &StudyRef,
        study: &Study,
        design: &Design,
    ) -> Result<RunSummary, String> {
        if let Some(i) = self
            .summaries
            .iter()
            .position(|(r, d, _)| r == study_ref && d == design)
        {
            let entry = self.summaries.remove(i);
            let summary = entry.2.clone();
            self.summaries.push(entry);
            return Ok(summary);
        }
        let summary = self
            .runner
            .run(study, design)
            .map(|report| RunSummary::from(&report))
            .map_err(|e| e.to_string())?;
        if self.summaries.len() == CACHED_SUMMARIES {
            self.summaries.remove(0);
        }
        self.summaries
            .push((study_ref.clone(), design.clone(), summary.clone()));
        Ok(summary)
    }

    fn check(
        &mut self,
        study_ref: &StudyRef,
        claim_id: &str,
        seed: u64,
    ) -> Result<protocol::ClaimOutcome, String> {
        let study = self.study(study_ref)?;
        let claim = study
            .claims
            .iter()
            .find(|c| c.id == claim_id)
            .ok_or_else(|| format!("{} has no claim `{claim_id}`", study.meta.id))?;
        self.runner
            .check(&study, claim, seed)
            .map(Into::into)
            .map_err(|e| e.to_string())
    }

    /// The study a request names: a bundled one by id, or a user's file
    /// parsed and validated.
    fn study(&mut self, study_ref: &StudyRef) -> Result<Study, String> {
        match study_ref {
            StudyRef::Bundled { id } => {
                if self.bundled.is_none() {
                    self.bundled = Some(bundled_studies().map_err(|e| e.to_string())?);
                }
                self.bundled
                    .iter()
                    .flatten()
                    .find(|s| s.meta.id == *id)
                    .cloned()
                    .ok_or_else(|| format!("there is no bundled case study `{id}`"))
            }
            StudyRef::Source { name, toml } => parse_study(name, toml).map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::DEFAULT_SEED;

    fn content_ref() -> StudyRef {
        StudyRef::Bundled {
            id: "harmful-content".to_owned(),
        }
    }

    fn content_study() -> Study {
        bundled_studies()
            .unwrap()
            .into_iter()
            .find(|s| s.meta.id == "harmful-content")
            .unwrap()
    }

    #[test]
    fn a_run_answers_with_the_report_and_the_default_design() {
        let study = content_study();
        let mut design = study.default_design(DEFAULT_SEED);
        study.set(&mut design, "model", "gbdt").unwrap();
        let mut service = Service::default();
        let text = service.handle_text(&protocol::encode(&Request::run(5, content_ref(), &design)));
        let Reply::Ran {
            generation,
            report,
            baseline,
            pinned: None,
        } = protocol::decode(&text).unwrap()
        else {
            panic!("a run reply: {text}");
        };
        assert_eq!(generation, 5);
        let report = report.unwrap();
        let baseline = baseline.unwrap();

        // The same numbers as running the engine directly.
        let mut runner = Runner::default();
        let direct = runner.run(&study, &design).unwrap();
        assert_eq!(report, RunSummary::from(&direct));
        let direct = runner
            .run(&study, &study.default_design(DEFAULT_SEED))
            .unwrap();
        assert_eq!(baseline, RunSummary::from(&direct));
        assert_ne!(report.metrics, baseline.metrics);

        // The default design answers with the baseline itself.
        let again = service.handle(Request::run(
            6,
            content_ref(),
            &study.default_design(DEFAULT_SEED),
        ));
        let Reply::Ran { report, .. } = again else {
            panic!("a run reply");
        };
        assert_eq!(report.unwrap(), baseline);
    }

    #[test]
    fn compare_mode_answers_with_the_pinned_design_too() {
        let study = content_study();
        let pinned = study.default_design(DEFAULT_SEED);
        let mut design = pinned.clone();
        study.set(&mut design, "model", "keyword_rule").unwrap();
        let mut service = Service::default();
        let Reply::Ran {
            report,
            baseline,
            pinned: Some(Ok(pinned_summary)),
            ..
        } = service.handle(Request::run(1, content_ref(), &design).with_pin(Some(&pinned)))
        else {
            panic!("a run reply with the pinned design");
        };
        assert_eq!(Some(pinned_summary.clone()), baseline);
        assert_ne!(report.unwrap().metrics, pinned_summary.metrics);

        // A pin the study cannot read is an error beside a good run.
        let mut bad = pinned.clone();
        bad.values.insert(
            "model".to_owned(),
            crate::study::KnobValue::Choice("forest".to_owned()),
        );
        let Reply::Ran {
            report,
            pinned: Some(Err(message)),
            ..
        } = service.handle(Request::run(2, content_ref(), &design).with_pin(Some(&bad)))
        else {
            panic!("a run reply with the pin's error");
        };
        assert!(report.is_ok());
        assert!(message.contains("forest"), "{message}");
    }

    #[test]
    fn errors_are_replies_that_say_what_is_wrong() {
        let mut service = Service::default();
        let unknown = service.handle(Request::Run {
            generation: 1,
            study: StudyRef::Bundled {
                id: "nope".to_owned(),
            },
            seed: 1,
            design: Vec::new(),
            pinned: None,
        });
        let Reply::Ran { report, .. } = unknown else {
            panic!("a run reply");
        };
        assert!(report.unwrap_err().contains("nope"));

        let broken = service.handle(Request::Check {
            id: 2,
            study: StudyRef::Source {
                name: "mine.toml".to_owned(),
                toml: "[meta]\nid = 3".to_owned(),
            },
            claim: "c".to_owned(),
            seed: 1,
        });
        let Reply::Checked { id, outcome } = broken else {
            panic!("a check reply");
        };
        assert_eq!(id, 2);
        assert!(outcome.unwrap_err().contains("mine.toml"));

        let Reply::Rejected { message } = protocol::decode(&service.handle_text("{}")).unwrap()
        else {
            panic!("a rejection");
        };
        assert!(message.contains("could not read"), "{message}");
    }

    #[test]
    fn a_claim_is_checked_as_the_runner_checks_it() {
        let study = content_study();
        let claim = study.claims[0].clone();
        let mut service = Service::default();
        let Reply::Checked { outcome, .. } = service.handle(Request::Check {
            id: 1,
            study: content_ref(),
            claim: claim.id.clone(),
            seed: 2,
        }) else {
            panic!("a check reply");
        };
        let direct = Runner::default().check(&study, &claim, 2).unwrap();
        assert_eq!(outcome.unwrap(), direct.into());
    }
}
