#!/bin/bash
# xova-test-timeout: 900
# Issue 12 must-show 1: govmomi's own OVF import code takes the OVA.
# tests/compat/govmomi-import.go runs Debian's govmomi 0.24
# (golang-github-vmware-govmomi-dev): ovf.Unmarshal, then
# OvfManager.CreateImportSpec of its vCenter simulator, the call
# `govc import.ova` makes, once per configuration.
#  - the universal OVA (split and single layouts): for each configuration,
#    no error (the old descriptor got "unsupported resource type: 20" for
#    the virtio controller, "unknown ethernet card type 'virtio'", "type
#    21" for the serial port) and exactly that arch's disks uploaded;
#  - `xova export --for vmware`: x86_64 keeps its disks with no error;
#    aarch64 gets VMware's arm guest id, hardware vmx-19, firmware efi and
#    its disks on a SATA controller (vmware.sata.ahci, what Arm VMs take).
#    govmomi 0.24's simulator knows no ResourceType 20 at all (it lists 5,
#    6, 10, 14, 15, 17, 23, 24), so that import spec keeps no disk there:
#    the test checks the attachment with xmllint and states the limit.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
SPEC=$XOVA_SRCDIR/examples/hello/xova.json
cd "$T" || exit 1

# the Go program, offline from Debian's GOPATH; the build cache is kept
export GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off
export GOCACHE=${XOVA_GOCACHE:-/var/cache/xova/go-build}
mkdir -p "$GOCACHE" 2>/dev/null || GOCACHE=$T/gocache
timeout 600 go build -o "$T/govmomi-import" "$XOVA_SRCDIR/tests/compat/govmomi-import.go" >"$T/go.log" 2>&1
rc=$?
check "go build govmomi-import against Debian's govmomi" test $rc -eq 0
[ $rc -eq 0 ] || { cat "$T/go.log"; finish; exit 1; }

field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(" ".join(v) if isinstance(v,list) else v)' "$1" "$2"; }

for layout in split single; do
    "$XOVA" build "$SPEC" -o "$layout.ova" --layout "$layout" -q || { fail "$layout: build"; continue; }
    tar xOf "$layout.ova" hello.ovf >"$layout.ovf"
    timeout 120 "$T/govmomi-import" "$layout.ovf" >"$layout.json" 2>"$layout.err"
    check "$layout: CreateImportSpec runs ($(head -c 300 "$layout.err"))" test $? -eq 0
    check "$layout: one import spec per configuration" test "$(wc -l <"$layout.json")" -eq 2
    while read -r line; do
        conf=$(field "$line" configuration)
        if [ "$layout" = split ]; then want="hello-boot.vmdk hello-root-$conf.vmdk hello-data.vmdk"
        else want="hello-disk.vmdk"; fi
        check "$layout/$conf: no CreateImportSpec error ($(field "$line" errors))" test -z "$(field "$line" errors)"
        check "$layout/$conf: uploads '$want' (got '$(field "$line" disks)')" test "$(field "$line" disks)" = "$want"
        check "$layout/$conf: guest id $(field "$line" guest_id) is VMware's x86 Linux (default configuration)" \
            test "$(field "$line" guest_id)" = other5xLinux64Guest
        check "$layout/$conf: firmware efi" test "$(field "$line" firmware)" = efi
    done <"$layout.json"
done

for arch in x86_64 aarch64; do
    "$XOVA" export --arch "$arch" --for vmware -o "vmw-$arch.ova" split.ova || { fail "export $arch"; continue; }
    tar xOf "vmw-$arch.ova" hello.ovf >"vmw-$arch.ovf"
    line=$(timeout 120 "$T/govmomi-import" "vmw-$arch.ovf")
    check "vmware/$arch: CreateImportSpec runs" test -n "$line"
    check "vmware/$arch: the export holds one configuration" test "$(field "$line" configuration)" = "$arch"
    check "vmware/$arch: firmware efi" test "$(field "$line" firmware)" = efi
    if [ "$arch" = x86_64 ]; then
        check "vmware/$arch: guest id other5xLinux64Guest" test "$(field "$line" guest_id)" = other5xLinux64Guest
        check "vmware/$arch: no error ($(field "$line" errors))" test -z "$(field "$line" errors)"
        check "vmware/$arch: uploads boot, root-$arch and data" \
            test "$(field "$line" disks)" = "hello-boot.vmdk hello-root-$arch.vmdk hello-data.vmdk"
    else
        check "vmware/$arch: an arm guest id ($(field "$line" guest_id))" \
            test "$(field "$line" guest_id)" = arm-other6xlinux-64
        check "vmware/$arch: hardware version vmx-19 or later ($(field "$line" version))" \
            test "$(field "$line" version)" = vmx-19
        xp() { xmllint --xpath "$1" "vmw-$arch.ovf" 2>/dev/null; }
        ctrl=$(xp 'string(//*[local-name()="Item"][*[local-name()="ResourceType"]="20"]/*[local-name()="InstanceID"])')
        sub=$(xp 'string(//*[local-name()="Item"][*[local-name()="ResourceType"]="20"]/*[local-name()="ResourceSubType"])')
        check "vmware/$arch: a SATA controller (vmware.sata.ahci: '$sub')" test "$sub" = vmware.sata.ahci
        disks=$(xp "//*[local-name()='Item'][*[local-name()='Parent']='$ctrl']/*[local-name()='HostResource']" |
                grep -o 'ovf:/disk/[^<]*' | tr '\n' ' ')
        check "vmware/$arch: boot, root-$arch and data on it ('$disks')" \
            test "$disks" = "ovf:/disk/boot ovf:/disk/root-$arch ovf:/disk/data "
        echo "# govmomi 0.24 simulator on the SATA controller: $(field "$line" errors) (it has no ResourceType 20)"
        check "vmware/$arch: the simulator's only complaint is that limit" \
            test "$(field "$line" errors)" = "unsupported resource type: 20"
    fi
done
finish
