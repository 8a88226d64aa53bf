#!/bin/bash
# xova-test-timeout: 1200
# deploy-multi.sh - issue 13, must-show 3, 4 and 5: several --connect at once.
#  3. two hosts in parallel (both the local libvirtd, each its own pool and
#     domain name), one told --arch aarch64 (TCG): both see their marker,
#     each got only its own arch's root volume;
#  4. a host whose pool fills up midway (a tmpfs pool just big enough for
#     the boot volume: the root volume's upload fails with ENOSPC) is
#     rolled back (no volume, no domain) while the other host succeeds; a
#     bundle with one flipped byte is refused before any host is contacted
#     and nothing appears on either;
#  5. the OVA is byte-identical and owned as before.
set -u
FIX=${XOVA_FIXTURES:-}
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
. "$XOVA_SRCDIR/tests/integration/libvirt-lib.sh"
need_fixtures
lv_begin || die "libvirtd"
P1=xova-test-$$-a P2=xova-test-$$-b P3=xova-test-$$-small
NX=hello-m$$-x NA=hello-m$$-a
lv_pool "$P1" "$T/p1" || die "pool 1"
lv_pool "$P2" "$T/p2" || die "pool 2"
for d in $NX $NA $NX-ok $NX-small $NX-bad1 $NX-bad2; do lv_forget_domain "$d"; done
"$XOVA" build "$XOVA_SRCDIR/examples/hello/xova.json" -o "$T/hello.ova" --grub-dir "$FIX/grub" >/dev/null || die build
before="$(sha256sum < "$T/hello.ova") $(stat -c '%u:%g %a %i' "$T/hello.ova")"

# ---- 3: two hosts at once, one of them aarch64 under TCG ------------------
t0=$(date +%s)
timeout 900 "$XOVA" deploy "$T/hello.ova" --expect "XOVA-BOOT-OK arch=" --timeout 700 \
    --connect qemu:///system --pool "$P1" --name "$NX" \
    --connect qemu:///system --pool "$P2" --name "$NA" --arch aarch64 --accel tcg > "$T/out" 2> "$T/err"
rc=$?
cat "$T/out"
echo "# two hosts in $(( $(date +%s) - t0 )) s"
check "two hosts: exit 0 (rc $rc)" [ $rc = 0 ]
[ $rc = 0 ] || cat "$T/err"
check "one summary line per host" [ "$(grep -c '^host=' "$T/out")" = 2 ]
check "host 1: x86_64 chosen from its capabilities, marker seen" \
    grep -qE "^host=qemu:///system domain=$NX arch=x86_64 accel=$LV_ACCEL volumes=boot,root-x86_64,data .*result=ok,marker-seen$" "$T/out"
check "host 2: aarch64 as told, TCG, marker seen" \
    grep -qE "^host=qemu:///system domain=$NA arch=aarch64 accel=tcg volumes=boot,root-aarch64,data .*result=ok,marker-seen$" "$T/out"
check "host 1 got only the x86_64 root" [ "$(lv_vols "$P1" | tr '\n' ' ')" = "$NX-boot.qcow2 $NX-data.qcow2 $NX-root-x86_64.qcow2 " ]
check "host 2 got only the aarch64 root" [ "$(lv_vols "$P2" | tr '\n' ' ')" = "$NA-boot.qcow2 $NA-data.qcow2 $NA-root-aarch64.qcow2 " ]
check "x86_64 console: the root disk's marker" \
    grep -q "XOVA-BOOT-OK arch=x86_64 root=.* shared=$(hello_shared_sha)" "/var/log/libvirt/qemu/$NX-console.log"
check "aarch64 console: the root disk's marker" \
    grep -q "XOVA-BOOT-OK arch=aarch64 root=.* shared=$(hello_shared_sha)" "/var/log/libvirt/qemu/$NA-console.log"
check "the aarch64 domain is an aarch64 guest" \
    bash -c "virsh -c qemu:///system dumpxml --inactive '$NA' | grep -q \"<type arch='aarch64' machine='virt\""

# ---- 4: a pool that fills up midway is rolled back, the other host stays ---
boot=$(stat -c %s "$T/p1/$NX-boot.qcow2")
mkdir "$T/small"
mount -t tmpfs -o size=$(( boot / 1024 + 512 ))k,mode=755 tmpfs "$T/small" || die "mount tmpfs"
LV_MOUNTS+=("$T/small")
lv_pool "$P3" "$T/small" || die "pool 3"
timeout 300 "$XOVA" deploy "$T/hello.ova" \
    --connect qemu:///system --pool "$P1" --name "$NX-ok" \
    --connect qemu:///system --pool "$P3" --name "$NX-small" > "$T/out2" 2> "$T/err2"
rc=$?
cat "$T/out2" "$T/err2"
check "one host failed: exit 1 (rc $rc)" [ $rc = 1 ]
check "host 1 succeeded" grep -qE "^host=qemu:///system domain=$NX-ok .*result=ok$" "$T/out2"
check "host 2 failed" grep -qE "^host=qemu:///system domain=$NX-small .*result=failed$" "$T/out2"
check "the failure is the upload midway" grep -q "volume '$NX-small-root-x86_64.qcow2': upload failed after" "$T/err2"
check "host 2 says it rolled back its boot volume" grep -q "rolling back: 1 volume(s) deleted" "$T/err2"
check "host 2: no volume left" [ -z "$(lv_vols "$P3")" ]
check "host 2: no file left in its pool" [ -z "$(ls -A "$T/small")" ]
check "host 2: no domain" bash -c "! virsh -q -c qemu:///system dominfo '$NX-small' >/dev/null 2>&1"
check "host 1: its domain and three volumes" \
    bash -c "virsh -q -c qemu:///system dominfo '$NX-ok' >/dev/null && [ \$(ls '$T/p1' | grep -c '^$NX-ok-') = 3 ]"

# ---- 4b: a flipped byte: refused before any host, nothing sent ------------
cp "$T/hello.ova" "$T/bad.ova"
off=$(( $(stat -c %s "$T/bad.ova") / 2 ))
b=$(od -An -tu1 -j $off -N1 "$T/bad.ova" | tr -d ' ')
printf "$(printf '\\%03o' $(( b ^ 1 )))" | dd of="$T/bad.ova" bs=1 seek=$off conv=notrunc 2>/dev/null
v1=$(lv_vols "$P1"); v2=$(lv_vols "$P2")
timeout 120 "$XOVA" deploy "$T/bad.ova" --start \
    --connect qemu:///system --pool "$P1" --name "$NX-bad1" \
    --connect qemu:///system --pool "$P2" --name "$NX-bad2" > "$T/out3" 2> "$T/err3"
rc=$?
cat "$T/err3"
check "flipped byte: verification failure, exit 3 (rc $rc)" [ $rc = 3 ]
check "no host was reached (no summary line)" [ ! -s "$T/out3" ]
check "no domain on either" bash -c "! virsh -q -c qemu:///system dominfo '$NX-bad1' >/dev/null 2>&1 &&
                                    ! virsh -q -c qemu:///system dominfo '$NX-bad2' >/dev/null 2>&1"
check "no volume on either" [ "$(lv_vols "$P1")" = "$v1" -a "$(lv_vols "$P2")" = "$v2" ]

# one URI twice, one told --arch x86_64, the other choosing x86_64 itself:
# the same default name; the second to claim it is refused before it
# touches anything, the first deploys
lv_forget_domain hello-x86_64
timeout 300 "$XOVA" deploy "$T/hello.ova" --pool "$P1" \
    --connect qemu:///system --arch x86_64 --connect qemu:///system > "$T/out4" 2> "$T/err4"
rc=$?
cat "$T/out4" "$T/err4"
check "one name twice on one URI: exit 1 (rc $rc)" [ $rc = 1 ]
check "one of them deployed, one refused" \
    [ "$(grep -c 'result=ok$' "$T/out4")" = 1 -a "$(grep -c 'result=failed$' "$T/out4")" = 1 ]
check "the refusal says why" grep -q "another --connect of this URI deploys domain 'hello-x86_64'" "$T/err4"
check "the winner's three volumes are intact" [ "$(ls "$T/p1" | grep -c '^hello-x86_64-')" = 3 ]
timeout 120 "$XOVA" undeploy hello-x86_64 --connect qemu:///system 2>/dev/null || fail "undeploy hello-x86_64"

for d in $NX $NA $NX-ok; do
    timeout 120 "$XOVA" undeploy "$d" --connect qemu:///system 2>/dev/null || fail "undeploy $d"
done
check "undeploy: pools empty" [ -z "$(lv_vols "$P1")$(lv_vols "$P2")" ]
after="$(sha256sum < "$T/hello.ova") $(stat -c '%u:%g %a %i' "$T/hello.ova")"
check "OVA byte-identical, same owner, mode and inode" [ "$before" = "$after" ]
finish
