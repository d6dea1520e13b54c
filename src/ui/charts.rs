//! The current step's charts: a figure per chart, drawn on a canvas sized
//! for the screen's pixel ratio by `charts::draw` (the same calls the tests
//! draw as SVG), with a caption that says the chart's headline number for
//! screen readers. While a newer run computes, the last drawing stays,
//! dimmed.

use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;
use web_sys::HtmlCanvasElement;

use super::RunState;
use crate::charts::{Series, Theme, describe, draw, title};
use crate::export;
use crate::study::Chart;
use crate::worker::protocol::RunSummary;

/// The charts `charts` of the latest run, beside the pinned design's in
/// compare mode.
#[component]
pub fn ChartPanel(
    charts: Vec<Chart>,
    run: RwSignal<RunState>,
    compare: Signal<Option<RunSummary>>,
) -> impl IntoView {
    // Bumped when the window is resized, so every chart redraws at its new
    // size.
    let resized = RwSignal::new(0u32);
    let _listener = window_event_listener(leptos::ev::resize, move |_| {
        resized.update(|n| *n = n.wrapping_add(1));
    });
    let figures = charts
        .into_iter()
        .map(|chart| view! { <ChartFigure chart=chart run=run compare=compare resized=resized /> })
        .collect_view();
    view! {
        <section class="charts" aria-label="Charts of this design">
            <h3>"Charts"</h3>
            <div class="chart-grid">{figures}</div>
        </section>
    }
}

#[component]
fn ChartFigure(
    chart: Chart,
    run: RwSignal<RunState>,
    compare: Signal<Option<RunSummary>>,
    resized: RwSignal<u32>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    // The caption of the drawing on screen: kept while a newer run computes.
    let caption = RwSignal::new(String::new());
    let drawn = RwSignal::new(false);
    Effect::new(move |_| {
        resized.track();
        let Some(element) = canvas.get() else { return };
        let pinned = compare.get();
        run.with(|state| {
            if let RunState::Done(summary) = state {
                let said = describe(chart, &summary.charts)
                    .unwrap_or_else(|| "Not measured for this design".to_owned());
                let series = match &pinned {
                    Some(a) => vec![
                        Series {
                            label: "B",
                            data: &summary.charts,
                        },
                        Series {
                            label: "A",
                            data: &a.charts,
                        },
                    ],
                    None => vec![Series {
                        label: "This design",
                        data: &summary.charts,
                    }],
                };
                caption.set(
                    match pinned.as_ref().and_then(|a| describe(chart, &a.charts)) {
                        Some(a) => format!("B: {said}; A: {a}"),
                        None => said,
                    },
                );
                drawn.set(paint(&element, chart, &series));
            }
        });
    });
    let stale = move || run.with(|r| !matches!(r, RunState::Done(_)));
    view! {
        <figure
            class="chart"
            class:stale=stale
            data-testid="chart"
            data-chart=chart.id()
            data-drawn=move || drawn.get().to_string()
        >
            <figcaption>
                <strong>{title(chart)}</strong>
                <span class="chart-summary" data-testid="chart-summary">{move || caption.get()}</span>
                <a
                    class="chart-export"
                    data-testid="export-png"
                    href="#"
                    download=move || png_name(run, chart)
                    on:click=move |ev| {
                        // The link takes the canvas's pixels as it is followed.
                        let url = canvas.get_untracked().and_then(|c| c.to_data_url().ok());
                        match (url, ev.current_target()) {
                            (Some(url), Some(target)) => {
                                if let Ok(link) = target.dyn_into::<web_sys::Element>() {
                                    let _ = link.set_attribute("href", &url);
                                }
                            }
                            _ => ev.prevent_default(),
                        }
                    }
                >
                    "PNG"
                </a>
            </figcaption>
            <canvas
                node_ref=canvas
                role="img"
                aria-label=move || format!("{}: {}", title(chart), caption.get())
            ></canvas>
        </figure>
    }
}

/// The PNG's file name: the study, seed and chart.
fn png_name(run: RwSignal<RunState>, chart: Chart) -> String {
    run.with(|state| match state {
        RunState::Done(summary) => export::file_name(summary, &format!("{}.png", chart.id())),
        _ => format!("casebook-{}.png", chart.id()),
    })
}

/// Draws `chart` of `series` on `element` at the screen's pixel ratio, in
/// the page's light or dark scheme; false if the canvas could not be drawn
/// on.
fn paint(element: &HtmlCanvasElement, chart: Chart, series: &[Series<'_>]) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let scale = window.device_pixel_ratio().clamp(1.0, 4.0);
    let dark = window
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches());
    let width = f64::from(element.client_width().max(1));
    let height = f64::from(element.client_height().max(1));
    element.set_width((width * scale).round() as u32);
    element.set_height((height * scale).round() as u32);
    let Some(backend) = CanvasBackend::with_canvas_object(element.clone()) else {
        return false;
    };
    let area = backend.into_drawing_area();
    draw(chart, series, &area, Theme { dark, scale }).is_ok()
}
