#!/bin/bash
# Reproducibility (issue 3 must-show 3, docs/HACKING.md "Reproducible builds"): two builds from
# two copies of the inputs (different directories, file creation order and
# times) built under a different umask, TZ and locale with one SOURCE_DATE_EPOCH give byte-identical
# outputs; on a mismatch the first differing file and byte offset are shown.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000

# copy_inputs DIR ORDER: the hello example with absolute fixture paths,
# files created in sorted or reverse order
copy_inputs() {
    local dst=$1 order=$2 f
    mkdir -p "$dst"
    umask 022   # modes are content: both copies get the same ones
    ( cd "$XOVA_SRCDIR/examples/hello" && find . -type d | sort ) | while read -r f; do mkdir -p "$dst/$f"; done
    ( cd "$XOVA_SRCDIR/examples/hello" && find . -type f | sort $order ) | while read -r f; do
        cp "$XOVA_SRCDIR/examples/hello/$f" "$dst/$f"; sleep 0.01
    done
    sed -i "s|\.\./\.\./tests/fixtures/cache|$XOVA_FIXTURES|g" "$dst/xova.json"
}
copy_inputs "$T/in-a" ""
sleep 1.1
copy_inputs "$T/in-b" "-r"

formats="raw"
"$XOVA" build --help | grep -q -- '--format FORMAT *ova' && formats="raw ova"
for layout in split single; do
    for fmt in $formats; do
        o=$layout.$fmt
        ( cd "$T/in-a" && umask 022 && TZ=UTC LC_ALL=C "$XOVA" build xova.json -o "$T/a-$o" \
            --format "$fmt" --layout "$layout" -q ) >"$T/a.log" 2>&1
        ra=$?
        sleep 1.1
        ( cd "$T/in-b" && umask 077 && TZ=Asia/Kolkata LC_ALL=C.UTF-8 "$XOVA" build "$T/in-b/xova.json" \
            -o "$T/b-$o" --format "$fmt" --layout "$layout" -q ) >"$T/b.log" 2>&1
        rb=$?
        if [ $ra -ne 0 ] || [ $rb -ne 0 ]; then
            fail "$o: both builds succeed"; cat "$T/a.log" "$T/b.log"; continue
        fi
        if [ -d "$T/a-$o" ]; then
            ( cd "$T/a-$o" && find . -type f | sort | xargs sha256sum ) >"$T/a.sums"
            ( cd "$T/b-$o" && find . -type f | sort | xargs sha256sum ) >"$T/b.sums"
        else
            ( cd "$T" && sha256sum "a-$o" | sed 's/ a-/ x-/' ) >"$T/a.sums"
            ( cd "$T" && sha256sum "b-$o" | sed 's/ b-/ x-/' ) >"$T/b.sums"
        fi
        if cmp -s "$T/a.sums" "$T/b.sums"; then
            ok "$o: byte-identical ($(wc -l <"$T/a.sums") files: $(cut -c1-12 "$T/a.sums" | tr '\n' ' '))"
        else
            fail "$o: outputs differ"
            diff "$T/a.sums" "$T/b.sums"
            if [ -d "$T/a-$o" ]; then
                for f in $(cd "$T/a-$o" && find . -type f | sort); do
                    cmp "$T/a-$o/$f" "$T/b-$o/$f" || true
                done | head -5
            else
                # name the first member that differs and the offset inside it
                python3 - "$T/a-$o" "$T/b-$o" <<'PY'
import sys, tarfile
a, b = (tarfile.open(f) for f in sys.argv[1:3])
for ma, mb in zip(a.getmembers(), b.getmembers()):
    if (ma.name, ma.size) != (mb.name, mb.size):
        print(f"first difference: member {ma.name} ({ma.size} bytes) vs {mb.name} ({mb.size} bytes)")
        break
    da, db = a.extractfile(ma).read(), b.extractfile(mb).read()
    if da != db:
        off = next(i for i in range(len(da)) if da[i] != db[i])
        print(f"first difference: member {ma.name}, byte offset {off}")
        break
PY
            fi
        fi
        rm -rf "$T/a-$o" "$T/b-$o"
    done
done
# a different epoch must change the output (the epoch is really used)
( cd "$T/in-a" && SOURCE_DATE_EPOCH=1800000000 "$XOVA" build xova.json -o "$T/c" --format raw --layout single -q ) &&
( cd "$T/in-a" && "$XOVA" build xova.json -o "$T/d" --format raw --layout single -q )
differ() { ! cmp -s "$1" "$2"; }
check "another SOURCE_DATE_EPOCH gives another image" differ "$T/c/hello-disk.raw" "$T/d/hello-disk.raw"
finish
