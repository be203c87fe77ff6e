#!/usr/bin/env bash
# latchkey's load benchmark: builds the release binary, installs wrk if needed, runs
# every scenario (bench/bench.py) and writes bench/results/latest.md.
#   bench/run.sh            full run (10 s per scenario, with the 1,000,000-user store)
#   bench/run.sh --no-big   without the 1,000,000-user store
#   bench/run.sh --smoke    1 s per scenario (CI: checks the bench works, not its figures)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
cargo build --release --quiet
exec python3 bench/bench.py "$@"
