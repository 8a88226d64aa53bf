#!/bin/bash
# xova-test-timeout: 3300  (waits for the Debian roots if debian-example.sh is making them)
# Issue 12 must-show 2: virt-v2v 2.2 (Debian's, -i ova) against xova's OVAs.
#  - The universal OVA of examples/debian parses in virt-v2v: manifest and OVF
#    (--print-source), all of it read.
#  - `xova export --arch x86_64 --for virt-v2v` of it converts with
#    `virt-v2v -i ova EXPORT -o local`: inspection finds the one Debian root
#    (not "multi-boot"), the guest's GRUB 2 under /boot/efi/EFI, and rebuilds
#    its initrd; -o local writes the disks and a libvirt XML that says UEFI.
#  - The converted disks, as virt-v2v wrote them, boot under plain
#    qemu-system-x86_64 (OVMF, TCG, the virtio disks and NIC virt-v2v chose)
#    to the marker the Debian root's systemd unit prints on the console
#    (its NIC restricted: virt-v2v's first-boot script would fetch
#    qemu-guest-agent from the Internet).
# virt-v2v runs libguestfs's appliance: TCG here (/dev/kvm is broken on CI),
# its cache and temp files in this test's directory.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_CACHEDIR=$T/lgcache TMPDIR=$T
[ -n "${XOVA_TEST_KVM_BROKEN:-}" ] && export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
mkdir -p "$T/lgcache"
command -v virt-v2v >/dev/null || die "virt-v2v is not installed (scripts/install-deps.sh installs it)"

XOVA=$XOVA timeout 3000 bash "$XOVA_SRCDIR/examples/debian/build.sh" -o "$T/debian.ova" -- -q \
    >"$T/build.log" 2>&1 || { tail -20 "$T/build.log"; die "build.sh builds examples/debian"; }

# ---- the universal OVA: manifest and OVF parse ----------------------------
timeout 900 virt-v2v -i ova "$T/debian.ova" --print-source >"$T/source.txt" 2>"$T/source.err"
rc=$?
check "virt-v2v --print-source reads the universal OVA (exit $rc)" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$T/source.err"
check "... and names its EFI firmware" grep -q 'firmware: uefi' "$T/source.txt"
ndisks=$(grep -cP '^\t[0-9]+ \[' "$T/source.txt")
check "... and takes the disk items of every configuration (virt-v2v reads no configurations): $ndisks" \
    test "$ndisks" -ge 4

# ---- the single-arch export converts ----------------------------------------
"$XOVA" export "$T/debian.ova" --arch x86_64 --for virt-v2v -o "$T/v2v.ova" || die "xova export --for virt-v2v"
mkdir -p "$T/out"
start=$(date +%s)
timeout 2400 virt-v2v -i ova "$T/v2v.ova" -o local -os "$T/out" -of raw -on conv \
    >"$T/v2v.log" 2>&1
rc=$?
echo "# virt-v2v -i ova -o local: $(( $(date +%s) - start )) s"
check "virt-v2v converts the x86_64 export to -o local (exit $rc)" test $rc -eq 0
[ $rc -eq 0 ] || tail -30 "$T/v2v.log"
check "... it found one guest and converted it ('Converting 12.N to run on KVM')" \
    grep -qE 'Converting 12\.[0-9]+ to run on KVM' "$T/v2v.log"
check "... the libvirt XML it wrote says UEFI" grep -qE "firmware=.efi.|type=.pflash." "$T/out/conv.xml"
mapfile -t disks < <(sed -n "s/.*<source file='\([^']*\)'.*/\1/p" "$T/out/conv.xml" 2>/dev/null)
check "... and lists three disks: boot, root, data (${#disks[@]})" test ${#disks[@]} -eq 3

# ---- the converted guest boots under plain QEMU --------------------------------
# The firmware the XML names: its loader and the template of its NVRAM.
loader=$(sed -n "s/.*<loader[^>]*>\([^<]*\)<.*/\1/p" "$T/out/conv.xml")
vars=$(sed -n "s/.*<nvram template='\([^']*\)'.*/\1/p" "$T/out/conv.xml")
check "... and names an OVMF loader and NVRAM template that exist ($loader, $vars)" test -f "$loader" -a -f "$vars"
if [ ${#disks[@]} -eq 3 ] && [ -f "$loader" ] && [ -f "$vars" ]; then
    cp "$vars" "$T/vars.fd"
    args=()
    for d in "${disks[@]}"; do args+=(-drive "file=$d,format=raw,if=virtio"); done
    log=$T/console.log
    start=$(date +%s)
    timeout 1200 qemu-system-x86_64 -machine q35 -accel tcg -m 1024 -smp 1 -display none -no-reboot \
        -drive "if=pflash,format=raw,readonly=on,file=$loader" \
        -drive "if=pflash,format=raw,file=$T/vars.fd" "${args[@]}" \
        -nic user,model=virtio-net-pci,restrict=on -serial "file:$log" -monitor none &
    pid=$!
    wait_debian_marker "$pid" "$log"
    echo "# the converted guest: $(( $(date +%s) - start )) s to the marker"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    check "the converted guest boots to 'XOVA-BOOT-OK arch=x86_64 service=up' (its root's systemd unit)" \
        grep -aq 'XOVA-BOOT-OK arch=x86_64 service=up' "$log"
    check "... under the Debian root's systemd" grep -aq 'Welcome to .*Debian GNU/Linux 12' "$log"
    grep -aq 'XOVA-BOOT-OK' "$log" || tail -30 "$log"
fi
finish
