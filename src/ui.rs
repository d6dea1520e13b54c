//! The browser UI (Leptos, client-side rendered). It stays thin: it shows
//! what the study and engine modules compute and holds no logic of its own.
//! The whole state lives in the URL (`study::url`); every change of a knob,
//! the seed or the step is a new history entry, so back and forward work.
//! The engine runs in a Web Worker (`engine.rs`), never on the page's thread.

mod address;
mod charts;
mod controls;
mod engine;
mod library;
mod panic_panel;
mod timing;

use leptos::prelude::*;

use crate::charts::{card_delta, card_number};
use crate::compute::Backend;
use crate::export;
use crate::markdown::markdown_to_html;
use crate::study::url::{Embed, Panel};
use crate::study::{Design, DesignStep, Scope, Study, bundled_studies, url};
use crate::worker::protocol::{ClaimOutcome, Request, RunSummary, StudyRef};
use charts::ChartPanel;
use controls::{KnobControl, SeedControl};
use engine::{Engine, EngineEvent};
use library::{CASE_URL, Entry, StudiesPanel};
use timing::UpdateClock;

pub use panic_panel::{install_panic_panel, show_error_panel};

/// Mounts the app on the page's `<body>`.
pub fn start() {
    install_panic_panel();
    leptos::mount::mount_to_body(App);
}

/// The whole app: a top bar with the compute badge, and the study the URL
/// names (the default study otherwise).
#[component]
pub fn App() -> impl IntoView {
    // Where the worker computes, or why it is not there.
    let backend: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let engine = Engine::default();
    engine.listen(move |event| match event {
        EngineEvent::Ready(label) => {
            backend.try_set(Some(Ok(label.clone())));
        }
        EngineEvent::Failed(reason) => {
            backend.try_set(Some(Err(reason.clone())));
        }
        // A run whose GPU failed midway says so, and the worker computes on
        // the CPU from then on: the badge says so too, for good.
        EngineEvent::Ran {
            report: Ok(summary),
            ..
        } if Backend::is_fallback_label(&summary.backend) => {
            backend.try_set(Some(Ok(summary.backend.clone())));
        }
        EngineEvent::Ran { .. } | EngineEvent::Progress { .. } => {}
    });
    engine.start();
    // Dropping the engine with the app stops its worker.
    let engine = StoredValue::new_local(engine);
    let body = match bundled_studies() {
        Ok(mut studies) if !studies.is_empty() => {
            let first = studies.remove(0);
            view! { <Simulator first=first others=studies engine=engine /> }.into_any()
        }
        Ok(_) => {
            view! { <p class="notice" role="alert">"No case study is bundled."</p> }.into_any()
        }
        Err(error) => view! { <p class="notice" role="alert">{error.to_string()}</p> }.into_any(),
    };
    view! {
        <header class="topbar">
            <span class="brand">"Casebook"</span>
            <BackendBadge backend=backend />
        </header>
        <main class="page">{body}</main>
    }
}

/// Says where the engine's worker computes: `WebGPU (adapter)` or `CPU`.
#[component]
fn BackendBadge(backend: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    let label = move || match backend.get() {
        None => "detecting…".to_owned(),
        Some(Ok(label)) => label,
        Some(Err(_)) => "unavailable".to_owned(),
    };
    let ready = move || backend.with(Option::is_some);
    view! {
        <span class="badge" title="Where Casebook computes its numbers">
            "Compute: "
            <strong data-testid="backend" data-ready=move || ready().to_string()>{label}</strong>
        </span>
    }
}

/// Query names the app itself adds, which are not knobs.
const RESERVED: &[&str] = &[CASE_URL];

/// The stage the latest run is in, as the worker last announced it.
#[derive(Clone, PartialEq)]
struct StageShown {
    of: String,
    stage: String,
    step: u32,
    steps: u32,
}

/// How long a run goes before its progress bar shows.
const PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// How long the page waits, once the current step's numbers are in, before
/// it asks the engine for the stages the step does not show (so another
/// step opens at once and the exports hold the whole report). A change in
/// that time is sent first instead; one made while those stages run waits
/// for them, as any change waits for the run before it.
const REST_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// The latest run the page asked for: its design, study and pin, the
/// optional stages asked for or answered, the first generation that asked
/// for this design (any answer since is this design's numbers), and the
/// request itself.
struct Asked {
    design: Design,
    source: StudyRef,
    pin: Option<Design>,
    scope: Scope,
    first: u64,
    request: Request,
}

/// The outcome of the latest run the page asked for.
#[derive(Clone, PartialEq)]
enum RunState {
    Running,
    Done(Box<RunSummary>),
    Failed(String),
}

/// A study, its nine steps, the current step's knobs and claims, and the
/// metric cards of the current design against the study's default.
#[component]
fn Simulator(
    first: Study,
    others: Vec<Study>,
    engine: StoredValue<Engine, LocalStorage>,
) -> impl IntoView {
    let pairs = address::query_pairs();
    let library = RwSignal::new(
        std::iter::once(first.clone())
            .chain(others)
            .map(Entry::bundled)
            .collect::<Vec<_>>(),
    );
    let listed = move || library.with(|l| l.iter().map(|e| e.study.clone()).collect::<Vec<_>>());
    let initial = url::read(&pairs, &listed(), RESERVED);
    let study_index = RwSignal::new(initial.study);
    let design = RwSignal::new(initial.design);
    let step = RwSignal::new(initial.step);
    let pin = RwSignal::new(initial.pin);
    let embed = RwSignal::new(initial.embed);
    let notices = RwSignal::new(initial.notices);
    let entry = move |i: usize| library.with(|l| l.get(i).or_else(|| l.first()).cloned());
    let fallback = StoredValue::new(first);
    let study = Memo::new(move |_| {
        entry(study_index.get()).map_or_else(|| fallback.get_value(), |e| e.study)
    });
    let source = Memo::new(move |_| {
        entry(study_index.get()).map_or(StudyRef::Bundled { id: String::new() }, |e| e.source)
    });
    let study_url = Memo::new(move |_| entry(study_index.get()).and_then(|e| e.url));
    let current = Memo::new(move |_| study_index.get());

    // A `case_url=` link: the study file is fetched, then the rest of the
    // link (knobs, step, pin) is read against it. Until then the address
    // bar keeps the link.
    let case_url = pairs
        .iter()
        .find(|(k, _)| k == CASE_URL)
        .map(|(_, v)| v.clone());
    let address_ready = RwSignal::new(case_url.is_none());
    if let Some(address) = case_url {
        notices.set(vec![format!("Loading the case study at {address}…")]);
        leptos::task::spawn_local(async move {
            match library::load_url(address).await {
                Ok(loaded) => {
                    library.update(|l| l.push(loaded));
                    let state = url::read(&pairs, &listed(), RESERVED);
                    study_index.set(state.study);
                    design.set(state.design);
                    step.set(state.step);
                    pin.set(state.pin);
                    embed.set(state.embed);
                    notices.set(state.notices);
                }
                Err(e) => notices.set(vec![e]),
            }
            address_ready.set(true);
        });
    }

    // The state as query pairs, without embed mode's: the full
    // simulator's link.
    let full_pairs = move || {
        let mut pairs = url::write(&study.get(), &design.get(), step.get(), pin.get().as_ref());
        if let Some(address) = study_url.get() {
            pairs.push((CASE_URL.to_owned(), address));
        }
        pairs
    };
    // Keep the address bar in step with the state, and the state with the
    // address bar when the user goes back or forward. An embedded view
    // rewrites its entry instead of filling the host page's history.
    Effect::new(move |_| {
        let mut pairs = full_pairs();
        let how = match embed.get() {
            Some(e) => {
                pairs.extend(url::embed_pairs(&e));
                address::History::Replace
            }
            None => address::History::Push,
        };
        if address_ready.get() {
            address::write(&pairs, how);
        }
    });
    // Embed mode hides the app's chrome (see the stylesheet).
    Effect::new(move |_| {
        let root = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element());
        if let Some(root) = root {
            let _ = if embed.with(Option::is_some) {
                root.set_attribute("data-embed", "")
            } else {
                root.remove_attribute("data-embed")
            };
        }
    });
    let _listener = window_event_listener(leptos::ev::popstate, move |_| {
        let state = url::read(&address::query_pairs(), &listed(), RESERVED);
        study_index.set(state.study);
        design.set(state.design);
        step.set(state.step);
        pin.set(state.pin);
        embed.set(state.embed);
        notices.set(state.notices);
    });

    // Opening a study, bundled or brought: its default design, first step.
    let show_library = RwSignal::new(false);
    let open = Callback::new(move |chosen: Entry| {
        let seed = design.with_untracked(|d| d.seed);
        let fresh = chosen.study.default_design(seed);
        let index = library
            .try_update(|l| {
                let same = |e: &Entry| e.study.meta.id == chosen.study.meta.id;
                if let Some(i) = l.iter().position(|e| same(e) && e.source == chosen.source) {
                    i
                } else if let Some(i) = l
                    .iter()
                    .position(|e| same(e) && !matches!(e.source, StudyRef::Bundled { .. }))
                {
                    l[i] = chosen.clone();
                    i
                } else {
                    l.push(chosen.clone());
                    l.len() - 1
                }
            })
            .unwrap_or(0);
        study_index.set(index);
        design.set(fresh);
        step.set(DesignStep::ProblemFormulation);
        pin.set(None);
        notices.set(Vec::new());
        show_library.set(false);
    });

    let clock = UpdateClock::new();
    provide_context(clock);
    let run = RwSignal::new(RunState::Running);
    let baseline: RwSignal<Option<RunSummary>> = RwSignal::new(None);
    let pinned_run: RwSignal<Option<Result<RunSummary, String>>> = RwSignal::new(None);
    // The latest run's stage, and whether it has run long enough to show it.
    let stage: RwSignal<Option<StageShown>> = RwSignal::new(None);
    let slow = RwSignal::new(false);
    // The latest run asked for; the answer to a run of an earlier design is
    // dropped. `asked` is what it asked for: a step change runs only when
    // the step needs stages the design's runs have not computed.
    let generation = StoredValue::new(0u64);
    let asked: StoredValue<Option<Asked>> = StoredValue::new(None);
    engine.with_value(|e| {
        e.listen(move |event| match event {
            EngineEvent::Ran {
                generation: answered,
                report,
                baseline: base,
                pinned,
            } => {
                // Any run of the design on screen counts: a step change
                // that asks for more stages does not make the numbers
                // already asked for wrong.
                let first = asked.try_with_value(|a| a.as_ref().map(|a| a.first));
                if first.flatten().is_none_or(|first| *answered < first) {
                    return;
                }
                let summary = match report {
                    Ok(summary) => summary,
                    Err(message) => {
                        run.try_set(RunState::Failed(message.clone()));
                        return;
                    }
                };
                asked.update_value(|a| {
                    if let Some(a) = a {
                        a.scope = a.scope.union(summary.scope);
                    }
                });
                let needed = study.with_untracked(|s| s.scope_for(step.get_untracked()));
                if !summary.scope.covers(needed) {
                    // A newer run adds what this step shows.
                    return;
                }
                baseline.try_set(base.clone());
                pinned_run.try_set(pinned.clone());
                run.try_set(RunState::Done(Box::new(summary.clone())));
                clock.finish();
                if summary.scope != Scope::ALL {
                    let latest = generation.get_value();
                    set_timeout(
                        move || {
                            if generation.try_get_value() != Some(latest) {
                                return;
                            }
                            let rest = asked.try_with_value(|a| {
                                a.as_ref()
                                    .filter(|a| a.scope != Scope::ALL)
                                    .map(|a| a.request.clone().with_scope(Scope::ALL))
                            });
                            if let Some(request) = rest.flatten() {
                                engine.with_value(|e| e.run(latest, &request));
                            }
                        },
                        REST_AFTER,
                    );
                }
            }
            EngineEvent::Progress {
                generation: answered,
                of,
                stage: name,
                step,
                steps,
            } => {
                let first = asked.try_with_value(|a| a.as_ref().map(|a| a.first));
                if first.flatten().is_some_and(|first| *answered >= first) {
                    stage.try_set(Some(StageShown {
                        of: of.clone(),
                        stage: name.clone(),
                        step: *step,
                        steps: *steps,
                    }));
                }
            }
            EngineEvent::Failed(reason) => {
                run.try_set(RunState::Failed(reason.clone()));
            }
            EngineEvent::Ready(_) => {}
        });
    });
    Effect::new(move |_| {
        let current = design.get();
        let from = source.get();
        let pinned = pin.get();
        let needed = study.with(|s| s.scope_for(step.get()));
        let had = asked.with_value(|a| {
            a.as_ref()
                .filter(|a| a.design == current && a.source == from && a.pin == pinned)
                .map(|a| (a.scope, a.first))
        });
        let (scope, first) = match had {
            Some((had, _)) if had.covers(needed) => return,
            Some((had, first)) => (had.union(needed), Some(first)),
            None => (needed, None),
        };
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        // A run of this design still going goes on showing its stage.
        let going = first.is_some() && run.with_untracked(|r| matches!(r, RunState::Running));
        run.set(RunState::Running);
        if !going {
            stage.set(None);
            slow.set(false);
        }
        set_timeout(
            move || {
                if generation.try_get_value() == Some(mine) {
                    slow.try_set(true);
                }
            },
            PROGRESS_AFTER,
        );
        let request = Request::run(mine, from.clone(), &current)
            .with_pin(pinned.as_ref())
            .with_scope(scope);
        asked.set_value(Some(Asked {
            design: current,
            source: from,
            pin: pinned,
            scope,
            first: first.unwrap_or(mine),
            request: request.clone(),
        }));
        engine.with_value(|e| e.run(mine, &request));
    });

    // The pinned design's summary, while a design is pinned.
    let compare = Signal::derive(move || {
        if pin.with(Option::is_none) {
            return None;
        }
        pinned_run.get().and_then(Result::ok)
    });
    // What the progress bar shows: the running stage, once a run is slow.
    let progress = Signal::derive(move || if slow.get() { stage.get() } else { None });
    let meta = move || study.get().meta;
    if embed.with_untracked(Option::is_some) {
        let full = move || address::href(&full_pairs());
        return view! {
            <Notices notices=notices />
            <section class="study embed-head" aria-labelledby="study-title">
                <h1 id="study-title">{move || meta().title}</h1>
                <a class="open-full" data-testid="open-full" href=full target="_blank" rel="noopener">
                    "Open in Casebook ↗"
                </a>
            </section>
            <div class="workspace embedded">
                <StepPanel study=study source=source step=step design=design engine=engine run=run compare=compare embed=embed />
                <Results study=study step=step design=design run=run baseline=baseline compare=compare embed=embed progress=progress />
            </div>
        }
        .into_any();
    }
    view! {
        <Notices notices=notices />
        <section class="study" aria-labelledby="study-title">
            <button type="button" class="library-toggle" data-testid="library-toggle"
                aria-expanded=move || show_library.get().to_string()
                on:click=move |_| show_library.update(|v| *v = !*v)>
                "Case studies"
            </button>
            {move || show_library.get().then(|| view! {
                <StudiesPanel library=library current=current open=open />
            })}
            <h1 id="study-title">{move || meta().title}</h1>
            <p class="summary">{move || meta().summary}</p>
            <p class="meta">
                {move || format!("About {} minutes", meta().minutes)}
                <SeedControl design=design />
            </p>
        </section>
        <div class="workspace">
            <StepNav step=step />
            <StepPanel study=study source=source step=step design=design engine=engine run=run compare=compare embed=embed />
            <Results study=study step=step design=design run=run baseline=baseline compare=compare embed=embed progress=progress
                share=Callback::new(move |()| full_pairs())>
                <CompareBar study=study design=design pin=pin pinned_run=pinned_run />
            </Results>
        </div>
    }
    .into_any()
}

/// Settings from the URL that were ignored, each with its reason.
#[component]
fn Notices(notices: RwSignal<Vec<String>>) -> impl IntoView {
    move || {
        let list = notices.get();
        (!list.is_empty()).then(|| {
            view! {
                <div class="notices" role="status" data-testid="notices">
                    <ul>{list.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                    <button type="button" on:click=move |_| notices.set(Vec::new())>"Dismiss"</button>
                </div>
            }
        })
    }
}

/// The nine steps; the current one is marked for screen readers too.
#[component]
fn StepNav(step: RwSignal<DesignStep>) -> impl IntoView {
    let items = DesignStep::ALL
        .iter()
        .map(|&s| {
            let current = move || step.get() == s;
            view! {
                <li class="step" data-testid="step" class:current=current>
                    <button
                        type="button"
                        aria-current=move || current().then_some("step")
                        on:click=move |_| step.set(s)
                    >
                        <span class="step-number">{s.number()}</span>
                        <span class="step-title">{s.title()}</span>
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="steps-nav" aria-label="The nine design steps">
            <ol class="steps">{items}</ol>
        </nav>
    }
}

/// The current step: its narrative, its knobs and its claims.
#[component]
fn StepPanel(
    study: Memo<Study>,
    source: Memo<StudyRef>,
    step: RwSignal<DesignStep>,
    design: RwSignal<Design>,
    engine: StoredValue<Engine, LocalStorage>,
    run: RwSignal<RunState>,
    compare: Signal<Option<RunSummary>>,
    embed: RwSignal<Option<Embed>>,
) -> impl IntoView {
    let current = move || {
        let s = step.get();
        study.with(|st| st.steps.iter().find(|x| x.step == s).cloned())
    };
    move || {
        let Some(s) = current() else {
            return view! { <article class="step-panel"></article> }.into_any();
        };
        // What shows: everything, or what an embedded view asks for.
        let view_of = embed.get();
        let shows = |panel| view_of.as_ref().is_none_or(|e| e.shows(panel));
        let html = shows(Panel::Narrative).then(|| markdown_to_html(&s.narrative));
        let shown_knobs = match view_of.as_ref().and_then(|e| e.knobs.as_ref()) {
            Some(ids) => {
                study.with(|st| ids.iter().filter_map(|id| st.knob(id).cloned()).collect())
            }
            None => s.knobs.clone(),
        };
        let has_knobs = shows(Panel::Knobs) && !shown_knobs.is_empty();
        let knobs = shown_knobs
            .into_iter()
            .map(|k| view! { <KnobControl knob=k design=design /> })
            .collect_view();
        let charts = s.charts.clone();
        let has_charts = shows(Panel::Charts) && !charts.is_empty();
        let claims: Vec<_> = if view_of.is_some() {
            Vec::new()
        } else {
            study.with(|st| {
                st.claims
                    .iter()
                    .filter(|c| c.step == s.step)
                    .cloned()
                    .collect()
            })
        };
        let has_claims = !claims.is_empty();
        let claim_views = claims
            .into_iter()
            .map(|claim| {
                let result = RwSignal::new(ClaimState::NotChecked);
                let statement = study.with_untracked(|st| claim_statement(st, &claim));
                let why = claim.why.clone();
                let check = move |_| {
                    let from = source.get_untracked();
                    let seed = design.with_untracked(|d| d.seed);
                    result.set(ClaimState::Checking);
                    engine.with_value(|e| {
                        e.check(from, claim.id.clone(), seed, move |outcome| {
                            result.try_set(ClaimState::Checked(outcome));
                        });
                    });
                };
                let shown = move || match result.get() {
                    ClaimState::NotChecked => "Not checked yet".to_owned(),
                    ClaimState::Checking => "Checking…".to_owned(),
                    ClaimState::Checked(Ok(r)) => format!(
                        "{} at seed {}: {} → {} ({})",
                        if r.holds { "Holds" } else { "Does not hold" },
                        r.seed,
                        card_number(r.baseline),
                        card_number(r.value),
                        card_delta(r.delta)
                    ),
                    ClaimState::Checked(Err(e)) => format!("Could not run: {e}"),
                };
                view! {
                    <li class="claim" data-testid="claim">
                        <p class="claim-statement">{statement}</p>
                        <p class="claim-why">{why}</p>
                        <p class="claim-result" role="status">{shown}</p>
                        <button type="button" on:click=check>"Check this claim"</button>
                    </li>
                }
            })
            .collect_view();
        view! {
            <article class="step-panel" aria-labelledby="step-heading">
                <h2 id="step-heading">{format!("Step {}: {}", s.step.number(), s.step.title())}</h2>
                {html.map(|html| view! { <div class="narrative" inner_html=html></div> })}
                {has_knobs.then(|| view! {
                    <section class="knobs" aria-label="Choices in this step">
                        <h3>"Your choices"</h3>
                        {knobs}
                    </section>
                })}
                {has_charts.then(|| view! { <ChartPanel charts=charts run=run compare=compare /> })}
                {has_claims.then(|| view! {
                    <section class="claims" aria-label="Lessons of this step">
                        <h3>"Lessons"</h3>
                        <ul>{claim_views}</ul>
                    </section>
                })}
            </article>
        }
        .into_any()
    }
}

/// Where a claim's check stands.
#[derive(Clone, PartialEq)]
enum ClaimState {
    NotChecked,
    Checking,
    Checked(Result<ClaimOutcome, String>),
}

/// "With model = popularity instead of logistic, ROC-AUC goes down by at
/// least 0.05."
fn claim_statement(study: &Study, claim: &crate::study::Claim) -> String {
    let label = |id: &str| study.knob(id).map_or(id.to_owned(), |k| k.label.clone());
    let metric = study
        .world
        .metric(&claim.metric)
        .map_or(claim.metric.as_str(), |m| m.label);
    let given = if claim.given.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = claim
            .given
            .iter()
            .map(|(k, v)| format!("{} = {v}", label(k)))
            .collect();
        format!(" (with {})", parts.join(", "))
    };
    let direction = match claim.direction {
        crate::study::Direction::Up => "goes up",
        crate::study::Direction::Down => "goes down",
        crate::study::Direction::Either => "moves",
    };
    let bound = match (claim.by_at_least > 0.0, claim.by_at_most.is_finite()) {
        (true, true) => format!("by {} to {}", claim.by_at_least, claim.by_at_most),
        (false, true) => format!("by at most {}", claim.by_at_most),
        _ => format!("by at least {}", claim.by_at_least),
    };
    format!(
        "{} = {} instead of {}{given}: {metric} {direction} {bound}.",
        label(&claim.knob),
        claim.value,
        claim.baseline
    )
}

/// Compare mode's controls: pin the design on screen as A, or say what A is
/// and unpin it.
#[component]
fn CompareBar(
    study: Memo<Study>,
    design: RwSignal<Design>,
    pin: RwSignal<Option<Design>>,
    pinned_run: RwSignal<Option<Result<RunSummary, String>>>,
) -> impl IntoView {
    move || {
        match pin.get() {
        None => view! {
            <div class="compare" data-testid="compare">
                <button type="button" data-testid="pin" on:click=move |_| pin.set(Some(design.get_untracked()))>
                    "Pin this design as A"
                </button>
                <p class="help">"Then change knobs: the cards and charts compare your new design, B, with A."</p>
            </div>
        }
        .into_any(),
        Some(pinned) => {
            let words = study.with(|s| url::describe_pin(s, &pinned));
            let failed = move || match pinned_run.get() {
                Some(Err(e)) => Some(view! { <p class="status error" role="alert">{format!("A could not run: {e}")}</p> }),
                _ => None,
            };
            view! {
                <div class="compare pinned" data-testid="compare">
                    <p>"Comparing B, this design, with A: " <span data-testid="pin-description">{words}</span></p>
                    {failed}
                    <button type="button" data-testid="unpin" on:click=move |_| pin.set(None)>"Unpin A"</button>
                </div>
            }
            .into_any()
        }
    }
    }
}

/// The run's status and the metric cards, each with its change against the
/// pinned design in compare mode, else the study's default design.
#[component]
fn Results(
    study: Memo<Study>,
    step: RwSignal<DesignStep>,
    design: RwSignal<Design>,
    run: RwSignal<RunState>,
    baseline: RwSignal<Option<RunSummary>>,
    compare: Signal<Option<RunSummary>>,
    embed: RwSignal<Option<Embed>>,
    progress: Signal<Option<StageShown>>,
    /// The full view's query pairs, for the embed code; none in embed mode.
    #[prop(optional)]
    share: Option<Callback<(), Vec<(String, String)>>>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let status = move || {
        match run.get() {
        RunState::Running => view! {
            <p class="status" data-testid="status" data-state="running">"Running…"</p>
            {move || progress.get().map(|p| view! {
                <div class="progress" data-testid="progress">
                    <progress max=p.steps value=p.step aria-label="Progress of the run"></progress>
                    <span data-testid="stage">{format!("{}: {}…", p.of, p.stage)}</span>
                </div>
            })}
        }.into_any(),
        RunState::Done(_) => view! { <p class="status" data-testid="status" data-state="done">"Up to date"</p> }.into_any(),
        RunState::Failed(e) => view! { <p class="status error" role="alert" data-testid="status" data-state="failed">{e}</p> }.into_any(),
    }
    };
    let cards = move || {
        let RunState::Done(report) = run.get() else {
            return None;
        };
        if embed.with(|e| e.as_ref().is_some_and(|e| !e.shows(Panel::Cards))) {
            return None;
        }
        let (base, against) = match compare.get() {
            Some(pinned) => (Some(pinned), "A"),
            None => (baseline.get(), "default"),
        };
        let chosen = study.get();
        let metrics = &report.metrics;
        let base_metrics = base.as_ref().map(|b| &b.metrics);
        let cards = chosen
            .world
            .cards_for(step.get())
            .into_iter()
            .filter_map(|key| {
                let info = chosen.world.metric(key)?;
                let value = *metrics.get(key)?;
                let before = base_metrics.as_ref().and_then(|m| m.get(key).copied());
                let (delta, class) = match before {
                    Some(b) if (value - b).abs() > 0.0 => {
                        let (class, word) = match info.improved(b, value) {
                            Some(true) => ("delta better", ", better"),
                            Some(false) => ("delta worse", ", worse"),
                            None => ("delta", ""),
                        };
                        (format!("{} vs {against}{word}", card_delta(value - b)), class)
                    }
                    _ => (format!("same as {against}"), "delta"),
                };
                Some(view! {
                    <div class="card" data-testid="card" data-metric=key>
                        <span class="card-label">{info.label}</span>
                        <span class="card-value" data-testid="card-value">{card_number(value)}</span>
                        <span class=class>{delta}</span>
                    </div>
                })
            })
            .collect_view();
        Some(cards)
    };
    view! {
        <aside class="results" aria-label="Results of this design" aria-live="polite">
            {status}
            {children.map(|c| c())}
            <div class="cards">{cards}</div>
            {move || embed.with(Option::is_none).then(|| view! { <Exports design=design run=run /> })}
            {share.map(|full_pairs| view! { <EmbedCode study=study step=step full_pairs=full_pairs /> })}
        </aside>
    }
}

/// Links that download the run's report as JSON and its metrics as CSV,
/// once the numbers on the page are the current design's and the report is whole.
#[component]
fn Exports(design: RwSignal<Design>, run: RwSignal<RunState>) -> impl IntoView {
    move || {
        run.with(|state| {
            // The whole report: a run that left stages out is completed
            // moments later.
            let RunState::Done(summary) = state else {
                return None;
            };
            if summary.scope != Scope::ALL {
                // The line keeps its place, so nothing moves when it fills.
                return Some(
                    view! { <p class="exports" data-testid="exports-pending">"Download: the whole report in a moment…"</p> }
                        .into_any(),
                );
            }
            let pairs: Vec<(String, String)> = design.with_untracked(|d| {
                d.values
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect()
            });
            let json = data_url("application/json", &export::report_json(summary, &pairs));
            let csv = data_url("text/csv", &export::metrics_csv(summary));
            Some(view! {
                <p class="exports">
                    "Download: "
                    <a data-testid="export-json" href=json download=export::file_name(summary, "report.json")>
                        "report (JSON)"
                    </a>
                    " · "
                    <a data-testid="export-csv" href=csv download=export::file_name(summary, "metrics.csv")>
                        "metrics (CSV)"
                    </a>
                </p>
            }
            .into_any())
        })
    }
}

/// "Copy embed code": the iframe snippet for this study and step in embed
/// mode (the step's knobs, charts and cards), copied to the clipboard and
/// shown to copy by hand where the browser refuses.
#[component]
fn EmbedCode(
    study: Memo<Study>,
    step: RwSignal<DesignStep>,
    full_pairs: Callback<(), Vec<(String, String)>>,
) -> impl IntoView {
    let code: RwSignal<Option<String>> = RwSignal::new(None);
    let copied: RwSignal<Option<bool>> = RwSignal::new(None);
    let make = move |_| {
        let (title, knobs) = study.with(|s| {
            let knobs: Vec<String> = s
                .steps
                .iter()
                .find(|x| x.step == step.get_untracked())
                .map(|x| x.knobs.iter().map(|k| k.id.clone()).collect())
                .unwrap_or_default();
            (s.meta.title.clone(), knobs)
        });
        let embed = Embed {
            knobs: (!knobs.is_empty()).then_some(knobs),
            ..Embed::default()
        };
        let mut pairs = full_pairs.run(());
        pairs.extend(url::embed_pairs(&embed));
        let snippet = url::embed_snippet(&address::href(&pairs), &title);
        code.set(Some(snippet.clone()));
        copied.set(None);
        let Some(clipboard) = web_sys::window().map(|w| w.navigator().clipboard()) else {
            copied.set(Some(false));
            return;
        };
        let promise = clipboard.write_text(&snippet);
        leptos::task::spawn_local(async move {
            let done = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            copied.try_set(Some(done));
        });
    };
    let select_all = |ev: leptos::ev::FocusEvent| {
        event_target::<web_sys::HtmlTextAreaElement>(&ev).select();
    };
    let said = move || match copied.get() {
        None => "",
        Some(true) => "Copied to the clipboard.",
        Some(false) => "Select the code above and copy it.",
    };
    view! {
        <div class="embed-code">
            <button type="button" data-testid="embed-button" on:click=make>"Copy embed code"</button>
            {move || code.get().map(|snippet| view! {
                <textarea readonly data-testid="embed-code" aria-label="Embed code for a web page"
                    rows="4" prop:value=snippet on:focus=select_all></textarea>
                <p class="help" role="status">{said}</p>
            })}
        </div>
    }
}

/// `text` as a `data:` URL of type `mime`.
fn data_url(mime: &str, text: &str) -> String {
    format!(
        "data:{mime};charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(text))
    )
}
