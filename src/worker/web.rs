//! The worker's side of the page's messages: one [`Service`] per worker,
//! each request answered in turn on the worker's own thread, its kernels on
//! the browser's GPU where there is one.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::Service;
use super::protocol::{Reply, encode};
use crate::compute::{Backend, Compute, Gpu, GpuOptions, probe_webgpu};

/// The worker's state: the service (absent until the compute backend is
/// chosen, and while it answers a message) and the messages waiting.
#[derive(Default)]
struct Mailbox {
    service: RefCell<Option<Service>>,
    waiting: RefCell<VecDeque<JsValue>>,
}

/// Starts answering the page's messages: picks the compute backend (the
/// GPU where the browser offers a WebGPU adapter, else the CPU), says it is
/// ready, and answers each message in the order it came. Called once by
/// the worker binary.
pub fn start() {
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        // Not in a dedicated worker: there is no page to answer.
        return;
    };
    install_panic_hook(scope.clone());
    let mailbox = Rc::new(Mailbox::default());
    let answer = {
        let (scope, mailbox) = (scope.clone(), Rc::clone(&mailbox));
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            mailbox.waiting.borrow_mut().push_back(event.data());
            wasm_bindgen_futures::spawn_local(answer_waiting(Rc::clone(&mailbox), scope.clone()));
        })
    };
    scope.set_onmessage(Some(answer.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    answer.forget();
    wasm_bindgen_futures::spawn_local(async move {
        let compute = choose_compute().await;
        let backend = compute.backend().label();
        *mailbox.service.borrow_mut() = Some(Service::new(compute));
        let _ = scope.post_message(&encode(&Reply::Ready { backend }).into());
        answer_waiting(mailbox, scope).await;
    });
}

/// The GPU if the browser has a WebGPU adapter and a device can be made
/// on it, else the CPU. The adapter is first asked for without wgpu, so a
/// browser with no WebGPU at all never reaches wgpu's WebGPU backend, and
/// that answer names it (wgpu's does not).
async fn choose_compute() -> Compute {
    let Backend::WebGpu(adapter) = probe_webgpu().await else {
        return Compute::cpu();
    };
    match Gpu::new(GpuOptions::default()).await {
        Ok(mut gpu) => {
            gpu.describe(adapter);
            Compute::gpu(gpu)
        }
        Err(_) => Compute::cpu(),
    }
}

/// Answers the waiting messages in order, unless another call is already
/// answering them (it holds the service, and answers these too).
async fn answer_waiting(mailbox: Rc<Mailbox>, scope: DedicatedWorkerGlobalScope) {
    loop {
        // The service is taken out while a message is answered, so a call
        // started by a later message finds none and leaves it to this one.
        let Some(mut service) = mailbox.service.borrow_mut().take() else {
            return;
        };
        let next = mailbox.waiting.borrow_mut().pop_front();
        let Some(data) = next else {
            *mailbox.service.borrow_mut() = Some(service);
            return;
        };
        let reply = match data.as_string() {
            Some(text) => {
                service
                    .handle_text_async(&text, &mut |progress| {
                        let _ = scope.post_message(&progress.into());
                    })
                    .await
            }
            None => encode(&Reply::Rejected {
                message: "the engine received a message that is not text".to_owned(),
            }),
        };
        *mailbox.service.borrow_mut() = Some(service);
        let _ = scope.post_message(&reply.into());
    }
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
