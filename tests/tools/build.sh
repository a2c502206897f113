#!/usr/bin/env bash
# Release build of the widget and the Worker, and the static assets directory that
# wrangler serves (build/assets: the demo shop, settings page and /v1/checkout.js).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WASM_OPT="$ROOT/node_modules/.bin/wasm-opt"
OUT=build/assets

echo "== widget (checkout-wasm → wasm32, wasm-bindgen no-modules, wasm-opt -Oz)"
cargo build -q -p checkout-wasm --target wasm32-unknown-unknown --release
rm -rf build/widget && mkdir -p build/widget
wasm-bindgen --target no-modules --no-modules-global __edgeCheckout --no-typescript \
  --out-dir build/widget --out-name checkout target/wasm32-unknown-unknown/release/checkout_wasm.wasm
"$WASM_OPT" -Oz --strip-debug --strip-producers build/widget/checkout_bg.wasm -o build/widget/checkout.opt.wasm

rm -rf "$OUT" && mkdir -p "$OUT/v1"
# Content-hashed name: the wasm can be cached for a year; checkout.js names the current one.
hash=$(sha256sum build/widget/checkout.opt.wasm | cut -c1-16)
wasm_file="checkout-$hash.wasm"
cp build/widget/checkout.opt.wasm "$OUT/v1/$wasm_file"
sed "s/__WASM_FILE__/$wasm_file/" checkout-wasm/bootstrap.js > build/widget/bootstrap.js
cat build/widget/checkout.js build/widget/bootstrap.js > build/widget/checkout.full.js
node_modules/.bin/esbuild --minify --log-level=warning build/widget/checkout.full.js > "$OUT/v1/checkout.js"

cp -r www/. "$OUT/"

echo "== worker (edge-worker → worker-build --release)"
(cd edge-worker && WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" WASM_OPT_BIN="$WASM_OPT" \
  worker-build --release >/dev/null)
ls -l "$OUT/v1" edge-worker/build | sed 's/^/   /'
