# tests/lib.sh - shared helpers for the shell tests (sourced).
# The Makefile exports XOVA (the binary), XOVA_SRCDIR, XOVA_BUILDDIR, XOVA_FIXTURES.
set -uo pipefail
: "${XOVA:?run through make check}" "${XOVA_SRCDIR:?}" "${XOVA_FIXTURES:?}"
TESTS_PASSED=0
TESTS_FAILED=0
T=$(mktemp -d "${TMPDIR:-/tmp}/xova-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

ok()   { TESTS_PASSED=$((TESTS_PASSED + 1)); echo "ok - $*"; }
fail() { TESTS_FAILED=$((TESTS_FAILED + 1)); echo "FAIL - $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
finish() {
    echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
    [ "$TESTS_FAILED" -eq 0 ]
}
# die DESCRIPTION: a failure the rest of the test cannot go on from
die() { fail "$*"; finish; exit 1; }
# the fixtures a boot test needs; a missing one is a failure, never a skip
need_fixtures() {
    local f
    for f in x86_64/vmlinuz x86_64/initrd.img aarch64/vmlinuz aarch64/initrd.img \
             grub/x86_64-efi/moddep.lst grub/arm64-efi/moddep.lst \
             x86_64/root/sbin/init aarch64/root/sbin/init; do
        if [ ! -e "$XOVA_FIXTURES/$f" ]; then
            echo "FAIL - fixture $XOVA_FIXTURES/$f missing: run tests/fixtures/fetch.sh and mkinitrd.sh" >&2
            exit 1
        fi
    done
    export XOVA_GRUB_PATH="$XOVA_FIXTURES/grub"
}
