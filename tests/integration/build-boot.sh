#!/bin/bash
# Issue 3, must-show 1 and 2: build examples/hello as raw disks in both
# layouts, check the ESP with a reader that is not our writer (mtools), then
# boot the SAME images with plain qemu-system-x86_64 (q35 + OVMF) and
# qemu-system-aarch64 (virt + AAVMF) and read the marker on the real serial
# console, with each arch's own root passed as root=PARTUUID=.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
need_fixtures
export MTOOLS_SKIP_CHECK=1 SOURCE_DATE_EPOCH=1700000000
SPEC=$XOVA_SRCDIR/examples/hello/xova.json

# json FILE EXPR: a value from summary.json
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

for layout in split single; do
    out=$T/$layout
    "$XOVA" build "$SPEC" -o "$out" --format raw --layout "$layout" --no-progress >"$T/build.log" 2>&1
    rc=$?
    check "$layout: build exits 0" test $rc -eq 0 || { cat "$T/build.log"; continue; }
    check "$layout: summary.json written" test -s "$out/summary.json"
    check "$layout: no temp debris beside the output" test -z "$(find "$T" -maxdepth 1 -name '.*xova*' -o -maxdepth 1 -name 'xova-work.*')"

    boot=$out/$(json "$out/summary.json" 'd["disks"][0]["file"]')
    off=$(json "$out/summary.json" 'd["disks"][0]["partitions"][0]["offset"]')
    # the GPT, as read by sfdisk (util-linux), not by our writer
    check "$layout: sfdisk reads the GPT" sfdisk --json "$boot" >"$T/gpt.json"
    check "$layout: first partition is an ESP" grep -qi 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' "$T/gpt.json"
    mdir -/ -b -i "$boot@@$off" ::/ >"$T/esp.txt" 2>&1
    check "$layout: ESP holds EFI/BOOT/BOOTX64.EFI" grep -qx '::/EFI/BOOT/BOOTX64.EFI' "$T/esp.txt"
    check "$layout: ESP holds EFI/BOOT/BOOTAA64.EFI" grep -qx '::/EFI/BOOT/BOOTAA64.EFI' "$T/esp.txt"
    check "$layout: ESP holds exactly one grub.cfg" test "$(grep -ci 'grub.cfg$' "$T/esp.txt")" -eq 1
    mtype -i "$boot@@$off" ::/EFI/BOOT/grub.cfg >"$T/grub.cfg" 2>/dev/null
    check "$layout: grub.cfg branches on grub_cpu" grep -q 'grub_cpu' "$T/grub.cfg"

    # boot both arches at once (one core each)
    pids=()
    for arch in x86_64 aarch64; do
        mapfile -t disks < <(json "$out/summary.json" "'\n'.join(d['architectures']['$arch']['disks'])")
        paths=()
        for d in "${disks[@]}"; do paths+=("$out/$d"); done
        boot_raw "$arch" "$T/$layout-$arch.log" "${paths[@]}" &
        pids+=($!)
    done
    i=0
    for arch in x86_64 aarch64; do
        wait "${pids[$i]}"; rc=$?; i=$((i + 1))
        check "$layout: plain qemu boots $arch to XOVA-BOOT-OK" test $rc -eq 0
        uuid=$(json "$out/summary.json" "d['architectures']['$arch']['root_partuuid']")
        check "$layout: $arch booted with its own root=PARTUUID=$uuid" \
            grep -aq "XOVA-BOOT-OK arch=$arch root=PARTUUID=$uuid" "$T/$layout-$arch.log"
    done
done
finish
