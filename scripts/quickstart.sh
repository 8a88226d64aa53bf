#!/bin/bash
# quickstart.sh - from a fresh Debian 12 machine: install what is missing,
# fetch the boot fixtures, build xova, build the example appliance (one OVA
# for x86_64 and aarch64) and boot it on both architectures under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD

bash scripts/install-deps.sh
bash tests/fixtures/fetch.sh
bash tests/fixtures/mkinitrd.sh
[ -x configure ] || ./autogen.sh
mkdir -p build
( cd build && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)" -s )

export XOVA_GRUB_PATH="$TOP/tests/fixtures/cache/grub"
mkdir -p out
echo "== building examples/hello (one OVA, x86_64 + aarch64)"
build/xova build examples/hello/xova.json -o out/hello.ova --force
build/xova verify out/hello.ova
for arch in x86_64 aarch64; do
    echo "== booting out/hello.ova on $arch (QEMU; emulated with TCG where the host differs)"
    build/xova run out/hello.ova --arch "$arch" --expect XOVA-BOOT-OK --timeout 300
done
echo "== quickstart: the same OVA booted on x86_64 and aarch64"
