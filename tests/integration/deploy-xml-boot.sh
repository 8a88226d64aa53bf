#!/bin/bash
# xova-test-timeout: 1500  (three TCG boots under libvirt, one x86 with SMM; the first run fetches the signed loaders)
# deploy-xml-boot.sh - the domain XML of `xova deploy --libvirt-xml` is one a
# real libvirtd accepts and boots, not only one its schema validates
# (deploy-xml.sh): hello on x86_64 and aarch64, and the Secure Boot
# (distribution) bundle on x86_64 (a secure loader, SMM on, the
# Microsoft-enrolled firmware and vars), each defined in qemu:///system,
# started, and read on its serial console for the root disk's marker, with
# secureboot=1 for the Secure Boot one. Libvirt refused that XML before
# ("cannot use feature-based firmware autoselection when firmware
# autoselection is disabled": a <firmware> feature list beside a loader path).
# The test edits the XML in three places only: a unique domain name, a <log>
# on the serial port (to read the console), no NIC (libvirt's 'default'
# network cannot start on this host: no dnsmasq).
set -u
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
. "$XOVA_SRCDIR/tests/integration/libvirt-lib.sh"
need_fixtures
lv_begin || die "libvirtd"
sb_begin

# boot_xml DESC XML MARKER: define the edited XML, start it, wait (400 s at
# most) for MARKER on the console log, remove the domain and its NVRAM
boot_xml() {
    local d=$1 xml=$2 want=$3 name log t0 i
    name=xova-xml-$$-$(basename "$xml" .xml)
    log=$T/$name.console
    python3 - "$xml" "$T/$name.xml" "$name" "$log" <<'PY' || { fail "$d: cannot edit the XML"; return; }
import sys, xml.etree.ElementTree as ET
src, out, name, log = sys.argv[1:5]
t = ET.parse(src); dom = t.getroot()
dom.find("name").text = name
dev = dom.find("devices")
for nic in dev.findall("interface"):
    dev.remove(nic)
l = ET.Element("log", {"file": log, "append": "off"})
dev.find("serial").insert(0, l)
t.write(out)
PY
    lv_forget_domain "$name"
    if ! virsh -q -c qemu:///system define "$T/$name.xml" > "$T/virsh.err" 2>&1; then
        fail "$d: libvirt refuses the XML: $(cat "$T/virsh.err")"
        return
    fi
    t0=$(date +%s.%N)
    if ! virsh -q -c qemu:///system start "$name" > "$T/virsh.err" 2>&1; then
        fail "$d: libvirt cannot start it: $(cat "$T/virsh.err")"
    else
        for i in $(seq 400); do
            grep -aq -- "$want" "$log" 2>/dev/null && break
            sleep 1
        done
        if grep -aq -- "$want" "$log" 2>/dev/null; then
            ok "$d: defined, started, '$want' on the console ($(secs "$t0") s)"
        else
            fail "$d: no '$want' on the console in 400 s: $(tail -c 600 "$log" 2>/dev/null | tr -d '\r')"
        fi
    fi
    virsh -q -c qemu:///system destroy "$name" >/dev/null 2>&1
    virsh -q -c qemu:///system undefine --nvram "$name" >/dev/null 2>&1
    check "$d: domain removed" sh -c "! virsh -q -c qemu:///system dominfo '$name' >/dev/null 2>&1"
}

"$XOVA" build "$XOVA_SRCDIR/examples/hello/xova.json" -o "$T/hello.ova" --grub-dir "$XOVA_FIXTURES/grub" -q || die build
for arch in x86_64 aarch64; do
    "$XOVA" deploy --libvirt-xml --disk-dir "$T/disks" --arch $arch "$T/hello.ova" -o "$T/hello-$arch.xml" ||
        die "deploy --libvirt-xml $arch"
    boot_xml "hello $arch" "$T/hello-$arch.xml" "XOVA-BOOT-OK arch=$arch root="
done

sb_spec "$T/dist.json" "{\"mode\": \"distribution\", \"ca\": \"$SB_CA\"}"
"$XOVA" build "$T/dist.json" -o "$T/dist.ova" -q || die "Secure Boot build"
"$XOVA" deploy --libvirt-xml --disk-dir "$T/sb-disks" --arch x86_64 "$T/dist.ova" -o "$T/sb-x86_64.xml" ||
    die "deploy --libvirt-xml, Secure Boot"
check "Secure Boot x86_64: a secure loader, the Microsoft-enrolled code" \
    grep -q '<loader readonly="yes" secure="yes" type="pflash">[^<]*OVMF_CODE_4M.ms.fd</loader>' "$T/sb-x86_64.xml"
check "Secure Boot x86_64: SMM on" grep -q '<smm state="on"/>' "$T/sb-x86_64.xml"
check "Secure Boot x86_64: no <firmware> feature list beside the loader path" \
    sh -c "! grep -q '<firmware>' '$T/sb-x86_64.xml'"
boot_xml "Secure Boot x86_64" "$T/sb-x86_64.xml" "XOVA-BOOT-OK arch=x86_64 root=.* secureboot=1"
finish
