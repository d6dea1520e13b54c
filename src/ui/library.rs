//! The case studies the app can open: the bundled ones, and a study file
//! the user brings, from disk or from a `case_url=` link. A brought file is
//! parsed and validated on the page (the same `parse_study` the tests
//! use); an invalid one shows the error, which names the file, the field
//! and the reason, and the study on screen stays. The engine's worker gets
//! the file's text with each request.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::study::{Study, parse_study};
use crate::worker::protocol::StudyRef;

/// The query name of a study file's address.
pub const CASE_URL: &str = "case_url";

/// A study the app can open, and how the worker finds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub study: Study,
    pub source: StudyRef,
    /// The address it was loaded from, for links (`case_url=`).
    pub url: Option<String>,
}

impl Entry {
    /// A bundled study.
    pub fn bundled(study: Study) -> Entry {
        let id = study.meta.id.clone();
        Entry {
            study,
            source: StudyRef::Bundled { id },
            url: None,
        }
    }

    /// A study from the text of a file called `name`.
    ///
    /// # Errors
    /// The study file's error: its file, field and reason.
    pub fn from_text(name: &str, text: String, url: Option<String>) -> Result<Entry, String> {
        let study = parse_study(name, &text).map_err(|e| e.to_string())?;
        Ok(Entry {
            study,
            source: StudyRef::Source {
                name: name.to_owned(),
                toml: text,
            },
            url,
        })
    }
}

/// Fetches and parses the study file at `url`.
///
/// # Errors
/// Why it could not be fetched, or the study file's error.
pub async fn load_url(url: String) -> Result<Entry, String> {
    let failed = |what: &str| format!("Could not load the case study at {url}: {what}.");
    let window = web_sys::window().ok_or_else(|| failed("no window"))?;
    let response = JsFuture::from(window.fetch_with_str(&url))
        .await
        .map_err(|_| {
            failed(
                "the request failed (is the address right, and does it allow cross-origin reads?)",
            )
        })?
        .dyn_into::<web_sys::Response>()
        .map_err(|_| failed("no response"))?;
    if !response.ok() {
        return Err(failed(&format!(
            "the server answered {}",
            response.status()
        )));
    }
    let promise = response.text().map_err(|_| failed("no text"))?;
    let text = JsFuture::from(promise)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| failed("the body is not text"))?;
    let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
    Entry::from_text(&name, text, Some(url))
}

/// Reads and parses a study file the user picked.
///
/// # Errors
/// Why it could not be read, or the study file's error.
pub async fn load_file(file: web_sys::File) -> Result<Entry, String> {
    let name = file.name();
    let text = JsFuture::from(file.text())
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| format!("Could not read {name}."))?;
    Entry::from_text(&name, text, None)
}

/// The list of case studies, and the ways to open your own.
#[component]
pub fn StudiesPanel(
    library: RwSignal<Vec<Entry>>,
    current: Memo<usize>,
    open: Callback<Entry>,
) -> impl IntoView {
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let loading = RwSignal::new(false);
    let finish = move |outcome: Result<Entry, String>| {
        loading.set(false);
        match outcome {
            Ok(entry) => {
                error.set(None);
                open.run(entry);
            }
            Err(e) => error.set(Some(e)),
        }
    };
    let on_file = move |ev: leptos::ev::Event| {
        let input = event_target::<web_sys::HtmlInputElement>(&ev);
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        // The same file picked again must fire `change` again.
        input.set_value("");
        loading.set(true);
        leptos::task::spawn_local(async move { finish(load_file(file).await) });
    };
    let address = RwSignal::new(String::new());
    let on_url = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let url = address.get_untracked().trim().to_owned();
        if url.is_empty() {
            return;
        }
        loading.set(true);
        leptos::task::spawn_local(async move { finish(load_url(url).await) });
    };
    let cards = move || {
        library
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let meta = entry.study.meta.clone();
                let mine = !matches!(entry.source, StudyRef::Bundled { .. });
                let pick = entry.clone();
                view! {
                    <li class="study-card" data-testid="study-card" class:current=move || current.get() == i>
                        <h3>{meta.title}</h3>
                        <p>{meta.summary}</p>
                        <p class="meta">
                            {format!("About {} minutes", meta.minutes)}
                            {mine.then_some(" · your file")}
                        </p>
                        <button type="button" on:click=move |_| open.run(pick.clone())>"Open"</button>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <section class="library" aria-label="Case studies" data-testid="library">
            <ul class="study-cards">{cards}</ul>
            <div class="own-study">
                <h3>"Open your own case study"</h3>
                <p class="help">
                    "A study is a TOML file: its world, its nine steps with their knobs, and its claims. "
                    "The README's \"Writing a case study\" documents the format."
                </p>
                <label>
                    "From a file: "
                    <input type="file" accept=".toml,text/plain" data-testid="study-file" on:change=on_file />
                </label>
                <form on:submit=on_url>
                    <label>
                        "From an address: "
                        <input type="url" placeholder="https://example.org/my-study.toml" data-testid="study-url"
                            prop:value=move || address.get()
                            on:input=move |ev| address.set(event_target_value(&ev)) />
                    </label>
                    <button type="submit">"Load"</button>
                </form>
                {move || loading.get().then(|| view! { <p class="status" role="status">"Loading…"</p> })}
                {move || error.get().map(|e| view! {
                    <p class="status error" role="alert" data-testid="study-error">{e}</p>
                })}
            </div>
        </section>
    }
}
