#!/usr/bin/env bash
# The page benchmark: the release build in headless Chromium (CPU backend),
# every knob of every bundled study changed through its control, with the
# `casebook:update` and `casebook:first-charts` measures read back, and the
# gzipped size of everything the page loads. Not run by CI; the figures go
# to BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CASEBOOK_ROOT"
bash scripts/setup.sh
trunk build --release
cargo test --locked --release --features page-bench --test page page_benchmark -- --nocapture
echo
echo "Gzipped size of what the page loads (dist/):"
total=0
for f in dist/index.html dist/*.js dist/*.wasm dist/*.css; do
  [ -e "$f" ] || continue
  size=$(gzip -9 -c "$f" | wc -c)
  total=$((total + size))
  printf '  %-40s %8d bytes\n' "${f#dist/}" "$size"
done
printf '  %-40s %8d bytes\n' "total" "$total"
cat target/page-bench.txt
