#!/bin/bash
# xova-test-timeout: 1800  (three TCG boots, x86 with SMM)
# secureboot-testkey.sh - own-key Secure Boot with a key made at test time,
# enrolled offline into copies of the snakeoil vars (sb_test_key in
# boot-lib.sh: same-length certificate substitution): the bundle signed with
# it boots with secureboot=1 on both arches, and a bundle signed with the
# snakeoil key, whose certificate those vars no longer hold, is refused.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
need_fixtures
sb_begin

check "a key made now, enrolled offline into copies of the snakeoil vars" sb_test_key "$T/k"
check "the enrolled certificate is in the vars, the snakeoil one is not" python3 - "$T/k" "$SB_SNAKEOIL_CERT" <<'PY'
import subprocess, sys
der = lambda p: subprocess.run(["openssl", "x509", "-in", p, "-outform", "der"], capture_output=True, check=True).stdout
new, so = der(sys.argv[1] + "/db.crt"), der(sys.argv[2])
for a in ("x86_64", "aarch64"):
    v = open(f"{sys.argv[1]}/{a}.vars", "rb").read()
    assert new in v and so not in v
PY
sb_spec "$T/own.json" "{\"mode\": \"own-key\", \"ca\": \"$SB_CA\", \"sign_kernels\": true}"
"$XOVA" build "$T/own.json" -o "$T/own.ova" -q --sb-key "$T/k/db.key" --sb-cert "$T/k/db.crt" || fail "build"
"$XOVA" build "$T/own.json" -o "$T/own-raw" --format raw -q --sb-key "$T/k/db.key" --sb-cert "$T/k/db.crt" ||
    fail "raw build"
for arch in x86_64 aarch64; do
    uuid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["architectures"][sys.argv[2]]["root_partuuid"])' \
        "$T/own-raw/summary.json" $arch)
    want="XOVA-BOOT-OK arch=$arch root=$uuid shared=$SHA secureboot=1"
    t0=$(date +%s.%N)
    XOVA_FIRMWARE_DIR=$T/k/fw timeout 900 "$XOVA" run "$T/own.ova" --arch $arch --expect "$want" --timeout 600 \
        --console > "$T/console" 2> "$T/err"
    rc=$?
    if [ $rc = 0 ] && grep -aq -- "$want" "$T/console" && grep -q "snakeoil.fd" "$T/err"; then
        ok "own-key $arch with the key made now ($(secs "$t0") s): $want"
    else
        fail "own-key $arch: exit $rc; $(cat "$T/err"); $(tail -5 "$T/console" | tr -d '\r')"
    fi
done
# the snakeoil-signed bundle on the same vars: refused (the db really changed)
sb_snakeoil_key "$T/snakeoil.key" || fail "snakeoil key"
"$XOVA" build "$T/own.json" -o "$T/so.ova" -q --sb-key "$T/snakeoil.key" --sb-cert "$SB_SNAKEOIL_CERT" || fail "build"
t0=$(date +%s.%N)
XOVA_FIRMWARE_DIR=$T/k/fw timeout 900 "$XOVA" run "$T/so.ova" --arch x86_64 --expect XOVA-BOOT-OK --timeout 600 \
    --console > "$T/console" 2> "$T/err"
rc=$?
if [ $rc != 0 ] && grep -q "Secure Boot refused" "$T/err" && grep -aq "Access Denied" "$T/console"; then
    ok "a snakeoil-signed bundle on the re-enrolled vars is refused ($(secs "$t0") s, exit $rc)"
else
    fail "snakeoil bundle on the re-enrolled vars: exit $rc; $(cat "$T/err")"
fi
finish
