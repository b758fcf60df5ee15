#!/usr/bin/env bash
# Build one of the test-only Go programs under test/support against Debian's libcni.
#
# Usage: test/support/build-go.sh SOURCE_DIR OUTPUT
#   SOURCE_DIR  a directory under test/support holding a main package (cnitool, kube-ovn-cni)
#   OUTPUT      the binary to write; relative paths are taken from the repo root
#
# Needs the Debian packages golang-go and golang-github-appc-cni-dev.
# Builds offline in GOPATH mode; nothing is downloaded. Does nothing when OUTPUT
# is newer than every .go file of SOURCE_DIR and than this script.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/../.." && pwd)"
gopath=/usr/share/gocode
libcni_dir="${gopath}/src/github.com/containernetworking/cni/libcni"

if [[ $# -ne 2 ]]; then
  echo "usage: build-go.sh SOURCE_DIR OUTPUT" >&2
  exit 2
fi
name="$1"
src_dir="${script_dir}/${name}"
out="$2"
case "${out}" in
  /*) ;;
  *) out="${repo_root}/${out}" ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo "build-go: 'go' not found; install the Debian package golang-go (apt-get install golang-go golang-github-appc-cni-dev)" >&2
  exit 1
fi
if [[ ! -f "${libcni_dir}/api.go" ]]; then
  echo "build-go: libcni source not found in ${libcni_dir}; install the Debian package golang-github-appc-cni-dev" >&2
  exit 1
fi
shopt -s nullglob
sources=("${src_dir}"/*.go)
if ((${#sources[@]} == 0)); then
  echo "build-go: no Go source in ${src_dir}" >&2
  exit 1
fi

up_to_date() {
  [[ -x "${out}" && "${out}" -nt "${BASH_SOURCE[0]}" ]] || return 1
  local f
  for f in "${sources[@]}"; do
    [[ "${out}" -nt "${f}" ]] || return 1
  done
}
if up_to_date; then
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
echo "build-go: built ${out}" >&2
