#!/bin/bash
# xova-test-timeout: 240
# selftest-timeout.sh - the suite's time bounds work: a test that sleeps
# forever FAILS by its bound, within the bound plus 30 s, and names itself.
#  - tests/tools/bounded.sh (the LOG_COMPILER of every test) on scripts that
#    sleep forever: the forced bound ($XOVA_TEST_TIMEOUT), a script's own
#    "# xova-test-timeout: N" line, one that ignores SIGTERM (SIGKILL after
#    10 s), and a background grandchild (killed with its group);
#  - exit codes pass through (0, 1, 77 skip), and a test that relies on
#    SIGHUP's default action works even when started under nohup;
#  - tests/unit/testutil.h: a cmocka test that never returns stops after
#    $XOVA_TEST_UNIT_TIMEOUT s with "TIMEOUT: <group>: <test> exceeded N s".
set -u
SRC=${XOVA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${XOVA_BUILDDIR:-$PWD}
B=$SRC/tests/tools/bounded.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/xova-selftest.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "PASS: $*"; }

# run_bounded WANT_MAX_SECONDS SCRIPT [env...]: sets rc, took, err
run_bounded() {
    local max=$1 script=$2 start
    shift 2
    start=$(date +%s)
    env -u XOVA_TEST_TIMEOUT_SCALE "$@" bash "$B" "$script" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    took=$(( $(date +%s) - start ))
    err=$(cat "$T/err")
    [ "$took" -le "$max" ] || fail "$(basename "$script"): took $took s, bound allows $max s"
}

# 1. sleep forever, bound forced to 5 s
printf '#!/bin/bash\nsleep infinity\n' >"$T/sleeper.sh"
run_bounded 35 "$T/sleeper.sh" XOVA_TEST_TIMEOUT=5
if [ $rc -ne 0 ] && [ $rc -ne 77 ] && grep -qF "TIMEOUT: $T/sleeper.sh exceeded 5 s" "$T/err"; then
    pass "sleep infinity fails by its 5 s bound in $took s and names itself"
else
    fail "sleep infinity: exit $rc after $took s, stderr: $err"
fi

# 2. the script's own bound line, no forced bound
printf '#!/bin/bash\n# xova-test-timeout: 3\nsleep infinity\n' >"$T/own.sh"
run_bounded 33 "$T/own.sh" -u XOVA_TEST_TIMEOUT
if [ $rc -ne 0 ] && grep -qF "TIMEOUT: $T/own.sh exceeded 3 s" "$T/err"; then
    pass "a script's '# xova-test-timeout: 3' line bounds it ($took s)"
else
    fail "own bound: exit $rc after $took s, stderr: $err"
fi

# 3. ignores SIGTERM and leaves a grandchild: SIGKILL 10 s later, whole group
printf '#!/bin/bash\ntrap "" TERM\nsleep 3600 &\necho $! >%q\nwhile :; do sleep 1; done\n' "$T/gc.pid" >"$T/stubborn.sh"
run_bounded 45 "$T/stubborn.sh" XOVA_TEST_TIMEOUT=5
if [ $rc -ne 0 ] && grep -qF "TIMEOUT: $T/stubborn.sh exceeded 5 s" "$T/err"; then
    pass "a test that ignores SIGTERM is killed 10 s after its bound ($took s)"
else
    fail "stubborn: exit $rc after $took s, stderr: $err"
fi
# alive = exists and is not a zombie (a killed orphan waits for its reaper,
# which can be slow under load or absent in a container)
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }
gc=$(cat "$T/gc.pid" 2>/dev/null)
for _ in $(seq 20); do [ -n "$gc" ] && alive "$gc" || break; sleep 0.5; done
if [ -z "$gc" ]; then
    fail "the test never started its background child"
elif alive "$gc"; then
    fail "the test's background child (pid $gc) outlived the bound: $(cat /proc/$gc/stat 2>/dev/null)"
    kill -KILL "$gc" 2>/dev/null
else
    pass "the test's background child went with it"
fi

# 4. exit codes pass through, no TIMEOUT line for a test within its bound
for want in 0 1 77; do
    printf '#!/bin/bash\nexit %s\n' "$want" >"$T/exit$want.sh"
    run_bounded 30 "$T/exit$want.sh" XOVA_TEST_TIMEOUT=20
    [ $rc -eq "$want" ] && ! grep -q TIMEOUT "$T/err" && pass "exit $want passes through" ||
        fail "exit $want: got $rc, stderr: $err"
done

# 5. under nohup (SIGHUP ignored, inherited), a test still sees SIGHUP's default
printf '#!/bin/bash\nsleep 60 & p=$!\nkill -HUP $p\nwait $p\n[ $? -eq 129 ]\n' >"$T/hup.sh"
run_bounded 30 "$T/hup.sh" --ignore-signal=HUP XOVA_TEST_TIMEOUT=20
[ $rc -eq 0 ] && pass "under nohup a test's child still dies of SIGHUP" ||
    fail "SIGHUP under nohup: exit $rc, stderr: $err"

# 6. cmocka: the per-test alarm of tests/unit/testutil.h
H=$BUILD/tests/tools/hang-unit
if [ ! -x "$H" ]; then
    fail "$H is not built"
else
    start=$(date +%s)
    XOVA_TEST_UNIT_TIMEOUT=2 timeout 60 "$H" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    took=$(( $(date +%s) - start ))
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$took" -le 32 ] &&
        grep -qF "TIMEOUT: hang: test_tools_hang_forever exceeded 2 s" "$T/err" &&
        grep -q 'OK \] test_tools_passes' "$T/out"; then
        pass "a cmocka test that never returns fails by its 2 s bound ($took s) and is named"
    else
        fail "cmocka bound: exit $rc after $took s; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
    fi
fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
