#!/usr/bin/env bash
# Installs what building, the demo and the tests need on Debian 12, then the npm packages.
# Idempotent: a second run installs nothing. Run as root (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

# golang-go + golang-github-appc-cni-dev: our cnitool on Debian's libcni (e2e, demo)
# containernetworking-plugins: portmap, loopback (the chains of the e2e and runtime suites), bridge and host-local (bench:cri's baseline)
# iproute2, util-linux, procps: ip, nsenter and sysctl (netns, veth; the plugin enters the pod netns)
# openvswitch-switch: ovsdb-server, ovsdb-tool, ovs-vsctl and the schema for the OVSDB client's tests (no vswitchd is run)
# strace: the bad-input property checks that nothing is written outside the allowed paths
# time: GNU time, whose %M gives npm run bench the peak RSS of each command
# containerd, runc: the runtime suite's own containerd (CRI) runs pod sandboxes through the plugin
# gcc, libc6-dev: the static pause binary of that suite's sandbox image
# mmdebstrap: the Debian base (bookworm minbase + iproute2, ethtool) of the installer image that npm run image builds
packages=(golang-go golang-github-appc-cni-dev containernetworking-plugins iproute2 util-linux procps openvswitch-switch strace time containerd runc gcc libc6-dev mmdebstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  echo "setup: npm ci" >&2
  timeout 600 npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
