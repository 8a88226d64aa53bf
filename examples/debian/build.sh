#!/bin/bash
# build.sh [-o OUT.ova] [-- XOVA-BUILD-OPTIONS...] -- build the Debian example.
#
# Makes (or reuses) both architectures' roots with mkroot.sh, then puts
# together the directory xova.json describes in a private work directory: a
# copy of xova.json and data/, and roots/x86_64.tar and roots/aarch64.tar as
# hard links to the cached roots (a copy when the cache is on another
# filesystem; never symlinks), and runs `xova build` on it. The source tree
# gets nothing. The first run needs root and Debian's mirror (see mkroot.sh);
# later runs reuse the cached roots and download nothing.
#
# XOVA: the xova to run (default: build/xova of this tree if there is one, else
# xova on PATH); XOVA_GRUB_PATH likewise defaults to this tree's GRUB fixtures
# (tests/fixtures/cache/grub) if present. SOURCE_DATE_EPOCH is passed through
# (default 1700000000), so two builds are byte-identical.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=debian.ova
while [ $# -gt 0 ]; do
    case $1 in
        -o) [ $# -ge 2 ] || { echo "build.sh: -o needs a file" >&2; exit 2; }; out=$2; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument '$1' (build.sh [-o OUT.ova] [-- XOVA-BUILD-OPTIONS...])" >&2; exit 2 ;;
    esac
done
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
# In a source tree after scripts/quickstart.sh: its xova and GRUB fixtures.
top=$(cd "$here/../.." && pwd)
if [ -z "${XOVA:-}" ] && [ -x "$top/build/xova" ]; then XOVA=$top/build/xova; fi
if [ -z "${XOVA_GRUB_PATH:-}" ] && [ -d "$top/tests/fixtures/cache/grub" ]; then
    export XOVA_GRUB_PATH=$top/tests/fixtures/cache/grub
fi
xova=${XOVA:-xova}

work=$(mktemp -d "${TMPDIR:-/tmp}/xova-debian.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/roots"
cp "$here/xova.json" "$work/xova.json"
cp -a "$here/data" "$work/data"
for arch in x86_64 aarch64; do
    tar=$("$here/mkroot.sh" "$arch" | tail -n 1)
    [ -f "$tar" ] || { echo "build.sh: mkroot.sh $arch gave no tarball" >&2; exit 1; }
    ln "$tar" "$work/roots/$arch.tar" 2>/dev/null || cp "$tar" "$work/roots/$arch.tar"
done
case $out in /*) ;; *) out=$PWD/$out ;; esac
echo "build.sh: xova build xova.json -o $out" >&2
"$xova" build "$work/xova.json" -o "$out" "$@"
