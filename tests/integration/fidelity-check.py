#!/usr/bin/env python3
# fidelity-check.py TARBALL IMAGE?offset=N EPOCH [--owners-zero]
# Reads every member of TARBALL back from the ext4 image with debugfs (not
# our writer) and compares type, mode, uid/gid, size, link count, device
# numbers, symlink target, xattrs, POSIX ACLs, clamped mtime and sparseness.
# With --owners-zero every uid/gid must be 0 instead (a directory built as
# non-root). Prints one line per mismatch; exit 1 if any.
import subprocess, sys, tarfile, re, base64, collections

tar_path, image, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
owners_zero = "--owners-zero" in sys.argv
bad = []

def debugfs(cmd):
    r = subprocess.run(["debugfs", "-R", cmd, image], capture_output=True, timeout=60)
    return r.stdout.decode("utf-8", "surrogateescape")

def norm(name):
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)

TYPES = {tarfile.REGTYPE: "regular", tarfile.AREGTYPE: "regular", tarfile.GNUTYPE_SPARSE: "regular", tarfile.DIRTYPE: "directory",
         tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "character special",
         tarfile.BLKTYPE: "block special", tarfile.FIFOTYPE: "FIFO"}
ACL_TAGS = {1: "user:", 2: "user:", 4: "group:", 8: "group:", 0x10: "mask:", 0x20: "other:"}

def acl_text(hexbytes):
    """ext4's on-disk ACL (version 1, short entries for the *_OBJ/mask/other)"""
    b = bytes(int(x, 16) for x in hexbytes.split())
    assert b[:4] == b"\x01\0\0\0", "not ext4 ACL version 1"
    i, out = 4, []
    while i < len(b):
        tag, perm = int.from_bytes(b[i:i+2], "little"), int.from_bytes(b[i+2:i+4], "little")
        i += 4
        ident = ""
        if tag in (2, 8):
            ident = str(int.from_bytes(b[i:i+4], "little"))
            i += 4
        p = ("r" if perm & 4 else "-") + ("w" if perm & 2 else "-") + ("x" if perm & 1 else "-")
        out.append(ACL_TAGS[tag] + ident + ":" + p)
    return ",".join(sorted(out))

def ea_list(path):
    out, text = {}, debugfs('ea_list "%s"' % path)
    for m in re.finditer(r"^  (\S+) \((\d+)\)(?: = (.*))?$", text, re.M):
        out[m.group(1)] = (int(m.group(2)), m.group(3) or "")
    return out

with tarfile.open(tar_path) as tf:
    members = tf.getmembers()
names = collections.Counter()
for m in members:
    names[norm(m.linkname) if m.islnk() else norm(m.name)] += 1
# every directory, listed or implied by a deeper name, counts in its parent's links
dirs = {"/lost+found"}
for m in members:
    parts = norm(m.name).split("/")[1:]
    for i in range(1, len(parts) + (1 if m.isdir() else 0)):
        dirs.add("/" + "/".join(parts[:i]))
dirs.discard("/")
subdirs = collections.Counter(d.rsplit("/", 1)[0] or "/" for d in dirs)
by_name = {norm(m.name): m for m in members}
checked = 0
for m in members:
    path = norm(m.name)
    src = by_name[norm(m.linkname)] if m.islnk() else m
    st = debugfs('stat "%s"' % path)
    def field(rx):
        f = re.search(rx, st)
        return f.group(1) if f else None
    def want(what, got, exp):
        if str(got) != str(exp):
            bad.append("%s: %s is %s, want %s" % (path, what, got, exp))
    if not st.startswith("Inode:"):
        bad.append("%s: not in the image" % path)
        continue
    checked += 1
    want("type", field(r"Type: (.+?)\s+Mode:"), TYPES[src.type])
    want("mode", "%04o" % int(field(r"Mode:\s+(\d+)"), 8), "%04o" % (src.mode & 0o7777))
    want("uid", field(r"User:\s+(\d+)"), 0 if owners_zero else src.uid)
    want("gid", field(r"Group:\s+(\d+)"), 0 if owners_zero else src.gid)
    links = 2 + subdirs[path] if src.isdir() else names[norm(src.name)]
    want("link count", field(r"Links: (\d+)"), links)
    want("mtime", int(field(r"mtime: 0x([0-9a-f]+)"), 16), min(src.mtime, epoch))
    if src.isreg():
        want("size", field(r"Size: (\d+)"), src.size)
        data = subprocess.run(["debugfs", "-R", 'cat "%s"' % path, image], capture_output=True, timeout=60).stdout
        with tarfile.open(tar_path) as tf:
            want("content", "sha" + str(hash(data)), "sha" + str(hash(tf.extractfile(src.name).read())))
        blocks = int(field(r"Blockcount: (\d+)"))
        nonzero = sum(1 for i in range(0, len(data), 4096) if data[i:i+4096].strip(b"\0"))
        want("allocated 4 KiB blocks (zero blocks must stay holes)", blocks // 8, nonzero)
    if src.issym():
        want("size", field(r"Size: (\d+)"), len(src.linkname.encode()))
        fast = field(r'Fast link dest: "(.*)"')
        target = fast if fast is not None else subprocess.run(
            ["debugfs", "-R", 'cat "%s"' % path, image], capture_output=True, timeout=60).stdout.decode()
        want("symlink target", target, src.linkname)
    if src.ischr() or src.isblk():
        want("device", field(r"Device major/minor number: (\d+:\d+)"),
             ("%02d:%02d" if src.devmajor < 256 and src.devminor < 256 else "%d:%d") % (src.devmajor, src.devminor))
    # xattrs and ACLs
    ea = ea_list(path)
    exp = {}
    for k, v in src.pax_headers.items():
        if k.startswith("SCHILY.xattr."):
            exp[k[len("SCHILY.xattr."):]] = ("text", v)
        elif k.startswith("LIBARCHIVE.xattr."):
            exp[k[len("LIBARCHIVE.xattr."):]] = ("bytes", base64.b64decode(v))
        elif k == "SCHILY.acl.access":
            exp["system.posix_acl_access"] = ("acl", v)
        elif k == "SCHILY.acl.default":
            exp["system.posix_acl_default"] = ("acl", v)
    want("xattr names", sorted(ea), sorted(exp))
    for k, (kind, v) in exp.items():
        if k not in ea:
            continue
        size, shown = ea[k]
        if kind == "text":
            want("xattr " + k, shown, '"%s"' % v)
        elif kind == "bytes":
            want("xattr " + k, shown.strip(), " ".join("%02x" % c for c in v))
        else:
            want("ACL " + k, acl_text(shown), ",".join(sorted(v.split(","))))
print("checked %d members" % checked)
for b in bad:
    print("MISMATCH " + b)
sys.exit(1 if bad or checked != len(members) else 0)
