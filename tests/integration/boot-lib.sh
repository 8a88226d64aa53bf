# boot-lib.sh - boot raw disk images with plain QEMU (no xova involved) and
# wait for the marker the hello root disk's /sbin/init prints on the serial
# console; helpers to know which line to expect and to write root and data
# filesystems into hand-made test images.
# Sourced by the integration tests. TCG always: KVM is not used here, the
# point is to boot the same images under both architectures' firmware.
#
# The marker (examples/hello/init, on the root disk only):
#   XOVA-BOOT-OK arch=<uname -m> root=<PARTUUID of the mounted /> shared=<sha256 of README on the data disk>

# hello_shared_sha: the sha256 the guest must report for the shared disk
hello_shared_sha() {
    sha256sum < "$XOVA_SRCDIR/examples/hello/data/README" | cut -d' ' -f1
}

# hello_marker ARCH ROOT_PARTUUID: the exact line that guest must print
hello_marker() {
    echo "XOVA-BOOT-OK arch=$1 root=$2 shared=$(hello_shared_sha)"
}

# wait_debian_marker PID LOG: returns once LOG, the console of the guest
# process PID, has the Debian example's marker or its unit's failure line,
# or systemd gave up on a unit the service needs (then no marker comes), or
# PID has ended
wait_debian_marker() {
    while kill -0 "$1" 2>/dev/null && ! grep -aq -e 'XOVA-BOOT-\(OK\|FAIL\) arch=' \
              -e 'Dependency failed for .*xova' "$2" 2>/dev/null; do
        sleep 1
    done
}

# initrd_no_marker INITRD: 0 when the gzip'd cpio INITRD unpacks, has an /init
# that hands over with switch_root, and no file in it holds the marker text
# (so a marker on the console can only come from the root disk)
initrd_no_marker() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/xova-initrd.XXXXXX") || return 1
    if ! (cd "$d" && zcat "$1" | cpio -i -d --quiet --no-absolute-filenames 2>/dev/null); then
        echo "  $1: not a gzip'd cpio" >&2; rm -rf "$d"; return 1
    fi
    local rc=0
    [ -f "$d/init" ] && grep -q 'switch_root' "$d/init" || { echo "  $1: no /init that runs switch_root" >&2; rc=1; }
    if grep -rlaq 'XOVA-BOOT-OK' "$d"; then
        echo "  $1: holds the marker text in: $(cd "$d" && grep -rla 'XOVA-BOOT-OK' . | tr '\n' ' ')" >&2; rc=1
    fi
    rm -rf "$d"
    return $rc
}

# mkext4_at IMG OFFSET SIZE DIR LABEL: an ext4 with DIR's content and LABEL,
# written into IMG at byte OFFSET (a partition of SIZE bytes), as xova's
# hello disks are: how hand-made test images get a root and a data disk
mkext4_at() {
    PATH=$PATH:/usr/sbin:/sbin mke2fs -q -F -t ext4 -L "$5" -d "$4" -E "offset=$2" "$1" "$(( $3 / 1024 ))k" </dev/null
}

# boot_raw ARCH LOG DISK... : boots the disks (first = boot disk), returns 0
# when "XOVA-BOOT-OK arch=ARCH" is on the console within BOOT_TIMEOUT seconds.
boot_raw() {
    local arch=$1 log=$2; shift 2
    local drives=() i=0 d fw=()
    for d in "$@"; do
        drives+=(-blockdev "{\"driver\":\"raw\",\"node-name\":\"d$i\",\"read-only\":true,\"file\":{\"driver\":\"file\",\"filename\":\"$d\",\"read-only\":true}}"
                 -device "virtio-blk-pci,drive=d$i${i:+}")
        i=$((i + 1))
    done
    case $arch in
    x86_64)
        cp /usr/share/OVMF/OVMF_VARS_4M.fd "$log.vars"
        fw=(-machine q35,accel=tcg -cpu max
            -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
            -drive "if=pflash,format=raw,unit=1,file=$log.vars")
        qemu=qemu-system-x86_64 ;;
    aarch64)
        fw=(-machine virt,accel=tcg -cpu max -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd)
        qemu=qemu-system-aarch64 ;;
    *) echo "boot_raw: unknown arch $arch" >&2; return 2 ;;
    esac
    timeout "${BOOT_TIMEOUT:-300}" "$qemu" "${fw[@]}" -m 512 -smp 1 -nodefaults -no-user-config \
        -display none -no-reboot -serial "file:$log" "${drives[@]}" </dev/null >"$log.qemu" 2>&1
    local rc=$?
    rm -f "$log.vars"
    if grep -aq "XOVA-BOOT-OK arch=$arch" "$log"; then
        return 0
    fi
    echo "  no 'XOVA-BOOT-OK arch=$arch' on the console (qemu exit $rc); last lines:" >&2
    tail -15 "$log" | tr -d '\r' | sed 's/^/    | /' >&2
    sed 's/^/    qemu: /' "$log.qemu" >&2
    return 1
}

# ---- Secure Boot (tests/integration/secureboot-*.sh) ----------------------

# sb_setup: the signed shims and GRUBs (`xova loaders fetch --secure-boot`,
# fetched once into $XOVA_FIXTURES/secure-boot, a no-op when cached and
# unchanged; tests/fixtures/fetch.sh fetches them too), exported as the
# per-user cache xova build looks in; SB_CA = the Microsoft UEFI CA
# certificate the repository ships. Returns non-zero when the fetch failed.
sb_setup() {
    export XDG_CACHE_HOME=$XOVA_FIXTURES/secure-boot
    SB_CA=$XOVA_SRCDIR/data/secureboot/microsoft-uefi-ca-2011.pem
    SB_LOADERS=$XDG_CACHE_HOME/xova/loaders/secure-boot
    XOVA_LIBEXEC_DIR=$XOVA_SRCDIR/scripts timeout 900 "$XOVA" loaders fetch --secure-boot -q
}

# sb_begin: how the Secure Boot tests start: sb_setup (a failure ends the
# test), a fixed SOURCE_DATE_EPOCH, TMPDIR inside $T, SHA = the hello shared
# disk's digest the guest reports, and secs T0 (seconds since T0, one decimal).
sb_begin() {
    sb_setup || { echo "FAIL - xova loaders fetch --secure-boot"; exit 1; }
    export SOURCE_DATE_EPOCH=1700000000
    export TMPDIR=$T/tmp
    mkdir -p "$TMPDIR"
    SHA=$(hello_shared_sha)
}
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# sb_spec OUT SECURE_BOOT_JSON [ARCH_JSON_EDIT]: the hello spec with absolute
# fixture paths and "secure_boot": SECURE_BOOT_JSON (a JSON object text)
sb_spec() {
    python3 - "$XOVA_SRCDIR/examples/hello" "$XOVA_FIXTURES" "$1" "$2" <<'PY'
import json, os, sys
hello, fix, out, sb = sys.argv[1:5]
s = json.load(open(os.path.join(hello, "xova.json")))
def fix_path(p):
    return os.path.normpath(os.path.join(hello, p)).replace(
        os.path.normpath(os.path.join(hello, "../../tests/fixtures/cache")), fix)
for a in s["architectures"]:
    a["kernel"] = fix_path(a["kernel"]); a["initrd"] = fix_path(a["initrd"])
for d in s["disks"]:
    d["directory"] = fix_path(d["directory"])
s["secure_boot"] = json.loads(sb)
json.dump(s, open(out, "w"), indent=1)
PY
}

# sb_snakeoil_key OUT: Debian's snakeoil test key (PkKek-1-snakeoil, in db of
# the *.snakeoil.fd vars), decrypted (its password is "snakeoil")
sb_snakeoil_key() {
    openssl rsa -in /usr/share/ovmf/PkKek-1-snakeoil.key -passin pass:snakeoil -out "$1" 2>/dev/null
}
SB_SNAKEOIL_CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem

# sb_snakeoil_fw DIR: QEMU firmware descriptors whose Secure Boot firmware
# is the snakeoil-enrolled one (for XOVA_FIRMWARE_DIR)
sb_snakeoil_fw() {
    local a
    mkdir -p "$1"
    for a in x86_64 aarch64; do
        sed -e 's|OVMF_CODE_4M\.ms\.fd|OVMF_CODE_4M.snakeoil.fd|; s|OVMF_VARS_4M\.ms\.fd|OVMF_VARS_4M.snakeoil.fd|' \
            -e 's|AAVMF_CODE\.ms\.fd|AAVMF_CODE.snakeoil.fd|; s|AAVMF_VARS\.ms\.fd|AAVMF_VARS.snakeoil.fd|' \
            "/usr/share/qemu/firmware/40-edk2-$a-secure-enrolled.json" > "$1/40-$a-snakeoil.json" || return 1
        grep -q snakeoil "$1/40-$a-snakeoil.json" || return 1
        cp "/usr/share/qemu/firmware/60-edk2-$a.json" "$1/" || return 1
    done
}

# usp_get IMG FILE OUT: copies FILE (e.g. ::/EFI/BOOT/BOOTX64.EFI) out of the
# system partition at 1 MiB of the boot disk image IMG
usp_get() {
    MTOOLS_SKIP_CHECK=1 mcopy -n -i "$1@@1048576" "$2" "$3"
}

# sb_test_key DIR: a key made now, enrolled offline. efitools has no offline
# varstore editor and python3-virt-firmware is not in Debian 12, but a
# variable store does not checksum variable data (authenticated variables
# are checked when written, not when read), so DIR gets copies of the
# *.snakeoil.fd vars in which every copy of the snakeoil certificate (PK,
# KEK, db) is replaced by a certificate of exactly its DER length: the
# subject's O= and the serial are sized until the lengths match. Writes
# DIR/db.key, DIR/db.crt, DIR/x86_64.vars, DIR/aarch64.vars and
# descriptors DIR/fw/*.json for XOVA_FIRMWARE_DIR.
sb_test_key() {
    local d=$1 want n s o l
    mkdir -p "$d/fw" || return 1
    want=$(openssl x509 -in "$SB_SNAKEOIL_CERT" -outform der | wc -c)
    openssl genrsa -out "$d/db.key" 2048 2>/dev/null || return 1
    for s in 1 256 65536; do
        for n in $(seq 1 64); do
            o=$(head -c "$n" /dev/zero | tr '\0' x)
            openssl req -x509 -key "$d/db.key" -out "$d/db.crt" -subj "/CN=xova-test-db/O=$o" -days 36500 \
                -set_serial "$s" 2>/dev/null || continue
            l=$(openssl x509 -in "$d/db.crt" -outform der | wc -c)
            [ "$l" = "$want" ] && break 2
            [ "$l" -gt "$want" ] && break
        done
    done
    [ "$l" = "$want" ] || { echo "sb_test_key: no certificate of $want bytes" >&2; return 1; }
    python3 - "$SB_SNAKEOIL_CERT" "$d/db.crt" "$d" <<'PY' || return 1
import subprocess, sys
der = lambda p: subprocess.run(["openssl", "x509", "-in", p, "-outform", "der"], capture_output=True, check=True).stdout
so, new, d = der(sys.argv[1]), der(sys.argv[2]), sys.argv[3]
assert len(so) == len(new)
for arch, src in [("x86_64", "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"), ("aarch64", "/usr/share/AAVMF/AAVMF_VARS.snakeoil.fd")]:
    data = open(src, "rb").read()
    assert data.count(so) >= 1, src
    out = data.replace(so, new)
    assert out.count(new) == data.count(so) and so not in out
    open(f"{d}/{arch}.vars", "wb").write(out)
PY
    sb_snakeoil_fw "$d/fw.tmp" || return 1
    sed "s|/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd|$d/x86_64.vars|" "$d/fw.tmp/40-x86_64-snakeoil.json" > "$d/fw/40-x86_64-test.json"
    sed "s|/usr/share/AAVMF/AAVMF_VARS.snakeoil.fd|$d/aarch64.vars|" "$d/fw.tmp/40-aarch64-snakeoil.json" > "$d/fw/40-aarch64-test.json"
    cp "$d"/fw.tmp/60-*.json "$d/fw/" && rm -rf "$d/fw.tmp"
    grep -q "$d/x86_64.vars" "$d/fw/40-x86_64-test.json" && grep -q "$d/aarch64.vars" "$d/fw/40-aarch64-test.json"
}
