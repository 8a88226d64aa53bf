#!/bin/bash
# xova-test-timeout: 2700  (eight TCG boots, x86 with SMM; the first run fetches the signed loaders)
# secureboot-boot.sh - Secure Boot bundles boot, and only where they should,
# read on the real serial console; the marker comes from the root disk's
# init, which reads the firmware's SecureBoot variable through efivarfs:
#   1. distribution, x86_64 + aarch64, `xova run` on the Microsoft-enrolled
#      firmware it picks from QEMU's descriptors: secureboot=1;
#   2. own-key with Debian's snakeoil key, x86_64 + aarch64, on the
#      snakeoil-enrolled firmware (XOVA_FIRMWARE_DIR): secureboot=1; the same
#      bundle on the Microsoft-enrolled firmware is refused on the console and
#      `xova run` exits non-zero naming Secure Boot;
#   3. a system partition whose signed shim had one byte changed after the
#      build is refused by the firmware (plain QEMU on the raw disks);
#   --no-secure-boot boots the plain firmware, says so, and the guest reports
#   secureboot=0.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
need_fixtures
sb_begin

# root_uuid RAWDIR ARCH: that arch's root partition uuid in a raw build's summary.json
root_uuid() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["architectures"][sys.argv[2]]["root_partuuid"])' \
        "$1/summary.json" "$2"
}

# run_ok DESC OVA ARCH WANT [xova run args]: boots to the whole marker line WANT
run_ok() {
    local d=$1 ova=$2 arch=$3 want=$4 t0 rc; shift 4
    t0=$(date +%s.%N)
    timeout 900 "$XOVA" run "$ova" --arch "$arch" --expect "$want" --timeout 600 --console "$@" \
        > "$T/console" 2> "$T/err"
    rc=$?
    if [ $rc = 0 ] && grep -aq -- "$want" "$T/console"; then
        ok "$d ($(secs "$t0") s): $want"
    else
        fail "$d: exit $rc, want '$want'; stderr: $(cat "$T/err"); console: $(tail -5 "$T/console" | tr -d '\r')"
    fi
}

# run_refused DESC OVA ARCH [xova run args]: the loader is refused on the console,
# xova run exits non-zero naming Secure Boot, no marker
run_refused() {
    local d=$1 ova=$2 arch=$3 t0 rc; shift 3
    t0=$(date +%s.%N)
    timeout 900 "$XOVA" run "$ova" --arch "$arch" --expect XOVA-BOOT-OK --timeout 600 --console "$@" \
        > "$T/console" 2> "$T/err"
    rc=$?
    if [ $rc != 0 ] && grep -q "Secure Boot refused" "$T/err" &&
       grep -aEq "Access Denied|Security Violation" "$T/console" && ! grep -aq XOVA-BOOT-OK "$T/console"; then
        ok "$d ($(secs "$t0") s, exit $rc): $(grep -aEo '[^|]*(Access Denied|Security Violation)' "$T/console" | head -1 | tr -d '\r\033' | cut -c1-160)"
    else
        fail "$d: exit $rc; stderr: $(cat "$T/err"); console: $(tail -5 "$T/console" | tr -d '\r')"
    fi
}

# --- 1. distribution
sb_spec "$T/dist.json" "{\"mode\": \"distribution\", \"ca\": \"$SB_CA\"}"
"$XOVA" build "$T/dist.json" -o "$T/dist.ova" -q || fail "distribution: build"
"$XOVA" build "$T/dist.json" -o "$T/dist-raw" --format raw -q || fail "distribution: raw build"
for arch in x86_64 aarch64; do
    uuid=$(root_uuid "$T/dist-raw" $arch)
    run_ok "distribution $arch on the Microsoft-enrolled firmware" "$T/dist.ova" $arch \
        "XOVA-BOOT-OK arch=$arch root=$uuid shared=$SHA secureboot=1"
    check "distribution $arch: run picked the keys-enrolled firmware and said so" \
        grep -Eq "Secure Boot: on \(firmware /usr/share/(OVMF/OVMF_CODE_4M|AAVMF/AAVMF_CODE)\.ms\.fd\)" "$T/err"
    check "distribution $arch: the kernel saw Secure Boot" grep -aq "Secure boot enabled" "$T/console"
done
# --no-secure-boot: the plain firmware, and the guest knows
uuid=$(root_uuid "$T/dist-raw" aarch64)
run_ok "distribution aarch64 with --no-secure-boot" "$T/dist.ova" aarch64 \
    "XOVA-BOOT-OK arch=aarch64 root=$uuid shared=$SHA secureboot=0" --no-secure-boot
check "--no-secure-boot says so on stderr" grep -q "Secure Boot: off (--no-secure-boot)" "$T/err"

# --- 2. own key: Debian's snakeoil key, enrolled in the *.snakeoil.fd vars
sb_snakeoil_key "$T/snakeoil.key" || fail "cannot decrypt the snakeoil key"
sb_snakeoil_fw "$T/fw" || fail "cannot write snakeoil firmware descriptors"
sb_spec "$T/own.json" "{\"mode\": \"own-key\", \"ca\": \"$SB_CA\", \"sign_kernels\": true}"
"$XOVA" build "$T/own.json" -o "$T/own.ova" -q --sb-key "$T/snakeoil.key" --sb-cert "$SB_SNAKEOIL_CERT" ||
    fail "own-key: build"
"$XOVA" build "$T/own.json" -o "$T/own-raw" --format raw -q --sb-key "$T/snakeoil.key" --sb-cert "$SB_SNAKEOIL_CERT" ||
    fail "own-key: raw build"
for arch in x86_64 aarch64; do
    uuid=$(root_uuid "$T/own-raw" $arch)
    XOVA_FIRMWARE_DIR=$T/fw run_ok "own-key $arch on the snakeoil-enrolled firmware" "$T/own.ova" $arch \
        "XOVA-BOOT-OK arch=$arch root=$uuid shared=$SHA secureboot=1"
    check "own-key $arch: booted on the snakeoil firmware" grep -q "snakeoil.fd" "$T/err"
done
for arch in x86_64 aarch64; do
    run_refused "own-key $arch on the Microsoft-enrolled firmware (db without the key) is refused" \
        "$T/own.ova" $arch
done

# --- 3. one byte of the signed shim changed after the build: the firmware refuses it
cp -a "$T/dist-raw" "$T/flip"
usp_get "$T/flip/hello-boot.raw" ::/EFI/BOOT/BOOTX64.EFI "$T/shim" || fail "no BOOTX64.EFI"
off=$(python3 - "$T/flip/hello-boot.raw" "$T/shim" <<'PY'
import sys
img = open(sys.argv[1], "rb").read(); shim = open(sys.argv[2], "rb").read()
# one 512-byte cluster from the middle of the shim (a cluster is contiguous on the FAT)
k = (len(shim) // 2) // 512 * 512
chunk = shim[k:k + 512]
at = img.find(chunk)
assert at > 0 and img.find(chunk, at + 1) < 0, "cluster not found once"
print(at + 100)
PY
) || fail "cannot find the shim in the boot disk"
b=$(od -An -tu1 -j "$off" -N1 "$T/flip/hello-boot.raw" | tr -d ' ')
printf "$(printf '\\%03o' $(( (b ^ 0x40) & 255 )))" | dd of="$T/flip/hello-boot.raw" bs=1 seek="$off" conv=notrunc 2>/dev/null
usp_get "$T/flip/hello-boot.raw" ::/EFI/BOOT/BOOTX64.EFI "$T/shim2" || fail "no BOOTX64.EFI after the flip"
check "the flipped shim differs from the built one in one byte" test "$(cmp -l "$T/shim" "$T/shim2" | wc -l)" = 1
cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$T/flip.vars"
t0=$(date +%s.%N)
timeout 600 qemu-system-x86_64 -machine q35,smm=on,accel=tcg -global driver=cfi.pflash01,property=secure,value=on \
    -cpu max -m 512 -smp 1 -nodefaults -no-user-config -display none -no-reboot -serial "file:$T/flip.log" \
    -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd \
    -drive "if=pflash,format=raw,unit=1,file=$T/flip.vars" \
    -drive "file=$T/flip/hello-boot.raw,format=raw,if=virtio,readonly=on" \
    -drive "file=$T/flip/hello-root-x86_64.raw,format=raw,if=virtio,readonly=on" \
    -drive "file=$T/flip/hello-data.raw,format=raw,if=virtio,readonly=on" </dev/null >"$T/flip.qemu" 2>&1 &
qpid=$!
for i in $(seq 600); do
    grep -aEq "Access Denied|Security Violation|XOVA-BOOT-OK" "$T/flip.log" 2>/dev/null && break
    kill -0 $qpid 2>/dev/null || break
    sleep 1
done
kill $qpid 2>/dev/null; wait $qpid 2>/dev/null
if grep -aq "Access Denied" "$T/flip.log" && ! grep -aq XOVA-BOOT-OK "$T/flip.log"; then
    ok "a shim changed after the build is refused by the firmware ($(secs "$t0") s): $(grep -a 'Access Denied' "$T/flip.log" | head -1 | tr -d '\r')"
else
    fail "changed shim: no refusal; console: $(tail -5 "$T/flip.log" | tr -d '\r')"
fi
[ -z "$(ls -A "$TMPDIR")" ] || fail "left in TMPDIR: $(ls "$TMPDIR")"
finish
