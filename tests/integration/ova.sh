#!/bin/bash
# Issue 4 must-show 1-3 on the real example: `xova build hello -o hello.ova`,
# then check it with readers that are not ours (tar, qemu-img, xmllint) and
# with ours (inspect, verify): member order, every VMDK consistent and equal
# to the raw image --format raw gives, one VM definition per arch attaching
# the right disks, a flipped byte refused naming the member, a signature
# that fails against another CA.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
SPEC=$XOVA_SRCDIR/examples/hello/xova.json
cd "$T" || exit 1

for layout in split single; do
    "$XOVA" build "$SPEC" -o "$layout.ova" --layout "$layout" -q || { fail "$layout: build ova"; continue; }
    "$XOVA" build "$SPEC" -o "$layout.raw" --layout "$layout" --format raw -q || { fail "$layout: build raw"; continue; }
    tar tf "$layout.ova" >members.txt
    check "$layout: tar lists the .ovf first" test "$(sed -n 1p members.txt)" = hello.ovf
    check "$layout: then the .mf" test "$(sed -n 2p members.txt)" = hello.mf
    mkdir -p "x-$layout" && tar xf "$layout.ova" -C "x-$layout"
    n=0
    for vmdk in $(grep '\.vmdk$' members.txt); do
        n=$((n + 1))
        check "$layout: qemu-img check $vmdk" qemu-img check -q -f vmdk "x-$layout/$vmdk"
        qemu-img convert -f vmdk -O raw "x-$layout/$vmdk" "x-$layout/${vmdk%.vmdk}.img"
        check "$layout: $vmdk converts to the raw image of --format raw" \
            cmp "x-$layout/${vmdk%.vmdk}.img" "$layout.raw/${vmdk%.vmdk}.raw"
    done
    check "$layout: every raw disk has its VMDK ($n)" test "$n" -eq "$(ls "$layout.raw"/*.raw | wc -l)"

    ovf=x-$layout/hello.ovf
    check "$layout: xmllint accepts the descriptor" xmllint --noout "$ovf"
    xp() { xmllint --xpath "$1" "$ovf" 2>/dev/null; }
    confs=$(xp '//*[local-name()="DeploymentOptionSection"]/*[local-name()="Configuration"]/@*[local-name()="id"]' |
            sed -E 's/ *([a-z]+:)?id="([^"]*)"/\2 /g')
    check "$layout: one configuration per arch (xmllint: $confs)" test "$(echo $confs)" = "x86_64 aarch64"
    for arch in x86_64 aarch64; do
        # disks attached by this arch's items, read with XPath
        got=$(xp "//*[local-name()='Item'][@*[local-name()='configuration']='$arch']/*[local-name()='HostResource']" |
              grep -o 'ovf:/disk/[^<]*' | sed 's|ovf:/disk/||' | tr '\n' ' ')
        if [ "$layout" = split ]; then want="boot root-$arch data "; else want="disk "; fi
        check "$layout: $arch attaches '$want' (xmllint)" test "$got" = "$want"
        # the same through our reader
        "$XOVA" inspect --json "$layout.ova" >inspect.json
        ours=$(python3 -c '
import json,sys
d=json.load(open("inspect.json"))
vms=d.get("architectures") or d.get("vms")
vm=[v for v in vms if v.get("arch",v.get("name"))==sys.argv[1]][0] if isinstance(vms,list) else vms[sys.argv[1]]
print(" ".join(vm["disks"])+" ")' "$arch" 2>&1)
        check "$layout: $arch attaches '$want' (xova inspect: $ours)" test "$ours" = "$want"
    done
    check "$layout: xova verify passes" "$XOVA" verify "$layout.ova"
done

# a flipped byte in the last disk member: exit 3, naming the member
cp split.ova flipped.ova
read -r last off < <(python3 -c '
import tarfile
m = tarfile.open("flipped.ova").getmembers()[-1]
print(m.name, m.offset_data + m.size // 2)')
printf '\x5a' | dd of=flipped.ova bs=1 seek="$off" conv=notrunc status=none
"$XOVA" verify flipped.ova >out.txt 2>&1; rc=$?
check "flipped byte: verify exits 3" test $rc -eq 3
check "flipped byte: message names '$last'" grep -q "$last" out.txt

# signed with key A, checked against CA B
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=xova-A -days 2 -keyout a.key -out a.crt >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=xova-B -days 2 -keyout b.key -out b.crt >/dev/null 2>&1
"$XOVA" build "$SPEC" -o signed.ova --sign-key a.key --sign-cert a.crt -q
check "signed: .cert member after .mf" test "$(tar tf signed.ova | sed -n 3p)" = hello.cert
check "signed: verify against its own CA" "$XOVA" verify signed.ova --ca a.crt
"$XOVA" verify signed.ova --ca b.crt >out.txt 2>&1; rc=$?
check "signed: verify against another CA exits 3" test $rc -eq 3
finish
