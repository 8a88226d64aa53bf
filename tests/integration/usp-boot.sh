#!/bin/bash
# usp-boot.sh - boot ONE GPT image with a universal system partition (USP)
# under both QEMUs and check each guest reaches its initrd with its own root:
#   qemu-system-x86_64  -M q35  + OVMF (pflash: code read-only, private vars)
#   qemu-system-aarch64 -M virt -cpu max + -bios QEMU_EFI.fd
# The image comes from tests/tools/mkusp (bootpart/ library). KVM is
# broken on the CI host, so always TCG. The drive is read-only: booting must
# not need to write the image (it is checked unchanged afterwards).
#
# Env: XOVA_BUILDDIR, XOVA_FIXTURES (set by `make check`), BOOT_TIMEOUT (300).
set -uo pipefail
export LC_ALL=C

BUILDDIR=${XOVA_BUILDDIR:-$(pwd)}
FIX=${XOVA_FIXTURES:-$(cd "$(dirname "$0")/../fixtures" && pwd)/cache}
TIMEOUT=${BOOT_TIMEOUT:-300}
MKUSP=$BUILDDIR/tests/tools/mkusp
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
AA_BIOS=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd

fail() { echo "FAIL: $*" >&2; exit 1; }

# Missing fixtures or tools are a failure, never a silent pass: this test is
# the only proof that the USP boots.
for f in x86_64/vmlinuz x86_64/initrd.img aarch64/vmlinuz aarch64/initrd.img \
         grub/x86_64-efi/moddep.lst grub/arm64-efi/moddep.lst; do
    [ -e "$FIX/$f" ] || fail "fixture $FIX/$f missing: run tests/fixtures/fetch.sh && tests/fixtures/mkinitrd.sh"
done
[ -x "$MKUSP" ] || fail "$MKUSP not built (make check builds it)"
for t in qemu-system-x86_64:qemu-system-x86 qemu-system-aarch64:qemu-system-arm timeout:coreutils; do
    command -v "${t%%:*}" >/dev/null || fail "'${t%%:*}' not found (apt-get install ${t#*:})"
done
for f in "$OVMF_CODE" "$OVMF_VARS"; do [ -e "$f" ] || fail "$f missing (apt-get install ovmf)"; done
[ -e "$AA_BIOS" ] || fail "$AA_BIOS missing (apt-get install qemu-efi-aarch64)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/xova-usp-boot.XXXXXX") || fail "mktemp"
trap 'rm -rf "$TMP"' EXIT
IMG=$TMP/usp.img

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

T=$(now)
XOVA_FIXTURES=$FIX "$MKUSP" "$IMG" > "$TMP/roots" || fail "mkusp could not build the image"
echo "built $(stat -c %s "$IMG") byte image in $(secs "$T") s"
sum_before=$(sha256sum < "$IMG")

# $1 arch, $2 log: 0 if the marker with the expected root is in the log
check_log() {
    local root
    root=$(awk -v a="$1" '$1 == a { print $2 }' "$TMP/roots")
    grep -aq "XOVA-BOOT-OK arch=$1 root=PARTUUID=$root" "$2"
}

# $1 arch, then the qemu command line
boot() {
    local arch=$1 log=$TMP/console-$1.log rc t
    shift
    t=$(now)
    timeout "$TIMEOUT" "$@" \
        -m 512 -smp 1 \
        -drive if=none,id=hd0,format=raw,readonly=on,file="$IMG" \
        -device virtio-blk-pci,drive=hd0 \
        -nodefaults -display none -monitor none -serial file:"$log" -no-reboot </dev/null
    rc=$?
    if check_log "$arch" "$log"; then
        echo "PASS: $arch booted to the marker in $(secs "$t") s: $(grep -a XOVA-BOOT-OK "$log" | tr -d '\r' | head -1)"
        return 0
    fi
    echo "FAIL: $arch: no 'XOVA-BOOT-OK arch=$arch root=PARTUUID=...' after $(secs "$t") s (qemu exit $rc$([ $rc = 124 ] && echo ", timeout ${TIMEOUT}s")); console tail:" >&2
    tail -n 30 "$log" 2>/dev/null | tr -d '\r' | sed 's/^/    /' >&2
    return 1
}

rc_all=0
cp "$OVMF_VARS" "$TMP/OVMF_VARS_4M.fd"
boot x86_64 qemu-system-x86_64 -machine q35 -accel tcg \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$OVMF_CODE" \
    -drive if=pflash,format=raw,unit=1,file="$TMP/OVMF_VARS_4M.fd" || rc_all=1
boot aarch64 qemu-system-aarch64 -machine virt -cpu max -accel tcg -bios "$AA_BIOS" || rc_all=1

[ "$(sha256sum < "$IMG")" = "$sum_before" ] || { echo "FAIL: the boots changed the image" >&2; rc_all=1; }
exit $rc_all
