#!/usr/bin/env bash
# Build the real Multus v4.0.2 (thin: multus; thick: multus-daemon, multus-shim) and our fake
# kubelet from third_party/multus-cni-v4.0.2.tar.gz, offline, for the runtime suite.
#
# Usage: test/support/build-multus.sh [OUT_DIR]   (default .cache/multus; relative to the repo root)
#
# Unpacks the archive into .cache/multus-src when that is missing or holds another archive, and
# copies test/support/multus/fake-kubelet.go to its cmd/fake-kubelet/, so that the fake builds
# against Multus's vendored grpc-go and kubelet API. Builds with -mod=vendor and GOPROXY=off:
# nothing is downloaded. Needs Go >= 1.18 (Debian 12's golang-go is 1.19). Does nothing when
# every binary is newer than the archive, fake-kubelet.go and this script. A cold build takes
# about a minute on 2 cores; the Go cache (.cache/go-build) makes a rebuild a few seconds.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/../.." && pwd)"
tarball="${repo_root}/third_party/multus-cni-v4.0.2.tar.gz"
fake_kubelet="${script_dir}/multus/fake-kubelet.go"
src="${repo_root}/.cache/multus-src"
out="${1:-.cache/multus}"
case "${out}" in
  /*) ;;
  *) out="${repo_root}/${out}" ;;
esac
binaries=(multus multus-daemon multus-shim fake-kubelet)
# What Multus's hack/build-go.sh stamps into a release build of tag v4.0.2 (printed by -version).
pkg=gopkg.in/k8snetworkplumbingwg/multus-cni.v4/pkg/multus
commit=f03765681fe81ee1e0633ee1734bf48ab3bccf2b # git get-tar-commit-id < the archive
ldflags="-X ${pkg}.version=v4.0.2 -X ${pkg}.commit=${commit} -X ${pkg}.gitTreeState=clean -X ${pkg}.releaseStatus=,released"

up_to_date() {
  local b
  for b in "${binaries[@]}"; do
    [[ -x "${out}/${b}" && "${out}/${b}" -nt "${tarball}" && "${out}/${b}" -nt "${fake_kubelet}" && "${out}/${b}" -nt "${BASH_SOURCE[0]}" ]] || return 1
  done
}
if up_to_date; then
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-multus: 'go' not found; install the Debian package golang-go" >&2
  exit 1
fi
if [[ ! -f "${tarball}" ]]; then
  echo "build-multus: ${tarball} is missing (see third_party/README.md)" >&2
  exit 1
fi

mkdir -p "${repo_root}/.cache/go-build" "${out}"
# One build at a time: test files may call buildMultus() in parallel workers.
exec 9>"${repo_root}/.cache/multus.lock"
timeout 900 flock 9
if up_to_date; then
  exit 0
fi

# The archive's digest, kept beside the unpacked tree: a changed archive is unpacked afresh.
digest="$(sha256sum "${tarball}" | cut -d' ' -f1)"
if [[ "$(cat "${src}/.archive-sha256" 2>/dev/null)" != "${digest}" ]]; then
  echo "build-multus: unpacking $(basename "${tarball}") into ${src}" >&2
  rm -rf "${src}" "${src}.tmp"
  mkdir -p "${src}.tmp"
  timeout 120 tar -xzf "${tarball}" -C "${src}.tmp" --strip-components=1
  echo "${digest}" >"${src}.tmp/.archive-sha256"
  mv "${src}.tmp" "${src}"
fi
mkdir -p "${src}/cmd/fake-kubelet"
cp "${fake_kubelet}" "${src}/cmd/fake-kubelet/main.go"

tmp="${out}/.build.$$"
trap 'rm -rf "${tmp}"' EXIT
mkdir -p "${tmp}"
echo "build-multus: building ${binaries[*]} (cold: about a minute)" >&2
(
  cd "${src}"
  env GOFLAGS=-mod=vendor GOPROXY=off GOWORK=off GO111MODULE=on CGO_ENABLED=0 \
    GOCACHE="${repo_root}/.cache/go-build" GOPATH="${repo_root}/.cache/gopath" \
    timeout 900 go build -ldflags "${ldflags}" -o "${tmp}/" \
    ./cmd/multus ./cmd/multus-daemon ./cmd/multus-shim ./cmd/fake-kubelet
)
for b in "${binaries[@]}"; do
  mv -f "${tmp}/${b}" "${out}/${b}"
done
echo "build-multus: built ${binaries[*]} in ${out}" >&2
