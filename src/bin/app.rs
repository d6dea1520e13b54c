//! The browser entry point: mounts the Casebook app. Built by Trunk.

#[cfg(target_arch = "wasm32")]
fn main() {
    casebook::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("`app` runs in a browser: build it with `trunk build` (see README.md).");
    std::process::exit(2);
}
