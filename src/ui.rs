//! The browser UI (Leptos, client-side rendered). It stays thin: it shows
//! what the study and engine modules compute and holds no logic of its own.
//! The whole state lives in the URL (`study::url`); every change of a knob,
//! the seed or the step is a new history entry, so back and forward work.

mod address;
mod controls;
mod panic_panel;

use leptos::prelude::*;

use crate::compute::{Backend, probe_webgpu};
use crate::markdown::markdown_to_html;
use crate::study::{ClaimResult, Design, DesignStep, Report, Runner, Study, bundled_studies, url};
use controls::{KnobControl, SeedControl};

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
    let backend = LocalResource::new(probe_webgpu);
    let body = match bundled_studies() {
        Ok(studies) if !studies.is_empty() => view! { <Simulator studies=studies /> }.into_any(),
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

/// Says where the numbers are computed: `WebGPU (adapter)` or `CPU`.
#[component]
fn BackendBadge(backend: LocalResource<Backend>) -> impl IntoView {
    let label = move || {
        backend
            .get()
            .map_or_else(|| "detecting…".to_owned(), |b| b.label())
    };
    let ready = move || backend.get().is_some();
    view! {
        <span class="badge" title="Where Casebook computes its numbers">
            "Compute: "
            <strong data-testid="backend" data-ready=move || ready().to_string()>{label}</strong>
        </span>
    }
}

/// The outcome of the latest run the page asked for.
#[derive(Clone, PartialEq)]
enum RunState {
    Running,
    Done(Box<Report>),
    Failed(String),
}

/// A study, its nine steps, the current step's knobs and claims, and the
/// metric cards of the current design against the study's default.
#[component]
fn Simulator(studies: Vec<Study>) -> impl IntoView {
    let initial = url::read(&address::query_pairs(), &studies, &[]);
    let studies = StoredValue::new(studies);
    let study_index = RwSignal::new(initial.study);
    let design = RwSignal::new(initial.design);
    let step = RwSignal::new(initial.step);
    let notices = RwSignal::new(initial.notices);
    let study = Memo::new(move |_| studies.with_value(|s| s[study_index.get()].clone()));

    // Keep the address bar in step with the state, and the state with the
    // address bar when the user goes back or forward.
    Effect::new(move |_| {
        let pairs = url::write(&study.get(), &design.get(), step.get());
        address::push(&pairs);
    });
    let _listener = window_event_listener(leptos::ev::popstate, move |_| {
        let state = studies.with_value(|s| url::read(&address::query_pairs(), s, &[]));
        study_index.set(state.study);
        design.set(state.design);
        step.set(state.step);
        notices.set(state.notices);
    });

    let runner = StoredValue::new_local(Runner::default());
    let run = RwSignal::new(RunState::Running);
    let baseline: RwSignal<Option<Report>> = RwSignal::new(None);
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let current = design.get();
        let chosen = study.get();
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        run.set(RunState::Running);
        // Let the browser paint "Running…" before the engine takes the thread;
        // a newer change supersedes this run before it starts.
        set_timeout(
            move || {
                if generation.get_value() != mine {
                    return;
                }
                let default = chosen.default_design(current.seed);
                let needs_baseline = baseline.with_untracked(|b| {
                    b.as_ref()
                        .is_none_or(|r| r.seed != current.seed || r.study != chosen.meta.id)
                });
                if needs_baseline {
                    let base = runner
                        .try_update_value(|r| r.run(&chosen, &default))
                        .and_then(Result::ok);
                    baseline.set(base);
                }
                let outcome = if current == default {
                    baseline
                        .get_untracked()
                        .ok_or_else(|| "the default design did not run".to_owned())
                } else {
                    runner
                        .try_update_value(|r| r.run(&chosen, &current).map_err(|e| e.to_string()))
                        .unwrap_or_else(|| Err("the engine is unavailable".to_owned()))
                };
                run.set(match outcome {
                    Ok(report) => RunState::Done(Box::new(report)),
                    Err(message) => RunState::Failed(message),
                });
            },
            std::time::Duration::from_millis(16),
        );
    });

    let meta = move || study.get().meta;
    view! {
        <Notices notices=notices />
        <section class="study" aria-labelledby="study-title">
            <h1 id="study-title">{move || meta().title}</h1>
            <p class="summary">{move || meta().summary}</p>
            <p class="meta">
                {move || format!("About {} minutes", meta().minutes)}
                <SeedControl design=design />
            </p>
        </section>
        <div class="workspace">
            <StepNav step=step />
            <StepPanel study=study step=step design=design runner=runner />
            <Results study=study step=step run=run baseline=baseline />
        </div>
    }
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
    step: RwSignal<DesignStep>,
    design: RwSignal<Design>,
    runner: StoredValue<Runner, LocalStorage>,
) -> impl IntoView {
    let current = move || {
        let s = step.get();
        study.with(|st| st.steps.iter().find(|x| x.step == s).cloned())
    };
    move || {
        let Some(s) = current() else {
            return view! { <article class="step-panel"></article> }.into_any();
        };
        let html = markdown_to_html(&s.narrative);
        let knobs = s
            .knobs
            .iter()
            .map(|k| view! { <KnobControl knob=k.clone() design=design /> })
            .collect_view();
        let has_knobs = !s.knobs.is_empty();
        let claims: Vec<_> = study.with(|st| {
            st.claims
                .iter()
                .filter(|c| c.step == s.step)
                .cloned()
                .collect()
        });
        let claim_views = claims
            .into_iter()
            .map(|claim| {
                let result: RwSignal<Option<Result<ClaimResult, String>>> = RwSignal::new(None);
                let statement = study.with_untracked(|st| claim_statement(st, &claim));
                let why = claim.why.clone();
                let check = move |_| {
                    let chosen = study.get_untracked();
                    let seed = design.with_untracked(|d| d.seed);
                    let claim = claim.clone();
                    set_timeout(
                        move || {
                            let outcome = runner
                                .try_update_value(|r| {
                                    r.check(&chosen, &claim, seed).map_err(|e| e.to_string())
                                })
                                .unwrap_or_else(|| Err("the engine is unavailable".to_owned()));
                            result.set(Some(outcome));
                        },
                        std::time::Duration::from_millis(16),
                    );
                };
                let shown = move || match result.get() {
                    None => "Not checked yet".to_owned(),
                    Some(Ok(r)) => format!(
                        "{} at seed {}: {} → {} ({:+.4})",
                        if r.holds { "Holds" } else { "Does not hold" },
                        r.seed,
                        format_number(r.baseline),
                        format_number(r.value),
                        r.delta
                    ),
                    Some(Err(e)) => format!("Could not run: {e}"),
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
                <div class="narrative" inner_html=html></div>
                {has_knobs.then(|| view! {
                    <section class="knobs" aria-label="Choices in this step">
                        <h3>"Your choices"</h3>
                        {knobs}
                    </section>
                })}
                <section class="claims" aria-label="Lessons of this step">
                    <h3>"Lessons"</h3>
                    <ul>{claim_views}</ul>
                </section>
            </article>
        }
        .into_any()
    }
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

/// The run's status and the metric cards, each with its change against the
/// study's default design.
#[component]
fn Results(
    study: Memo<Study>,
    step: RwSignal<DesignStep>,
    run: RwSignal<RunState>,
    baseline: RwSignal<Option<Report>>,
) -> impl IntoView {
    let status = move || {
        match run.get() {
        RunState::Running => view! { <p class="status" data-testid="status" data-state="running">"Running…"</p> }.into_any(),
        RunState::Done(_) => view! { <p class="status" data-testid="status" data-state="done">"Up to date"</p> }.into_any(),
        RunState::Failed(e) => view! { <p class="status error" role="alert" data-testid="status" data-state="failed">{e}</p> }.into_any(),
    }
    };
    let cards = move || {
        let RunState::Done(report) = run.get() else {
            return None;
        };
        let base = baseline.get();
        let chosen = study.get();
        let metrics = report.metrics();
        let base_metrics = base.as_ref().map(Report::metrics);
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
                        (format!("{} vs default{word}", format_delta(value - b)), class)
                    }
                    _ => ("same as default".to_owned(), "delta"),
                };
                Some(view! {
                    <div class="card" data-testid="card" data-metric=key>
                        <span class="card-label">{info.label}</span>
                        <span class="card-value" data-testid="card-value">{format_number(value)}</span>
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
            <div class="cards">{cards}</div>
        </aside>
    }
}

/// Whole numbers with thousands separators, others with four decimals.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let digits = format!("{}", x.abs() as u64);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 { format!("-{out}") } else { out }
    } else {
        format!("{x:.4}")
    }
}

/// A change, to four decimals unless it is whole.
fn format_delta(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:+}")
    } else {
        format!("{x:+.4}")
    }
}
