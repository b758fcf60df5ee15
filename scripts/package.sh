#!/usr/bin/env bash
# `npm run package`: dist/kube-ovn-offload, a Node single executable application (SEA): the
# node binary with the plugin's bundle (and V8's code cache for it) injected by postject, so
# the host needs no Node.js. Node 20 SEA runs one CommonJS script, hence the --sea bundle.
# SEA_CODE_CACHE=false builds it without the code cache, to measure what the cache buys.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/build.mjs --sea
cat > dist/sea/sea-config.json <<JSON
{
  "main": "dist/sea/kube-ovn-offload.cjs",
  "output": "dist/sea/sea-prep.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": ${SEA_CODE_CACHE:-true}
}
JSON
node --experimental-sea-config dist/sea/sea-config.json
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
