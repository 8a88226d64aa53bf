#!/bin/bash
# The fixture cache is complete (an x86_64 and an aarch64 kernel, busybox for
# both, both GRUB module dirs, both initrds and both hello root trees) and a
# second run of the fetch script downloads nothing. The marker is printed by
# the root tree's /sbin/init, never by the initrd.
. "$XOVA_SRCDIR/tests/lib.sh"
C=$XOVA_FIXTURES
for f in x86_64/vmlinuz aarch64/vmlinuz x86_64/busybox aarch64/busybox \
         x86_64/initrd.img aarch64/initrd.img grub/x86_64-efi/moddep.lst grub/arm64-efi/moddep.lst \
         x86_64/root/sbin/init aarch64/root/sbin/init x86_64/root/bin/busybox aarch64/root/bin/busybox; do
    check "cache has $f" test -s "$C/$f"
done
check "x86_64 kernel is an x86 bzImage" sh -c "file -b '$C/x86_64/vmlinuz' 2>/dev/null | grep -q 'x86 boot' || od -A n -t x1 -j 514 -N 4 '$C/x86_64/vmlinuz' | grep -q '48 64 72 53'"
check "aarch64 kernel is an arm64 Image" sh -c "od -A n -t x1 -j 56 -N 4 '$C/aarch64/vmlinuz' | grep -q '41 52 4d 64'"
for a in x86_64 aarch64; do
    check "$a initrd has an /init that runs switch_root" sh -c "zcat '$C/$a/initrd.img' | cpio -i --to-stdout init 2>/dev/null | grep -q switch_root"
    check "$a initrd holds no marker text" sh -c "! zcat '$C/$a/initrd.img' | grep -aq XOVA-BOOT-OK"
    check "$a root's /sbin/init prints the marker" grep -q 'echo "XOVA-BOOT-OK ' "$C/$a/root/sbin/init"
    check "$a root's busybox is the cached one" cmp -s "$C/$a/busybox" "$C/$a/root/bin/busybox"
done
bash "$XOVA_SRCDIR/tests/fixtures/mkinitrd.sh" "$C" >"$T/mkinitrd.log" 2>&1
check "second mkinitrd succeeds" test $? -eq 0
check "second mkinitrd rebuilds nothing" grep -q 'up to date' "$T/mkinitrd.log"
bash "$XOVA_SRCDIR/tests/fixtures/fetch.sh" "$C" >"$T/fetch.log" 2>&1
check "second fetch succeeds" test $? -eq 0
check "second fetch downloads nothing" test "$(grep -c 'fixtures: downloaded' "$T/fetch.log")" -eq 0
check "second fetch says the cache is complete" grep -q 'cache complete' "$T/fetch.log"
finish
