#!/bin/bash
# run-raw.sh - hv/ boots raw images without any bundle: one raw GPT disk
# with a universal ESP (GRUB for x86_64 and arm64, one grub.cfg branching on
# $grub_cpu, kernels + test initrds from the fixtures), booted through
# hv_run_vm() (tests/unit/test-hv boot ...) on both architectures under TCG:
# firmware from the descriptors, pflash vars copy, qcow2 overlay over the
# read-only image, serial console marker. Also: the image is unchanged,
# a SIGINT mid-boot stops QEMU and leaves no process and no run directory,
# and a timeout exits 4 with the console tail.
# A missing fixture or tool is a failure (CI must not skip boot tests).
set -u
HV=${XOVA_BUILDDIR:-.}/tests/unit/test-hv
FIX=${XOVA_FIXTURES:-}
T=$(mktemp -d /tmp/xova-run-raw.XXXXXX)
trap 'rm -rf "$T"' EXIT
export TMPDIR=$T/tmp MTOOLS_SKIP_CHECK=1
mkdir -p "$TMPDIR"

skip() { echo "FAIL: $*"; exit 1; }   # never a skip: say why, loudly
fail() { echo "FAIL: $*"; exit 1; }
for f in x86_64/vmlinuz x86_64/initrd.img aarch64/vmlinuz aarch64/initrd.img grub/x86_64-efi/moddep.lst grub/arm64-efi/moddep.lst; do
    [ -e "$FIX/$f" ] || skip "fixture $f missing (tests/fixtures/fetch.sh + mkinitrd.sh)"
done
for t in grub-mkimage sgdisk mkfs.vfat mcopy qemu-system-x86_64 qemu-system-aarch64 qemu-img; do
    command -v "$t" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$t" >/dev/null || skip "$t missing"
done
export PATH=$PATH:/usr/sbin:/sbin
[ -x "$HV" ] || fail "$HV not built"

# ---- the disk: a raw GPT image with an ESP and a root partition ----
cat > "$T/early.cfg" <<'EOF'
search --no-floppy --set=root --hint="$root" --file /EFI/BOOT/grub.cfg
set prefix=($root)/EFI/BOOT
configfile ($root)/EFI/BOOT/grub.cfg
EOF
cat > "$T/grub.cfg" <<'EOF'
set timeout=0
if [ "$grub_cpu" = "x86_64" ]; then set a=x86_64; set c=ttyS0
else set a=aarch64; set c=ttyAMA0; fi
export a c
menuentry "test" {
    linux /$a/vmlinuz console=$c panic=-1 root=PARTUUID=raw-test
    initrd /$a/initrd.img
}
EOF
MODS="part_gpt fat search search_fs_file normal configfile linux boot echo test minicmd gzio"
grub-mkimage -O x86_64-efi -d "$FIX/grub/x86_64-efi" -p /EFI/BOOT -c "$T/early.cfg" -o "$T/BOOTX64.EFI" $MODS || fail "grub-mkimage x86_64"
grub-mkimage -O arm64-efi -d "$FIX/grub/arm64-efi" -p /EFI/BOOT -c "$T/early.cfg" -o "$T/BOOTAA64.EFI" $MODS || fail "grub-mkimage arm64"
IMG="$T/disk,with \"odd\" name.img"     # a comma and quotes must stay one file name
truncate -s 66M "$IMG"
sgdisk -o -n 1:2048:+63M -t 1:EF00 "$IMG" >/dev/null || fail sgdisk
mkfs.vfat -F 32 --offset=2048 "$IMG" $((63 * 1024)) >/dev/null 2>&1
M="$IMG@@$((2048 * 512))"
mmd -i "$M" ::/EFI ::/EFI/BOOT ::/x86_64 ::/aarch64 || fail mmd
mcopy -i "$M" "$T/BOOTX64.EFI" "$T/BOOTAA64.EFI" "$T/grub.cfg" ::/EFI/BOOT/ || fail mcopy
for a in x86_64 aarch64; do
    mcopy -i "$M" "$FIX/$a/vmlinuz" ::/$a/vmlinuz && mcopy -i "$M" "$FIX/$a/initrd.img" ::/$a/initrd.img || fail mcopy
done
chmod a-w "$IMG"
SUM=$(sha256sum < "$IMG")

qemu_left() { pgrep -f -- "$TMPDIR" >/dev/null; }
# QEMU itself is up (not just the short-lived qemu-img that makes the overlays)
qemu_started() { pgrep -f -- "qemu-system-.*$TMPDIR" >/dev/null; }

# ---- boot both arches ----
for a in x86_64 aarch64; do
    t0=$(date +%s.%N)
    XOVA_ACCEL=auto "$HV" boot $a "XOVA-BOOT-OK arch=$a" 300 "$IMG" 2> "$T/err.$a"
    rc=$?
    t1=$(date +%s.%N)
    cat "$T/err.$a"
    [ $rc = 0 ] || fail "boot $a exit $rc"
    if [ $a = aarch64 ]; then
        grep -q "emulating aarch64 with TCG (host is x86_64)" "$T/err.$a" || fail "no TCG note for aarch64"
    fi
    echo "PASS: raw boot $a to marker in $(echo "$t1 - $t0" | bc) s"
done
[ "$(sha256sum < "$IMG")" = "$SUM" ] || fail "image changed"
echo "PASS: image unchanged"
qemu_left && fail "qemu left running"
[ -z "$(ls -A "$TMPDIR")" ] || fail "run directory left: $(ls "$TMPDIR")"
echo "PASS: no qemu process, no run directory left"

# ---- timeout: a marker that never comes -> exit 4 with console lines ----
"$HV" boot x86_64 "NEVER-PRINTED" 4 "$IMG" 2> "$T/err.to"
rc=$?
[ $rc = 4 ] || { cat "$T/err.to"; fail "timeout exit $rc, want 4"; }
grep -q "not seen within 4 s" "$T/err.to" || fail "timeout message"
qemu_left && fail "qemu left after timeout"
echo "PASS: timeout exits 4"

# ---- SIGINT mid-boot ----
"$HV" boot aarch64 "XOVA-BOOT-OK arch=aarch64" 300 "$IMG" 2> "$T/err.int" &
pid=$!
for i in $(seq 1800); do qemu_started && break; sleep 0.1; done
qemu_started || fail "qemu did not start"
sleep 2
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] || { cat "$T/err.int"; fail "SIGINT exit $rc, want 130"; }
sleep 0.2
qemu_left && fail "qemu left after SIGINT"
[ -z "$(ls -A "$TMPDIR")" ] || fail "run directory left after SIGINT"
echo "PASS: SIGINT stops the guest, nothing left"

# ---- SIGKILL of the parent: PDEATHSIG takes QEMU with it ----
"$HV" boot x86_64 "XOVA-BOOT-OK arch=x86_64" 300 "$IMG" 2>/dev/null &
pid=$!
for i in $(seq 600); do qemu_left && break; sleep 0.1; done
kill -KILL $pid
wait $pid 2>/dev/null
for i in $(seq 30); do qemu_left || break; sleep 0.1; done
qemu_left && fail "qemu survived SIGKILL of its parent"
echo "PASS: SIGKILL of xova takes QEMU down"
exit 0
