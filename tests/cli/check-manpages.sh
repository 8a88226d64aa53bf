#!/bin/bash
# check-manpages (man pages are part of the change, docs/HACKING.md): every page lints clean with groff and
# mandoc, every verb has a page, and every long option in a verb's --help
# appears in its page.
. "$XOVA_SRCDIR/tests/lib.sh"
MAN=$XOVA_SRCDIR/man

for page in "$MAN"/*.[1-8]; do
    n=$(basename "$page")
    out=$(groff -ww -z -man "$page" 2>&1)
    check "$n: groff -ww clean${out:+ ($out)}" test -z "$out"
    if command -v mandoc >/dev/null; then
        out=$(mandoc -Tlint -W warning "$page" 2>&1)
        check "$n: mandoc -Tlint clean${out:+ ($out)}" test -z "$out"
    fi
done
verbs=$("$XOVA" --help | awk '/^Verbs:/{v=1; next} v && /^  [a-z]/{print $1} v && /^$/{exit}')
check "xova.1 exists" test -f "$MAN/xova.1"
for v in $verbs; do
    page=$MAN/xova-$v.1
    check "xova-$v.1 exists" test -f "$page"
    [ -f "$page" ] || continue
    # options as rendered text: \- and \(em etc. removed
    text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$page")
    for opt in $("$XOVA" "$v" --help | grep -o -E -- '--[a-z][a-z-]+' | sort -u); do
        check "xova-$v.1 documents $opt" grep -q -- "$opt" <<<"$text"
    done
    check "xova.1 mentions $v" grep -q "xova-$v" "$MAN/xova.1"
done
finish
