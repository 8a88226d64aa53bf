#!/bin/sh
# customize.sh ROOTDIR -- mmdebstrap --customize-hook of mkroot.sh: copy the
# example's own files (examples/debian/root/) into the new root with fixed
# owners and modes, and enable its units. Runs on the build host, before the
# root is packed into its tarball.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
r=$1
[ -d "$r/etc" ] || { echo "customize.sh: $r is not a root" >&2; exit 1; }

(cd "$here/root" && find . -type f | LC_ALL=C sort) | while read -r f; do
    f=${f#./}
    mode=0644
    [ -x "$here/root/$f" ] && mode=0755
    install -D -o 0 -g 0 -m "$mode" "$here/root/$f" "$r/$f"
done
install -d -o 0 -g 0 -m 0755 "$r/srv/data" "$r/srv/www" "$r/boot/efi"

# Enabling a unit is making its [Install] symlinks; systemctl enable in the
# root does exactly that (under qemu-user for a foreign root) and knows
# Debian's own units' Also= and Alias= lines.
chroot "$r" systemctl enable xova-httpd.service xova-boot-ok.service systemd-networkd.service
# e2scrub_reap checks for LVM snapshots of ext4 (there is no LVM here) and
# holds back multi-user.target: 2.5 min of an aarch64 boot under TCG.
# Masked as systemctl mask does it: a link to /dev/null.
ln -sf /dev/null "$r/etc/systemd/system/e2scrub_reap.service"
