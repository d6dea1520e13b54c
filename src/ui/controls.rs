//! Controls for knobs and the seed: a select, a slider or a checkbox, each
//! labelled, with its help text tied to it for screen readers. A change sets
//! the design; the knob checks the value, so a control can never put an
//! invalid value into the design.

use leptos::prelude::*;

use super::timing::UpdateClock;
use crate::study::{Design, Knob, KnobKind, KnobValue};

/// One knob's control.
// Leptos components take their props by value.
#[allow(clippy::needless_pass_by_value)]
#[component]
pub fn KnobControl(knob: Knob, design: RwSignal<Design>) -> impl IntoView {
    let id = format!("knob-{}", knob.id);
    let help_id = format!("{id}-help");
    let key = knob.id.clone();
    let current = {
        let key = key.clone();
        let fallback = knob.default.clone();
        move || design.with(|d| d.get(&key).cloned().unwrap_or_else(|| fallback.clone()))
    };
    let clock = use_context::<UpdateClock>();
    let set = {
        let knob = knob.clone();
        move |text: String| {
            if let Ok(value) = knob.parse_value(&text) {
                if let Some(clock) = clock {
                    clock.start(&knob.id);
                }
                design.update(|d| {
                    d.values.insert(knob.id.clone(), value);
                });
            }
        }
    };
    let control = match knob.kind.clone() {
        KnobKind::Choice { values } => {
            let options = values
                .into_iter()
                .map(|v| {
                    let selected = {
                        let v = v.clone();
                        let current = current.clone();
                        move || current() == KnobValue::Choice(v.clone())
                    };
                    view! { <option value=v.clone() selected=selected>{v.replace('_', " ")}</option> }
                })
                .collect_view();
            view! {
                <select id=id.clone() aria-describedby=help_id.clone() data-knob=key.clone()
                    on:change=move |ev| set(event_target_value(&ev))>
                    {options}
                </select>
            }
            .into_any()
        }
        KnobKind::Slider { min, max, step } => {
            // The value shown follows the thumb; the design changes on release.
            let shown = RwSignal::new(current());
            let current_for_effect = current.clone();
            Effect::new(move |_| shown.set(current_for_effect()));
            view! {
                <span class="slider">
                    <input type="range" id=id.clone() aria-describedby=help_id.clone()
                        data-knob=key.clone()
                        min=min.to_string() max=max.to_string() step=step.to_string()
                        prop:value=move || current().to_string()
                        on:input=move |ev| {
                            if let Ok(x) = event_target_value(&ev).parse::<f64>() {
                                shown.set(KnobValue::Number(x));
                            }
                        }
                        on:change=move |ev| set(event_target_value(&ev)) />
                    <output for=id.clone()>{move || shown.get().to_string()}</output>
                </span>
            }
            .into_any()
        }
        KnobKind::Toggle => view! {
            <input type="checkbox" id=id.clone() aria-describedby=help_id.clone() data-knob=key.clone()
                prop:checked=move || current() == KnobValue::Toggle(true)
                on:change=move |ev| set(event_target_checked(&ev).to_string()) />
        }
        .into_any(),
    };
    view! {
        <div class="knob">
            <label for=id>{knob.label.clone()}</label>
            {control}
            <p class="help" id=help_id>{knob.help.clone()}</p>
        </div>
    }
}

/// The world's seed: same seed, same numbers.
#[component]
pub fn SeedControl(design: RwSignal<Design>) -> impl IntoView {
    let clock = use_context::<UpdateClock>();
    view! {
        <label class="seed">
            " · World seed "
            <input type="number" min="0" step="1" inputmode="numeric" data-testid="seed"
                prop:value=move || design.with(|d| d.seed.to_string())
                on:change=move |ev| {
                    if let Ok(seed) = event_target_value(&ev).trim().parse::<u64>() {
                        if let Some(clock) = clock {
                            clock.start("seed");
                        }
                        design.update(|d| d.seed = seed);
                    }
                } />
        </label>
    }
}
