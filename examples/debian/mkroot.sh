#!/bin/bash
# mkroot.sh ARCH -- make (or reuse) the Debian 12 root tarball of
# examples/debian for ARCH (x86_64 or aarch64) and print its path as the last
# line on stdout. Progress goes to stderr.
#
# The root is made by mmdebstrap --variant=minbase from Debian's registry:
# systemd-sysv, udev, linux-image-cloud-<debarch> and busybox (its httpd is the
# service), plus this example's own files under root/ (the units, the marker
# script, fstab, hostname), copied in by a --customize-hook. The aarch64 root's
# maintainer scripts run under qemu-user (binfmt_misc); xova build later runs
# no target code.
#
# Cache: $XOVA_ROOT_CACHE (default /var/cache/xova/roots), one file per key:
# the sha256 of the package versions the host's apt-cache reports, the
# mmdebstrap options and the example's own files. Editing a unit, or a package
# update in the host's apt lists, makes a new root; otherwise it is reused and
# nothing is downloaded. SOURCE_DATE_EPOCH is passed through to mmdebstrap.
set -euo pipefail
# All of it is one function, read whole before it runs: editing this file
# while a 20-minute mmdebstrap runs cannot change what runs after it.
main() {

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf 'mkroot: %s\n' "$*" >&2; }
die() { printf 'mkroot: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: mkroot.sh x86_64|aarch64"
arch=$1
case $arch in
    x86_64) debarch=amd64 ;;
    aarch64) debarch=arm64 ;;
    *) die "unknown architecture '$arch' (x86_64 or aarch64)" ;;
esac
suite=bookworm
# grub-common: not to boot (the universal ESP's GRUB does that) but for
# virt-v2v, which refuses a UEFI guest with GRUB 2 whose root has no grub-mkconfig.
pkgs=(systemd-sysv udev "linux-image-cloud-$debarch" busybox grub-common)
# Bump when the way the root is made changes (options below, hook).
format=1
opts=(--variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")"
      --architectures="$debarch" --customize-hook="$here/customize.sh \"\$1\"")
cache=${XOVA_ROOT_CACHE:-/var/cache/xova/roots}

command -v apt-cache >/dev/null || die "apt-cache not found (a Debian host is needed)"
# The host's apt lists give the versions; they are amd64 lists on an amd64
# host, so for arm64 the kernel's version is that of linux-image-cloud-amd64
# (both come from the same linux source, built at the same version).
keypkgs=("${pkgs[@]/linux-image-cloud-$debarch/linux-image-cloud-$(dpkg --print-architecture)}")
versions=$(apt-cache show --no-all-versions "${keypkgs[@]}" 2>/dev/null |
           awk '/^Package:/ { p = $2 } /^Version:/ { print p "=" $2 }' | sort) || true
[ "$(printf '%s\n' "$versions" | grep -c .)" -eq ${#keypkgs[@]} ] ||
    die "apt-cache does not know all of ${keypkgs[*]} (run apt-get update)"
# The example's own files, by name, executable bit and content (not by the
# checkout's path, umask or times, so that every clone finds the same key).
files=$(cd "$here" && find root customize.sh -type f | LC_ALL=C sort | while read -r n; do
            x=-; [ -x "$n" ] && x=x
            printf '%s %s %s\n' "$n" "$x" "$(sha256sum <"$n" | cut -c1-64)"; done)
key=$(printf 'format=%s\nsuite=%s\narch=%s\n%s\n%s\n%s\n' "$format" "$suite" "$debarch" \
      "${opts[*]/$here\//}" "$versions" "$files" | sha256sum | cut -c1-16)
out="$cache/xova-debian-$suite-$debarch-$key.tar"

if [ -s "$out" ]; then
    say "$arch: reusing $out"
    printf '%s\n' "$out"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "$out is not cached, and only root can make it (mmdebstrap); run this once as root"
command -v mmdebstrap >/dev/null ||
    die "mmdebstrap not found: apt-get install mmdebstrap (see scripts/install-deps.sh)"

if [ "$debarch" != "$(dpkg --print-architecture)" ]; then
    # Foreign maintainer scripts run under qemu-user through binfmt_misc.
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        say "$arch: mounting binfmt_misc on /proc/sys/fs/binfmt_misc"
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
            die "cannot mount binfmt_misc (in a container: give it the host's, or run on the host)"
    fi
    if ! grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
        command -v update-binfmts >/dev/null ||
            die "qemu-aarch64 is not registered with binfmt_misc: apt-get install qemu-user-static binfmt-support"
        say "$arch: registering qemu-aarch64 with binfmt_misc"
        update-binfmts --enable qemu-aarch64 >&2 ||
            die "update-binfmts --enable qemu-aarch64 failed (is qemu-user-static installed?)"
        grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null ||
            die "qemu-aarch64 is still not enabled in /proc/sys/fs/binfmt_misc"
    fi
    if command -v arch-test >/dev/null; then
        arch-test "$debarch" >/dev/null 2>&1 ||
            die "arch-test $debarch fails: this host cannot run $debarch binaries through qemu-user"
    fi
fi

mkdir -p "$cache"
# One maker per root: a second mkroot.sh of the same arch waits, then reuses.
exec 9>"$cache/.xova-debian-$debarch.lock"
if ! flock -n 9; then
    say "$arch: another mkroot.sh is making this root; waiting for it"
    flock 9
fi
if [ -s "$out" ]; then
    say "$arch: reusing $out"
    printf '%s\n' "$out"
    exit 0
fi
# mmdebstrap picks the output format from the name: it must end in .tar.
partial="$cache/.xova-debian-$suite-$debarch-$key.partial.tar"
trap 'rm -f "$partial"' EXIT
case $arch in
    aarch64) eta="about 10-20 min on 2 cores (maintainer scripts under qemu-user)" ;;
    *) eta="about 2-4 min" ;;
esac
say "$arch: making the root with mmdebstrap ($eta) into $out ..."
say "$arch: packages: ${pkgs[*]}"
start=$(date +%s)
# mmdebstrap reads SOURCE_DATE_EPOCH from the environment (exported as is).
mmdebstrap "${opts[@]}" "$suite" "$partial" >&2 ||
    die "mmdebstrap failed for $arch (see its messages above)"
mv -f "$partial" "$out"
trap - EXIT
say "$arch: made $out ($(du -m "$out" | cut -f1) MB) in $(( $(date +%s) - start )) s"
printf '%s\n' "$out"
}
main "$@"
