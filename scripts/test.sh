#!/bin/bash
# test.sh - the whole test suite, exactly what CI runs (.ci/run):
#   1. install missing Debian packages, fetch boot fixtures
#   2. build with -Wall -Wextra -Werror and run every test (unit, CLI, boot)
#   3. rebuild with ASan+UBSan and run the unit and bad-input tests again
#   4. make distcheck (the tarball builds and its unit tests pass)
# Prints one closing line "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
JOBS=$(nproc)
fail=0
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }
# Every step has a time bound, as every test has (tests/tools/bounded.sh):
# a step that hangs fails, named, instead of holding CI to its outer limit.
bounded() { # SECONDS NAME CMD...
    local secs=$1 name=$2 rc
    shift 2
    timeout --kill-after=10 "$secs" "$@"
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "TIMEOUT: $name exceeded $secs s" >&2; fi
    return $rc
}

step "dependencies and fixtures"
bounded 1800 install-deps bash scripts/install-deps.sh || exit 1
bounded 1800 fixtures/fetch bash tests/fixtures/fetch.sh || exit 1
bounded 600 fixtures/mkinitrd bash tests/fixtures/mkinitrd.sh || exit 1
./autogen.sh >/dev/null 2>&1 || { echo "autogen failed"; ./autogen.sh; exit 1; }

# sums PASS/FAIL over the automake .trs files of a build dir
count() {
    local dir=$1 p f
    p=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: \(PASS\|XFAIL\)' {} + | wc -l)
    f=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: \(FAIL\|XPASS\|ERROR\)' {} + | wc -l)
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
}
# the cmocka summaries and failures, so the CI log shows what ran
report() {
    local dir=$1
    for log in "$dir"/tests/unit/test-*.log; do
        [ -f "$log" ] && grep -h -E '^\[ *(PASSED|FAILED|  FAILED) *\]|^\[==========\] .* ran' "$log" | sed "s|^|$(basename "$log" .log): |"
    done
    grep -h -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$dir"/test-suite.log 2>/dev/null | head -50
    find "$dir" -name '*.trs' -exec grep -l ':test-result: \(FAIL\|ERROR\|XPASS\)' {} + 2>/dev/null |
        while read -r t; do echo "---- ${t%.trs}.log"; tail -40 "${t%.trs}.log"; done
}
PASSED=0; FAILED=0
# CI runs on machines whose /dev/kvm exists but is broken (QEMU dies with a
# "KVM internal error"): there the KVM probe must say "unusable", and a test
# holds it to that.
[ "${CI:-}" = true ] && export XOVA_TEST_KVM_BROKEN=1

step "build (-Werror) and full test suite"
rm -rf build-ci && mkdir build-ci
( cd build-ci && ../configure -q --enable-werror && make -j"$JOBS" -s ) || exit 1
( cd build-ci && make -j"$JOBS" check ) || fail=1
report build-ci; count build-ci

step "ASan+UBSan: unit and bad-input tests"
rm -rf build-asan && mkdir build-asan
( cd build-asan && ../configure -q --enable-werror --enable-sanitizers && make -j"$JOBS" -s ) || exit 1
# sanitized binaries run 2-3x slower: twice the time bound (tests/tools/bounded.sh)
( cd build-asan && ASAN_OPTIONS=detect_leaks=1 XOVA_TEST_TIMEOUT_SCALE=2 make -j"$JOBS" check-sanitize ) || fail=1
report build-asan; count build-asan

step "fuzzing: 6 libFuzzer targets, ${FUZZ_SECONDS:-60} s each"
# seeds come from a real signed appliance built by this tree's xova
XOVA="$TOP/build-ci/xova" XOVA_GRUB_PATH="$TOP/tests/fixtures/cache/grub" \
    bounded $(( ${FUZZ_SECONDS:-60} * 6 + 900 )) fuzz bash fuzz/run.sh "${FUZZ_SECONDS:-60}" >fuzz.log 2>&1
frc=$?
grep -E '^fuzz: ' fuzz.log
if [ $frc -ne 0 ]; then fail=1; FAILED=$((FAILED + 1)); tail -40 fuzz.log; else PASSED=$((PASSED + 1)); fi

step "distcheck"
# the unit tests of the unpacked tarball use this checkout's fixture cache
( cd build-ci && XOVA_FIXTURES="$TOP/tests/fixtures/cache" bounded 3600 distcheck make -j"$JOBS" distcheck TESTS='$(UNIT_TESTS)' >distcheck.log 2>&1 ) || { fail=1; tail -40 build-ci/distcheck.log; }
grep -E '^(=+|xova-.* archives ready)' build-ci/distcheck.log | tail -3

echo
echo "tests: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$fail" -eq 0 ]
