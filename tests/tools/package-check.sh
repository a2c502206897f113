#!/usr/bin/env bash
# The widget's types and npm package: `tsc --noEmit` on a typed example against
# checkout.d.ts, then `npm pack` of build/npm installed into a throw-away project whose
# copy of the example must type-check against the installed package.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
node_modules/.bin/tsc -p checkout-wasm/js/tsconfig.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tgz=$(cd build/npm && npm pack --silent --pack-destination "$tmp")
mkdir "$tmp/app"
cd "$tmp/app"
echo '{"name":"app","private":true,"type":"module"}' > package.json
npm install --silent --no-audit --no-fund "$tmp/$tgz"
for f in checkout.mjs checkout.d.ts; do
  test -s "node_modules/@edge-checkout/widget/$f" || { echo "package lacks $f"; exit 1; }
done
cp "$ROOT/checkout-wasm/js/example.ts" .
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "es2022", "module": "es2022",
  "moduleResolution": "bundler", "lib": ["es2022", "dom"], "types": [] }, "files": ["example.ts"] }
JSON
"$ROOT/node_modules/.bin/tsc" -p tsconfig.json
# The installed module exports mount().
grep -Eq 'export ?\{[^}]*\bmount\b' node_modules/@edge-checkout/widget/checkout.mjs
echo "types and package: ok ($tgz)"
