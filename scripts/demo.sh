#!/usr/bin/env bash
# Quick start, step one: install what is needed, build, and run a real ADD → CHECK → DEL
# of the plugin on a simulated node (as root: it makes a netns and veth pairs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npm run --silent demo
