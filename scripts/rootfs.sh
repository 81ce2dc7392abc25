#!/bin/sh
# Builds the root filesystems the SEA e2e tests chroot into (test/support/rootfs.ts), each one a
# kind of user image the agent must run in (spec 05 §15.1, §17):
#
#   debian         Debian bookworm minbase + python3 (debootstrap; glibc image with interpreters)
#   busybox        busybox-static only: no libc, no loader (busybox/distroless-like)
#   musl           busybox-static + Debian's musl, i.e. /lib/ld-musl-<arch>.so.1 (Alpine-like)
#   empty          nothing but the mount points /opt/attune/agent and /proc (scratch-like)
#   busybox-arm64  busybox-static:arm64 + /usr/bin/qemu-aarch64-static (run under qemu-user)
#
# usage: scripts/rootfs.sh NAME [DEST]     (DEST defaults to .cache/rootfs/NAME)
#
# A finished root gets DEST.stamp holding the recipe line; a root whose stamp is missing or differs
# (interrupted or older recipe) is rebuilt from scratch. Needs root (debootstrap, device-free
# chroots) and the packages from scripts/install-build-deps.sh. Prints DEST on success.
set -eu

name="${1:?usage: rootfs.sh debian|node-builder|busybox|musl|empty|busybox-arm64 [DEST]}"
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${ATTUNE_AGENT_CACHE_DIR:-$here/.cache}"
dest="${2:-$cache/rootfs/$name}"
debcache="$cache/rootfs/debs"
host_arch="$(dpkg --print-architecture)"

case "$name" in
  debian) recipe="v1 debootstrap --variant=minbase --include=python3 bookworm $host_arch" ;;
  # Base of the stand-in for node:24-bookworm-slim in the hermetic Dockerfile builder test: the
  # builder stage's build tools preinstalled (tini: the bundle's lib/tini), so nothing is fetched
  # inside the build.
  node-builder) recipe="v2 debootstrap --variant=minbase --include=binutils,patchelf,xz-utils,tini bookworm $host_arch" ;;
  busybox) recipe="v1 busybox-static:$host_arch" ;;
  musl) recipe="v1 busybox-static:$host_arch musl:$host_arch" ;;
  empty) recipe="v1 empty" ;;
  busybox-arm64) recipe="v1 busybox-static:arm64 qemu-aarch64-static" ;;
  *) echo "rootfs.sh: unknown root '$name'" >&2; exit 2 ;;
esac

if [ -f "$dest.stamp" ] && [ "$(cat "$dest.stamp")" = "$recipe" ] && [ -d "$dest" ]; then
  echo "$dest"
  exit 0
fi

# The Debian mirror apt already uses (deb822 .sources first, then sources.list), so debootstrap
# reaches the same host the machine is allowed to reach.
apt_mirror() {
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/) { print uri; exit } uri=""; suites="" }
      /^URIs:/ { uri=$2 } /^Suites:/ { $1=""; suites=$0 }
      END { if (uri != "" && suites ~ /(^| )bookworm( |$)/) print uri }' "$f" | head -n1
  done | head -n1 | grep . && return 0
  grep -hE '^deb[[:space:]]+[^[:space:]]+[[:space:]]+bookworm[[:space:]]' /etc/apt/sources.list 2>/dev/null |
    awk '{ print $2; exit }' | grep . && return 0
  echo "http://deb.debian.org/debian"
}

# Fetch a Debian package into the shared cache once; prints its path.
fetch_deb() {
  pkgspec="$1" # name:arch
  pname="${pkgspec%%:*}"
  parch="${pkgspec##*:}"
  mkdir -p "$debcache"
  found="$(find "$debcache" -maxdepth 1 -name "${pname}_*_${parch}.deb" | head -n1)"
  if [ -z "$found" ] || ! dpkg-deb --info "$found" >/dev/null 2>&1; then
    rm -f "$debcache/${pname}_"*"_${parch}.deb"
    (cd "$debcache" && apt-get download -q -o APT::Sandbox::User=root "$pkgspec" >/dev/null)
    found="$(find "$debcache" -maxdepth 1 -name "${pname}_*_${parch}.deb" | head -n1)"
  fi
  [ -n "$found" ] || { echo "rootfs.sh: could not download $pkgspec" >&2; exit 1; }
  echo "$found"
}

# /bin/busybox plus one symlink per applet (the list comes from the host's busybox-static, the
# same Debian version, so it also works for a foreign-arch busybox that cannot run here).
install_busybox() {
  root="$1"
  deb="$2"
  tmp="$(mktemp -d)"
  dpkg-deb -x "$deb" "$tmp"
  mkdir -p "$root/bin"
  cp "$tmp/bin/busybox" "$root/bin/busybox"
  rm -rf "$tmp"
  command -v busybox >/dev/null || { echo "rootfs.sh: host busybox missing (apt-get install busybox-static)" >&2; exit 1; }
  busybox --list-full | while read -r applet; do
    [ "$applet" = "bin/busybox" ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
  done
}

# Never rm -rf through a live mount (a test that died leaves /proc or the agent bound inside).
for d in "$dest" "$dest.partial"; do
  if awk -v d="$d" '$5 == d || index($5, d "/") == 1 { found=1 } END { exit !found }' /proc/self/mountinfo; then
    echo "rootfs.sh: something is still mounted under $d; unmount it first (grep '$d' /proc/self/mountinfo)" >&2
    exit 1
  fi
done
rm -rf "$dest" "$dest.stamp"
mkdir -p "$(dirname "$dest")"
work="$dest.partial"
rm -rf "$work"
mkdir -p "$work"

case "$name" in
  debian|node-builder)
    mirror="$(apt_mirror)"
    include=python3
    [ "$name" = node-builder ] && include=binutils,patchelf,xz-utils,tini
    echo "rootfs.sh: debootstrap --variant=minbase --include=$include bookworm from $mirror (a few minutes, once)" >&2
    if ! debootstrap --variant=minbase --include="$include" bookworm "$work" "$mirror" >"$work.log" 2>&1; then
      echo "rootfs.sh: debootstrap failed (mirror $mirror); last lines of $work.log:" >&2
      tail -n 20 "$work.log" >&2
      exit 1
    fi
    rm -f "$work.log"
    rm -rf "$work/var/cache/apt/archives/"*.deb "$work/var/lib/apt/lists/"*
    ;;
  busybox)
    install_busybox "$work" "$(fetch_deb "busybox-static:$host_arch")"
    ;;
  musl)
    install_busybox "$work" "$(fetch_deb "busybox-static:$host_arch")"
    dpkg-deb -x "$(fetch_deb "musl:$host_arch")" "$work"
    rm -rf "$work/usr/share"
    ;;
  empty) ;;
  busybox-arm64)
    install_busybox "$work" "$(fetch_deb "busybox-static:arm64")"
    mkdir -p "$work/usr/bin"
    cp "$(command -v qemu-aarch64-static)" "$work/usr/bin/qemu-aarch64-static"
    ;;
esac

# Mount points the tests use: the agent volume (bind-mounted read-only) and /proc.
mkdir -p "$work/opt/attune/agent" "$work/proc" "$work/tmp"
chmod 1777 "$work/tmp"
mv "$work" "$dest"
echo "$recipe" >"$dest.stamp"
echo "$dest"
