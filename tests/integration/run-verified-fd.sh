#!/bin/bash
# run-verified-fd.sh - what boots is what was verified (issue 15, bug 2).
# `xova run` verifies hello.ova; then, after verification and before QEMU
# reads a byte, a wrapper qemu-system-x86_64 (first on PATH) renames a copy
# whose disk bytes are zeroed over hello.ova and execs the real QEMU. QEMU
# must read the verified inode (through the descriptor xova hashed), so the
# guest still boots to the marker from its root disk. On a build that hands
# QEMU the path, the guest reads zeroes and never prints the marker.
set -u
FIX=${XOVA_FIXTURES:-}
T=$(mktemp -d /tmp/xova-run-verified.XXXXXX)
trap 'rm -rf "$T"' EXIT
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR" "$T/bin"
fail() { echo "FAIL: $*"; exit 1; }
[ -d "$FIX/grub/x86_64-efi" ] && [ -e "$FIX/x86_64/initrd.img" ] ||
    fail "fixtures missing in '$FIX': run tests/fixtures/fetch.sh and mkinitrd.sh"
real=$(PATH=$PATH:/usr/sbin:/sbin command -v qemu-system-x86_64) || fail "qemu-system-x86_64 missing"

timeout 300 "$XOVA" build "$XOVA_SRCDIR/examples/hello/xova.json" -o "$T/hello.ova" \
    --grub-dir "$FIX/grub" >/dev/null || fail build
# the swap: same size, same tar headers, every disk byte after the
# descriptor/manifest zeroed (keep the first 64 KiB: descriptor, manifest)
cp "$T/hello.ova" "$T/evil.ova"
size=$(stat -c %s "$T/evil.ova")
dd if=/dev/zero of="$T/evil.ova" bs=65536 seek=1 count=$(( size / 65536 - 1 )) conv=notrunc 2>/dev/null
sum=$(sha256sum < "$T/hello.ova" | cut -c1-64)

# the wrapper: only the real boot swaps (the KVM probe boots a -bios file)
cat > "$T/bin/qemu-system-x86_64" <<WRAP
#!/bin/bash
case " \$* " in *virtio-blk*) mv -f "$T/evil.ova" "$T/hello.ova" && echo swapped >> "$T/swapped" ;; esac
exec "$real" "\$@"
WRAP
chmod +x "$T/bin/qemu-system-x86_64"

PATH=$T/bin:$PATH:/usr/sbin:/sbin timeout 400 "$XOVA" run "$T/hello.ova" --arch x86_64 --accel tcg \
    --expect XOVA-BOOT-OK --timeout 240 2> "$T/err"
rc=$?
[ -e "$T/swapped" ] || { cat "$T/err"; fail "the wrapper QEMU did not run (swap not done)"; }
[ "$(sha256sum < "$T/hello.ova" | cut -c1-64)" != "$sum" ] || fail "the path was not replaced"
[ $rc = 0 ] || { cat "$T/err"; fail "run: exit $rc: QEMU read the replaced file, not the verified one"; }
echo "PASS: run boots the verified bytes after the path was replaced"
exit 0
