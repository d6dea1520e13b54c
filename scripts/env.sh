# Sourced by the other scripts: puts Casebook's tools first on PATH.
# shellcheck shell=bash
CASEBOOK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CASEBOOK_ROOT
export PATH="$CASEBOOK_ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
