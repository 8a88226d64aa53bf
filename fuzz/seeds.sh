#!/bin/bash
# SPDX-License-Identifier: MIT
#
# fuzz/seeds.sh [XOVA] - generates the seed corpora of the fuzz targets at
# run time (no binary blobs in git), one folder per target:
#
#   $FUZZ_SEEDS (default fuzz/corpus-gen/seeds)/{spec,manifest,cert,ovf,tar,vmdk}/
#   $FUZZ_SEEDS/cert-ca.pem     self-signed certificate of the cert seeds
#                               (fuzz/run.sh passes it as $XOVA_FUZZ_CA)
#
# Always: spec JSON (examples/hello/xova.json and variants), a small
# hand-written descriptor, manifests, a signed .cert over the fixed manifest
# of fuzz-cert.c (throw-away RSA key, openssl(1)), small OVAs in three tar
# flavours (ustar, pax, gnu) holding streamOptimized VMDKs made by
# `qemu-img convert -O vmdk -o subformat=streamOptimized`, and those VMDKs.
# With XOVA (a built xova binary): also a tiny appliance built by the real
# CLI (signed OVA + its descriptor, manifest, cert and xova-written VMDKs),
# in split and single layout.
#
# Needs: openssl, qemu-img (qemu-utils), GNU tar, sha256sum.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
out=${FUZZ_SEEDS:-$here/corpus-gen/seeds}
xova=${1:-}

die() { echo "fuzz/seeds.sh: error: $*" >&2; exit 1; }
for tool in openssl qemu-img tar sha256sum; do
	command -v "$tool" >/dev/null || die "'$tool' not found (openssl, qemu-utils, tar, coreutils)"
done
if [ -n "$xova" ]; then
	[ -x "$xova" ] || die "'$xova' is not an executable xova binary"
	xova=$(cd "$(dirname "$xova")" && pwd)/$(basename "$xova")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xova-fuzz-seeds.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"/{spec,manifest,cert,ovf,tar,vmdk}
export SOURCE_DATE_EPOCH=0 LC_ALL=C

# ---- spec ---------------------------------------------------------------
cp "$top/examples/hello/xova.json" "$out/spec/hello.json"
cat > "$out/spec/minimal.json" <<'JSON'
{ "name": "a", "version": "1", "architectures": [ { "name": "x86_64", "kernel": "vmlinuz" } ],
  "disks": [ { "name": "root", "role": "root", "arch": "x86_64", "size": "8M" } ] }
JSON
cat > "$out/spec/single.json" <<'JSON'
{
  "name": "single-1.x",
  "version": "2.0-rc1",
  "vendor": "caf\u00e9 \"quoted\" vendor",
  "description": "multi\nline \u2603",
  "layout": "single",
  "boot_size": "48M",
  "architectures": [
    { "name": "aarch64", "kernel": "/abs/Image", "initrd": "initrd.img", "cmdline": "quiet loglevel=3",
      "vcpus": 4, "memory": "2G", "machine": "virt" },
    { "name": "x86_64", "kernel": "k/vmlinuz", "vcpus": 2, "memory": 1024 }
  ],
  "disks": [
    { "name": "root", "role": "root", "arch": "aarch64", "tarball": "rootfs.tar.gz", "label": "root" },
    { "name": "root", "role": "root", "arch": "x86_64", "image": "root.ext4" },
    { "name": "data_1", "role": "data", "size": 16777216, "label": "data" },
    { "name": "empty", "role": "data", "size": "1G" }
  ]
}
JSON
cat > "$out/spec/null-and-units.json" <<'JSON'
{ "name": "u", "version": "0.1", "vendor": null, "description": null, "layout": "split",
  "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "initrd": null, "cmdline": null,
                       "memory": "512MiB", "vcpus": 1 } ],
  "disks": [ { "name": "root", "role": "root", "arch": "x86_64", "size": "1024K", "directory": "." },
             { "name": "d", "role": "data", "size": "0x100000" } ] }
JSON
# hostile ones: duplicate key, unknown key, grub.cfg injection, BOM, NUL, bad UTF-8
printf '{ "name": "a", "name": "b", "version": "1", "architectures": [], "disks": [] }\n' > "$out/spec/dup-key.json"
printf '{ "name": "a", "version": "1", "extra": true, "architectures": [], "disks": [] }\n' > "$out/spec/unknown-key.json"
printf '{ "name": "a", "version": "1", "architectures": [ { "name": "x86_64", "kernel": "k", "cmdline": "a\\"; reboot; #" } ], "disks": [] }\n' > "$out/spec/cmdline-inject.json"
printf '\xef\xbb\xbf{ "name": "a" }\n' > "$out/spec/bom.json"
printf '{ "name": "a\x00b" }\n' > "$out/spec/nul.json"
printf '{ "name": "\xc3\x28" }\n' > "$out/spec/bad-utf8.json"

# ---- disks: raw images and qemu-img streamOptimized VMDKs --------------------
mkraw() {  # mkraw FILE SIZE: a few non-zero 4 KiB blocks, the rest holes
	local f=$1 size=$2 off=0 i=0
	truncate -s "$size" "$f"
	while [ "$off" -lt "$size" ]; do
		printf 'xova fuzz seed %s block %d\n' "$(basename "$f")" "$i" |
			dd of="$f" bs=1 seek="$off" conv=notrunc status=none
		off=$((off + 262144)); i=$((i + 1))
	done
}
qvmdk() {  # qvmdk RAW VMDK
	qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "$1" "$2"
}
mkraw "$work/boot.raw" 1048576
mkraw "$work/root.raw" 1048576
truncate -s 65536 "$work/zero.raw"
mkraw "$work/odd.raw" 51200             # 100 sectors: the last grain is partial
head -c 65536 /dev/urandom > "$work/noise.raw"  # incompressible grain
for r in boot root zero odd noise; do
	qvmdk "$work/$r.raw" "$out/vmdk/qemu-$r.vmdk"
done

# ---- descriptor template: one x86_64 configuration, a boot and a root disk -----
# descriptor FILE BOOT_VMDK ROOT_VMDK STEM
descriptor() {
	local f=$1 bsize rsize
	bsize=$(stat -c %s "$2"); rsize=$(stat -c %s "$3")
	cat > "$f" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:xova="https://xova.dev/ovf/1">
  <References>
    <File ovf:href="$4-boot.vmdk" ovf:id="file-boot" ovf:size="$bsize"/>
    <File ovf:href="$4-root.vmdk" ovf:id="file-root-x86_64" ovf:size="$rsize"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:capacity="1048576" ovf:capacityAllocationUnits="byte" ovf:diskId="boot" ovf:fileRef="file-boot" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="65536" xova:role="boot"/>
    <Disk ovf:capacity="1048576" ovf:capacityAllocationUnits="byte" ovf:diskId="root-x86_64" ovf:fileRef="file-root-x86_64" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="65536" xova:role="root" xova:architecture="x86_64"/>
  </DiskSection>
  <DeploymentOptionSection>
    <Info>One configuration per CPU architecture</Info>
    <Configuration ovf:default="true" ovf:id="x86_64">
      <Label>x86_64</Label>
      <Description>x86_64 guest</Description>
      <xova:Architecture ovf:required="false">x86_64</xova:Architecture>
      <xova:Machine ovf:required="false">q35</xova:Machine>
      <xova:Firmware ovf:required="false">efi</xova:Firmware>
    </Configuration>
  </DeploymentOptionSection>
  <VirtualSystem ovf:id="$4">
    <Info>A virtual appliance</Info>
    <Name>$4</Name>
    <ProductSection>
      <Info>Product information</Info>
      <Product>$4</Product>
      <Vendor>fuzz &amp; co</Vendor>
      <Version>1.0</Version>
    </ProductSection>
    <AnnotationSection>
      <Info>Description</Info>
      <Annotation>seed &lt;descriptor&gt;</Annotation>
    </AnnotationSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>$4</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType>
      </System>
      <Item ovf:configuration="x86_64">
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>2 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item ovf:configuration="x86_64">
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>256 MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>256</rasd:VirtualQuantity>
      </Item>
      <Item ovf:configuration="x86_64">
        <rasd:Address>0</rasd:Address>
        <rasd:ElementName>virtio disk controller</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>virtio</rasd:ResourceSubType>
        <rasd:ResourceType>20</rasd:ResourceType>
      </Item>
      <Item ovf:configuration="x86_64">
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>disk boot</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/boot</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item ovf:configuration="x86_64">
        <rasd:AddressOnParent>1</rasd:AddressOnParent>
        <rasd:ElementName>disk root-x86_64</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/root-x86_64</rasd:HostResource>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item ovf:configuration="x86_64">
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:ElementName>virtio network adapter</rasd:ElementName>
        <rasd:InstanceID>6</rasd:InstanceID>
        <rasd:ResourceSubType>virtio</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <Item ovf:configuration="x86_64" ovf:required="false">
        <rasd:ElementName>serial0</rasd:ElementName>
        <rasd:InstanceID>7</rasd:InstanceID>
        <rasd:ResourceType>21</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
XML
}

manifest() {  # manifest DIR FILE...: "SHA256(name)= hex" lines to stdout
	local d=$1 f; shift
	for f in "$@"; do
		printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum < "$d/$f" | cut -d' ' -f1)"
	done
}

# ---- certificate: a throw-away key; signs fuzz-cert.c's fixed manifest --------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
	-days 36500 -subj /CN=xova-fuzz-seed >/dev/null 2>&1 || die "openssl req failed"
cp "$work/cert.pem" "$out/cert-ca.pem"
signcert() {  # signcert MF_NAME MF_FILE > CERT
	printf 'SHA256(%s)= %s\n' "$1" \
		"$(openssl dgst -sha256 -sign "$work/key.pem" "$2" | od -An -v -tx1 | tr -d ' \n')"
	cat "$work/cert.pem"
}
# keep in sync with FUZZ_CERT_MF in fuzz/fuzz-cert.c
printf 'SHA256(fuzz.ovf)= %064d\n' 0 > "$work/fixed.mf"
signcert fuzz.mf "$work/fixed.mf" > "$out/cert/signed.cert"
sed '/^SHA256/s/[0-9a-f]\{8\}$/00000000/' "$out/cert/signed.cert" > "$out/cert/bad-signature.cert"
head -n 1 "$out/cert/signed.cert" > "$out/cert/no-pem.cert"
printf 'SHA256(fuzz.mf)= 00\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' > "$out/cert/short.cert"

# ---- small OVAs from the template ----------------------------------------
b=$work/ova
mkdir -p "$b"
qvmdk "$work/boot.raw" "$b/fuzz-boot.vmdk"
qvmdk "$work/root.raw" "$b/fuzz-root.vmdk"
descriptor "$b/fuzz.ovf" "$b/fuzz-boot.vmdk" "$b/fuzz-root.vmdk" fuzz
manifest "$b" fuzz.ovf fuzz-boot.vmdk fuzz-root.vmdk > "$b/fuzz.mf"
signcert fuzz.mf "$b/fuzz.mf" > "$b/fuzz.cert"
cp "$b/fuzz.ovf" "$out/ovf/template.ovf"
cp "$b/fuzz.mf" "$out/manifest/template.mf"
cp "$b/fuzz.cert" "$out/cert/template.cert"
tarit() {  # tarit FORMAT OVA MEMBER...
	local fmt=$1 ova=$2; shift 2
	tar --format="$fmt" --owner=0 --group=0 --numeric-owner --mtime=@0 --mode=0644 \
		-cf "$ova" -C "$b" "$@"
}
tarit ustar "$out/tar/small-ustar.ova" fuzz.ovf fuzz.mf fuzz-boot.vmdk fuzz-root.vmdk
tarit pax "$out/tar/small-pax-signed.ova" fuzz.ovf fuzz.mf fuzz.cert fuzz-boot.vmdk fuzz-root.vmdk
tarit gnu "$out/tar/small-gnu-signed.ova" fuzz.ovf fuzz.mf fuzz.cert fuzz-boot.vmdk fuzz-root.vmdk
# hostile: disk before the descriptor, a directory member, a symlink
tarit ustar "$out/tar/order.ova" fuzz-boot.vmdk fuzz.ovf fuzz.mf fuzz-root.vmdk
mkdir -p "$b/sub" && ln -sf fuzz.ovf "$b/link.vmdk"
tarit ustar "$out/tar/dir-link.ova" fuzz.ovf sub link.vmdk

# manifests: a few shapes
manifest "$b" fuzz.ovf > "$out/manifest/one.mf"
manifest "$b" fuzz.ovf fuzz-boot.vmdk | sed 's/= \(.*\)$/= \U\1/' > "$out/manifest/upper.mf"
printf 'SHA1(fuzz.ovf)= %040d\n' 0 > "$out/manifest/sha1.mf"
printf 'SHA256(a)b)= %064d\nSHA256(c d)= %064d' 0 1 > "$out/manifest/paren-no-newline.mf"

# ---- optional: a tiny appliance built by the real CLI --------------------
if [ -n "$xova" ]; then
	a=$work/app
	mkdir -p "$a/root/etc" "$a/data"
	echo seed > "$a/root/etc/hostname"
	echo data > "$a/data/README"
	head -c 4096 /dev/zero | tr '\0' 'K' > "$a/vmlinuz"
	head -c 1024 /dev/zero | tr '\0' 'I' > "$a/initrd.img"
	cat > "$a/xova.json" <<'JSON'
{
  "name": "seed",
  "version": "1.0",
  "architectures": [ { "name": "x86_64", "kernel": "vmlinuz", "initrd": "initrd.img", "memory": "256M" } ],
  "disks": [
    { "name": "root", "role": "root", "arch": "x86_64", "size": "4M", "directory": "root", "label": "root" },
    { "name": "data", "role": "data", "size": "4M", "directory": "data" }
  ]
}
JSON
	cp "$a/xova.json" "$out/spec/built.json"
	grub=()
	[ -d "$top/tests/fixtures/cache/grub" ] && grub=(--grub-dir "$top/tests/fixtures/cache/grub")
	n=0
	for layout in split single; do
		if ! (cd "$a" && "$xova" build -q --no-progress "${grub[@]}" --layout "$layout" \
			--sign-key "$work/key.pem" --sign-cert "$work/cert.pem" -o "$a/$layout.ova" xova.json); then
			echo "fuzz/seeds.sh: warning: '$xova build' ($layout) failed; skipping the built seeds" >&2
			continue
		fi
		cp "$a/$layout.ova" "$out/tar/built-$layout.ova"
		mkdir -p "$a/x-$layout"
		tar -xf "$a/$layout.ova" -C "$a/x-$layout"
		for f in "$a/x-$layout"/*; do
			case $f in
			*.ovf) cp "$f" "$out/ovf/built-$layout.ovf" ;;
			*.mf) cp "$f" "$out/manifest/built-$layout.mf" ;;
			*.cert) cp "$f" "$out/cert/built-$layout.cert" ;;
			*.vmdk) cp "$f" "$out/vmdk/built-$layout-$(basename "$f")" ;;
			esac
		done
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || echo "fuzz/seeds.sh: warning: no seeds from '$xova'" >&2
fi

# shellcheck disable=SC2012
for t in spec manifest cert ovf tar vmdk; do
	printf 'fuzz: seeds: %-8s %3d files, %7d bytes\n' "$t" "$(ls "$out/$t" | wc -l)" "$(cat "$out/$t"/* | wc -c)"
done
