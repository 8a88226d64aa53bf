#!/bin/bash
# checkusage (util-linux tools/checkusage.sh; docs/HACKING.md, "Tests"): for xova and
# every verb, --help exits 0 with text on stdout and nothing on stderr,
# --version works, an unknown option exits 2 with empty stdout and at most
# two specific lines on stderr (no usage dump).
. "$XOVA_SRCDIR/tests/lib.sh"

verbs=$("$XOVA" --help | awk '/^Verbs:/{v=1; next} v && /^  [a-z]/{print $1} v && /^$/{exit}')
check "top-level --help lists verbs" test -n "$verbs"
for v in build inspect verify run deploy; do
    check "verb '$v' listed" grep -qx "$v" <<<"$verbs"
done

"$XOVA" >"$T/out" 2>"$T/err"; rc=$?
check "no verb exits 2" test $rc -eq 2
"$XOVA" frobnicate >"$T/out" 2>"$T/err"; rc=$?
check "unknown verb exits 2" test $rc -eq 2
check "unknown verb named" grep -q "unknown verb 'frobnicate'" "$T/err"

for v in "" $verbs; do
    name=${v:-xova}
    "$XOVA" $v --help >"$T/out" 2>"$T/err"; rc=$?
    check "$name --help exits 0" test $rc -eq 0
    check "$name --help prints usage on stdout" grep -q '^Usage: xova' "$T/out"
    check "$name --help stderr empty" test ! -s "$T/err"
    "$XOVA" $v --version >"$T/out" 2>"$T/err"; rc=$?
    check "$name --version exits 0" test $rc -eq 0
    check "$name --version prints the version" grep -q '^xova [0-9]' "$T/out"
    "$XOVA" $v --bogus >"$T/out" 2>"$T/err"; rc=$?
    check "$name --bogus exits 2" test $rc -eq 2
    check "$name --bogus stdout empty" test ! -s "$T/out"
    check "$name --bogus names the option" grep -q -- "--bogus" "$T/err"
    check "$name --bogus at most 2 lines" test "$(wc -l <"$T/err")" -le 2
    "$XOVA" $v --help >/dev/full 2>"$T/err"; rc=$?
    check "$name --help > /dev/full fails" test $rc -eq 1
done
"$XOVA" build >"$T/out" 2>"$T/err"; rc=$?
check "build without SPEC exits 2" test $rc -eq 2
check "build without SPEC says so" grep -q "missing SPEC" "$T/err"

# the verb table's operand counts, checked once in cli/main.c for every verb
for v in $verbs; do
    operand=BUNDLE; [ "$v" = build ] && operand=SPEC; [ "$v" = loaders ] && operand=ACTION
    [ "$v" = undeploy ] && operand=NAME
    "$XOVA" $v >"$T/out" 2>"$T/err"; rc=$?
    check "$v without operands exits 2" test $rc -eq 2
    check "$v without operands: 'missing $operand'" grep -q "^xova $v: missing $operand\$" "$T/err"
    check "$v without operands: stdout empty" test ! -s "$T/out"
    "$XOVA" $v one two >"$T/out" 2>"$T/err"; rc=$?
    check "$v with two operands exits 2" test $rc -eq 2
    check "$v with two operands names the extra one" grep -q "^xova $v: unexpected argument 'two'\$" "$T/err"
    check "$v with two operands: hint" grep -q "^Try 'xova $v --help'.\$" "$T/err"
    # --help wins wherever it is, before the operands are counted
    "$XOVA" $v one two --help >"$T/out" 2>"$T/err"; rc=$?
    check "$v one two --help exits 0" test $rc -eq 0
done
# the bundle options, parsed in one place, exist only where a verb lists them
for v in verify inspect; do
    "$XOVA" $v --require-signature --ca >"$T/out" 2>"$T/err"; rc=$?
    check "$v --ca without a value exits 2" test $rc -eq 2
    check "$v --ca without a value says so" grep -q "option '--ca' requires an argument" "$T/err"
done
for v in build run deploy; do
    "$XOVA" $v --require-signature x >"$T/out" 2>"$T/err"; rc=$?
    check "$v has no --require-signature (exit 2)" test $rc -eq 2
done
"$XOVA" build --ca x y >"$T/out" 2>"$T/err"; rc=$?
check "build has no --ca (exit 2)" test $rc -eq 2
finish
