//! The page's side of the engine's Web Worker (`src/worker/`): the engine
//! never runs on the page's thread, so the page keeps answering while a model
//! trains.
//!
//! One request is in flight at a time. A run waiting to be sent is replaced
//! by a newer one, so the worker only ever starts on the latest design; the
//! page drops the answer to a run it has since superseded (by generation).
//! Claim checks queue behind the run. If the worker fails, everything pending
//! is answered with the reason, and the next request starts a fresh worker.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker};

use crate::worker::protocol::{ClaimOutcome, Reply, Request, RunSummary, StudyRef, decode, encode};

/// The script that loads the worker's WebAssembly, next to `index.html`.
const LOADER: &str = "worker-loader.js";

/// What the engine tells the page.
pub enum EngineEvent {
    /// The worker is up; where it computes, as the badge shows it.
    Ready(String),
    /// The answer to the run of `generation`, with the default design's
    /// summary where it ran.
    Ran {
        generation: u64,
        report: Result<RunSummary, String>,
        baseline: Option<RunSummary>,
        /// Compare mode: the pinned design's summary, or why it could not run.
        pinned: Option<Result<RunSummary, String>>,
    },
    /// The run of `generation` started a stage (`Reply::Progress`).
    Progress {
        generation: u64,
        of: String,
        stage: String,
        step: u32,
        steps: u32,
    },
    /// The worker failed or could not start; a readable reason.
    Failed(String),
}

type Listener = Rc<dyn Fn(&EngineEvent)>;
type CheckDone = Box<dyn FnOnce(Result<ClaimOutcome, String>)>;

/// A handle on the engine's worker; clones share it.
#[derive(Clone, Default)]
pub struct Engine {
    inner: Rc<RefCell<Inner>>,
}

#[derive(Default)]
struct Inner {
    live: Option<Live>,
    /// The newest run not yet sent: its generation and its message.
    run: Option<(u64, String)>,
    /// Claim checks not yet sent, in the order asked.
    checks: VecDeque<(u64, String)>,
    /// Who hears of each check's outcome, sent or not.
    check_done: HashMap<u64, CheckDone>,
    /// The id of the last check asked for.
    next_check: u64,
    listeners: Vec<Listener>,
}

/// A started worker and the request it is working on.
struct Live {
    worker: Worker,
    ready: bool,
    busy: Option<InFlight>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

#[derive(Clone, Copy)]
enum InFlight {
    Run(u64),
    Check(u64),
}

impl Drop for Live {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

impl Engine {
    /// Calls `listener` on every event from now on.
    pub fn listen(&self, listener: impl Fn(&EngineEvent) + 'static) {
        self.inner.borrow_mut().listeners.push(Rc::new(listener));
    }

    /// Starts the worker unless it is running.
    pub fn start(&self) {
        if self.inner.borrow().live.is_some() {
            return;
        }
        match spawn(Rc::downgrade(&self.inner)) {
            Ok(live) => self.inner.borrow_mut().live = Some(live),
            Err(reason) => self.fail(&format!("The engine could not start: {reason}.")),
        }
    }

    /// Runs `request` (a [`Request::Run`]) as soon as the worker is free,
    /// instead of any run still waiting.
    pub fn run(&self, generation: u64, request: &Request) {
        self.inner.borrow_mut().run = Some((generation, encode(request)));
        self.start();
        self.flush();
    }

    /// Checks `claim` of `study` at `seed` (both sides run); `done` hears
    /// the outcome.
    pub fn check(
        &self,
        study: StudyRef,
        claim: String,
        seed: u64,
        done: impl FnOnce(Result<ClaimOutcome, String>) + 'static,
    ) {
        {
            let mut inner = self.inner.borrow_mut();
            inner.next_check += 1;
            let id = inner.next_check;
            let request = Request::Check {
                id,
                study,
                claim,
                seed,
            };
            inner.checks.push_back((id, encode(&request)));
            inner.check_done.insert(id, Box::new(done));
        }
        self.start();
        self.flush();
    }

    /// Sends the next request if the worker is ready and idle: the waiting
    /// run first, then the oldest check.
    fn flush(&self) {
        let failure = {
            let mut inner = self.inner.borrow_mut();
            let inner = &mut *inner;
            let Some(live) = inner.live.as_mut().filter(|l| l.ready && l.busy.is_none()) else {
                return;
            };
            let next = match inner.run.take() {
                Some((generation, text)) => Some((InFlight::Run(generation), text)),
                None => inner
                    .checks
                    .pop_front()
                    .map(|(id, text)| (InFlight::Check(id), text)),
            };
            let Some((what, text)) = next else {
                return;
            };
            live.busy = Some(what);
            live.worker.post_message(&text.into()).err()
        };
        if let Some(error) = failure {
            self.fail(&format!(
                "The engine did not take a request: {}.",
                describe(&error)
            ));
        }
    }

    /// A message from the worker.
    fn receive(&self, text: &str) {
        let reply = decode::<Reply>(text);
        let busy = {
            let mut inner = self.inner.borrow_mut();
            let Some(live) = inner.live.as_mut() else {
                return;
            };
            if matches!(reply, Ok(Reply::Ready { .. })) {
                live.ready = true;
                None
            } else if matches!(reply, Ok(Reply::Progress { .. })) {
                // The request is still in flight.
                None
            } else {
                live.busy.take()
            }
        };
        match reply {
            Ok(Reply::Ready { backend }) => self.emit(&EngineEvent::Ready(backend)),
            Ok(Reply::Ran {
                generation,
                report,
                baseline,
                pinned,
            }) => self.emit(&EngineEvent::Ran {
                generation,
                report,
                baseline,
                pinned,
            }),
            Ok(Reply::Progress {
                generation,
                of,
                stage,
                step,
                steps,
            }) => self.emit(&EngineEvent::Progress {
                generation,
                of,
                stage,
                step,
                steps,
            }),
            Ok(Reply::Checked { id, outcome }) => self.checked(id, outcome),
            Ok(Reply::Crashed { message }) => {
                self.fail(&format!(
                    "The engine stopped because of an internal error: {message}"
                ));
            }
            Ok(Reply::Rejected { message }) => self.refused(busy, message),
            Err(e) => self.refused(busy, format!("the engine's answer could not be read: {e}")),
        }
        self.flush();
    }

    /// The request in flight got no proper answer: say so to whoever waits.
    fn refused(&self, busy: Option<InFlight>, message: String) {
        match busy {
            Some(InFlight::Run(generation)) => self.emit(&EngineEvent::Ran {
                generation,
                report: Err(message),
                baseline: None,
                pinned: None,
            }),
            Some(InFlight::Check(id)) => self.checked(id, Err(message)),
            None => {}
        }
    }

    fn checked(&self, id: u64, outcome: Result<ClaimOutcome, String>) {
        let done = self.inner.borrow_mut().check_done.remove(&id);
        if let Some(done) = done {
            done(outcome);
        }
    }

    /// The worker is gone or never came: stop it, answer every waiting check
    /// with `reason`, and tell the listeners. The next request starts a new
    /// worker.
    fn fail(&self, reason: &str) {
        let (live, checks) = {
            let mut inner = self.inner.borrow_mut();
            inner.run = None;
            inner.checks.clear();
            let checks: Vec<CheckDone> = inner.check_done.drain().map(|(_, done)| done).collect();
            (inner.live.take(), checks)
        };
        drop(live);
        for done in checks {
            done(Err(reason.to_owned()));
        }
        self.emit(&EngineEvent::Failed(reason.to_owned()));
    }

    fn emit(&self, event: &EngineEvent) {
        let listeners = self.inner.borrow().listeners.clone();
        for listener in listeners {
            listener(event);
        }
    }
}

/// Starts the worker from the loader next to the page, whatever sub-path the
/// page is served from.
fn spawn(inner: Weak<RefCell<Inner>>) -> Result<Live, String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("the page has no document")?;
    let base = document
        .base_uri()
        .ok()
        .flatten()
        .ok_or("the page has no base address")?;
    // The version in the query keeps a cached worker of an older release out.
    let url = web_sys::Url::new_with_base(&format!("{LOADER}?v={}", crate::VERSION), &base)
        .map_err(|e| describe(&e))?
        .href();
    let worker = Worker::new(&url).map_err(|e| describe(&e))?;

    let on_message = {
        let inner = inner.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(inner) = inner.upgrade() {
                let text = event.data().as_string().unwrap_or_default();
                Engine { inner }.receive(&text);
            }
        })
    };
    let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // A script that fails to load gives a plain event with no message.
        let what = event
            .dyn_ref::<ErrorEvent>()
            .map(|e| readable(&e.message()))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "its script could not be loaded".to_owned());
        let engine = Engine { inner };
        let started = engine.inner.borrow().live.as_ref().is_some_and(|l| l.ready);
        let reason = if started {
            format!("The engine stopped: {what}.")
        } else {
            format!("The engine could not start: {what}.")
        };
        engine.fail(&reason);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Live {
        worker,
        ready: false,
        busy: None,
        _on_message: on_message,
        _on_error: on_error,
    })
}

/// An uncaught error's message without the browser's "Uncaught Error: ".
fn readable(message: &str) -> String {
    let message = message.strip_prefix("Uncaught ").unwrap_or(message);
    message
        .strip_prefix("Error: ")
        .unwrap_or(message)
        .to_owned()
}

/// A JavaScript error as one line of text.
fn describe(error: &wasm_bindgen::JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}
