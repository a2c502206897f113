#!/usr/bin/env bash
# `make fuzz`: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (default 60), on
# the nightly toolchain (the project's crates stay on stable). New inputs go to
# tests/out/fuzz/<target>; the seeds in fuzz/corpus/<target> are only read. A crash
# leaves its input in fuzz/artifacts/<target>/ and fails the run: turn it into a unit test.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
SECONDS_EACH=${FUZZ_SECONDS:-60}

# Nightly and cargo-fuzz: tests/tools/setup.sh (run by make test; idempotent).
tests/tools/setup.sh

cd fuzz
# One build of every target first, so the time limits below are fuzzing only.
cargo +nightly fuzz build >/dev/null 2>&1 || cargo +nightly fuzz build
status=0
for target in $(cargo +nightly fuzz list); do
  mkdir -p "../tests/out/fuzz/$target"
  echo "== fuzz $target (${SECONDS_EACH} s)"
  log="../tests/out/fuzz/$target.log"
  if cargo +nightly fuzz run "$target" "../tests/out/fuzz/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"$log" 2>&1; then
    echo "   $(grep -m1 '^stat::number_of_executed_units' "$log") crashes: 0"
  else
    status=1
    echo "!! $target failed:"; grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -5
  fi
done
exit $status
