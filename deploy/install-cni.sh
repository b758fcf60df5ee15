#!/bin/sh
# Installs kube-ovn-offload into the node's CNI bin directory, then stays alive so that
# operators can `kubectl exec` `kube-ovn-offload doctor` in the pod.
#
# The runtime may start the plugin at any moment, so the target name only ever holds a whole
# file: the copy goes to a temporary file in the same directory and is renamed over the target
# (rename(2) is atomic within one filesystem). Renaming also works while an old copy is
# running; writing into that file in place would fail with ETXTBSY or corrupt it.
#
# Environment:
#   SOURCE        the executable to install (default /usr/local/bin/kube-ovn-offload)
#   CNI_BIN_DIR   where to install it (default /host/opt/cni/bin, the host's /opt/cni/bin)
#   INSTALL_ONLY  1: exit after installing instead of staying alive
set -eu

SOURCE=${SOURCE:-/usr/local/bin/kube-ovn-offload}
CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
NAME=kube-ovn-offload
TARGET=$CNI_BIN_DIR/$NAME

say() { printf '%s: %s\n' "$NAME" "$*"; }
die() { printf '%s: %s\n' "$NAME" "$*" >&2; exit 1; }

# `<file> version` on stdout ("kube-ovn-offload 0.1.0"); empty when the file cannot run.
# timeout: a broken file left by some other installer must not hang the pod's start.
version_of() {
  if command -v timeout >/dev/null 2>&1; then
    timeout 10 "$1" version 2>/dev/null || :
  else
    "$1" version 2>/dev/null || :
  fi
}

[ -f "$SOURCE" ] || die "no executable at $SOURCE"
[ -d "$CNI_BIN_DIR" ] || die "no directory $CNI_BIN_DIR (mount the host's /opt/cni/bin there)"

wanted=$(version_of "$SOURCE")
case $wanted in
  "$NAME "*) ;;
  *) die "$SOURCE version printed '$wanted', not '$NAME <version>'" ;;
esac

installed=
[ -f "$TARGET" ] && installed=$(version_of "$TARGET")

# Same version and same bytes: nothing to do. Same version, other bytes (an image rebuilt
# without a version bump) is still replaced.
if [ "$installed" = "$wanted" ] && cmp -s "$SOURCE" "$TARGET"; then
  say "$TARGET is already $wanted: skipping the copy"
else
  # Leftovers of an installer killed mid-copy (SIGKILL, node crash); never the target itself.
  find "$CNI_BIN_DIR" -maxdepth 1 -name ".$NAME.tmp.*" -mmin +10 -exec rm -f {} + 2>/dev/null || :

  tmp=$(mktemp "$CNI_BIN_DIR/.$NAME.tmp.$$.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  cp "$SOURCE" "$tmp"
  chmod 0755 "$tmp"
  # The bytes on disk before the name points at them, so a crash cannot leave an empty target.
  sync "$tmp" 2>/dev/null || sync
  mv -f "$tmp" "$TARGET"
  trap - EXIT TERM INT
  sync "$CNI_BIN_DIR" 2>/dev/null || :
  if [ -n "$installed" ]; then
    say "replaced $installed with $wanted at $TARGET"
  else
    say "installed $wanted at $TARGET"
  fi
fi

# The installed file itself answers, so a copy that cannot run on this node shows here.
now=$(version_of "$TARGET")
[ "$now" = "$wanted" ] || die "$TARGET version printed '$now', expected '$wanted'"
say "version on this node: $now"

if [ "${INSTALL_ONLY:-0}" = 1 ]; then exit 0; fi

# Stay alive. As PID 1 the shell gets no default signal handling, so TERM is trapped and the
# pod stops at once instead of after its grace period.
sleeper=
trap 'if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null || :; fi; exit 0' TERM INT HUP
say "waiting; to check this node: kubectl exec <this pod> -- $NAME doctor"
while :; do
  sleep 86400 &
  sleeper=$!
  wait "$sleeper" || :
done
