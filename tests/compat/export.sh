#!/bin/bash
# xova-test-timeout: 600
# Issue 12 must-show 5: `xova export`.
#  - byte-reproducible: the same bundle and SOURCE_DATE_EPOCH give the same
#    OVA, in another directory and another run;
#  - it holds the descriptor, the manifest (and .cert when signing), then
#    only that arch's disks, each member byte-equal to the source member
#    (tar + cmp: not our reader);
#  - the export verifies (xova verify, the signed one against its CA) and
#    its manifest lists the same disk digests as the source's;
#  - a bundle with one flipped byte is refused (exit 3) and nothing is
#    written; an existing OUT is refused without --force; bad usage exit 2.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
SPEC=$XOVA_SRCDIR/examples/hello/xova.json
cd "$T" || exit 1
"$XOVA" build "$SPEC" -o src.ova -q || { fail "build"; finish; exit 1; }
mkdir -p src && tar xf src.ova -C src
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=xova-export-test -days 1 -keyout key.pem -out cert.pem \
    >/dev/null 2>&1 || fail "openssl"

for arch in x86_64 aarch64; do
    for c in vmware virtualbox virt-v2v libvirt; do
        out=$c-$arch.ova
        "$XOVA" export --arch "$arch" --for "$c" -o "$out" src.ova || { fail "$c/$arch: export"; continue; }
        mkdir -p again && (cd again && "$XOVA" export --arch "$arch" --for "$c" -o "$out" ../src.ova) ||
            fail "$c/$arch: export again"
        check "$c/$arch: byte-reproducible" cmp "$out" "again/$out"
        check "$c/$arch: xova verify" bash -c '"$1" verify "$2" >/dev/null' _ "$XOVA" "$out"
        want="hello.ovf hello.mf hello-boot.vmdk hello-root-$arch.vmdk hello-data.vmdk"
        check "$c/$arch: members '$want'" test "$(tar tf "$out" | tr '\n' ' ')" = "$want "
        rm -rf x && mkdir x && tar xf "$out" -C x
        for m in hello-boot.vmdk "hello-root-$arch.vmdk" hello-data.vmdk; do
            check "$c/$arch: $m equals the source member" cmp "x/$m" "src/$m"
            check "$c/$arch: the manifest keeps $m's digest" grep -qF "$(grep -F "($m)" src/hello.mf)" x/hello.mf
        done
        check "$c/$arch: tar headers fixed (root, 0644, mtime $SOURCE_DATE_EPOCH)" \
            python3 -c 'import sys,tarfile
for m in tarfile.open(sys.argv[1]).getmembers():
    assert (m.uid, m.gid, m.uname, m.gname, m.mode, m.mtime) == (0, 0, "root", "root", 0o644, int(sys.argv[2])), m
' "$out" "$SOURCE_DATE_EPOCH"
    done
done

"$XOVA" export --arch aarch64 --for vmware --sign-key key.pem --sign-cert cert.pem -o signed.ova src.ova ||
    fail "signed export"
check "signed: a .cert member after the manifest" test "$(tar tf signed.ova | sed -n 3p)" = hello.cert
check "signed: verifies against its CA" "$XOVA" verify --ca cert.pem --require-signature signed.ova
"$XOVA" export --arch aarch64 --for vmware --sign-key key.pem --sign-cert cert.pem -o signed2.ova src.ova
check "signed: reproducible (PKCS#1 v1.5 signature)" cmp signed.ova signed2.ova

# one flipped byte inside the aarch64 root disk member
cp src.ova flipped.ova
off=$(python3 -c 'import tarfile
m=[m for m in tarfile.open("flipped.ova").getmembers() if m.name=="hello-root-aarch64.vmdk"][0]
print(m.offset_data + m.size // 2)')
printf '\xff' | dd of=flipped.ova bs=1 seek="$off" conv=notrunc status=none
"$XOVA" export --arch aarch64 --for vmware -o bad.ova flipped.ova 2>err.txt
rc=$?
check "flipped byte: refused with exit 3 (got $rc: $(head -c 200 err.txt))" test $rc -eq 3
check "flipped byte: the message names the member" grep -q "hello-root-aarch64.vmdk" err.txt
check "flipped byte: nothing written" test -z "$(ls -A . | grep -E '^bad\.ova|^\.bad|\.tmp' || true)"

"$XOVA" export --arch x86_64 --for vmware -o vmware-x86_64.ova src.ova 2>err.txt
rc=$?
check "an existing OUT is refused without --force (exit $rc)" test $rc -eq 1 -a -s err.txt
"$XOVA" export --arch x86_64 --for vmware --force -o vmware-x86_64.ova src.ova
check "--force replaces it" cmp vmware-x86_64.ova again/vmware-x86_64.ova
"$XOVA" export --arch x86_64 -o u.ova src.ova 2>/dev/null
rc=$?
check "no --for: exit 2 (got $rc)" test $rc -eq 2
"$XOVA" export --arch x86_64 --for hyper-v -o u.ova src.ova 2>/dev/null
rc=$?
check "unknown consumer: exit 2 (got $rc)" test $rc -eq 2
"$XOVA" export --arch riscv64 --for vmware -o u.ova src.ova 2>/dev/null
rc=$?
check "unknown arch: exit 2 (got $rc)" test $rc -eq 2
check "no output for the refused runs" test ! -e u.ova
finish
