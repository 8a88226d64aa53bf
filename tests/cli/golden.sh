#!/bin/bash
# xova-test-timeout: 600
# golden.sh - `xova verify` and `xova inspect`, text and --json, compared
# byte for byte with tests/expected/ (util-linux tests/expected/ style):
#  - bundles made by tests/unit/mkbundle (raw and VMDK disks; no fixtures,
#    so every byte is fixed): good, and with a flipped byte (exit 3);
#  - examples/hello built at SOURCE_DATE_EPOCH=1700000000 from the fixture
#    cache: its OVA's SHA-256 and the inspect/verify outputs. These depend
#    on the fixtures (kernel, initrd and GRUB sizes move every member
#    offset), so tests/expected/hello/VERSIONS records the fixture versions
#    they were made with. With the same fixtures everything is compared
#    byte for byte; with other fixtures the outputs are compared with every
#    number masked (names, fields, order and layout still byte for byte)
#    and the test says which fixtures differ.
# Regenerate after an intended change, then review `git diff tests/expected`:
#   XOVA_TEST_REGENERATE=1 make check TESTS=tests/cli/golden.sh
. "$XOVA_SRCDIR/tests/lib.sh"
: "${XOVA_BUILDDIR:?run through make check}"
MK=$XOVA_BUILDDIR/tests/unit/mkbundle
EXP=$XOVA_SRCDIR/tests/expected
REGEN=${XOVA_TEST_REGENERATE:-}
export SOURCE_DATE_EPOCH=1700000000 TZ=UTC LC_ALL=C

# golden NAME WANT_RC CMD...: stdout and stderr of CMD (run in $T/work, so
# paths print relative), then the exit code, against $EXP/NAME
golden() {
    local name=$1 want=$2 rc
    shift 2
    ( cd "$T/work" && "$@" ) >"$T/got.out" 2>"$T/got.err"
    rc=$?
    { cat "$T/got.out"; [ -s "$T/got.err" ] && { echo "--- stderr"; cat "$T/got.err"; }; echo "--- exit $rc"; } >"$T/got"
    check "$name: exit $rc, want $want" test "$rc" -eq "$want"
    compare "$name" "$T/got"
}
# compare NAME FILE [MASK]: FILE against $EXP/NAME (MASK=1: digits masked on both sides)
compare() {
    local name=$1 got=$2 mask=${3:-}
    if [ -n "$REGEN" ]; then
        mkdir -p "$(dirname "$EXP/$name")"
        cp "$got" "$EXP/$name"
        ok "$name: regenerated"
        return
    fi
    if [ ! -f "$EXP/$name" ]; then
        fail "$name: no $EXP/$name (make it with XOVA_TEST_REGENERATE=1)"
        return
    fi
    if [ -n "$mask" ]; then
        sed 's/[0-9][0-9]*/N/g' "$EXP/$name" >"$T/want.masked"
        sed 's/[0-9][0-9]*/N/g' "$got" >"$T/got.masked"
        if cmp -s "$T/want.masked" "$T/got.masked"; then ok "$name: same but for numbers"; else
            fail "$name: differs from $EXP/$name (numbers masked):"; diff -u "$T/want.masked" "$T/got.masked" | head -40
        fi
        return
    fi
    if cmp -s "$EXP/$name" "$got"; then ok "$name: byte for byte"; else
        fail "$name: differs from $EXP/$name:"; diff -u "$EXP/$name" "$got" | head -40
    fi
}

mkdir -p "$T/work"
# ---- fixed bundles: every byte is ours ----
( cd "$T/work" && "$MK" mk.ova && "$MK" --vmdk mk-vmdk.ova ) >"$T/mk.log" 2>&1 ||
    { cat "$T/mk.log"; fail "mkbundle"; finish; exit 1; }
for b in mk mk-vmdk; do
    golden "$b/verify.txt" 0 "$XOVA" verify $b.ova
    golden "$b/verify-json.txt" 0 "$XOVA" verify --json $b.ova
    golden "$b/inspect.txt" 0 "$XOVA" inspect $b.ova
    golden "$b/inspect-json.txt" 0 "$XOVA" inspect --json $b.ova
done
# one flipped byte in the last member: verification fails, named, exit 3
cp "$T/work/mk.ova" "$T/work/bad.ova"
size=$(stat -c %s "$T/work/bad.ova")
off=$(grep -a -b -o 'xova test image block at 0 pattern' "$T/work/bad.ova" | tail -1 | cut -d: -f1)
printf 'X' | dd of="$T/work/bad.ova" bs=1 seek="$off" conv=notrunc status=none
check "bad.ova is the same size" test "$(stat -c %s "$T/work/bad.ova")" -eq "$size"
golden "mk/bad-verify.txt" 3 "$XOVA" verify bad.ova
golden "mk/bad-verify-json.txt" 3 "$XOVA" verify --json bad.ova
golden "mk/bad-inspect.txt" 3 "$XOVA" inspect bad.ova

# ---- examples/hello at a fixed SOURCE_DATE_EPOCH ----
need_fixtures
mkdir -p "$T/hello-in"
cp -a "$XOVA_SRCDIR/examples/hello/." "$T/hello-in/"
sed -i "s|\.\./\.\./tests/fixtures/cache|$XOVA_FIXTURES|g" "$T/hello-in/xova.json"
( cd "$T/hello-in" && umask 022 && timeout 300 "$XOVA" build xova.json -o "$T/work/hello.ova" -q ) >"$T/build.log" 2>&1 ||
    { cat "$T/build.log"; fail "building examples/hello"; finish; exit 1; }
mask=
if [ -z "$REGEN" ]; then
    if ! cmp -s "$XOVA_FIXTURES/VERSIONS" "$EXP/hello/VERSIONS"; then
        mask=1
        echo "# the fixtures differ from those the hello goldens were made with:"
        diff "$EXP/hello/VERSIONS" "$XOVA_FIXTURES/VERSIONS" | sed 's/^/#   /'
        echo "# so hello outputs are compared with numbers masked, and the OVA digest not at all"
    fi
else
    cp "$XOVA_FIXTURES/VERSIONS" "$EXP/hello/VERSIONS" 2>/dev/null || { mkdir -p "$EXP/hello"; cp "$XOVA_FIXTURES/VERSIONS" "$EXP/hello/VERSIONS"; }
fi
( cd "$T/work" && sha256sum hello.ova ) >"$T/sha"
[ -z "$mask" ] && compare "hello/ova.sha256" "$T/sha"
for g in "verify.txt:verify" "verify-json.txt:verify --json" "inspect.txt:inspect" "inspect-json.txt:inspect --json"; do
    ( cd "$T/work" && $XOVA ${g#*:} hello.ova ) >"$T/got" 2>&1
    echo "--- exit $?" >>"$T/got"
    compare "hello/${g%%:*}" "$T/got" $mask
done
finish
