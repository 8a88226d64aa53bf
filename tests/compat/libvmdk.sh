#!/bin/bash
# xova-test-timeout: 600
# Issue 12 must-show 3: libvmdk (Debian's libvmdk-utils and python3-libvmdk,
# a VMDK reader that is neither ours nor qemu's) reads every VMDK xova
# writes: the build's members in both layouts and the members of
# `xova export`. vmdkinfo must open each one and name the member itself
# as its extent (it failed on every VMDK while the descriptor said
# "disk.vmdk"), and the content libvmdk reads must equal the raw image of
# `xova build --format raw`, byte for byte (tests/compat/libvmdk-cmp.py).
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
SPEC=$XOVA_SRCDIR/examples/hello/xova.json
CMP=$XOVA_SRCDIR/tests/compat/libvmdk-cmp.py
cd "$T" || exit 1

# read_all DIR RAWDIR LABEL: every VMDK in DIR against RAWDIR/NAME.raw
read_all() {
    local dir=$1 raw=$2 label=$3 v name n=0
    for v in "$dir"/*.vmdk; do
        name=$(basename "$v")
        n=$((n + 1))
        timeout 60 vmdkinfo "$v" >"$T/info.txt" 2>&1
        check "$label: vmdkinfo opens $name" test $? -eq 0
        check "$label: vmdkinfo: the extent of $name is $name" \
            grep -Eq "Filename:[[:space:]]+$name\$" "$T/info.txt"
        check "$label: vmdkinfo: $name is stream optimized" grep -q "Disk type:.*Stream optimized" "$T/info.txt"
        check "$label: libvmdk reads $name equal to ${name%.vmdk}.raw" \
            timeout 120 /usr/bin/python3 "$CMP" "$v" "$raw/${name%.vmdk}.raw"
    done
    check "$label: $n VMDKs read" test "$n" -gt 0
}

for layout in split single; do
    "$XOVA" build "$SPEC" -o "$layout.ova" --layout "$layout" -q || { fail "$layout: build ova"; continue; }
    "$XOVA" build "$SPEC" -o "$layout.raw" --layout "$layout" --format raw -q || { fail "$layout: build raw"; continue; }
    mkdir -p "x-$layout" && tar xf "$layout.ova" -C "x-$layout"
    read_all "x-$layout" "$layout.raw" "$layout"
done
# the members of an export are the build's, copied: libvmdk reads them too
"$XOVA" export --arch aarch64 --for vmware -o arm.ova split.ova || fail "export"
mkdir -p x-arm && tar xf arm.ova -C x-arm
read_all x-arm split.raw "export --for vmware --arch aarch64"
finish
