#!/usr/bin/env bash
# `npm run package`: dist/kube-ovn-offload, a Node single executable application (SEA): the
# node binary with the plugin's bundle injected by postject, so the host needs no Node.js.
# Node 20 SEA runs one CommonJS script, hence the --sea bundle (src/sea.ts). By default it is
# built into a V8 start-up snapshot: its modules are evaluated here, once, not by every pod.
# SEA_SNAPSHOT=false builds it without (with V8's code cache instead, unless
# SEA_CODE_CACHE=false), to measure what each buys.
#
# `scripts/package.sh <main.cjs> <output>` packages another CommonJS script the same way (same
# node binary, same SEA settings): the benchmark's floor program (bench/floor.cjs).
set -euo pipefail
cd "$(dirname "$0")/.."

# A snapshot and assets in a single executable: Node 20.12 or later.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 12) ? 0 : 1)'; then
  echo "package: Node $(node --version) cannot build the executable's snapshot and assets; use Node 20.12 or later" >&2
  exit 1
fi
main=${1:-dist/sea/kube-ovn-offload.cjs}
out=${2:-dist/kube-ovn-offload}
name=$(basename "$out")
if [ $# -eq 0 ]; then node scripts/build.mjs --sea; fi
mkdir -p dist/sea
# The plugin's own executable carries the operator CLI as an asset (src/sea.ts); Node >= 20.12.
assets=''
if [ $# -eq 0 ]; then assets=',
  "assets": { "cli.cjs": "dist/sea/cli.cjs" }'; fi
snapshot=${SEA_SNAPSHOT:-true}
code_cache=${SEA_CODE_CACHE:-true}
[ "$snapshot" = true ] && code_cache=false # Node ignores the code cache with a snapshot
cat > "dist/sea/$name-config.json" <<JSON
{
  "main": "$main",
  "output": "dist/sea/$name-prep.blob",
  "disableExperimentalSEAWarning": true,
  "useSnapshot": $snapshot,
  "useCodeCache": $code_cache$assets
}
JSON
# Node 20 warns that child_process is "not yet fully verified" in a snapshot; the
# tests run this executable (sea, cnitool and containerd suites). Shown on failure.
if ! node --experimental-sea-config "dist/sea/$name-config.json" >"dist/sea/$name-config.log" 2>&1; then
  cat "dist/sea/$name-config.log" >&2
  exit 1
fi
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
