#!/bin/bash
# xova-test-timeout: 900  (the first run fetches the signed loaders)
# secureboot-build.sh - Secure Boot system partitions, without booting:
#   - the Microsoft UEFI CA the repository ships is the one the .ms.fd vars hold;
#   - distribution: Debian's shim and signed GRUB at the removable-media path,
#     grub.cfg at the signed GRUB's prefix, the descriptor's hints;
#   - an unsigned, a wrongly signed kernel and a shim against the wrong CA fail
#     the build, naming the file, and leave no output;
#   - own-key with a key made here: shim and GRUB re-signed, kernels too when
#     asked, the certificate shipped as EFI/xova/db.der;
#   - both modes are byte-identical built twice with one SOURCE_DATE_EPOCH.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
need_fixtures
sb_setup || { echo "FAIL - xova loaders fetch --secure-boot"; exit 1; }
export SOURCE_DATE_EPOCH=1700000000

# --- the shipped CA is the one Microsoft-enrolled firmware holds in db
check "the shipped Microsoft UEFI CA 2011 is byte-identical in OVMF/AAVMF .ms.fd vars" python3 - "$SB_CA" <<'PY'
import subprocess, sys
der = subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-outform", "der"], capture_output=True, check=True).stdout
sys.exit(0 if all(der in open(f, "rb").read() for f in
                  ["/usr/share/OVMF/OVMF_VARS_4M.ms.fd", "/usr/share/AAVMF/AAVMF_VARS.ms.fd"]) else 1)
PY

# --- distribution
sb_spec "$T/dist.json" "{\"mode\": \"distribution\", \"ca\": \"$SB_CA\"}"
check "distribution: raw build" "$XOVA" build "$T/dist.json" -o "$T/dist" --format raw -q
B=$T/dist/hello-boot.raw
for a in x64:x86_64 aa64:aarch64; do
    s=${a%%:*} arch=${a#*:}
    S=$(echo "$s" | tr a-z A-Z)
    usp_get "$B" "::/EFI/BOOT/BOOT$S.EFI" "$T/shim-$s" &&
        check "distribution $arch: EFI/BOOT/BOOT$S.EFI is Debian's signed shim" \
            cmp -s "$T/shim-$s" "$SB_LOADERS/$arch/shim/shim$s.efi.signed" ||
        fail "distribution $arch: no EFI/BOOT/BOOT$S.EFI"
    usp_get "$B" "::/EFI/BOOT/grub$s.efi" "$T/grub-$s" &&
        check "distribution $arch: EFI/BOOT/grub$s.efi is Debian's signed GRUB" \
            cmp -s "$T/grub-$s" "$SB_LOADERS/$arch/grub/grub$s.efi.signed" ||
        fail "distribution $arch: no EFI/BOOT/grub$s.efi"
    usp_get "$B" "::/$arch/vmlinuz" "$T/k-$s" &&
        check "distribution $arch: the kernel is Debian-signed" \
            sh -c "sbverify --list '$T/k-$s' 2>/dev/null | grep -q 'Debian Secure Boot CA'"
done
check "distribution: grub.cfg at the signed GRUB's prefix EFI/debian" usp_get "$B" ::/EFI/debian/grub.cfg "$T/grub.cfg"
check "distribution: the signed GRUB has that prefix built in" \
    sh -c "strings '$SB_LOADERS/x86_64/grub/grubx64.efi.signed' | grep -qx /EFI/debian"
check "distribution: grub.cfg branches on \$grub_cpu" grep -q 'grub_cpu' "$T/grub.cfg"
check "distribution: no insmod in grub.cfg (the signed GRUB refuses it)" sh -c "! grep -q insmod '$T/grub.cfg'"
check "distribution: summary.json names the mode" grep -q '"secure_boot":"distribution"' "$T/dist/summary.json"
check "distribution: OVA build" "$XOVA" build "$T/dist.json" -o "$T/dist.ova" -q
tar -xOf "$T/dist.ova" hello.ovf > "$T/dist.ovf"
check "distribution: each configuration says xova:SecureBoot true" \
    test "$(grep -c '<xova:SecureBoot ovf:required="false">true</xova:SecureBoot>' "$T/dist.ovf")" = 2
check "distribution: VMware's bootOptions.efiSecureBootEnabled hint" \
    grep -q 'vmw:key="bootOptions.efiSecureBootEnabled" vmw:value="true"' "$T/dist.ovf"
check "distribution: the bundle verifies" "$XOVA" verify "$T/dist.ova"
# deploy: libvirt is given the keys-enrolled code as a secure loader, with
# SMM (deploy-xml-boot.sh boots this XML in a real libvirtd)
if "$XOVA" deploy --libvirt-xml --disk-dir "$T/deploy" --arch x86_64 "$T/dist.ova" > "$T/dom.xml" 2> "$T/err"; then
    check "deploy: the loader is secure, SMM is on" \
        sh -c "grep -q '<loader readonly=\"yes\" secure=\"yes\"' '$T/dom.xml' && grep -q '<smm state=\"on\"/>' '$T/dom.xml'"
    check "deploy: the loader is the Microsoft-enrolled firmware" grep -q "OVMF_CODE_4M.ms.fd" "$T/dom.xml"
    if command -v virt-xml-validate >/dev/null; then
        check "deploy: the domain XML validates against libvirt's schema" \
            sh -c "virt-xml-validate '$T/dom.xml' domain >/dev/null"
    fi
else
    fail "deploy --libvirt-xml: $(cat "$T/err")"
fi

# --- kernels and shims that must be refused
no_output() { [ "$(ls -A "$T/out")" = keep ]; }
refused() {     # DESC SPEC PATTERN...: the build fails, stderr matches every pattern, nothing written
    local d=$1 spec=$2 p; shift 2
    rm -rf "$T/out"; mkdir -p "$T/out"; touch "$T/out/keep"
    if "$XOVA" build "$spec" -o "$T/out/x.ova" -q 2> "$T/err"; then fail "$d: build succeeded"; return; fi
    for p in "$@"; do grep -q -- "$p" "$T/err" || { fail "$d: no '$p' in: $(cat "$T/err")"; return; }; done
    no_output || { fail "$d: output left: $(ls -A "$T/out")"; return; }
    ok "$d ($(head -c 300 "$T/err"))"
}
cp "$XOVA_FIXTURES/x86_64/vmlinuz" "$T/signed-vmlinuz"
osslsigncode remove-signature -in "$T/signed-vmlinuz" -out "$T/unsigned-vmlinuz" >/dev/null 2>&1 ||
    fail "osslsigncode remove-signature"
check "the stripped kernel carries no signature" sh -c "! sbverify --list '$T/unsigned-vmlinuz' 2>/dev/null | grep -q '^signature 1'"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.crt" -subj /CN=not-debian \
    -days 3650 2>/dev/null || fail "openssl req"
osslsigncode sign -certs "$T/other.crt" -key "$T/other.key" -h sha256 -in "$T/signed-vmlinuz" \
    -out "$T/wrong-vmlinuz" >/dev/null 2>&1 || fail "osslsigncode sign"
for k in unsigned wrong; do
    sb_spec "$T/$k.json" "{\"mode\": \"distribution\", \"ca\": \"$SB_CA\"}"
    python3 - "$T/$k.json" "$T/$k-vmlinuz" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); s["architectures"][0]["kernel"] = sys.argv[2]
json.dump(s, open(sys.argv[1], "w"))
PY
    refused "distribution: $k kernel refused at build" "$T/$k.json" "$T/$k-vmlinuz" "Secure Boot" "x86_64 kernel"
done
# a kernel changed after signing: the signature no longer matches the image hash
cp "$T/signed-vmlinuz" "$T/changed-vmlinuz"
printf 'X' | dd of="$T/changed-vmlinuz" bs=1 seek=4096 conv=notrunc 2>/dev/null
sb_spec "$T/changed.json" "{\"mode\": \"distribution\", \"ca\": \"$SB_CA\"}"
python3 - "$T/changed.json" "$T/changed-vmlinuz" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); s["architectures"][0]["kernel"] = sys.argv[2]
json.dump(s, open(sys.argv[1], "w"))
PY
refused "distribution: a kernel changed after signing refused" "$T/changed.json" "$T/changed-vmlinuz" "image hash does not match"
sb_spec "$T/wrongca.json" "{\"mode\": \"distribution\", \"ca\": \"$T/other.crt\"}"
refused "distribution: the shim against a CA it does not chain to refused" "$T/wrongca.json" \
    "shimx64.efi.signed" "does not chain" "other.crt"

# --- own key, made here
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/db.key" -out "$T/db.crt" -subj /CN=xova-test-db \
    -days 3650 2>/dev/null || fail "openssl req"
sb_spec "$T/own.json" "{\"mode\": \"own-key\", \"ca\": \"$SB_CA\", \"sign_kernels\": true}"
check "own-key: build with --sb-key/--sb-cert" \
    "$XOVA" build "$T/own.json" -o "$T/own" --format raw -q --sb-key "$T/db.key" --sb-cert "$T/db.crt"
B=$T/own/hello-boot.raw
for a in x64:x86_64 aa64:aarch64; do
    s=${a%%:*} arch=${a#*:}
    S=$(echo "$s" | tr a-z A-Z)
    for f in "EFI/BOOT/BOOT$S.EFI" "EFI/BOOT/grub$s.efi" "$arch/vmlinuz"; do
        if usp_get "$B" "::/$f" "$T/f"; then
            check "own-key $arch: $f verifies against the key's certificate (osslsigncode verify)" \
                sh -c "osslsigncode verify -CAfile '$T/db.crt' -in '$T/f' >/dev/null 2>&1"
            check "own-key $arch: $f is signed by the key only" \
                sh -c "sbverify --list '$T/f' 2>/dev/null | grep -c '^signature' | grep -qx 1"
        else
            fail "own-key $arch: no $f"
        fi
    done
done
usp_get "$B" ::/EFI/xova/db.der "$T/db.der" &&
    check "own-key: EFI/xova/db.der is the certificate (DER)" \
        cmp -s "$T/db.der" <(openssl x509 -in "$T/db.crt" -outform der) || fail "own-key: no EFI/xova/db.der"
check "own-key: grub.cfg in EFI/BOOT" usp_get "$B" ::/EFI/BOOT/grub.cfg "$T/grub.cfg"
check "own-key: summary.json names the mode" grep -q '"secure_boot":"own-key"' "$T/own/summary.json"
if "$XOVA" build "$T/own.json" -o "$T/x.ova" --sb-key "$T/db.key" 2> "$T/err"; then
    fail "own-key: --sb-key alone accepted"
else
    check "own-key: --sb-key alone: usage error" grep -q -- "--sb-key and --sb-cert go together" "$T/err"
fi
# without sign_kernels the kernels must chain to the shim's vendor CA
sb_spec "$T/own-unsigned.json" "{\"mode\": \"own-key\", \"ca\": \"$SB_CA\"}"
python3 - "$T/own-unsigned.json" "$T/unsigned-vmlinuz" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); s["architectures"][0]["kernel"] = sys.argv[2]
json.dump(s, open(sys.argv[1], "w"))
PY
rm -rf "$T/out"; mkdir -p "$T/out"
if "$XOVA" build "$T/own-unsigned.json" -o "$T/out/x.ova" -q --sb-key "$T/db.key" --sb-cert "$T/db.crt" 2> "$T/err"; then
    fail "own-key: an unsigned kernel without sign_kernels accepted"
else
    check "own-key: an unsigned kernel without sign_kernels refused, naming it" \
        grep -q "unsigned-vmlinuz.*sign_kernels" "$T/err"
fi

# --- reproducible: both modes, twice, one SOURCE_DATE_EPOCH (RSA PKCS#1 v1.5
# signatures are deterministic; the signing time is the epoch)
for m in dist own; do
    args=()
    [ $m = own ] && args=(--sb-key "$T/db.key" --sb-cert "$T/db.crt")
    for i in 1 2; do
        "$XOVA" build "$T/$m.json" -o "$T/repro-$m-$i.ova" -q "${args[@]}" || fail "$m: build $i"
        [ $i = 1 ] && sleep 1.1
    done
    check "reproducible: $m Secure Boot OVA byte-identical built twice" cmp "$T/repro-$m-1.ova" "$T/repro-$m-2.ova"
done
finish
