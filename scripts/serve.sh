#!/usr/bin/env bash
# Installs what is missing, builds Casebook and serves it at
# http://127.0.0.1:8080 with the default case study open. Extra arguments go to
# `trunk serve` (for example `--release`, or `--port 9000`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CASEBOOK_ROOT"
bash scripts/setup.sh
exec trunk serve --address 127.0.0.1 --port 8080 --open=false "$@"
