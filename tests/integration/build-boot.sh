#!/bin/bash
# Issue 3, must-show 1 and 2: build examples/hello as raw disks in both
# layouts, check the ESP with a reader that is not our writer (mtools), then
# boot the SAME images with plain qemu-system-x86_64 (q35 + OVMF) and
# qemu-system-aarch64 (virt + AAVMF) and read the marker on the real serial
# console. Issue 10: the marker comes from each arch's root disk: its root=
# is the PARTUUID of the partition the guest has mounted as / (as sfdisk reads
# the built GPT, and as summary.json says), its shared= the sha256 of the
# data disk's README; the initrd holds no marker, a guest given the other
# arch's root disk stops with the initrd's error and one without the shared
# disk with its root's error, both without a marker.
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
    # each arch's root partition as util-linux reads the built GPT (not summary.json)
    for arch in x86_64 aarch64; do
        f=$out/$(json "$out/summary.json" "[x['file'] for x in d['disks'] if any(p['name'] == 'root-$arch' for p in x['partitions'])][0]")
        sfdisk --json "$f" | python3 -c 'import json,sys; print([p["uuid"].lower() for p in json.load(sys.stdin)["partitiontable"]["partitions"] if p["name"] == sys.argv[1]][0])' "root-$arch" >"$T/gpt-$arch" 2>/dev/null
        check "$layout: summary.json's root_partuuid of $arch is the GPT's" \
            test "$(cat "$T/gpt-$arch")" = "$(json "$out/summary.json" "d['architectures']['$arch']['root_partuuid']")"
    done

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
        want=$(hello_marker "$arch" "$(cat "$T/gpt-$arch")")
        check "$layout: $arch runs its own root disk and reads the shared disk: '$want'" \
            grep -aqx "$want secureboot=0"$'\r\\?' "$T/$layout-$arch.log"
    done
done

# the initrds hold no marker: the line above can only come from a root disk
for arch in x86_64 aarch64; do
    check "$arch initrd holds no init that prints the marker" initrd_no_marker "$XOVA_FIXTURES/$arch/initrd.img"
done

# x86_64 given the aarch64 root disk: the initrd does not find its root
# (PARTUUID) and says so, no marker, and the guest powers itself off
out=$T/split
t0=$(date +%s)
BOOT_TIMEOUT=240 boot_raw x86_64 "$T/wrong-root.log" "$out/hello-boot.raw" "$out/hello-root-aarch64.raw" \
    "$out/hello-data.raw" 2>/dev/null
rc=$?
t1=$(date +%s)
check "x86_64 with the aarch64 root disk: no marker" test $rc -ne 0
check "x86_64 with the aarch64 root disk: the initrd names the missing PARTUUID" \
    grep -aq "xova-initrd: ERROR: no partition with PARTUUID=$(cat "$T/gpt-x86_64")" "$T/wrong-root.log"
check "x86_64 with the aarch64 root disk: the guest powers off by itself ($((t1 - t0)) s)" \
    grep -aq "reboot: Power down" "$T/wrong-root.log"

# x86_64 without the shared disk: its root's init says so, no marker
t0=$(date +%s)
BOOT_TIMEOUT=240 boot_raw x86_64 "$T/no-data.log" "$out/hello-boot.raw" "$out/hello-root-x86_64.raw" 2>/dev/null
rc=$?
t1=$(date +%s)
check "x86_64 without the shared disk: no marker" test $rc -ne 0
check "x86_64 without the shared disk: its root's init names the fstab line" \
    grep -aq "hello-init: ERROR: cannot mount /srv/data after 10 s (LABEL=data " "$T/no-data.log"
check "x86_64 without the shared disk: the guest powers off by itself ($((t1 - t0)) s)" \
    grep -aq "reboot: Power down" "$T/no-data.log"
finish
