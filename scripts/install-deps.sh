#!/bin/bash
# install-deps.sh - install the Debian 12 packages xova needs to build, test
# and boot its appliances. Installs only what is missing; needs root (or
# sudo) when something is missing. Safe to run again.
set -euo pipefail

# build
PKGS=(build-essential autoconf automake libtool pkg-config
      libjson-c-dev libarchive-dev libxml2-dev libssl-dev libfdisk-dev zlib1g-dev libdeflate-dev
      libext2fs-dev
      libcmocka-dev libguestfs-dev
# fuzzing: clang with the libFuzzer and sanitizer runtimes
      clang libclang-rt-14-dev
# run-time of `xova inspect --deep`: libguestfs0 (pulled by libguestfs-dev; it depends on
# supermin and qemu-system-x86) builds its appliance from a host kernel in /boot, which no
# libguestfs package depends on (a container or chroot often has none); the cloud flavour
# is enough (virtio-scsi, ext4, vfat)
      "linux-image-cloud-$(dpkg --print-architecture)"
# run-time tools of `xova build`
      grub-common dosfstools mtools e2fsprogs
# run-time tools of `xova run` / tests: QEMU, firmware, libvirt schema check
      qemu-system-x86 qemu-system-arm qemu-utils ovmf qemu-efi-aarch64 libvirt-clients
# tests: the interactive console of `xova run` is driven in a terminal multiplexer
      tmux
# tests: GPT/XML readers that are not our writers, fixture tools, man page lint
      gdisk fdisk libxml2-utils cpio file mandoc groff-base openssl python3 procps util-linux
# tests: tarballs with devices/xattrs/ACLs (bsdtar), ACLs on a directory, a Debian root
      libarchive-tools acl mmdebstrap time
      ca-certificates
# the Debian package (debian/, tests/integration/deb.sh) and shell completion
      dpkg-dev debhelper fakeroot lintian binutils bash-completion
# deploy through libvirt's C API, and the daemons its tests start (libvirtd,
# virtlogd; sshd on a loopback port for qemu+ssh://)
      libvirt-dev libvirt-daemon-system openssh-server
# importer compatibility tests: govmomi's own OVF code (Go), virt-v2v (which runs nbdcopy, from
# libnbd-bin, though its package does not say so), libvmdk's reader
      golang-go golang-github-vmware-govmomi-dev virt-v2v nbdkit libnbd-bin libvmdk-utils python3-libvmdk
# Secure Boot: PE signing and checking, EFI signature lists for offline enrolment;
# osslsigncode signs own-key loaders (sbsign cannot pin the signing time: not
# reproducible); ovmf/qemu-efi-aarch64 ship the *.ms.fd and *.snakeoil.fd firmware
      sbsigntool efitools osslsigncode
# examples/debian: arm64 maintainer scripts under qemu-user; the service fetched with curl
      qemu-user-static binfmt-support arch-test curl)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PKGS[@]} packages present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
