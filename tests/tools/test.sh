#!/usr/bin/env bash
# `make test` after `make build`: every test of the project, host, browser and edge.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== format and lints"
cargo fmt --all --check
cargo clippy -q --workspace --all-targets -- -D warnings

echo "== native tests (domain crate, worker and widget logic, property tests)"
cargo test -q --workspace

echo "== fuzz smoke: every cargo-fuzz target for a few seconds from its seeds (make fuzz runs them long)"
(cd fuzz && cargo fmt --check)
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-3} tests/tools/fuzz.sh

echo "== widget tests in headless Chromium (wasm-bindgen-test)"
(cd checkout-wasm && \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=60 \
  cargo test --target wasm32-unknown-unknown)

echo "== widget types and npm package (tsc --noEmit, npm pack, install, type-check the example)"
tests/tools/package-check.sh

echo "== stand-ins on their own, against the published vectors (tests/stripe-proxy, tests/cashcloud, tests/worldpay)"
node --test tests/stripe-proxy/ tests/cashcloud/ tests/worldpay/

echo "== end-to-end: Worker in workerd, localstripe, Chromium"
node tests/tools/e2e.mjs
