#!/usr/bin/env bash
# Build the test-only cnitool (test/support/cnitool) against Debian's libcni.
#
# Usage: test/support/build-cnitool.sh [OUTPUT]
#   OUTPUT defaults to .cache/cnitool; relative paths are taken from the repo root.
#
# Needs the Debian packages golang-go and golang-github-appc-cni-dev.
# Builds offline in GOPATH mode; nothing is downloaded.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/../.." && pwd)"
src_dir="${script_dir}/cnitool"
src="${src_dir}/main.go"
gopath=/usr/share/gocode
libcni_dir="${gopath}/src/github.com/containernetworking/cni/libcni"

out="${1:-.cache/cnitool}"
case "${out}" in
  /*) ;;
  *) out="${repo_root}/${out}" ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo "build-cnitool: 'go' not found; install the Debian package golang-go (apt-get install golang-go golang-github-appc-cni-dev)" >&2
  exit 1
fi
if [[ ! -f "${libcni_dir}/api.go" ]]; then
  echo "build-cnitool: libcni source not found in ${libcni_dir}; install the Debian package golang-github-appc-cni-dev" >&2
  exit 1
fi
if [[ ! -f "${src}" ]]; then
  echo "build-cnitool: source ${src} is missing" >&2
  exit 1
fi

if [[ -x "${out}" && "${out}" -nt "${src}" ]]; then
  exit 0
fi

mkdir -p "$(dirname "${out}")" "${repo_root}/.cache/go-build"
tmp="${out}.tmp.$$"
trap 'rm -f "${tmp}"' EXIT

(
  cd "${src_dir}"
  env GO111MODULE=off GOPATH="${gopath}" GOCACHE="${repo_root}/.cache/go-build" \
    GOFLAGS= CGO_ENABLED=0 \
    go build -o "${tmp}" .
)
mv -f "${tmp}" "${out}"
trap - EXIT
echo "build-cnitool: built ${out}" >&2
