#!/bin/bash
# xova-test-timeout: 3300  (cold: two mmdebstraps, arm64 under qemu-user ~10-30 min; three TCG boots)
# Issue 11: the Debian example (examples/debian) is one OVA that boots a real
# Debian 12 with systemd on x86_64 and on aarch64 (TCG), and serves the shared
# data disk through `xova run --forward`.
#
# - mkroot.sh makes each root once (cached under /var/cache/xova/roots, or
#   $XOVA_ROOT_CACHE; making it needs root and Debian's mirror), and a second
#   run reuses it without downloading anything ("reusing").
# - Two builds with build.sh are byte-identical.
# - Each arch boots from its own root disk to the marker a systemd unit of
#   the root prints on the serial console once busybox httpd answers
#   ("XOVA-BOOT-OK arch=A service=up"); then, while the guest runs, curl on
#   the host fetches the page through --forward (the bytes of the shared
#   disk's index.html) and /arch (the guest's uname -m, from the running arch).
#   --expect stops the guest at the marker, so the run is in the background
#   with the console logged, and the test watches the log (see xova-run(1)).
# - Issue 13: `xova deploy --start --expect` puts the same OVA on the local
#   libvirtd (qemu:///system) and the x86_64 marker arrives; undeploy leaves
#   nothing behind.
. "$XOVA_SRCDIR/tests/lib.sh"
. "$XOVA_SRCDIR/tests/integration/boot-lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
EX=$XOVA_SRCDIR/examples/debian
ARCHES=(x86_64 aarch64)

# ---- the roots: made once, then reused -----------------------------------
for arch in "${ARCHES[@]}"; do
    start=$(date +%s)
    timeout 1800 "$EX/mkroot.sh" "$arch" >"$T/mkroot-$arch.out" 2>"$T/mkroot-$arch.err"
    rc=$?
    how=reused; grep -q 'making the root' "$T/mkroot-$arch.err" && how=made
    echo "# mkroot $arch: $how in $(( $(date +%s) - start )) s"
    check "mkroot.sh $arch gives a root tarball (exit $rc)" \
        test $rc -eq 0 -a -s "$(tail -n 1 "$T/mkroot-$arch.out")"
    [ $rc -eq 0 ] || tail -20 "$T/mkroot-$arch.err"
    timeout 120 "$EX/mkroot.sh" "$arch" >"$T/mkroot2-$arch.out" 2>"$T/mkroot2-$arch.err"
    check "a second mkroot.sh $arch reuses the same root" \
        cmp -s "$T/mkroot-$arch.out" "$T/mkroot2-$arch.out"
    check "... and downloads nothing (it says reusing, runs no mmdebstrap)" \
        bash -c "grep -q '^mkroot: $arch: reusing ' '$T/mkroot2-$arch.err' &&
                 ! grep -q -e 'making the root' -e '^I: ' '$T/mkroot2-$arch.err'"
done

# ---- two builds, byte-identical ---------------------------------------------
for n in 1 2; do
    start=$(date +%s)
    XOVA=$XOVA timeout 900 bash "$EX/build.sh" -o "$T/debian-$n.ova" -- -q >"$T/build-$n.log" 2>&1
    rc=$?
    echo "# build $n of examples/debian (both arches): $(( $(date +%s) - start )) s"
    check "build.sh builds examples/debian (build $n, exit $rc)" test $rc -eq 0 -a -s "$T/debian-$n.ova"
    [ $rc -eq 0 ] || tail -20 "$T/build-$n.log"
done
check "two builds of examples/debian are byte-identical" cmp "$T/debian-1.ova" "$T/debian-2.ova"
rm -f "$T/debian-2.ova"
OVA=$T/debian-1.ova
[ -s "$OVA" ] || { finish; exit 1; }

# ---- boot each arch, fetch through --forward ---------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
boot_and_fetch() {
    local arch=$1 port pid start t rc=0 log=$T/console-$1.log
    port=$(free_port)
    start=$(date +%s)
    timeout 1500 "$XOVA" run "$OVA" --arch "$arch" --accel tcg --forward "127.0.0.1:$port:80" \
        --console --no-interactive --timeout 1400 >"$log" 2>&1 &
    pid=$!
    wait_debian_marker "$pid" "$log"
    t=$(( $(date +%s) - start ))
    echo "# booted $arch in $t s"
    check "$arch: the root's unit prints 'XOVA-BOOT-OK arch=$arch service=up' on the serial console" \
        grep -aq "XOVA-BOOT-OK arch=$arch service=up" "$log"
    check "$arch: systemd of the Debian root runs it" grep -aq 'Welcome to .*Debian GNU/Linux 12' "$log"
    if kill -0 "$pid" 2>/dev/null; then
        timeout 60 curl -sS -f -m 30 --retry 3 --retry-connrefused --retry-delay 2 \
            -o "$T/page-$arch" "http://127.0.0.1:$port/" 2>"$T/curl-$arch.err"
        check "$arch: curl through --forward gets the shared disk's index.html, byte for byte" \
            cmp "$T/page-$arch" "$EX/data/index.html"
        got=$(timeout 60 curl -sS -f -m 30 "http://127.0.0.1:$port/arch" 2>>"$T/curl-$arch.err")
        check "$arch: /arch answers '$arch' (got '$got')" test "$got" = "$arch"
        [ -s "$T/curl-$arch.err" ] && cat "$T/curl-$arch.err"
        kill -TERM "$pid"
    else
        fail "$arch: xova run ended before the marker"
    fi
    wait "$pid" || rc=$?
    check "$arch: xova run stops the guest on SIGTERM (exit $rc, want 130)" test "$rc" -eq 130
    if ! grep -aq "XOVA-BOOT-OK arch=$arch" "$log"; then tail -30 "$log"; fi
}
for arch in "${ARCHES[@]}"; do
    boot_and_fetch "$arch"
done

# ---- issue 13: deploy it onto the local libvirtd ------------------------------
# `xova deploy --connect qemu:///system --start --expect` streams the x86_64
# configuration's disks (boot, its root, the shared disk: not the aarch64
# root) into a test-private pool, defines and starts the domain, and waits on
# its console for the root's systemd unit's marker; undeploy leaves no
# domain, volume or NVRAM. The OVA stays byte-identical and owned as before.
. "$XOVA_SRCDIR/tests/integration/libvirt-lib.sh"
before="$(sha256sum < "$OVA") $(stat -c '%u:%g %a %i' "$OVA")"
if lv_begin; then
    POOL=xova-test-$$
    NAME=debian-t$$
    lv_pool "$POOL" "$T/pool" || fail "a pool for the deploy"
    lv_forget_domain "$NAME"
    start=$(date +%s)
    timeout 1500 "$XOVA" deploy "$OVA" --connect qemu:///system --pool "$POOL" --name "$NAME" \
        --start --expect "XOVA-BOOT-OK arch=x86_64 service=up" --timeout 1200 \
        >"$T/deploy.out" 2>"$T/deploy.err"
    rc=$?
    echo "# deploy of examples/debian to its marker: $(( $(date +%s) - start )) s"
    cat "$T/deploy.out"
    check "deploy --start --expect 'XOVA-BOOT-OK arch=x86_64 service=up' on qemu:///system (exit $rc)" \
        test $rc -eq 0
    [ $rc -eq 0 ] || tail -20 "$T/deploy.err"
    check "the summary line says x86_64, the three volumes and the marker seen" \
        grep -qE "^host=qemu:///system domain=$NAME arch=x86_64 accel=$LV_ACCEL volumes=boot,root-x86_64,data .* result=ok,marker-seen$" "$T/deploy.out"
    check "only the x86_64 root travelled" \
        test "$(lv_vols "$POOL" | tr '\n' ' ')" = "$NAME-boot.qcow2 $NAME-data.qcow2 $NAME-root-x86_64.qcow2 "
    check "the host's console log has the systemd unit's marker" \
        grep -aq "XOVA-BOOT-OK arch=x86_64 service=up" "/var/log/libvirt/qemu/$NAME-console.log"
    check "... printed by the Debian root's systemd" \
        grep -aq 'Welcome to .*Debian GNU/Linux 12' "/var/log/libvirt/qemu/$NAME-console.log"
    nvram=/var/lib/libvirt/qemu/nvram/${NAME}_VARS.fd
    timeout 120 "$XOVA" undeploy "$NAME" --connect qemu:///system 2>"$T/undeploy.err"
    rc=$?
    check "undeploy (exit $rc)" test $rc -eq 0
    check "undeploy: no domain left" bash -c "! virsh -q -c qemu:///system dominfo '$NAME' >/dev/null 2>&1"
    check "undeploy: no volume left" test -z "$(lv_vols "$POOL")"
    check "undeploy: no NVRAM left" test ! -e "$nvram"
else
    fail "libvirtd for the deploy"
fi
after="$(sha256sum < "$OVA") $(stat -c '%u:%g %a %i' "$OVA")"
check "the OVA is byte-identical and owned as before after run and deploy" test "$before" = "$after"
finish
