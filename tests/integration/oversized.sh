#!/bin/bash
# Issue 10 must-show 4: content that does not fit its disk is refused while
# it is written. A .tar.gz of a few hundred KB that expands to 256 MiB, given
# to an 8 MiB disk, fails with a clear error, and the directory the output
# goes into never holds more than the disks' sizes plus bounded buffers
# (sampled with du every 50 ms during the build). 256 MiB of zeros, by
# contrast, fits: all-zero blocks are holes, so the file is sparse.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
cp -r "$XOVA_FIXTURES/x86_64" "$T/"
mkdir "$T/out"

# bomb NAME BYTE: a tarball with one 256 MiB file of that byte, gzip-compressed
bomb() {
    python3 - "$T/$1.tar.gz" "$2" <<'PY'
import tarfile, sys, io
class Repeat(io.RawIOBase):
    def __init__(self, b, n): self.b, self.n = b, n
    def readable(self): return True
    def readinto(self, buf):
        k = min(len(buf), self.n); buf[:k] = self.b * k; self.n -= k; return k
n = 256 << 20
with tarfile.open(sys.argv[1], "w:gz", compresslevel=9) as tf:
    t = tarfile.TarInfo("big"); t.size = n; t.mode = 0o644
    tf.addfile(t, io.BufferedReader(Repeat(bytes([int(sys.argv[2])]), n)))
PY
    cat >"$T/$1.json" <<JSON
{ "name": "big", "version": "1",
  "architectures": [ { "name": "x86_64", "kernel": "x86_64/vmlinuz" } ],
  "disks": [ { "name": "root", "role": "root", "arch": "x86_64", "size": "8M", "tarball": "$1.tar.gz" } ] }
JSON
}

bomb ones 1
bomb zeros 0
check "the tarball is under 1 MiB" test "$(stat -c %s "$T/ones.tar.gz")" -lt 1048576

# the bound: the boot disk (kernel + grub, in one ESP) and the 8 MiB root,
# plus 16 MiB of slack for buffers and the summary
timeout 120 "$XOVA" build "$T/zeros.json" --format raw -o "$T/out/zeros" -q >"$T/zeros.log" 2>&1
rc=$?
check "256 MiB of zeros fits an 8 MiB disk (sparse)" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/zeros.log"
disks_kib=$(du -sk --apparent-size "$T/out/zeros" | cut -f1)
check "the zeros file is in the image at its full size, in 1 block or none" bash -c \
    "debugfs -R 'stat /big' '$T/out/zeros/big-root-x86_64.raw?offset=1048576' 2>/dev/null |
     grep -q 'Size: 268435456' && debugfs -R 'stat /big' '$T/out/zeros/big-root-x86_64.raw?offset=1048576' 2>/dev/null |
     grep -Eq 'Blockcount: (0|8)\$'"
bound=$((disks_kib + 16 * 1024))
rm -rf "$T/out/zeros"

timeout 120 "$XOVA" build "$T/ones.json" --format raw -o "$T/out/ones" >"$T/ones.log" 2>&1 &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
    kib=$(du -sk "$T/out" 2>/dev/null | cut -f1)
    [ "${kib:-0}" -gt "$peak" ] && peak=$kib
    sleep 0.05
done
wait "$pid"
rc=$?
echo "# peak ${peak} KiB in the output directory, bound ${bound} KiB"
check "the oversized tarball fails (exit 1, got $rc)" test "$rc" -eq 1
check "the error names the tarball, the member and that it does not fit" \
    grep -q "ones.tar.gz: 'big'.*does not fit: the 8 MiB filesystem is full" "$T/ones.log"
cat "$T/ones.log"
check "the output directory never held more than the disks plus 16 MiB" test "$peak" -le "$bound"
check "nothing is left in the output directory" test -z "$(ls -A "$T/out")"
finish
