#!/bin/bash
# bounded.sh - automake LOG_COMPILER / SH_LOG_COMPILER: runs one test under a
# time bound, so that a test that hangs FAILS and names itself instead of
# holding the suite (and CI) until an outer limit kills everything.
#
#   bounded.sh TEST [ARGS...]     (TEST: a *.sh script, run by bash, or a binary)
#
# The bound, in seconds, is the first that is set of:
#   $XOVA_TEST_TIMEOUT                 (forces one bound on every test: the self-test uses it)
#   a "# xova-test-timeout: N" line in the first 40 lines of a script
#   $XOVA_TEST_TIMEOUT_DEFAULT
#   900 (15 min: a TCG boot under load takes that long)
# and is multiplied by $XOVA_TEST_TIMEOUT_SCALE (an integer, default 1) for
# slow machines or sanitizer builds. At the bound the test's whole process
# group gets SIGTERM, and SIGKILL 10 s later (timeout --kill-after), and
# this prints "TIMEOUT: <test> exceeded N s" on stderr and exits 1 (FAIL).
#
# Tests run with SIGHUP, SIGINT and SIGTERM at their default actions: under
# `nohup make check` SIGHUP is inherited ignored, and a non-interactive
# shell's background jobs start with SIGINT ignored; a test that signals its
# children must not depend on how the suite was started. timeout puts the
# test in a process group of its own, so a terminal's hangup or ^C reaches
# make, which stops the test through timeout.
set -u
[ $# -ge 1 ] || { echo "usage: bounded.sh TEST [ARGS...]" >&2; exit 99; }
test=$1
name=${test#./}

bound=${XOVA_TEST_TIMEOUT:-}
if [ -z "$bound" ] && [ -f "$test" ] && [[ $test == *.sh ]]; then
    bound=$(head -n 40 -- "$test" | sed -n 's/^# *xova-test-timeout: *\([0-9][0-9]*\).*/\1/p' | head -n 1)
fi
bound=${bound:-${XOVA_TEST_TIMEOUT_DEFAULT:-900}}
scale=${XOVA_TEST_TIMEOUT_SCALE:-1}
case $bound$scale in
    *[!0-9]*) echo "bounded.sh: bad bound '$bound' or scale '$scale'" >&2; exit 99 ;;
esac
bound=$((bound * scale))

if [[ $test == *.sh ]]; then
    cmd=(bash "$@")
else
    cmd=("$@")
fi
start=$SECONDS
timeout --kill-after=10 "$bound" env --default-signal=HUP,INT,TERM "${cmd[@]}"
rc=$?
# 124: timed out (SIGTERM sufficed); 137 with timeout's SIGKILL after --kill-after
if [ $rc -eq 124 ] || { [ $rc -eq 137 ] && [ $((SECONDS - start)) -ge "$bound" ]; }; then
    echo "TIMEOUT: $name exceeded $bound s" >&2
    exit 1
fi
exit $rc
