#!/bin/bash
# xova-test-timeout: 1800  (four TCG boots and a SIGINT run; see tests/tools/bounded.sh)
# run-matrix.sh - `xova run` boots the hello appliance from the OVA in place:
# {x86_64, aarch64} x {split, single} to the marker under TCG (auto picks
# TCG on this host and says why), the OVA is byte-identical afterwards, no
# qemu process survives (also after SIGINT mid-boot), and a bundle with one
# flipped byte exits 3 without starting QEMU. Missing fixtures are a failure.
set -u
FIX=${XOVA_FIXTURES:-}
T=$(mktemp -d /tmp/xova-run-matrix.XXXXXX)
trap 'rm -rf "$T"' EXIT
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
fail() { echo "FAIL: $*"; exit 1; }
[ -d "$FIX/grub/x86_64-efi" ] && [ -e "$FIX/aarch64/initrd.img" ] ||
    fail "fixtures missing in '$FIX': run tests/fixtures/fetch.sh and mkinitrd.sh"
qemu_left() { pgrep -f -- "$TMPDIR" >/dev/null; }
# QEMU itself is up (not just the short-lived qemu-img that makes the overlays)
qemu_started() { pgrep -f -- "qemu-system-.*$TMPDIR" >/dev/null; }

for layout in split single; do
    "$XOVA" build "$XOVA_SRCDIR/examples/hello/xova.json" -o "$T/hello-$layout.ova" --layout $layout \
        --grub-dir "$FIX/grub" >/dev/null || fail "build $layout"
done
for layout in split single; do
    ova=$T/hello-$layout.ova
    sum=$(sha256sum < "$ova")
    for arch in x86_64 aarch64; do
        t0=$(date +%s.%N)
        "$XOVA" run "$ova" --arch $arch --accel auto --expect XOVA-BOOT-OK --timeout 300 2> "$T/err"
        rc=$?
        t1=$(date +%s.%N)
        [ $rc = 0 ] || { cat "$T/err"; fail "$layout/$arch: exit $rc"; }
        grep -Eq "using TCG|emulating $arch with TCG" "$T/err" || { cat "$T/err"; fail "$layout/$arch: no TCG note"; }
        qemu_left && fail "$layout/$arch: qemu left running"
        echo "PASS: run $layout $arch ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
    done
    [ "$(sha256sum < "$ova")" = "$sum" ] || fail "$layout: OVA changed by running it"
    echo "PASS: $layout OVA unchanged"
done
[ -z "$(ls -A "$TMPDIR")" ] || fail "left in TMPDIR: $(ls "$TMPDIR")"

# SIGINT mid-boot: the guest is stopped, nothing is left
"$XOVA" run "$T/hello-split.ova" --arch aarch64 --expect XOVA-BOOT-OK --timeout 300 2> "$T/err" &
pid=$!
# wait for QEMU (the machine may be loaded: up to 180 s), unless xova ends first
for i in $(seq 1800); do qemu_started && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if ! qemu_started; then
    kill -0 $pid 2>/dev/null && { kill -INT $pid; wait $pid; }
    cat "$T/err"; ps -ef | grep -E '[q]emu|[x]ova' | head
    fail "qemu did not start within $((i / 10)) s"
fi
sleep 2
kill -INT $pid; wait $pid; rc=$?
[ $rc = 130 ] || { cat "$T/err"; fail "SIGINT: exit $rc, want 130"; }
sleep 0.2
qemu_left && fail "qemu left after SIGINT"
[ -z "$(ls -A "$TMPDIR")" ] || fail "run directory left after SIGINT"
echo "PASS: SIGINT mid-boot leaves nothing"

# one flipped byte in the last 4 KiB of the bundle's disk data: exit 3, no qemu
cp "$T/hello-split.ova" "$T/bad.ova"
size=$(stat -c %s "$T/bad.ova")
off=$((size - 1024 * 20))
b=$(od -An -tu1 -j $off -N1 "$T/bad.ova" | tr -d ' ')
printf "$(printf '\\%03o' $(( (b ^ 1) & 255 )))" | dd of="$T/bad.ova" bs=1 seek=$off conv=notrunc 2>/dev/null
strace -f -e trace=execve -o "$T/strace" "$XOVA" run "$T/bad.ova" --arch x86_64 --expect XOVA-BOOT-OK --timeout 60 2> "$T/err"
rc=$?
[ $rc = 3 ] || { cat "$T/err"; fail "flipped byte: exit $rc, want 3"; }
grep -q qemu-system "$T/strace" && fail "qemu started for a refused bundle"
echo "PASS: flipped byte exits 3, no qemu started ($(head -1 "$T/err"))"
exit 0
