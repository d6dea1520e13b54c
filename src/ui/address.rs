//! The address bar: reading the query as decoded pairs and pushing a new
//! history entry when the state changes. `URLSearchParams` does the
//! percent-encoding both ways.

use wasm_bindgen::JsValue;

/// The current query as decoded `(name, value)` pairs, in order.
pub fn query_pairs() -> Vec<(String, String)> {
    let Some(search) = web_sys::window().and_then(|w| w.location().search().ok()) else {
        return Vec::new();
    };
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    let entries = js_sys::try_iter(&params).ok().flatten();
    for entry in entries.into_iter().flatten().flatten() {
        let pair = js_sys::Array::from(&entry);
        if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            pairs.push((k, v));
        }
    }
    pairs
}

/// `pairs` as a percent-encoded query, with its `?`.
fn query(pairs: &[(String, String)]) -> String {
    let Ok(params) = web_sys::UrlSearchParams::new() else {
        return String::new();
    };
    for (k, v) in pairs {
        params.append(k, v);
    }
    format!("?{}", String::from(params.to_string()))
}

/// The page's own address (origin and path, any sub-path included) with
/// `pairs` as its query.
pub fn href(pairs: &[(String, String)]) -> String {
    let location = web_sys::window().map(|w| w.location());
    let origin = location
        .as_ref()
        .and_then(|l| l.origin().ok())
        .unwrap_or_default();
    let path = location
        .as_ref()
        .and_then(|l| l.pathname().ok())
        .unwrap_or_default();
    format!("{origin}{path}{}", query(pairs))
}

/// How a new state reaches the address bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// A new entry, so back and forward walk the states.
    Push,
    /// The same entry rewritten: an embedded view must not fill the
    /// history of the page around it.
    Replace,
}

/// Writes `pairs` to the address bar, unless it already says the same (so
/// restoring a state from back/forward adds no entry).
pub fn write(pairs: &[(String, String)], how: History) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let query = query(pairs);
    let location = window.location();
    if location.search().ok().as_deref() == Some(query.as_str()) {
        return;
    }
    if let Ok(history) = window.history() {
        let _ = match how {
            History::Push => history.push_state_with_url(&JsValue::NULL, "", Some(&query)),
            History::Replace => history.replace_state_with_url(&JsValue::NULL, "", Some(&query)),
        };
    }
}
