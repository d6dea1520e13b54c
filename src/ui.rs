//! The browser UI (Leptos, client-side rendered). It stays thin: it shows
//! what the study and engine modules compute and holds no logic of its own.

mod panic_panel;

use leptos::prelude::*;

use crate::compute::{Backend, probe_webgpu};
use crate::study::{DesignStep, StudyMeta, bundled_studies};

pub use panic_panel::{install_panic_panel, show_error_panel};

/// Mounts the app on the page's `<body>`.
pub fn start() {
    install_panic_panel();
    leptos::mount::mount_to_body(App);
}

/// The whole app: a top bar with the compute badge, and the default study.
#[component]
pub fn App() -> impl IntoView {
    let backend = LocalResource::new(probe_webgpu);
    let studies = bundled_studies();
    let body = match studies.as_ref().map(|s| s.first()) {
        Ok(Some(study)) => view! { <StudyOverview study=study.meta.clone() /> }.into_any(),
        Ok(None) => {
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

/// A study's title, summary and the nine design steps it walks.
#[component]
fn StudyOverview(study: StudyMeta) -> impl IntoView {
    let steps = DesignStep::ALL
        .iter()
        .map(|step| {
            view! {
                <li class="step" data-testid="step">
                    <span class="step-number">{step.number()}</span>
                    <span class="step-title">{step.title()}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="study" aria-labelledby="study-title">
            <h1 id="study-title">{study.title}</h1>
            <p class="summary">{study.summary}</p>
            <p class="meta">{format!("About {} minutes", study.minutes)}</p>
            <h2>"The nine design steps"</h2>
            <ol class="steps">{steps}</ol>
        </section>
    }
}
