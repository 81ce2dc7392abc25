#!/bin/sh
# Installs the Debian packages that `npm run build:sea`, scripts/rootfs.sh, the SEA e2e tests and
# the Dockerfile check need (docker/README.md). Idempotent: apt-get runs only when something is
# missing, and `apt-get update` only then (or once after arm64 is added as a foreign architecture).
set -eu

PKGS="binutils patchelf binutils-aarch64-linux-gnu qemu-user-static busybox-static musl debootstrap buildah xz-utils tini"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-build-deps: must run as root (apt-get, dpkg --add-architecture)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
need_update=0

# arm64 runtime libs for the arm64 bundle come from Debian's arm64 packages (spec 05 §14).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  need_update=1
fi

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

# An arm64 index is needed for `apt-get download libc6:arm64 …` even when nothing is missing.
if [ "$need_update" -eq 0 ] && ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
  need_update=1
fi

if [ -n "$missing" ] || [ "$need_update" -eq 1 ]; then
  apt-get update -qq
fi
if [ -n "$missing" ]; then
  echo "install-build-deps: installing$missing"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
else
  echo "install-build-deps: all present ($PKGS)"
fi
