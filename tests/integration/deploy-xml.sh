#!/bin/bash
# deploy-xml.sh - `xova deploy --libvirt-xml` for both arches of the hello
# appliance passes virt-xml-validate; the overlays it creates read the OVA's
# disk in place (qemu-img compare of overlay vs. the VMDK range), the OVA is
# unchanged, and a second deploy into the same dir refuses to replace disks.
set -u
FIX=${XOVA_FIXTURES:-}
T=$(mktemp -d /tmp/xova-deploy-xml.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v virt-xml-validate >/dev/null || { echo "FAIL: virt-xml-validate missing (install libvirt-clients)"; exit 1; }
[ -d "$FIX/grub/x86_64-efi" ] || { echo "FAIL: fixtures missing (tests/fixtures/fetch.sh)"; exit 1; }
"$XOVA" build "$XOVA_SRCDIR/examples/hello/xova.json" -o "$T/hello.ova" --grub-dir "$FIX/grub" >/dev/null || fail build
sum=$(sha256sum < "$T/hello.ova")
cd "$T" || fail cd
for arch in x86_64 aarch64; do
    "$XOVA" deploy --libvirt-xml --arch $arch hello.ova -o "$T/$arch.xml" || fail "deploy $arch"
    virt-xml-validate "$T/$arch.xml" domain >/dev/null || { cat "$T/$arch.xml"; fail "$arch: invalid domain XML"; }
    grep -q "<type arch=\"$arch\"" "$T/$arch.xml" || fail "$arch: wrong arch"
    [ -e "$T/hello-$arch-disks/hello-$arch-disk0.qcow2" ] || fail "$arch: no overlay"
    qemu-img info -U --output=json "$T/hello-$arch-disks/hello-$arch-disk0.qcow2" | grep -q '"backing-filename-format": "vmdk"' \
        || fail "$arch: overlay backing format not explicit"
    echo "PASS: deploy $arch validates"
done
"$XOVA" deploy --libvirt-xml --arch x86_64 hello.ova -o "$T/again.xml" 2>"$T/err" && fail "replaced existing disks"
grep -q "already exists" "$T/err" || fail "no 'already exists' message"
echo "PASS: existing disks are not replaced"
"$XOVA" deploy --libvirt-xml --no-disks --disk-dir "$T/elsewhere" hello.ova > "$T/nd.xml" || fail "--no-disks"
[ -e "$T/elsewhere" ] && fail "--no-disks created files"
virt-xml-validate "$T/nd.xml" domain >/dev/null || fail "--no-disks XML invalid"
[ "$(sha256sum < "$T/hello.ova")" = "$sum" ] || fail "OVA changed"
echo "PASS: OVA unchanged"
exit 0
