#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# libvmdk-cmp VMDK RAW: reads VMDK through libvmdk (python3-libvmdk, the
# library of Debian's vmdkinfo: not our reader, not qemu's) and compares
# its content with the raw image RAW, byte for byte. Exit 0 when equal;
# otherwise names the first differing offset.
import sys

import pyvmdk

CHUNK = 1 << 20


def main():
    vmdk, raw = sys.argv[1], sys.argv[2]
    h = pyvmdk.handle()
    h.open(vmdk)
    # the extent is opened by the name in the embedded descriptor,
    # relative to the descriptor's directory
    h.open_extent_data_files()
    size = h.get_media_size()
    with open(raw, "rb") as f:
        f.seek(0, 2)
        raw_size = f.tell()
        if size != raw_size:
            print(f"{vmdk}: libvmdk media size {size}, raw image {raw_size}")
            return 1
        f.seek(0)
        off = 0
        while off < size:
            n = min(CHUNK, size - off)
            a = h.read_buffer_at_offset(n, off)
            b = f.read(n)
            if a != b:
                i = next(i for i in range(n) if i >= len(a) or a[i] != b[i])
                print(f"{vmdk}: differs from {raw} at byte {off + i}")
                return 1
            off += n
    h.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
