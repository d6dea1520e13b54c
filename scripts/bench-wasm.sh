#!/usr/bin/env bash
# The engine benchmark in wasm32, in headless Chromium (CPU path), built with
# the browser build's profile (web-release). The native half is
# `cargo bench --bench engine`. Not run by CI.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CASEBOOK_ROOT"
bash scripts/setup.sh
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  CHROMEDRIVER="$(command -v chromedriver)" \
  WASM_BINDGEN_TEST_WEBDRIVER_JSON="$CASEBOOK_ROOT/tests/webdriver.json" \
  WASM_BINDGEN_TEST_TIMEOUT=600 \
  cargo test --locked --profile web-release --target wasm32-unknown-unknown \
    --features wasm-timing --test wasm_timing -- --nocapture
