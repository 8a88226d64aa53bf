#!/bin/bash
# xova verify / inspect on bundles made by tests/unit/mkbundle (raw disks,
# and VMDK when the writer is built): good, flipped byte, wrong CA, JSON,
# member order. Expected failures must exit 1-125, never by a signal.
set -u
: "${XOVA:?}" "${XOVA_BUILDDIR:?}"
MK="$XOVA_BUILDDIR/tests/unit/mkbundle"
T=$(mktemp -d /tmp/xova-verify-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }

# expect CODE PATTERN CMD...: exit code CODE and PATTERN in stdout+stderr
expect() {
        local code=$1 pat=$2 out rc
        shift 2
        out=$("$@" 2>&1)
        rc=$?
        if [ "$rc" -ne "$code" ]; then
                not_ok "$* exited $rc, want $code: $out"
        elif [ -n "$pat" ] && ! grep -qF -- "$pat" <<<"$out"; then
                not_ok "$* output lacks '$pat': $out"
        else
                ok "$* -> $rc"
        fi
}

flip_byte() { # FILE OFFSET-FROM-END
        local size
        size=$(stat -c %s "$1")
        printf '\x5a' | dd of="$1" bs=1 seek=$((size - $2)) conv=notrunc status=none
}

cd "$T" || exit 1
"$MK" good.ova || { echo "Bail out! mkbundle failed"; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=xova-test-A -days 1 -keyout ka.pem -out ca.pem >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=xova-test-B -days 1 -keyout kb.pem -out cb.pem >/dev/null 2>&1
"$MK" --key ka.pem --cert ca.pem signed.ova || { echo "Bail out! mkbundle --key failed"; exit 1; }
"$MK" --dir dir || { echo "Bail out! mkbundle --dir failed"; exit 1; }

expect 0 "good.ova: OK (6 members, not signed)" "$XOVA" verify good.ova
expect 0 "dir: OK (6 members" "$XOVA" verify dir
expect 0 "signed by /CN=xova-test-A" "$XOVA" verify signed.ova
expect 0 "trusted by ca.pem" "$XOVA" verify --ca ca.pem signed.ova
expect 3 "signed.ova: member 'hello.cert': self-signed certificate not trusted by 'cb.pem'" \
        "$XOVA" verify --ca cb.pem signed.ova
expect 3 "not signed" "$XOVA" verify --require-signature good.ova

cp good.ova flipped.ova
flip_byte flipped.ova 20000      # inside the last disk member (before the tar's end blocks)
expect 3 "flipped.ova: member 'hello-data.img': SHA256 mismatch (manifest line 5)" "$XOVA" verify flipped.ova
expect 3 "member 'hello-data.img'" "$XOVA" inspect flipped.ova
if "$XOVA" verify --json flipped.ova 2>/dev/null | python3 -m json.tool >/dev/null; then
        ok "verify --json on a bad bundle prints JSON"
else
        not_ok "verify --json on a bad bundle prints JSON"
fi

cp -r dir dir-flipped
flip_byte dir-flipped/hello-boot.img 1
expect 3 "member 'hello-boot.img': SHA256 mismatch (manifest line 2)" "$XOVA" verify dir-flipped

expect 1 "cannot open" "$XOVA" verify does-not-exist.ova
expect 2 "missing BUNDLE" "$XOVA" verify
expect 2 "Try 'xova verify --help'." "$XOVA" verify --bogus good.ova
expect 2 "Try 'xova inspect --help'." "$XOVA" inspect --bogus good.ova
expect 0 "Usage: xova verify" "$XOVA" verify --help
expect 0 "Usage: xova inspect" "$XOVA" inspect --help

if "$XOVA" inspect --json signed.ova > inspect.json && python3 -m json.tool inspect.json >/dev/null &&
   python3 -c '
import json, sys
j = json.load(open("inspect.json"))
assert [a["arch"] for a in j["architectures"]] == ["x86_64", "aarch64"], j
assert j["architectures"][1]["disks"] == ["boot", "root-aarch64", "data"], j
assert j["signer"] == "/CN=xova-test-A", j
assert j["members"][0]["name"] == "hello.ovf" and j["members"][1]["name"] == "hello.mf", j
'; then
        ok "inspect --json parses and holds both architectures"
else
        not_ok "inspect --json parses and holds both architectures"
fi
expect 0 "aarch64: 2 vCPUs" "$XOVA" inspect good.ova
if [ -w /dev/full ]; then
        expect 1 "cannot write to standard output" sh -c "'$XOVA' inspect --json good.ova > /dev/full"
fi
if [ "$(tar tf good.ova | head -2 | tr '\n' ' ')" = "hello.ovf hello.mf " ]; then
        ok "tar tf lists the descriptor first, then the manifest"
else
        not_ok "tar tf order: $(tar tf good.ova | tr '\n' ' ')"
fi
if [ "$(tar tf signed.ova | sed -n 3p)" = "hello.cert" ]; then
        ok "the certificate is the third member"
else
        not_ok "cert position: $(tar tf signed.ova | tr '\n' ' ')"
fi

# Every file xova reads goes through one non-blocking, regular-files-only
# open: a FIFO named by --ca is refused at once, naming the file (before,
# X509_STORE_load_file's blocking open hung verify and run silently).
mkfifo ca.fifo
for verb in verify run; do
        out=$(timeout 20 "$XOVA" "$verb" --ca ca.fifo signed.ova 2>&1 </dev/null)
        rc=$?
        if [ "$rc" -eq 124 ] || [ "$rc" -gt 125 ]; then
                not_ok "$verb --ca FIFO hung or crashed (exit $rc): $out"
        elif [ "$rc" -eq 0 ] || ! grep -qF "ca.fifo: not a regular file" <<<"$out"; then
                not_ok "$verb --ca FIFO: exit $rc, want a failure naming ca.fifo: $out"
        else
                ok "$verb --ca FIFO fails at once naming the file (exit $rc)"
        fi
done
: >empty.pem
# ... and the signing key and certificate of a build (the exporter's loader)
for opt in key cert; do
        if [ $opt = key ]; then args=(--key ca.fifo --cert ca.pem); else args=(--key ka.pem --cert ca.fifo); fi
        out=$(timeout 20 "$MK" "${args[@]}" fifo-signed.ova 2>&1 </dev/null)
        rc=$?
        if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -gt 125 ] || ! grep -qF "ca.fifo: not a regular file" <<<"$out"; then
                not_ok "signing with a FIFO as --$opt: exit $rc, want a failure naming ca.fifo: $out"
        elif [ -e fifo-signed.ova ]; then
                not_ok "signing with a FIFO as --$opt left fifo-signed.ova behind"
        else
                ok "signing with a FIFO as --$opt fails at once naming the file"
        fi
done
expect 1 "empty.pem: cannot load CA certificates: no PEM certificate in the file" "$XOVA" verify --ca empty.pem signed.ova
printf 'junk\n' >junk.pem
expect 1 "junk.pem: cannot load CA certificates" "$XOVA" verify --ca junk.pem signed.ova
cat cb.pem ca.pem >both.pem
expect 0 "trusted by both.pem" "$XOVA" verify --ca both.pem signed.ova

# Terminal-safe messages: a manifest line whose name holds ESC, CR, BEL, a
# raw 0x9B (8-bit CSI) and U+202E (bidi override). No raw control byte may
# reach stderr, nor the --json output (json-c alone would write \u001b,
# which "jq -r" turns back into ESC); the name is shown escaped.
# raw_controls FILE: true if FILE holds a C0 control (but tab and
# newline), DEL, a C1 byte or U+202E. (Our output here is ASCII, so any
# 0x80-0x9f byte is a C1 control or part of one.)
raw_controls() {
        LC_ALL=C grep -qaP '[\x00-\x08\x0b-\x1f\x7f-\x9f]|\xe2\x80\xae' "$1"
}
cp -r dir dir-esc
printf 'SHA256(a\033[2J\r\aOK\x9b\xe2\x80\xae.img)= %064d\n' 0 >> dir-esc/hello.mf
"$XOVA" verify dir-esc >esc.out 2>esc.err
rc=$?
if [ "$rc" -ne 3 ]; then
        not_ok "verify dir-esc exited $rc, want 3"
elif raw_controls esc.err; then
        not_ok "verify dir-esc: raw control bytes on stderr: $(od -c esc.err | head -5)"
elif ! grep -qF "line 6: name 'a\\e[2J\\r\\x07OK\\x9b\\u{202e}.img'" esc.err; then
        not_ok "verify dir-esc: the name is not shown escaped: $(od -c esc.err | head -5)"
else
        ok "verify: a manifest name with ESC/CR/BEL/0x9B/U+202E is shown escaped on stderr"
fi
"$XOVA" verify --json dir-esc >esc.json 2>/dev/null
if raw_controls esc.json || grep -q 'u001b\|u009b\|u202e' esc.json; then
        not_ok "verify --json dir-esc: control characters in the JSON: $(od -c esc.json | head -8)"
elif ! python3 -c 'import json,sys; e=json.load(open("esc.json"))["error"]; assert "a\\e[2J\\r\\x07OK" in e, e'; then
        not_ok "verify --json dir-esc: the error does not hold the escaped name: $(cat esc.json)"
else
        ok "verify --json: the same name is escaped in the JSON error"
fi

# streamOptimized VMDK disks
if "$MK" --vmdk vmdk.ova 2>mk.err; then
        expect 0 "vmdk.ova: OK" "$XOVA" verify vmdk.ova
        cp vmdk.ova vmdk-flipped.ova
        flip_byte vmdk-flipped.ova 12000
        expect 3 "member 'hello-data.vmdk'" "$XOVA" verify vmdk-flipped.ova
else
        not_ok "mkbundle --vmdk: $(cat mk.err)"
fi

echo "1..$n"
[ "$fails" -eq 0 ]
