#!/usr/bin/env bash
# Build the test-only cnitool (test/support/cnitool) against Debian's libcni.
#
# Usage: test/support/build-cnitool.sh [OUTPUT]
#   OUTPUT defaults to .cache/cnitool; relative paths are taken from the repo root.
#
# See build-go.sh, which does the work.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/build-go.sh" cnitool "${1:-.cache/cnitool}"
