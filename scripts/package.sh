#!/usr/bin/env bash
# `npm run package`: dist/kube-ovn-offload, a Node single executable application (SEA): the
# node binary with the plugin's bundle (and V8's code cache for it) injected by postject, so
# the host needs no Node.js. Node 20 SEA runs one CommonJS script, hence the --sea bundle.
# SEA_CODE_CACHE=false builds it without the code cache, to measure what the cache buys.
#
# `scripts/package.sh <main.cjs> <output>` packages another CommonJS script the same way (same
# node binary, same SEA settings): the benchmark's floor program (bench/floor.cjs).
set -euo pipefail
cd "$(dirname "$0")/.."

main=${1:-dist/sea/kube-ovn-offload.cjs}
out=${2:-dist/kube-ovn-offload}
name=$(basename "$out")
if [ $# -eq 0 ]; then node scripts/build.mjs --sea; fi
mkdir -p dist/sea
cat > "dist/sea/$name-config.json" <<JSON
{
  "main": "$main",
  "output": "dist/sea/$name-prep.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": ${SEA_CODE_CACHE:-true}
}
JSON
node --experimental-sea-config "dist/sea/$name-config.json"
# The node binary itself (process.execPath), not a version manager's shim found on PATH.
rm -f "$out.tmp"
cp "$(node -p process.execPath)" "$out.tmp"
chmod u+w "$out.tmp"
# postject (LIEF) warns about note sections of Debian's node binary; harmless, so shown only on failure.
if ! node_modules/.bin/postject "$out.tmp" NODE_SEA_BLOB "dist/sea/$name-prep.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >"dist/sea/$name-postject.log" 2>&1; then
  cat "dist/sea/$name-postject.log" >&2
  exit 1
fi
mv -f "$out.tmp" "$out"
if [ $# -eq 0 ]; then
  echo "package: $(dist/kube-ovn-offload version) → $out ($(du -h "$out" | cut -f1))" >&2
else
  echo "package: $main → $out ($(du -h "$out" | cut -f1))" >&2
fi
