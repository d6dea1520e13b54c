#!/usr/bin/env bash
# Installs what is missing, then runs every check and test CI runs, in order:
# formatting, clippy (native and wasm32), the release web build, in-browser
# tests (wasm-bindgen-test in headless Chromium), and native tests including
# the page tests that drive the release build in a real headless Chromium,
# then every bundled study's claims at four seeds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CASEBOOK_ROOT"
bash scripts/setup.sh

step() { echo; echo "==> $*"; }

step "rustfmt"
cargo fmt --check

step "clippy, native"
cargo clippy --locked --all-targets --features page-tests,claims -- -D warnings

step "clippy, wasm32"
cargo clippy --locked --target wasm32-unknown-unknown --all-targets --features wasm-timing -- -D warnings

step "release web build (dist/)"
trunk build --release

step "in-browser tests (wasm-bindgen-test, headless Chromium with WebGPU)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  CHROMEDRIVER="$(command -v chromedriver)" \
  WASM_BINDGEN_TEST_WEBDRIVER_JSON="$CASEBOOK_ROOT/tests/webdriver.json" \
  cargo test --locked --target wasm32-unknown-unknown --test web

step "native tests, including GPU conformance on software Vulkan and page tests on dist/ in headless Chromium"
CASEBOOK_REQUIRE_GPU=1 cargo test --locked --features page-tests

step "every bundled study's claims at four seeds (release build)"
cargo test --locked --release --features claims --test claims
