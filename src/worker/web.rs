//! The worker's side of the page's messages: one [`Service`] per worker,
//! each request answered in turn on the worker's own thread.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::Service;
use super::protocol::{Reply, encode};
use crate::compute::probe_webgpu;

/// Starts answering the page's messages, then says it is ready. Called once
/// by the worker binary.
pub fn start() {
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        // Not in a dedicated worker: there is no page to answer.
        return;
    };
    install_panic_hook(scope.clone());
    let service = Rc::new(RefCell::new(Service::default()));
    let answer = {
        let scope = scope.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let reply = match event.data().as_string() {
                Some(text) => service
                    .borrow_mut()
                    .handle_text_with(&text, &mut |progress| {
                        let _ = scope.post_message(&progress.into());
                    }),
                None => encode(&Reply::Rejected {
                    message: "the engine received a message that is not text".to_owned(),
                }),
            };
            let _ = scope.post_message(&reply.into());
        })
    };
    scope.set_onmessage(Some(answer.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    answer.forget();
    wasm_bindgen_futures::spawn_local(async move {
        let backend = probe_webgpu().await.label();
        let _ = scope.post_message(&encode(&Reply::Ready { backend }).into());
    });
}

/// A panic stops the worker: log it, and tell the page what happened before
/// the worker goes.
fn install_panic_hook(scope: DedicatedWorkerGlobalScope) {
    std::panic::set_hook(Box::new(move |info| {
        console_error_panic_hook::hook(info);
        let message = encode(&Reply::Crashed {
            message: info.to_string(),
        });
        let _ = scope.post_message(&message.into());
    }));
}
