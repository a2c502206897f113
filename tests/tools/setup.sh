#!/usr/bin/env bash
# Brings a fresh machine of this kind to what the build and tests need. Idempotent:
# each step checks before it installs. Versions: ../shared/TOOLCHAIN.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
WORKER_BUILD_VERSION=0.8.7
LOCALSTRIPE_VERSION=1.15.10
step() { printf '\033[1m== %s\033[0m\n' "$*"; }

need_apt=()
for pair in chromium:chromium chromedriver:chromium-driver wrk:wrk brotli:brotli; do
  command -v "${pair%%:*}" >/dev/null || need_apt+=("${pair#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt: ${need_apt[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the crate exactly; its own lock file wants a crate the registry
# lacks, so no --locked (TOOLCHAIN.md).
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 4 minutes)"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
fi
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  step "worker-build $WORKER_BUILD_VERSION (about 6 minutes)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

# The fuzz targets (fuzz/, `make fuzz`, and their smoke in `make test`) need libFuzzer's
# nightly flags; the project's crates stay on stable.
if ! rustup toolchain list | grep -q '^nightly'; then
  step "rustup toolchain nightly (minimal, for cargo-fuzz)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  step "cargo-fuzz (about 2 minutes)"
  cargo +nightly install cargo-fuzz --locked
fi

if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci (wrangler, binaryen's wasm-opt, playwright-core)"
  npm ci --no-audit --no-fund
fi

if ! .venv/bin/python -c "import localstripe" 2>/dev/null; then
  step "localstripe $LOCALSTRIPE_VERSION in .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q "localstripe==$LOCALSTRIPE_VERSION"
fi

# Local secrets for `wrangler dev`: random per machine, never committed.
if [ ! -f .dev.vars ]; then
  step ".dev.vars with fresh local secrets"
  umask 077
  {
    echo "ADMIN_TOKEN=adm_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)"
  } > .dev.vars
fi
