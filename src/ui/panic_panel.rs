//! A panic in WebAssembly stops the whole app. Instead of leaving a blank or
//! frozen page, the hook shows a readable panel saying what happened.

use wasm_bindgen::JsCast;

/// Installs the panic hook: log to the console, then show the error panel.
pub fn install_panic_panel() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_error_panel(&info.to_string());
    }));
}

/// Shows (or replaces) the error panel at the top of the page. Uses plain DOM
/// calls, since the reactive system may be the thing that failed.
pub fn show_error_panel(details: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Some(body) = document.body() else {
        return;
    };
    if let Some(old) = document.get_element_by_id("casebook-error") {
        old.remove();
    }
    let Ok(panel) = document.create_element("div") else {
        return;
    };
    panel.set_id("casebook-error");
    panel.set_class_name("error-panel");
    let _ = panel.set_attribute("role", "alert");
    let parts = [
        ("h2", "Casebook stopped because of an internal error"),
        (
            "p",
            "This is a bug in Casebook, not something you did. Reload the page to \
             start again: your design is kept in the address bar.",
        ),
        ("pre", details),
    ];
    for (tag, text) in parts {
        if let Ok(el) = document.create_element(tag) {
            el.set_text_content(Some(text));
            let _ = panel.append_child(&el);
        }
    }
    if let Some(first) = body.first_child() {
        let _ = body.insert_before(&panel, Some(&first));
    } else {
        let _ = body.append_child(&panel);
    }
    if let Ok(el) = panel.dyn_into::<web_sys::HtmlElement>() {
        let _ = el.focus();
    }
}
