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

use crate::compute::{Compute, block_on};
use crate::engine::pipeline::Stage;
use crate::study::{Design, Runner, Scope, Study, bundled_studies, parse_study};
use protocol::{Reply, Request, RunSummary, StudyRef, design_from_pairs};

/// Summaries kept: the default design's, the pinned one's, and the last
/// few designs run, so pinning the design on screen or going back to a
/// recent one answers at once.
const CACHED_SUMMARIES: usize = 6;

/// Posts each stage of the run of `generation` for the design `of` as a
/// [`Reply::Progress`].
fn announce<'a>(
    post: &'a mut dyn FnMut(Reply),
    generation: u64,
    of: &'static str,
) -> impl FnMut(Stage) + 'a {
    move |stage: Stage| {
        post(Reply::Progress {
            generation,
            of: of.to_owned(),
            stage: stage.label().to_owned(),
            step: stage.number() as u32,
            steps: Stage::ALL.len() as u32,
        });
    }
}

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
    /// A service whose runs compute on `compute`.
    pub fn new(compute: Compute) -> Service {
        Service {
            runner: Runner::new(compute),
            ..Service::default()
        }
    }

    /// Decodes a request, answers it, and encodes the reply.
    pub fn handle_text(&mut self, text: &str) -> String {
        self.handle_text_with(text, &mut |_| {})
    }

    /// [`Service::handle_text`], posting each [`Reply::Progress`] (encoded)
    /// to `post` while the run goes on.
    pub fn handle_text_with(&mut self, text: &str, post: &mut dyn FnMut(String)) -> String {
        block_on(self.handle_text_async(text, post))
    }

    /// [`Service::handle_text_with`], awaiting the GPU's kernels where the
    /// service has one (the worker's way: a browser may not block on them).
    pub async fn handle_text_async(&mut self, text: &str, post: &mut dyn FnMut(String)) -> String {
        let reply = match protocol::decode::<Request>(text) {
            Ok(request) => {
                self.handle_async(request, &mut |r| post(protocol::encode(&r)))
                    .await
            }
            Err(e) => Reply::Rejected {
                message: format!("the engine could not read a request: {e}"),
            },
        };
        protocol::encode(&reply)
    }

    /// Answers one request.
    pub fn handle(&mut self, request: Request) -> Reply {
        self.handle_with(request, &mut |_| {})
    }

    /// Answers one request, telling `post` each stage of a run as it starts.
    pub fn handle_with(&mut self, request: Request, post: &mut dyn FnMut(Reply)) -> Reply {
        block_on(self.handle_async(request, post))
    }

    /// [`Service::handle_with`], awaiting the GPU's kernels where the
    /// service has one.
    pub async fn handle_async(&mut self, request: Request, post: &mut dyn FnMut(Reply)) -> Reply {
        match request {
            Request::Run {
                generation,
                study,
                seed,
                design,
                pinned,
                scope,
            } => {
                let (report, baseline) = self
                    .run(&study, seed, &design, scope, (generation, &mut *post))
                    .await;
                let pinned = match pinned {
                    Some(pairs) => Some(
                        self.pinned(&study, seed, &pairs, scope, (generation, post))
                            .await,
                    ),
                    None => None,
                };
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
                outcome: self.check(&study, &claim, seed).await,
            },
        }
    }

    /// The design's summary and the default design's, each with at least
    /// the optional stages `scope` names.
    async fn run(
        &mut self,
        study_ref: &StudyRef,
        seed: u64,
        pairs: &[(String, String)],
        scope: Scope,
        (generation, post): (u64, &mut dyn FnMut(Reply)),
    ) -> (Result<RunSummary, String>, Option<RunSummary>) {
        let study = match self.study(study_ref) {
            Ok(study) => study,
            Err(e) => return (Err(e), None),
        };
        let default = study.default_design(seed);
        let baseline = self
            .summary(
                study_ref,
                &study,
                &default,
                scope,
                &mut announce(&mut *post, generation, "the default design"),
            )
            .await;
        let mut tell = announce(post, generation, "your design");
        let report = match design_from_pairs(&study, seed, pairs) {
            Ok(design) => {
                self.summary(study_ref, &study, &design, scope, &mut tell)
                    .await
            }
            Err(e) => Err(e),
        };
        (report, baseline.ok())
    }

    /// The summary of the pinned design `pairs` (compare mode's design A).
    async fn pinned(
        &mut self,
        study_ref: &StudyRef,
        seed: u64,
        pairs: &[(String, String)],
        scope: Scope,
        (generation, post): (u64, &mut dyn FnMut(Reply)),
    ) -> Result<RunSummary, String> {
        let study = self.study(study_ref)?;
        let design = design_from_pairs(&study, seed, pairs)?;
        let mut tell = announce(post, generation, "design A");
        self.summary(study_ref, &study, &design, scope, &mut tell)
            .await
    }

    /// The summary of `design` with at least the optional stages `scope`
    /// names: kept from a recent run, or run now (with the stages a kept
    /// summary had, which the runner's memo answers at once).
    async fn summary(
        &mut self,
        study_ref: &StudyRef,
        study: &Study,
        design: &Design,
        mut scope: Scope,
        progress: &mut dyn FnMut(Stage),
    ) -> Result<RunSummary, String> {
        if let Some(i) = self
            .summaries
            .iter()
            .position(|(r, d, _)| r == study_ref && d == design)
        {
            let entry = self.summaries.remove(i);
            if entry.2.scope.covers(scope) {
                let summary = entry.2.clone();
                self.summaries.push(entry);
                return Ok(summary);
            }
            scope = scope.union(entry.2.scope);
        }
        let summary = self
            .runner
            .run_async(study, design, scope, progress)
            .await
            .map(|report| RunSummary::from(&report))
            .map_err(|e| e.to_string())?;
        if self.summaries.len() == CACHED_SUMMARIES {
            self.summaries.remove(0);
        }
        self.summaries
            .push((study_ref.clone(), design.clone(), summary.clone()));
        Ok(summary)
    }

    async fn check(
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
            .check_async(&study, claim, seed)
            .await
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
    fn a_step_gets_the_numbers_it_shows_first_and_the_rest_after() {
        use crate::charts::describe;
        use crate::study::DesignStep;
        let study = bundled_studies().unwrap().remove(0);
        assert_eq!(study.meta.id, "feed-ranking");
        let feed = StudyRef::Bundled {
            id: study.meta.id.clone(),
        };
        let design = study.default_design(DEFAULT_SEED);
        let mut service = Service::default();
        let ask = |service: &mut Service, scope: Scope| {
            let mut stages = Vec::new();
            let request = Request::run(1, feed.clone(), &design).with_scope(scope);
            let reply = service.handle_with(request, &mut |r| {
                if let Reply::Progress { stage, .. } = r {
                    stages.push(stage);
                }
            });
            let Reply::Ran {
                report, baseline, ..
            } = reply
            else {
                panic!("a run reply");
            };
            (report.unwrap(), baseline.unwrap(), stages)
        };
        let label = |stages: &[Stage]| -> Vec<String> {
            stages.iter().map(|s| s.label().to_owned()).collect()
        };

        // The stages every step shows, and nothing of the others.
        let (core, baseline, stages) = ask(&mut service, Scope::CORE);
        assert_eq!(core.scope, Scope::CORE);
        assert_eq!(core, baseline, "the default design is its own baseline");
        assert_eq!(
            stages,
            label(&[
                Stage::World,
                Stage::Features,
                Stage::Training,
                Stage::Serving
            ])
        );
        assert!(
            core.metrics
                .keys()
                .all(|k| !k.starts_with("retrieval.") && !k.starts_with("monitoring.")),
            "{:?}",
            core.metrics.keys()
        );
        assert!(core.charts.drift.is_none());

        // The rest runs only what was left out, and changes nothing.
        let (full, _, stages) = ask(&mut service, Scope::ALL);
        assert_eq!(full.scope, Scope::ALL);
        assert_eq!(stages, label(&[Stage::Retrieval, Stage::Monitoring]));
        for (key, value) in &core.metrics {
            assert_eq!(full.metrics[key].to_bits(), value.to_bits(), "{key}");
        }
        assert!(full.metrics.contains_key("monitoring.mean_ctr"));
        assert!(
            study
                .world
                .cards_for(DesignStep::Architecture)
                .contains(&"retrieval.recall_at_k")
        );

        // Each step's scope holds every card and chart the step shows, in
        // both studies.
        for study in [study, content_study()] {
            let design = study.default_design(DEFAULT_SEED);
            let mut run = |scope| {
                service
                    .runner
                    .run_scoped(&study, &design, scope, &mut |_| {})
                    .map(|r| RunSummary::from(&r))
                    .unwrap()
            };
            let full = run(Scope::ALL);
            for step in &study.steps {
                let scoped = run(study.scope_for(step.step));
                for key in study.world.cards_for(step.step) {
                    assert!(full.metrics.contains_key(key), "{key}");
                    assert!(
                        scoped.metrics.contains_key(key),
                        "{}: {key}",
                        step.step.id()
                    );
                }
                for &chart in &step.charts {
                    assert!(describe(chart, &full.charts).is_some(), "{chart:?}");
                    assert_eq!(
                        describe(chart, &scoped.charts),
                        describe(chart, &full.charts),
                        "{}: {chart:?}",
                        step.step.id()
                    );
                }
            }
        }
    }

    #[test]
    fn a_run_announces_each_stage_that_really_runs() {
        let study = content_study();
        let mut design = study.default_design(DEFAULT_SEED);
        let mut service = Service::default();
        let mut posted = Vec::new();
        let request = protocol::encode(&Request::run(3, content_ref(), &design));
        let answer = service.handle_text_with(&request, &mut |text| posted.push(text));
        assert!(
            matches!(protocol::decode(&answer).unwrap(), Reply::Ran { .. }),
            "a run reply"
        );
        let stages = |posted: &[String]| -> Vec<(String, String, u32)> {
            posted
                .iter()
                .map(|text| match protocol::decode(text).unwrap() {
                    Reply::Progress {
                        generation: 3 | 4,
                        of,
                        stage,
                        step,
                        steps,
                    } => {
                        assert_eq!(steps as usize, Stage::ALL.len());
                        (of, stage, step)
                    }
                    other => panic!("a progress reply: {other:?}"),
                })
                .collect()
        };
        // The first run (the default design) runs every stage of the
        // content world, in order; retrieval is the feed's.
        let expected: Vec<(String, String, u32)> = [
            Stage::World,
            Stage::Features,
            Stage::Training,
            Stage::Monitoring,
            Stage::Serving,
        ]
        .iter()
        .map(|s| {
            (
                "the default design".to_owned(),
                s.label().to_owned(),
                s.number() as u32,
            )
        })
        .collect();
        assert_eq!(stages(&posted), expected);

        // A model change retrains and reruns what depends on the model;
        // the world and features are reused and say nothing.
        study.set(&mut design, "model", "gbdt").unwrap();
        posted.clear();
        let request = protocol::encode(&Request::run(4, content_ref(), &design));
        service.handle_text_with(&request, &mut |text| posted.push(text));
        let names: Vec<(String, String)> = stages(&posted)
            .into_iter()
            .map(|(of, stage, _)| (of, stage))
            .collect();
        assert_eq!(
            names,
            [Stage::Training, Stage::Monitoring, Stage::Serving]
                .iter()
                .map(|s| ("your design".to_owned(), s.label().to_owned()))
                .collect::<Vec<_>>()
        );
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
            scope: Scope::ALL,
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
