#!/usr/bin/env python3
# fidelity-gen.py OUT.tar - the fidelity test's tarball (pax), one member of
# every kind the ext4 writer must keep: regular, empty, sparse (zeros), hard
# link, directory, short and long (> 60 bytes) symlink, character device (old
# and new encoding), block device, FIFO, setuid file, setgid and sticky
# directories, non-zero uid/gid, user.* xattr (SCHILY.xattr), security.capability
# (LIBARCHIVE.xattr, base64), access and default POSIX ACLs (SCHILY.acl), and an
# mtime after SOURCE_DATE_EPOCH (clamped). Python's tarfile, not our code, so
# that the test controls every field.
import tarfile, io, sys, base64, struct
out = sys.argv[1]
EPOCH = 1700000000
members = []
def add(name, type=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, linkname="", mtime=1600000000, pax=None, dev=(0,0)):
    t = tarfile.TarInfo(name); t.type = type; t.mode = mode; t.uid = uid; t.gid = gid
    t.mtime = mtime; t.linkname = linkname; t.devmajor, t.devminor = dev
    t.size = len(data) if type == tarfile.REGTYPE else 0
    if pax: t.pax_headers = pax
    members.append((t, data))
cap = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)   # cap_net_raw+ep
add("./", tarfile.DIRTYPE, mode=0o755)
add("etc/", tarfile.DIRTYPE, mode=0o755)
add("etc/hello", data=b"hello world\n", uid=1000, gid=1000, pax={"SCHILY.xattr.user.comment": "greeting"})
add("etc/empty", data=b"", mode=0o600)
add("etc/shadow", data=b"root:*:19000:0:99999:7:::\n", mode=0o640, gid=42)
add("etc/hello.lnk", tarfile.LNKTYPE, linkname="etc/hello", uid=1000, gid=1000)
add("etc/acl", data=b"acl\n", mode=0o640, pax={"SCHILY.acl.access": "user::rw-,user:1000:r--,group::r--,mask::r--,other::---"})
add("etc/future", data=b"x", mtime=EPOCH + 10**6)
add("var/sparse", data=b"\0" * (2 << 20) + b"end\n")
add("var/lib/", tarfile.DIRTYPE, mode=0o750, uid=5, gid=6)
add("bin", tarfile.SYMTYPE, linkname="usr/bin", mode=0o777)
add("usr/lib/long", tarfile.SYMTYPE, linkname="../share/" + "x" * 100 + "/target-beyond-sixty-bytes", mode=0o777)
add("dev/", tarfile.DIRTYPE, mode=0o755)
add("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
add("dev/big", tarfile.CHRTYPE, mode=0o600, dev=(259, 70000))
add("dev/sda", tarfile.BLKTYPE, mode=0o660, gid=6, dev=(8, 0))
add("run/fifo", tarfile.FIFOTYPE, mode=0o644)
add("usr/bin/su", data=b"#!/bin/sh\n", mode=0o4755)
add("usr/bin/ping", data=b"ping\n", mode=0o755, pax={"LIBARCHIVE.xattr.security.capability": base64.b64encode(cap).decode()})
add("srv/", tarfile.DIRTYPE, mode=0o2775, gid=50)
add("srv/shared/", tarfile.DIRTYPE, mode=0o770, pax={"SCHILY.acl.default": "user::rwx,user:1000:rwx,group::r-x,mask::rwx,other::---"})
add("tmp/", tarfile.DIRTYPE, mode=0o1777)
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
    for t, d in members:
        tf.addfile(t, io.BytesIO(d) if t.type == tarfile.REGTYPE else None)
