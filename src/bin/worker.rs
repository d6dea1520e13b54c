//! The engine's Web Worker: answers the page's run and check requests off
//! the page's thread. Built by Trunk (`data-type="worker"` in `index.html`).

#[cfg(target_arch = "wasm32")]
fn main() {
    casebook::start_worker();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "`worker` runs in a browser's Web Worker: build it with `trunk build` (see README.md)."
    );
    std::process::exit(2);
}
