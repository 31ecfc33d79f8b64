#!/bin/sh
# vendor-web.sh fetches the dashboard's browser libraries at pinned versions
# with `npm pack` (the registry npm is configured for) and copies their ES
# module builds into internal/web/assets/vendor/, which is committed: building
# or running Tailor needs neither npm nor a network. Rerun it after changing a
# version below; the dashboard imports the files by these names only (lib.js).
#
# Why these: Preact + htm give components and hooks with tagged templates, so
# the browser runs the source as written (no build step) in about 6 KB
# gzipped; uPlot draws time series charts to a canvas in about 20 KB gzipped.
set -eu

PREACT=11.2.0
HTM=3.1.1
UPLOT=1.6.32

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/internal/web/assets/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "preact@$PREACT" "htm@$HTM" "uplot@$UPLOT" >/dev/null
for p in "preact-$PREACT" "htm-$HTM" "uplot-$UPLOT"; do
	mkdir "$p"
	tar -xzf "$p.tgz" -C "$p"
done

rm -rf "$out"
mkdir -p "$out"
cp "preact-$PREACT/package/dist/preact.mjs" "$out/preact.mjs"
# The hooks build imports the bare name "preact"; browsers resolve only
# paths (an import map would need an inline script, which the CSP forbids).
sed 's#from"preact"#from"./preact.mjs"#g' "preact-$PREACT/package/hooks/dist/hooks.mjs" >"$out/hooks.mjs"
if grep -q 'from"preact"' "$out/hooks.mjs" || ! grep -q 'from"./preact.mjs"' "$out/hooks.mjs"; then
	echo "vendor-web: hooks.mjs no longer imports preact the way this script rewrites it" >&2
	exit 1
fi
cp "htm-$HTM/package/dist/htm.mjs" "$out/htm.mjs"
cp "uplot-$UPLOT/package/dist/uPlot.esm.js" "$out/uplot.mjs"
cp "uplot-$UPLOT/package/dist/uPlot.min.css" "$out/uplot.css"
for p in "preact-$PREACT" "htm-$HTM" "uplot-$UPLOT"; do
	cp "$p"/package/LICENSE* "$out/LICENSE-${p%-*}.txt"
done

cat >"$out/VERSIONS" <<V
# Written by scripts/vendor-web.sh; do not edit by hand.
preact $PREACT dist/preact.mjs hooks/dist/hooks.mjs
htm $HTM dist/htm.mjs
uplot $UPLOT dist/uPlot.esm.js dist/uPlot.min.css
V
echo "vendor-web: wrote $(ls "$out" | wc -l) files to internal/web/assets/vendor"
