#!/bin/bash
# Resource caps: `xova verify` on good and hostile
# bundles under nova's limits (prlimit --as=1G --cpu=30), each in a
# read-only working directory of a private mount namespace with $TMPDIR
# read-only too (verify writes nothing). Each must end with 0 (good), 3
# (verification failed) or another code in 1..125 with a message naming the
# member or offset; never killed by the limits (137, 152, SIGSEGV), never
# hung (timeout 20 s); an unrelated sentinel tree stays unchanged.
# Fast and fixture-free: bundles come from tests/unit/mkbundle.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/faults/lib-faults.sh"
: "${XOVA_BUILDDIR:?run through make check}"
MK=$XOVA_BUILDDIR/tests/unit/mkbundle
W=$T/w                          # the bundles; read-only while verify runs
mkdir -p "$W"
sentinel_init

if ! unshare -rm true 2>"$T/unshare.err"; then
    echo "FAIL - 'unshare -rm true' does not work here: $(cat "$T/unshare.err")" >&2
    exit 1
fi
if [ ! -x "$MK" ]; then
    echo "FAIL - $MK missing: run through make check" >&2
    exit 1
fi

# ASan reserves terabytes of address space: under a sanitizer build the
# --as cap cannot apply (the CPU cap still does)
LIMITS=(--as=1073741824 --cpu=30)
if grep -q __asan_init "$(readlink -f "$XOVA")" 2>/dev/null; then
    LIMITS=(--cpu=30)
    echo "# sanitizer build: running without --as"
fi

# vrun CASE WANT ERE ARG...: xova verify ARG... inside the caps, in the
# read-only $W, must exit WANT ("fail" = any of 1..125) with ERE in its
# output
vrun() {
    local c=$1 want=$2 pat=$3 rc t0 ms
    shift 3
    t0=$(now_ms)
    unshare -rm bash -c 'W=$1; shift; mount --bind -o ro "$W" "$W" || exit 200
        cd "$W" && TMPDIR=$W exec "$@"' vrun "$W" \
        timeout -k 5 20 prlimit "${LIMITS[@]}" -- "$XOVA" verify "$@" >"$T/out.log" 2>&1
    rc=$?
    ms=$(( $(now_ms) - t0 ))
    case $rc in
    200) fail "$c: cannot make $W read-only in unshare -rm"; return ;;
    124|137) fail "$c: timed out (exit $rc after $ms ms)"; return ;;
    esac
    if [ "$want" = fail ]; then
        check_rc "$c ($ms ms)" "$rc"
    elif [ "$rc" -eq "$want" ]; then
        ok "$c: exit $rc ($ms ms)"
    else
        fail "$c: exit $rc, want $want: $(head -c 600 "$T/out.log")"
    fi
    check_msg "$c" "$T/out.log" "$pat"
    echo "# $c: $(head -c 300 "$T/out.log" | tr '\n' ' ')"
    if [ "$(tree_state "$T/sentinel")" = "$SENTINEL_STATE" ]; then
        ok "$c: sentinel unchanged"
    else
        fail "$c: sentinel changed"
        SENTINEL_STATE=$(tree_state "$T/sentinel")
    fi
}

cd "$W" || exit 1
"$MK" good.ova >/dev/null || { echo "Bail out! mkbundle failed"; exit 1; }
"$MK" --vmdk vmdk.ova >/dev/null 2>"$T/mk.err" || { echo "Bail out! mkbundle --vmdk: $(cat "$T/mk.err")"; exit 1; }
mkdir nodesc
cp good.ova nodesc/not-an-ovf.txt

# the hostile bundles, made with Python's tarfile (a reader/writer that is
# not ours); each rewritten bundle keeps a correct manifest so that the
# hostile part, not a digest, is what verify meets first
python3 - <<'EOF' || { echo "Bail out! cannot make the hostile bundles"; exit 1; }
import hashlib, io, os, struct, tarfile

def members(path):
    with tarfile.open(path, "r:") as t:
        return [(m, t.extractfile(m).read()) for m in t.getmembers()]

def write(path, items, mf_name=None):
    """items: [(TarInfo, bytes|fileobj, size)]; fixes the manifest lines"""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
        for info, data in items:
            info = tarfile.TarInfo(info.name) if isinstance(info, str) else info
            if isinstance(data, bytes):
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info, data)

def remanifest(items, changed):
    out = []
    for info, data in items:
        if info.name.endswith(".mf"):
            lines = []
            for line in data.decode().splitlines():
                name = line[line.index("(") + 1:line.index(")")]
                if name in changed:
                    line = "SHA256(%s)= %s" % (name, changed[name])
                lines.append(line)
            data = ("\n".join(lines) + "\n").encode()
        out.append((info, data))
    return out

good = members("good.ova")
vmdk = members("vmdk.ova")

# a VMDK whose sparse header claims a huge capacity (field at offset 12,
# in sectors): 2^60 sectors (overflows x512) and 2^51 sectors (2^60 bytes)
for tag, cap in (("2p60-sectors", 1 << 60), ("2p60-bytes", 1 << 51)):
    items, changed = [], {}
    for info, data in vmdk:
        if info.name == "hello-data.vmdk":
            data = data[:12] + struct.pack("<Q", cap) + data[20:]
            changed[info.name] = hashlib.sha256(data).hexdigest()
        items.append((info, data))
    write("vmdk-cap-%s.ova" % tag, remanifest(items, changed))

# a 100 MB descriptor: the real one with a long comment before the root
# element, streamed (never held in memory here)
ovf = good[0][1]
head = ovf.index(b"?>") + 2
pad = 100 * 1000 * 1000
with open("big-ovf.xml", "wb") as f:
    f.write(ovf[:head] + b"\n<!--")
    chunk = b"x" * (1 << 20)
    for _ in range(pad // len(chunk) + 1):
        f.write(chunk)
    f.write(b"-->" + ovf[head:])
h = hashlib.sha256()
with open("big-ovf.xml", "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
items = []
for info, data in remanifest(good, {"hello.ovf": h.hexdigest()}):
    if info.name == "hello.ovf":
        info = tarfile.TarInfo("hello.ovf")
        info.size = os.path.getsize("big-ovf.xml")
        data = open("big-ovf.xml", "rb")
    items.append((info, data))
write("big-ovf.ova", items)
os.unlink("big-ovf.xml")
EOF

# the last member, for the flipped byte: its data offset and size
read -r LAST_NAME LAST_OFF LAST_SIZE < <(python3 -c '
import tarfile
m = tarfile.open("good.ova").getmembers()[-1]
print(m.name, m.offset_data, m.size)')
cp good.ova flipped.ova
printf '\xa5' | dd of=flipped.ova bs=1 seek=$((LAST_OFF + LAST_SIZE / 2)) conv=notrunc status=none
cmp -s good.ova flipped.ova && echo "Bail out! the flip did not change the bundle" && exit 1
SIZE=$(stat -c %s good.ova)
head -c $((SIZE / 2 + 100)) good.ova >truncated-mid.ova          # inside a disk member
head -c $((LAST_OFF + LAST_SIZE - 4096)) good.ova >truncated-last.ova  # inside the last member
head -c 700 good.ova >truncated-header.ova                      # inside the descriptor
truncate -s 1G zeros.ova                                        # 1 GiB of (sparse) zeros
mkfifo fifo.ova
chmod -R a-w "$W" 2>/dev/null   # belt and braces (root ignores it; the ro mount does not)

vrun "good bundle" 0 "good.ova: OK" good.ova
vrun "good VMDK bundle" 0 "vmdk.ova: OK" vmdk.ova
vrun "flipped byte in the last member" 3 "member '$LAST_NAME'.*SHA256 mismatch" flipped.ova
vrun "truncated in a disk member" fail "truncated-mid.ova.*(member|offset)" truncated-mid.ova
vrun "truncated in the last member" fail "truncated-last.ova.*(member|offset)" truncated-last.ova
vrun "truncated in the descriptor" fail "truncated-header.ova.*(member|offset|hello.ovf)" truncated-header.ova
vrun "VMDK claiming 2^60 sectors" 3 "hello-data.vmdk" vmdk-cap-2p60-sectors.ova
vrun "VMDK claiming 2^60 bytes" 3 "hello-data.vmdk" vmdk-cap-2p60-bytes.ova
vrun "1 GiB sparse file of zeros" fail "zeros.ova: (empty archive|.*offset|.*member)" zeros.ova
vrun "/dev/zero as the bundle" fail "/dev/zero: .*(regular file|OVA file)" /dev/zero
vrun "a FIFO as the bundle" fail "fifo.ova: .*(regular file|OVA file)" fifo.ova
vrun "a directory without a .ovf" fail "nodesc.*(\.ovf|descriptor)" nodesc
vrun "a 100 MB descriptor" fail "hello.ovf" big-ovf.ova

# verify wrote nothing: the bundles are as they were made (the read-only
# mount would have refused any write; this catches a write that errored
# silently and a file created elsewhere in $W)
check "no file appeared in the bundle directory" \
    test "$(ls -A "$W" | tr '\n' ' ')" = "big-ovf.ova fifo.ova flipped.ova good.ova nodesc truncated-header.ova truncated-last.ova truncated-mid.ova vmdk-cap-2p60-bytes.ova vmdk-cap-2p60-sectors.ova vmdk.ova zeros.ova "
cd / && chmod -R u+w "$W"
finish
