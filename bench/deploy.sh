#!/bin/bash
# bench/deploy.sh - deploy-to-marker time: `xova run hello.ova --expect
# XOVA-BOOT-OK` (verify + overlays over the OVA in place) against plain QEMU
# booting the pre-extracted raw disks with the same firmware and flags,
# N runs each (default 3), interleaved in one session; medians and ratio.
# Then the same with an extra 4 GiB shared data disk in the appliance.
# Usage: bench/deploy.sh [BUILDDIR]   env: N, ARCH (default x86_64)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build-hv}
XOVA=$B/xova
FIX=${XOVA_FIXTURES:-$SRC/tests/fixtures/cache}
N=${N:-3}
ARCH=${ARCH:-x86_64}
T=$(mktemp -d /tmp/xova-bench-deploy.XXXXXX)
trap 'rm -rf "$T"' EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# spec with absolute paths (and optionally a 4 GiB data disk)
mkspec() { # $1 out, $2 data size or ""
    python3 - "$SRC/examples/hello/xova.json" "$1" "$2" <<'PY'
import json, os, sys
src, out, data = sys.argv[1], sys.argv[2], sys.argv[3]
base = os.path.dirname(os.path.abspath(src))
s = json.load(open(src))
for a in s["architectures"]:
    for k in ("kernel", "initrd"):
        a[k] = os.path.normpath(os.path.join(base, a[k]))
for d in s["disks"]:
    if "directory" in d:
        d["directory"] = os.path.normpath(os.path.join(base, d["directory"]))
    if data and d.get("role") == "data":
        d["size"] = data
json.dump(s, open(out, "w"), indent=1)
PY
}

# plain QEMU on raw disks extracted from the OVA, same firmware and flags as xova run
plain_boot() { # raw disks...
    local args=() i=0 d
    case $ARCH in
    x86_64) code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd m=q35 ;;
    aarch64) code=/usr/share/AAVMF/AAVMF_CODE.fd vars=/usr/share/AAVMF/AAVMF_VARS.fd m=virt ;;
    esac
    cp --sparse=always "$vars" "$T/vars.fd"
    for d in "$@"; do
        args+=(-blockdev "{\"driver\":\"raw\",\"node-name\":\"disk$i\",\"read-only\":true,\"file\":{\"driver\":\"file\",\"filename\":\"$d\",\"read-only\":true}}"
               -device "virtio-blk-pci,drive=disk$i$([ $i = 0 ] && echo ,bootindex=0)")
        i=$((i + 1))
    done
    qemu-system-$ARCH -machine $m,accel=tcg,pflash0=fw-code,pflash1=fw-vars -cpu max -m 512 -smp 1 \
        -nodefaults -no-user-config -display none -no-reboot \
        -blockdev "{\"driver\":\"raw\",\"node-name\":\"fw-code\",\"read-only\":true,\"file\":{\"driver\":\"file\",\"filename\":\"$code\",\"read-only\":true}}" \
        -blockdev "{\"driver\":\"raw\",\"node-name\":\"fw-vars\",\"file\":{\"driver\":\"file\",\"filename\":\"$T/vars.fd\"}}" \
        "${args[@]}" -netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile= \
        -chardev stdio,id=con0,signal=off -serial chardev:con0 </dev/null 2>/dev/null |
        { grep -q -m1 XOVA-BOOT-OK; pkill -f -- "$T/vars.fd"; }
}

bench_one() { # label spec
    local label=$1 spec=$2 ova=$T/$1.ova
    "$XOVA" build "$spec" -o "$ova" --grub-dir "$FIX/grub" >/dev/null
    # pre-extract the disks of ARCH's definition (deploy tells us the ranges)
    "$XOVA" deploy --libvirt-xml --no-disks --arch "$ARCH" "$ova" > "$T/$label.xml"
    local raws=() k=0
    while read -r off size; do
        qemu-img convert -f vmdk -O raw \
            "json:{\"driver\":\"vmdk\",\"file\":{\"driver\":\"raw\",\"offset\":$off,\"size\":$size,\"file\":{\"driver\":\"file\",\"filename\":\"$ova\"}}}" \
            "$T/$label-$k.raw"
        raws+=("$T/$label-$k.raw"); k=$((k + 1))
    done < <(grep -o 'offset="[0-9]*" size="[0-9]*"' "$T/$label.xml" | tr -dc '0-9 \n' | sed 's/^ *//;s/  */ /g')
    : > "$T/x" ; : > "$T/p"
    for i in $(seq "$N"); do
        t=$(now); "$XOVA" run "$ova" --arch "$ARCH" --accel tcg --expect XOVA-BOOT-OK --timeout 600 2>/dev/null
        echo "$(now) - $t" | bc >> "$T/x"
        t=$(now); plain_boot "${raws[@]}"
        echo "$(now) - $t" | bc >> "$T/p"
    done
    local mx mp
    mx=$(median < "$T/x"); mp=$(median < "$T/p")
    printf '%-28s xova run %6.2f s   plain qemu %6.2f s   ratio %.2f   (N=%s, %s, runs: xova %s / plain %s)\n' \
        "$label" "$mx" "$mp" "$(echo "$mx / $mp" | bc -l)" "$N" "$ARCH" "$(tr '\n' ' ' < "$T/x")" "$(tr '\n' ' ' < "$T/p")"
}

mkspec "$T/hello.json" ""
mkspec "$T/hello-4g.json" "4G"
bench_one hello "$T/hello.json"
bench_one hello-4g-data "$T/hello-4g.json"
