#!/bin/bash
# deploy-xml.sh - `xova deploy --libvirt-xml` for both arches of the hello
# appliance passes virt-xml-validate; each overlay it creates is backed by a
# copy of the verified disk (its SHA-256 is the manifest's), the OVA is
# unchanged, and a second deploy into the same dir refuses to replace disks.
# Issue 15: the copy comes from the verified descriptor even when another
# bundle is renamed over the path after verification (bug 2); a dangling
# symlink in the disk directory is refused and its target never created
# (bug 3); a bundle whose descriptor says firmware "bios" is refused by
# deploy exactly as by run, one decision (bug 6).
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
for arch in x86_64 aarch64; do
    for c in "$T/hello-$arch-disks/"*.vmdk; do
        h=$(sha256sum < "$c" | cut -c1-64)
        tar -xOf hello.ova --wildcards '*.mf' | grep -qi "= $h\$" || fail "$arch: $(basename "$c") is not a verified member"
    done
    grep -q "<slices>" "$T/$arch.xml" && fail "$arch: the XML still reads the bundle by path"
    grep -q "hello.ova" "$T/$arch.xml" && fail "$arch: the XML names the bundle path"
done
echo "PASS: every overlay backs on a copy whose digest is the manifest's"
"$XOVA" deploy --libvirt-xml --arch x86_64 hello.ova -o "$T/again.xml" 2>"$T/err" && fail "replaced existing disks"
grep -q "already exists" "$T/err" || fail "no 'already exists' message"
echo "PASS: existing disks are not replaced"
"$XOVA" deploy --libvirt-xml --no-disks --disk-dir "$T/elsewhere" hello.ova > "$T/nd.xml" || fail "--no-disks"
[ -e "$T/elsewhere" ] && fail "--no-disks created files"
virt-xml-validate "$T/nd.xml" domain >/dev/null || fail "--no-disks XML invalid"
[ "$(sha256sum < "$T/hello.ova")" = "$sum" ] || fail "OVA changed"
echo "PASS: OVA unchanged"

# bug 3: a dangling symlink where deploy would create the first overlay (or
# the copy, or the vars) points outside the disk directory: refused, and
# nothing appears at its target
for victim in hello-x86_64-disk0.qcow2 hello-x86_64-disk0.vmdk hello-x86_64_VARS.fd; do
    rm -rf "$T/sym" "$T/outside"; mkdir -p "$T/sym" "$T/outside"
    ln -s "$T/outside/created-through-link" "$T/sym/$victim"
    "$XOVA" deploy --libvirt-xml --arch x86_64 --disk-dir "$T/sym" hello.ova -o "$T/sym.xml" 2>"$T/err" &&
        fail "$victim: deploy wrote through a dangling symlink"
    [ -e "$T/outside/created-through-link" ] && fail "$victim: the symlink's target was created"
    [ -L "$T/sym/$victim" ] || fail "$victim: the symlink was replaced"
    [ "$(ls "$T/sym" | wc -l)" = 1 ] || fail "$victim: deploy left files behind: $(ls "$T/sym")"
    grep -q "symlink" "$T/err" || { cat "$T/err"; fail "$victim: the error does not say why"; }
done
# the disk directory itself as a symlink is not followed either
rm -rf "$T/outside"; mkdir "$T/outside"; ln -s "$T/outside" "$T/dirlink"
"$XOVA" deploy --libvirt-xml --arch x86_64 --disk-dir "$T/dirlink" hello.ova -o "$T/sym.xml" 2>"$T/err" &&
    fail "deploy followed a symlinked disk directory"
[ -z "$(ls -A "$T/outside")" ] || fail "files created through the symlinked directory"
echo "PASS: dangling symlinks in the disk directory are refused, nothing written at their target"

# bug 2: after verification, before the disks are written, another bundle
# is renamed over the path (a wrapper qemu-img does it as deploy starts it);
# the copies must still be the verified bytes
real_img=$(command -v qemu-img) || fail "qemu-img missing"
cp hello.ova "$T/evil.ova"
size=$(stat -c %s "$T/evil.ova")
dd if=/dev/zero of="$T/evil.ova" bs=65536 seek=1 count=$(( size / 65536 - 1 )) conv=notrunc 2>/dev/null
mkdir -p "$T/bin"
cat > "$T/bin/qemu-img" <<WRAP
#!/bin/bash
[ -e "$T/evil.ova" ] && mv -f "$T/evil.ova" "$T/swap.ova"
exec "$real_img" "\$@"
WRAP
chmod +x "$T/bin/qemu-img"
cp hello.ova swap.ova
PATH=$T/bin:$PATH "$XOVA" deploy --libvirt-xml --arch x86_64 --disk-dir "$T/swapdisks" swap.ova -o "$T/swap.xml" \
    || fail "deploy with a swap"
[ -e "$T/evil.ova" ] && fail "the wrapper qemu-img did not run"
for c in "$T/swapdisks/"*.vmdk; do
    h=$(sha256sum < "$c" | cut -c1-64)
    tar -xOf hello.ova --wildcards '*.mf' | grep -qi "= $h\$" || fail "swap: $(basename "$c") is not the verified bytes"
done
echo "PASS: deploy copies the verified bytes after the path was replaced"

# bug 6: descriptor firmware "bios": run and deploy refuse it, the same way
MKB=${XOVA_BUILDDIR:-.}/tests/unit/mkbundle
[ -x "$MKB" ] || MKB=$(dirname "$XOVA")/tests/unit/mkbundle
"$MKB" --firmware bios "$T/bios.ova" >/dev/null || fail "mkbundle --firmware bios"
"$XOVA" deploy --libvirt-xml --arch x86_64 --disk-dir "$T/biosdisks" "$T/bios.ova" -o "$T/bios.xml" 2>"$T/err.deploy" &&
    fail "deploy accepted firmware bios"
[ -e "$T/biosdisks" ] && fail "deploy created disks for a refused bundle"
timeout 120 "$XOVA" run "$T/bios.ova" --arch x86_64 --accel tcg --timeout 30 2>"$T/err.run" && fail "run accepted firmware bios"
grep -q "firmware 'bios' is not supported" "$T/err.deploy" || { cat "$T/err.deploy"; fail "deploy: wrong error"; }
grep -q "firmware 'bios' is not supported" "$T/err.run" || { cat "$T/err.run"; fail "run: wrong error"; }
echo "PASS: firmware bios is refused by run and deploy alike"
exit 0
