#!/bin/bash
# Issue 3 must-show 4: the build runs as an unprivileged user (no mounts, no
# loop devices, no root), and gives the same bytes as a build by root.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
chmod 755 "$T"
mkdir -p "$T/in"
cp -r "$XOVA_SRCDIR/examples/hello/." "$T/in/"
# the fixtures are copied so the unprivileged user can read them wherever the checkout is
mkdir -p "$T/fx"
cp -r "$XOVA_FIXTURES/x86_64" "$XOVA_FIXTURES/aarch64" "$XOVA_FIXTURES/grub" "$T/fx/"
sed -i "s|\.\./\.\./tests/fixtures/cache|$T/fx|g" "$T/in/xova.json"
cp "$XOVA" "$T/xova"
chmod -R a+rX "$T"
mkdir "$T/out-user"

if [ "$(id -u)" -eq 0 ]; then
    run_user() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
    chown 65534:65534 "$T/out-user"
else
    run_user() { "$@"; }
fi
run_user env XOVA_GRUB_PATH="$T/fx/grub" "$T/xova" build "$T/in/xova.json" -o "$T/out-user/hello" \
    --format raw --layout single -q >"$T/user.log" 2>&1
rc=$?
check "build as uid $(run_user id -u) exits 0" test $rc -eq 0 || cat "$T/user.log"
check "image written by the unprivileged user" test -s "$T/out-user/hello/hello-disk.raw"
if [ "$(id -u)" -eq 0 ]; then
    XOVA_GRUB_PATH="$T/fx/grub" "$T/xova" build "$T/in/xova.json" -o "$T/root-hello" --format raw --layout single -q
    check "same bytes as a build by root" cmp "$T/out-user/hello/hello-disk.raw" "$T/root-hello/hello-disk.raw"
fi
finish
