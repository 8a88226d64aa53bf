#!/bin/bash
# xova-test-timeout: 600
# Issue 12 must-show 4: VirtualBox's and Glance's import rules, which we
# cannot run here, checked by tests/compat/importer-rules.py (it names each
# rule and the function of ovfreader.cpp / ApplianceImplImport.cpp /
# ovf_process.py it comes from).
#  - universal OVA: VirtualBox accepts every item (no unknown required
#    type, type 20 nowhere with a subtype it refuses) but ignores
#    configurations, so VB-ONEVM must fail: that is why `xova export`
#    exists; Glance refuses it (GL-ONEDISK);
#  - `xova export --for virtualbox`, both arches: every VirtualBox rule
#    holds, aarch64 with vbox:Machine <Platform architecture="ARM">;
#  - `xova export --for glance` of the single layout: every Glance rule
#    holds, the properties Glance derives carry the arch's CIM
#    InstructionSet and equal those in OUT.glance.json; the split layout is
#    refused naming --layout single, and nothing is written.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
SPEC=$XOVA_SRCDIR/examples/hello/xova.json
RULES=$XOVA_SRCDIR/tests/compat/importer-rules.py
cd "$T" || exit 1
rules() { /usr/bin/python3 "$RULES" "$@" >"$T/rules.out" 2>&1; local rc=$?; sed 's/^/# /' "$T/rules.out"; return $rc; }
has() { grep -q "^$1" "$T/rules.out"; }

"$XOVA" build "$SPEC" -o split.ova -q || fail "build split"
"$XOVA" build "$SPEC" -o single.ova --layout single -q || fail "build single"

rules virtualbox split.ova
for r in VB-TYPE VB-TYPE20 VB-IID VB-MEM VB-PARENT VB-HOSTRES VB-OSTYPE; do
    check "universal: VirtualBox rule $r holds" has "ok $r"
done
check "universal: VirtualBox would merge the configurations (VB-ONEVM fails, hence export)" has "FAIL VB-ONEVM"
rules glance split.ova
check "universal: Glance refuses more than one disk (GL-ONEDISK)" has "FAIL GL-ONEDISK"

for arch in x86_64 aarch64; do
    "$XOVA" export --arch "$arch" --for virtualbox -o "vbox-$arch.ova" split.ova || fail "export virtualbox $arch"
    rules virtualbox "vbox-$arch.ova"
    check "virtualbox/$arch: every VirtualBox rule holds" test $? -eq 0
    check "virtualbox/$arch: one VM with boot, root-$arch, data" \
        grep -q "\"disks\": \[\"boot\", \"root-$arch\", \"data\"\]" "$T/rules.out"
    [ "$arch" = aarch64 ] && check "virtualbox/$arch: an Arm VM with its vbox:Machine platform (VB-ARM)" has "ok VB-ARM"

    "$XOVA" export --arch "$arch" --for glance -o "glance-$arch.ova" single.ova || fail "export glance $arch"
    rules glance "glance-$arch.ova"
    check "glance/$arch: every Glance rule holds" test $? -eq 0
    case $arch in x86_64) is=DMTF:x86:64 ;; aarch64) is=DMTF:ARM:A64 ;; esac
    check "glance/$arch: Glance derives cim_pasd_InstructionSet=$is" grep -q "\"cim_pasd_InstructionSet\": \"$is\"" "$T/rules.out"
    python3 - "$T/rules.out" "glance-$arch.ova.glance.json" "$arch" >"$T/props.out" 2>&1 <<'PY'
import json, sys
derived = json.loads(open(sys.argv[1]).read().splitlines()[-1])["properties"]
ours = json.load(open(sys.argv[2]))
assert ours["architecture"] == sys.argv[3], ours
assert ours["hw_firmware_type"] == "uefi", ours
for k, v in derived.items():
    assert ours.get(k) == v, (k, v, ours.get(k))
PY
    check "glance/$arch: OUT.glance.json has architecture, hw_firmware_type=uefi and what Glance derives ($(cat "$T/props.out"))" \
        test ! -s "$T/props.out"
done

"$XOVA" export --arch x86_64 --for glance -o split-glance.ova split.ova 2>"$T/err"
rc=$?
check "glance from split: refused (exit $rc)" test $rc -eq 1
check "glance from split: the message names --layout single ($(cat "$T/err"))" grep -q -- "--layout single" "$T/err"
check "glance from split: nothing written" test ! -e split-glance.ova -a ! -e split-glance.ova.glance.json
finish
