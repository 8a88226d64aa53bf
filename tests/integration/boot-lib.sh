# boot-lib.sh - boot raw disk images with plain QEMU (no xova involved) and
# wait for the marker the test initramfs prints on the serial console.
# Sourced by the integration tests. TCG always: KVM is not used here, the
# point is to boot the same images under both architectures' firmware.

# boot_raw ARCH LOG DISK... : boots the disks (first = boot disk), returns 0
# when "XOVA-BOOT-OK arch=ARCH" is on the console within BOOT_TIMEOUT seconds.
boot_raw() {
    local arch=$1 log=$2; shift 2
    local drives=() i=0 d fw=()
    for d in "$@"; do
        drives+=(-blockdev "{\"driver\":\"raw\",\"node-name\":\"d$i\",\"read-only\":true,\"file\":{\"driver\":\"file\",\"filename\":\"$d\",\"read-only\":true}}"
                 -device "virtio-blk-pci,drive=d$i${i:+}")
        i=$((i + 1))
    done
    case $arch in
    x86_64)
        cp /usr/share/OVMF/OVMF_VARS_4M.fd "$log.vars"
        fw=(-machine q35,accel=tcg -cpu max
            -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
            -drive "if=pflash,format=raw,unit=1,file=$log.vars")
        qemu=qemu-system-x86_64 ;;
    aarch64)
        fw=(-machine virt,accel=tcg -cpu max -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd)
        qemu=qemu-system-aarch64 ;;
    *) echo "boot_raw: unknown arch $arch" >&2; return 2 ;;
    esac
    timeout "${BOOT_TIMEOUT:-300}" "$qemu" "${fw[@]}" -m 512 -smp 1 -nodefaults -no-user-config \
        -display none -no-reboot -serial "file:$log" "${drives[@]}" </dev/null >"$log.qemu" 2>&1
    local rc=$?
    rm -f "$log.vars"
    if grep -aq "XOVA-BOOT-OK arch=$arch" "$log"; then
        return 0
    fi
    echo "  no 'XOVA-BOOT-OK arch=$arch' on the console (qemu exit $rc); last lines:" >&2
    tail -15 "$log" | tr -d '\r' | sed 's/^/    | /' >&2
    sed 's/^/    qemu: /' "$log.qemu" >&2
    return 1
}
