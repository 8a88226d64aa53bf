#!/bin/bash
# Issue 10 must-show 3: a real distribution root builds faithfully as a
# non-root user and boots. A Debian 12 amd64 root made by mmdebstrap (with
# its /dev nodes, hard links and group-owned files), its kernel and initrd
# taken from the root itself ({"from-root": "/vmlinuz"}, a symlink into
# /boot), is built by uid 65534 and boots under `xova run` to its login
# prompt. /etc/shadow keeps gid 42 (shadow), read with debugfs.
#
# The root is examples/debian's x86_64 root (examples/debian/mkroot.sh:
# systemd-sysv, udev, linux-image-cloud-amd64 and the example's busybox httpd
# and units), so CI makes one amd64 root, not two. It is cached under
# /var/cache/xova/roots/ (or $XOVA_ROOT_CACHE), keyed by the versions the
# host's apt lists give: a re-run downloads nothing. Making it (first run
# only) needs root and Debian's mirror, and takes a few minutes.
. "$XOVA_SRCDIR/tests/lib.sh"
need_fixtures
export SOURCE_DATE_EPOCH=1700000000
timeout 1500 "$XOVA_SRCDIR/examples/debian/mkroot.sh" x86_64 >"$T/mkroot.out" 2>"$T/mkroot.log"
rc=$?
root=$(tail -n 1 "$T/mkroot.out")
echo "# root tarball $root"
if [ $rc -ne 0 ] || [ ! -s "$root" ]; then
    tail -20 "$T/mkroot.log"
    echo "FAIL - examples/debian/mkroot.sh x86_64 (exit $rc)"
    exit 1
fi
check "the root tarball has /dev nodes" bash -c "bsdtar -tvf '$root' | grep -q '^c.* \\./dev/console\$'"
check "the root's /vmlinuz is a symlink into /boot" \
    bash -c "bsdtar -tvf '$root' | grep -Eq '^l.* \\./vmlinuz -> boot/vmlinuz-'"

chmod 0777 "$T"
cp -r "$XOVA_FIXTURES/grub" "$T/"
cp "$XOVA" "$T/xova"
chmod -R a+rX "$T"
cat >"$T/debian.json" <<JSON
{ "name": "debian", "version": "12",
  "architectures": [ { "name": "x86_64",
                       "kernel": { "from-root": "/vmlinuz" },
                       "initrd": { "from-root": "/initrd.img" },
                       "cmdline": "console=ttyS0", "memory": "1024M" } ],
  "disks": [ { "name": "root", "role": "root", "arch": "x86_64", "size": "1024M",
               "tarball": "$root" } ] }
JSON
chmod a+r "$T/debian.json"
if [ "$(id -u)" -eq 0 ]; then
    as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
else
    as_user() { "$@"; }
fi
as_user env XOVA_GRUB_PATH="$T/grub" timeout 300 "$T/xova" build "$T/debian.json" --format raw \
    -o "$T/raw" -q >"$T/build.log" 2>&1
rc=$?
check "build the Debian root as uid $(as_user id -u)" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/build.log"
img="$T/raw/debian-root-x86_64.raw?offset=1048576"
fsck_clean() { timeout 120 e2fsck -fn "$1" >"$T/fsck.log" 2>&1 || { tail "$T/fsck.log"; return 1; }; }
check "e2fsck -fn clean" fsck_clean "$img"
check "/etc/shadow keeps gid 42" bash -c "debugfs -R 'stat /etc/shadow' '$img' 2>/dev/null |
    grep -Eq 'User: +0 +Group: +42 '"
check "/dev/console is a character device 5:1" bash -c "debugfs -R 'stat /dev/console' '$img' 2>/dev/null |
    grep -q 'Device major/minor number: 05:01'"
as_user env XOVA_GRUB_PATH="$T/grub" timeout 300 "$T/xova" build "$T/debian.json" -o "$T/debian.ova" \
    -q >"$T/build-ova.log" 2>&1
rc=$?
check "build the Debian OVA as non-root" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/build-ova.log"
start=$(date +%s)
timeout 700 "$XOVA" run "$T/debian.ova" --arch x86_64 --expect 'login:' --timeout 600 --console \
    >"$T/console.log" 2>&1
rc=$?
echo "# booted in $(( $(date +%s) - start )) s"
check "the Debian root boots to its login prompt (exit $rc)" test $rc -eq 0
[ $rc -eq 0 ] || tail -30 "$T/console.log"
check "the console shows systemd started from the root disk" grep -q "Welcome to .*Debian GNU/Linux 12" "$T/console.log"
finish
