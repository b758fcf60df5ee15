#!/usr/bin/env bash
# `npm run package`: dist/kube-ovn-offload, a Node single executable application (SEA): the
# node binary with the plugin's bundle injected by postject, so the host needs no Node.js.
# Node 20 SEA runs one CommonJS script, hence the --sea bundle (src/sea.ts). By default it is
# built into a V8 start-up snapshot: its modules are evaluated here, once, not by every pod.
# SEA_SNAPSHOT=false builds it without (with V8's code cache instead, unless
# SEA_CODE_CACHE=false), to measure what each buys.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/build.mjs --sea
snapshot=${SEA_SNAPSHOT:-true}
code_cache=${SEA_CODE_CACHE:-true}
[ "$snapshot" = true ] && code_cache=false # Node ignores the code cache with a snapshot
cat > dist/sea/sea-config.json <<JSON
{
  "main": "dist/sea/kube-ovn-offload.cjs",
  "output": "dist/sea/sea-prep.blob",
  "disableExperimentalSEAWarning": true,
  "useSnapshot": $snapshot,
  "useCodeCache": $code_cache
}
JSON
# Node 20 warns that child_process is "not yet fully verified" in a
# snapshot; the tests run this executable (sea, cnitool and containerd suites). Shown on failure.
if ! node --experimental-sea-config dist/sea/sea-config.json >dist/sea/sea-config.log 2>&1; then
  cat dist/sea/sea-config.log >&2
  exit 1
fi
# The node binary itself (process.execPath), not a version manager's shim found on PATH.
rm -f dist/kube-ovn-offload.tmp
cp "$(node -p process.execPath)" dist/kube-ovn-offload.tmp
chmod u+w dist/kube-ovn-offload.tmp
# postject (LIEF) warns about note sections of Debian's node binary; harmless, so shown only on failure.
if ! node_modules/.bin/postject dist/kube-ovn-offload.tmp NODE_SEA_BLOB dist/sea/sea-prep.blob \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >dist/sea/postject.log 2>&1; then
  cat dist/sea/postject.log >&2
  exit 1
fi
mv -f dist/kube-ovn-offload.tmp dist/kube-ovn-offload
echo "package: $(dist/kube-ovn-offload version) → dist/kube-ovn-offload ($(du -h dist/kube-ovn-offload | cut -f1))" >&2
