#!/bin/bash
# The fixture cache is complete (an x86_64 and an aarch64 kernel, busybox for
# both, both GRUB module dirs, both marker initrds) and a second run of the
# fetch script downloads nothing.
. "$XOVA_SRCDIR/tests/lib.sh"
C=$XOVA_FIXTURES
for f in x86_64/vmlinuz aarch64/vmlinuz x86_64/busybox aarch64/busybox \
         x86_64/initrd.img aarch64/initrd.img grub/x86_64-efi/moddep.lst grub/arm64-efi/moddep.lst; do
    check "cache has $f" test -s "$C/$f"
done
check "x86_64 kernel is an x86 bzImage" sh -c "file -b '$C/x86_64/vmlinuz' 2>/dev/null | grep -q 'x86 boot' || od -A n -t x1 -j 514 -N 4 '$C/x86_64/vmlinuz' | grep -q '48 64 72 53'"
check "aarch64 kernel is an arm64 Image" sh -c "od -A n -t x1 -j 56 -N 4 '$C/aarch64/vmlinuz' | grep -q '41 52 4d 64'"
check "initrd prints the marker" sh -c "zcat '$C/x86_64/initrd.img' | cpio -i --to-stdout init 2>/dev/null | grep -q XOVA-BOOT-OK"
bash "$XOVA_SRCDIR/tests/fixtures/fetch.sh" "$C" >"$T/fetch.log" 2>&1
check "second fetch succeeds" test $? -eq 0
check "second fetch downloads nothing" test "$(grep -c 'fixtures: downloaded' "$T/fetch.log")" -eq 0
check "second fetch says the cache is complete" grep -q 'cache complete' "$T/fetch.log"
finish
