#!/usr/bin/env bash
# Release build of the widget and the Worker, and the static assets directory that
# wrangler serves (build/assets: the demo shop, settings page and /v1/checkout.js).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WASM_OPT="$ROOT/node_modules/.bin/wasm-opt"
OUT=build/assets

echo "== widget (checkout-wasm → wasm32, wasm-bindgen web, wasm-opt -Oz --converge, esbuild)"
cargo build -q -p checkout-wasm --target wasm32-unknown-unknown --release
rm -rf build/widget && mkdir -p build/widget
wasm-bindgen --target web --no-typescript \
  --out-dir build/widget --out-name checkout target/wasm32-unknown-unknown/release/checkout_wasm.wasm
# --converge repeats -Oz until it stops shrinking; --low-memory-unused lets it fold
# addresses below 1 KiB (rustc places data from 1 MiB up). Together 153 B of brotli.
"$WASM_OPT" -Oz --converge --low-memory-unused --strip-debug --strip-producers build/widget/checkout_bg.wasm -o build/widget/checkout.opt.wasm

rm -rf "$OUT" && mkdir -p "$OUT/v1"
sri() { echo "sha384-$(openssl dgst -sha384 -binary "$1" | base64 -w0)"; }
# Content-hashed name: the wasm can be cached for a year; the scripts name the current
# one and carry its SRI hash, so pinning a script pins the wasm too.
hash=$(sha256sum build/widget/checkout.opt.wasm | cut -c1-16)
wasm_file="checkout-$hash.wasm"
cp build/widget/checkout.opt.wasm "$OUT/v1/$wasm_file"
# The string tables other than English (built in) load only when needed, pinned too.
mkdir -p "$OUT/v1/i18n"
tables=""
for t in checkout-wasm/src/i18n/*.txt; do
  lang=$(basename "$t" .txt)
  [ "$lang" = en ] && continue
  name="$lang-$(sha256sum "$t" | cut -c1-12).txt"
  cp "$t" "$OUT/v1/i18n/$name"
  tables="$tables\"$lang\":[\"/v1/i18n/$name\",\"$(sri "$t")\"],"
done
tables="{${tables%,}}"
# One glue, two entries: the classic script of the one-tag embed, and the ES module.
bundle() {
  node_modules/.bin/esbuild "checkout-wasm/js/$1" --bundle --minify --format="$2" --log-level=warning \
    --alias:checkout-glue=./build/widget/checkout.js \
    --define:__WASM_PATH__="\"/v1/$wasm_file\"" --define:__WASM_INTEGRITY__="\"$(sri build/widget/checkout.opt.wasm)\"" --define:__TABLES__="$tables" \
    "${@:4}" --outfile="$OUT/v1/$3"
}
bundle tag.js iife checkout.js --define:import.meta.url=undefined
bundle module.js esm checkout.mjs
cp checkout-wasm/js/checkout.d.ts "$OUT/v1/"

# Immutable, versioned copies and the manifest a merchant pins them with.
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
version="$crate_version-$(cat "$OUT/v1/checkout.js" "$OUT/v1/checkout.mjs" | sha256sum | cut -c1-10)"
mkdir -p "$OUT/v1/r/$version"
cp "$OUT/v1/checkout.js" "$OUT/v1/checkout.mjs" "$OUT/v1/checkout.d.ts" "$OUT/v1/r/$version/"
cat > "$OUT/v1/checkout.json" <<JSON
{"version":"$version","url":"/v1/r/$version/checkout.js","module_url":"/v1/r/$version/checkout.mjs","integrity":"$(sri "$OUT/v1/checkout.js")","module_integrity":"$(sri "$OUT/v1/checkout.mjs")","types_url":"/v1/r/$version/checkout.d.ts"}
JSON

# The npm package: the module and its types (`npm pack build/npm`).
rm -rf build/npm && mkdir -p build/npm
cp "$OUT/v1/checkout.mjs" checkout-wasm/js/checkout.d.ts build/npm/
cat > build/npm/package.json <<JSON
{
  "name": "@edge-checkout/widget",
  "version": "$crate_version",
  "description": "The edge checkout widget as an ES module with TypeScript types. Pass apiBase (the Worker's origin) to mount().",
  "type": "module",
  "exports": { ".": { "types": "./checkout.d.ts", "default": "./checkout.mjs" } },
  "types": "./checkout.d.ts",
  "files": ["checkout.mjs", "checkout.d.ts"],
  "license": "UNLICENSED"
}
JSON

cp -r www/. "$OUT/"

echo "== worker (edge-worker → worker-build --release)"
(cd edge-worker && WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" WASM_OPT_BIN="$WASM_OPT" \
  worker-build --release >/dev/null)
ls -l "$OUT/v1" edge-worker/build | sed 's/^/   /'
