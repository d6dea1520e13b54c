//! The page's own timings, as User Timing entries anyone can read in the
//! browser's performance panel or with `performance.getEntriesByType`:
//!
//! - `casebook:update`, one per knob change, from the change to the next
//!   frame after the run's numbers reached the page (by then every chart's
//!   effect has drawn its canvas); `detail.knob` names the knob. A change
//!   superseded by a newer one before its numbers arrive is not recorded:
//!   its update never finished.
//! - `casebook:first-charts`, once per page, from navigation to the first
//!   run's charts drawn (the first run computes what the step on screen
//!   shows; the rest of the report follows).
//!
//! `performance.measure` with options is called through `js_sys::Reflect`
//! because web-sys marks that signature unstable.

use js_sys::{Function, Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// The knob change being timed, shared through the component tree.
#[derive(Clone, Copy)]
pub struct UpdateClock {
    pending: StoredValue<Option<(f64, String)>, LocalStorage>,
    first_done: StoredValue<bool, LocalStorage>,
}

impl UpdateClock {
    pub fn new() -> UpdateClock {
        UpdateClock {
            pending: StoredValue::new_local(None),
            first_done: StoredValue::new_local(false),
        }
    }

    /// `knob` changed: the update it starts is timed from now.
    pub fn start(&self, knob: &str) {
        if let Some(now) = now() {
            self.pending.set_value(Some((now, knob.to_owned())));
        }
    }

    /// The latest run's numbers are on the page: at the next frame, after
    /// the charts drew, the update (and the first charts) are recorded.
    pub fn finish(&self) {
        let pending = self.pending.try_update_value(Option::take).flatten();
        let first = !self.first_done.try_get_value().unwrap_or(true);
        self.first_done.set_value(true);
        request_animation_frame(move || {
            if let Some((start, knob)) = pending {
                measure("casebook:update", start, Some(&knob));
            }
            if first {
                measure("casebook:first-charts", 0.0, None);
            }
        });
    }
}

/// Milliseconds since navigation.
fn now() -> Option<f64> {
    Some(web_sys::window()?.performance()?.now())
}

/// `performance.measure(name, { start, end: now, detail: { knob } })`.
fn measure(name: &str, start: f64, knob: Option<&str>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(performance) = window.performance() else {
        return;
    };
    let options = Object::new();
    let detail = Object::new();
    let set = |target: &Object, key: &str, value: JsValue| {
        let _ = Reflect::set(target, &JsValue::from_str(key), &value);
    };
    set(&options, "start", JsValue::from_f64(start));
    set(&options, "end", JsValue::from_f64(performance.now()));
    if let Some(knob) = knob {
        set(&detail, "knob", JsValue::from_str(knob));
    }
    set(&options, "detail", detail.into());
    let call = Reflect::get(&performance, &JsValue::from_str("measure"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    if let Some(measure) = call {
        let _ = measure.call2(&performance, &JsValue::from_str(name), &options);
    }
}
