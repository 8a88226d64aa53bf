#!/bin/bash
# Issue 10 must-show 2: a tarball with every kind of entry builds as a
# non-root user, and each entry reads back from the image, with debugfs (not
# our writer), as the tarball has it: type, mode, uid/gid, size, link count,
# device numbers, symlink target, xattrs, ACLs, clamped mtime, holes.
# The same from a directory built by root; a directory built by non-root
# becomes root:root. e2fsck -fn is clean on every image.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
GEN="$XOVA_SRCDIR/tests/integration/fidelity-gen.py"
CHECK="$XOVA_SRCDIR/tests/integration/fidelity-check.py"
chmod 0777 "$T"
cp -r "$XOVA_FIXTURES/x86_64" "$XOVA_FIXTURES/grub" "$T/"
cp "$XOVA" "$T/xova"
chmod -R a+rX "$T"
if [ "$(id -u)" -eq 0 ]; then
    as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
else
    as_user() { "$@"; }
fi

# spec NAME SOURCE-KEY SOURCE: a one-disk appliance
spec() {
    cat >"$T/$1.json" <<JSON
{ "name": "fid", "version": "1",
  "architectures": [ { "name": "x86_64", "kernel": "x86_64/vmlinuz" } ],
  "disks": [ { "name": "root", "role": "root", "arch": "x86_64", "size": "80M", "$2": "$3" } ] }
JSON
    chmod a+r "$T/$1.json"
}
# build NAME [as_user]: raw output in $T/out-NAME; prints the image argument for debugfs
build() {
    local name=$1; shift
    "$@" env XOVA_GRUB_PATH="$T/grub" timeout 120 "$T/xova" build "$T/$name.json" --format raw \
        -o "$T/out-$name" -q >"$T/$name.log" 2>&1 || { cat "$T/$name.log"; return 1; }
}
img() { echo "$T/out-$1/fid-root-x86_64.raw?offset=1048576"; }
fsck_clean() { timeout 60 e2fsck -fn "$1" >"$T/fsck.log" 2>&1 || { cat "$T/fsck.log"; return 1; }; }

# 1. the generated tarball (pax, xz-compressed), built as non-root
python3 "$GEN" "$T/fid.tar" || fail "generate the tarball"
xz -k -T1 "$T/fid.tar"
chmod a+r "$T"/fid.tar*
check "the tarball holds at least 12 kinds of entry" test "$(python3 -c '
import tarfile, sys; print(len(tarfile.open(sys.argv[1]).getmembers()))' "$T/fid.tar")" -ge 12
spec tar tarball fid.tar.xz
check "build the tarball as uid $(as_user id -u)" build tar as_user
check "e2fsck -fn clean (tarball)" fsck_clean "$(img tar)"
check "every member reads back as in the tarball (tarball, non-root)" \
    timeout 300 python3 "$CHECK" "$T/fid.tar" "$(img tar)" "$SOURCE_DATE_EPOCH"

# the checker can fail: one owner changed behind our back
cp "$T/out-tar/fid-root-x86_64.raw" "$T/mutant.raw"
debugfs -w -R 'sif /etc/hello uid 7' "$T/mutant.raw?offset=1048576" >/dev/null 2>&1
if timeout 300 python3 "$CHECK" "$T/fid.tar" "$T/mutant.raw?offset=1048576" "$SOURCE_DATE_EPOCH" \
        >"$T/mutant.log" 2>&1; then
    fail "the checker misses a changed uid"
else
    check "the checker names the changed uid" grep -q "MISMATCH /etc/hello: uid is 7, want 1000" "$T/mutant.log"
fi
rm -f "$T/mutant.raw"

# 2. a GNU tarball (GNU tar --sparse, zstd) with a sparse file: the holes stay holes
mkdir -p "$T/sp/var"
truncate -s 64M "$T/sp/var/disk.img"
printf 'start' | dd of="$T/sp/var/disk.img" conv=notrunc status=none
printf 'middle' | dd of="$T/sp/var/disk.img" bs=1M seek=40 conv=notrunc status=none
(cd "$T/sp" && tar --sparse --format=gnu --numeric-owner -cf "$T/sparse.tar" var)
zstd -q -T1 "$T/sparse.tar" -o "$T/sparse.tar.zst"
chmod a+r "$T"/sparse.tar*
check "the GNU tarball is smaller than the file (sparse members)" \
    test "$(stat -c %s "$T/sparse.tar")" -lt 1048576
spec sparse tarball sparse.tar.zst
check "build the GNU/zstd tarball as non-root" build sparse as_user
check "e2fsck -fn clean (sparse)" fsck_clean "$(img sparse)"
check "the sparse file reads back with 2 blocks and the same bytes" \
    timeout 120 python3 "$CHECK" "$T/sparse.tar" "$(img sparse)" "$SOURCE_DATE_EPOCH"

# 3. from a directory built by root: the owners stay (root only: extracting
#    devices, owners and security.capability needs it)
if [ "$(id -u)" -eq 0 ]; then
    mkdir "$T/tree"
    bsdtar -xpf "$T/fid.tar" --xattrs --acls --numeric-owner -C "$T/tree"
    touch -d @1600000000 "$T/tree"      # the root member's mtime; bsdtar leaves "./" alone
    spec dir directory tree
    check "build the directory as root" build dir
    check "e2fsck -fn clean (directory)" fsck_clean "$(img dir)"
    check "every member reads back as in the tarball (directory, root)" \
        timeout 300 python3 "$CHECK" "$T/fid.tar" "$(img dir)" "$SOURCE_DATE_EPOCH"
else
    fail "the directory-as-root half needs root"
fi

# 4. a directory built by non-root: everything becomes 0:0
mkdir -p "$T/mine/etc"
echo hi >"$T/mine/etc/f"
[ "$(id -u)" -eq 0 ] && chown -R 65534:65534 "$T/mine"
chmod -R a+rX "$T/mine"
spec mine directory mine
check "build a non-root user's directory" build mine as_user
check "e2fsck -fn clean (non-root directory)" fsck_clean "$(img mine)"
check "a non-root user's directory becomes root:root" \
    bash -c "debugfs -R 'ls -l /etc' '$(img mine)' 2>/dev/null | awk '\$NF == \"f\" { f = 1; if (\$4 != 0 || \$5 != 0) bad = 1 } END { exit bad || !f }'"
finish
