#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the other.
#   fuzz/run.sh [SECONDS] [TARGET...]      (default: 20 s, every target)
# Fails on the first crash; the crashing input is left in fuzz/artifacts/<target>/.
# Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
shift || true
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
cargo fuzz build --fuzz-dir fuzz -O
for t in "${targets[@]}"; do
  mkdir -p "fuzz/work/$t"
  echo "== $t: ${secs}s"
  # The committed seeds (fuzz/corpus/<t>) are read; what the fuzzer finds goes to the
  # uncommitted fuzz/work/<t>.
  status=0
  cargo fuzz run --fuzz-dir fuzz -O "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    > "fuzz/work/$t.log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|.*(ERROR|panicked|deadly signal|Test unit written))' \
    "fuzz/work/$t.log" || true
  if [ -n "$(ls -A "fuzz/artifacts/$t" 2>/dev/null)" ]; then
    echo "crash in $t: see fuzz/artifacts/$t/ (add it to fuzz/corpus/$t/ once fixed, so that every run replays it)" >&2
    exit 1
  fi
  # Any other failure (a build error, a timeout, out of memory, a bad flag) fails too.
  if [ "$status" -ne 0 ]; then
    echo "$t failed (exit $status): see fuzz/work/$t.log" >&2
    tail -n 20 "fuzz/work/$t.log" >&2
    exit 1
  fi
done
echo "fuzz: every target ran ${secs}s without a crash"
