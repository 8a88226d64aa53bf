/* SPDX-License-Identifier: MIT */
/*
 * The tar side of an OVA: the ustar header (struct tar_ustar_header, named
 * as libarchive's struct archive_entry_header_ustar), the checks a
 * member's headers must pass so that every tar reader sees the same bundle
 * (docs/SECURITY.md, "One bundle for every tar reader"), and, beside them,
 * the writer of the headers our exporter emits (which must pass them).
 *
 * libarchive reads and writes the archive; what is hand-written here is
 * what libarchive does not offer: a view of the raw header blocks it
 * skipped or folded in, and of the ustar fields other readers take instead
 * of the pax records libarchive honours.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "ovf/ovf-internal.h"

_Static_assert(sizeof(struct tar_ustar_header) == TAR_BLOCK, "a ustar header is one block");

/* The first len bytes of a header field, escaped for a message: up to the
 * first NUL, or with the NULs shown (\x00) when with_nuls, trailing NULs
 * cut either way. */
static const char *field_shown(const char *s, size_t len, bool with_nuls, char *buf, size_t size)
{
        size_t n = with_nuls ? len : strnlen(s, len);

        while (n > 0 && s[n - 1] == '\0')
                n--;
        return xova_escape(buf, size, s, n, XOVA_ESC_BACKSLASH);
}

/* ---- members as libarchive reports them ---------------------------------- */

const char *ovf_tar_name_problem(const char *name)
{
        if (!name)
                return "name not readable";
        if (!*name)
                return "empty name";
        if (name[0] == '/')
                return "absolute name";
        if (strncmp(name, "./", 2) == 0)
                return "'./' prefix";
        if (strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
            ovf_has_suffix(name, "/.."))
                return "'..' component";
        if (strchr(name, '\\'))
                return "backslash in name";
        if (strchr(name, '/'))
                return "not a bare file name (contains '/')";
        return ovf_member_name_problem(name);
}

const char *ovf_tar_type_problem(struct archive_entry *en)
{
        if (archive_entry_hardlink(en))
                return "is a hard link";
        switch (archive_entry_filetype(en)) {
        case AE_IFREG:
                break;
        case AE_IFLNK:
                return "is a symbolic link";
        case AE_IFDIR:
                return "is a directory";
        case AE_IFIFO:
                return "is a FIFO";
        case AE_IFCHR:
                return "is a character device";
        case AE_IFBLK:
                return "is a block device";
        case AE_IFSOCK:
                return "is a socket";
        default:
                return OVF_TAR_NOT_REGULAR;
        }
        if (archive_entry_symlink(en))
                return "is a symbolic link";
        if (archive_entry_sparse_count(en) > 0)
                return "is a sparse member";
        if (!archive_entry_size_is_set(en))
                return "has no size";
        return NULL;
}

/* ---- the raw header blocks ---------------------------------------------- */

/*
 * A pax 'path' record or a GNU long name ('L' entry) overrides the name
 * field of the ustar header after it, and libarchive reports the override.
 * A reader that ignores pax or GNU entries (old ustar readers, some
 * scanners and extractors) sees the name field instead: a bundle naming one
 * member two ways is a parser differential, refused whichever name is the
 * hostile one. The member's own header h (at offset hdr_off) must hold the
 * name, or, for a name too long for the 100-byte field, the first 98 to 100
 * bytes of it (libarchive 3.6's pax writer keeps 98, GNU tar, Python and Go
 * 100), so what an old reader sees is cut, never another member's name; the
 * POSIX prefix field must be empty, as a bare name cannot be split there.
 */
int ovf_tar_check_name(const struct tar_ustar_header *h, uint64_t hdr_off, const char *name, const char *where,
                       struct xerr *e)
{
        char shown[XOVA_ESC_MAX];
        size_t len = strlen(name), n;

        /* the POSIX magic "ustar\0": the prefix field is a prefix */
        if (memcmp(h->magic, "ustar", sizeof(h->magic)) == 0 && h->prefix[0])
                return xerr_set(e, -XOVA_EVERIFY, where, "the tar header's prefix field says '%s' (members have "
                                "bare names)", field_shown(h->prefix, sizeof(h->prefix), false, shown, sizeof(shown)));
        n = strnlen(h->name, sizeof(h->name));
        if ((n == len || (len >= 100 && n >= 98)) && memcmp(h->name, name, n) == 0)
                return 0;
        return xerr_set(e, -XOVA_EVERIFY, where, "the tar header's name field says '%s' (at offset %" PRIu64
                        "; a pax path or GNU long name must not differ from it)",
                        field_shown(h->name, n, false, shown, sizeof(shown)), hdr_off);
}

#define TAR_SIZE_LEN sizeof(((struct tar_ustar_header *) 0)->size)
#define TAR_OCTAL_MAX ((UINT64_C(1) << 33) - 1)  /* 11 octal digits and a terminator: 8 GiB - 1 */

/*
 * The ustar size field p[12] as any reader of the header alone reads it,
 * into *ret; false if readers disagree on it or refuse it. Plain octal:
 * leading spaces (old writers), 1 to 12 octal digits, then only spaces
 * and NULs (the terminator; libarchive's writer drops it for 12 digits).
 * Readers disagree on anything else: libarchive stops at the first
 * non-digit ("12x" is 10) and, like Python, reads a leading NUL as 0,
 * GNU tar skips one leading NUL and Go trims them, Python and Go refuse
 * "1 2", Go a leading tab. GNU base-256: first byte 0x80 to 0xbf, a
 * big-endian number in its low 6 bits and the 11 bytes after (0xc0 and
 * up are negative, which libarchive refuses itself).
 */
static bool tar_size_field(const unsigned char *p, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i = 0, digits = 0;

        if (p[0] & 0x80) {
                if (p[0] & 0x40)
                        return false;
                v = p[0] & 0x3f;
                for (i = 1; i < TAR_SIZE_LEN; i++) {
                        if (v >> 56)
                                return false;
                        v = v << 8 | p[i];
                }
                *ret = v;
                return true;
        }
        while (i < TAR_SIZE_LEN && p[i] == ' ')
                i++;
        /* at most 12 digits, 36 bits: no overflow */
        for (; i < TAR_SIZE_LEN && p[i] >= '0' && p[i] <= '7'; i++, digits++)
                v = v << 3 | (uint64_t) (p[i] - '0');
        if (digits == 0)
                return false;
        for (; i < TAR_SIZE_LEN; i++)
                if (p[i] != ' ' && p[i] != '\0')
                        return false;
        *ret = v;
        return true;
}

/*
 * A pax 'size' record overrides the size field of the ustar header after
 * it, and libarchive reports (and reads) the override. A reader that
 * ignores pax takes the field, and so sees other member boundaries: the
 * next header where we see data, or data where we see the next header,
 * i.e. members we never checked. So the field must say the size
 * libarchive reports, whatever record that came from.
 *
 * Members of 8 GiB or more do not fit the standard field (11 octal digits
 * and a terminator). What writers put there:
 *   - libarchive (our ovf/export.c, pax_restricted; bsdtar): the true size
 *     anyway, as 12 octal digits without a terminator below 64 GiB, as
 *     base-256 from there, next to the pax size record ("so that the file
 *     size stored will always be correct", archive_write_set_format_pax.c);
 *   - GNU tar --format=gnu/oldgnu: base-256, no pax record;
 *   - GNU tar --format=posix (1.34), Python tarfile, Go archive/tar: 0
 *     next to the pax size record; a writer that clips the number would
 *     put the octal maximum 077777777777.
 * The rule: the field must hold the true size at every size; the first two
 * are accepted, a 0 or 077777777777 field is refused like any other
 * mismatch. A reader that ignores pax would take the member's first data
 * block (or the block 8 GiB into it) for the next header, and a raw disk,
 * or the padding of a VMDK's header, can hold a forged header there:
 * the very differential this check exists to close. With the true size
 * in the field, a reader that knows neither pax nor base-256 (nor 12
 * digits) at worst refuses the member's size: it never sees other members.
 */
int ovf_tar_check_size(const struct tar_ustar_header *h, uint64_t hdr_off, int64_t size, const char *where,
                       struct xerr *e)
{
        const unsigned char *p = (const unsigned char *) h->size;
        char shown[XOVA_ESC_MAX];
        uint64_t v;

        if (tar_size_field(p, &v)) {
                if (size >= 0 && v == (uint64_t) size)
                        return 0;
                return xerr_set(e, -XOVA_EVERIFY, where, "the tar header's size field says %" PRIu64 ", the pax "
                                "size record %" PRId64 " (at offset %" PRIu64 "%s)", v, size, hdr_off,
                                size > (int64_t) TAR_OCTAL_MAX ? "; from 8 GiB on the field must still hold the "
                                "size, in 12 octal digits or base-256" : "");
        }
        /* the field as text, inner NULs and control bytes escaped, trailing NULs cut */
        return xerr_set(e, -XOVA_EVERIFY, where, "the tar header's size field '%s' is not a plain number (at "
                        "offset %" PRIu64 "; tar readers disagree on what it says)",
                        field_shown((const char *) p, TAR_SIZE_LEN, true, shown, sizeof(shown)), hdr_off);
}

/*
 * One bundle for every tar reader (docs/SECURITY.md). libarchive skips or
 * folds in some headers before a member that other readers honour: a pax
 * global header ('g', whose path= and size= GNU tar and Python's tarfile
 * apply to the members after it), a GNU volume header ('V'), multi-volume
 * and old long-name entries ('M', 'N'), pax keywords it reads its own way
 * (GNU.sparse.*, SCHILY.*, LIBARCHIVE.*, hdrcharset, linkpath). So the
 * blocks between the previous member's data and this member's own header
 * are walked here by hand (libarchive has no API listing them), and only
 * what every reader reads alike and what an OVA can mean is accepted:
 *   - at most one extension entry: a pax 'x' header or a GNU 'L' long name;
 *   - a pax header holds only well-formed records ("LEN key=value\n", LEN
 *     exact, no duplicate key, nothing after the last record) with keys of
 *     PAX_KEYS: path and size must say what libarchive reported (so every
 *     reader sees the same name and size), the times and owner are
 *     meaningless in an OVA but written by GNU tar --format=posix, Python
 *     and Go, and their syntax is checked;
 *   - a GNU long name holds the member's name and at most NULs after it;
 *   - the member's own header is a regular file ('0' or the old '\0'):
 *     not '7' (contiguous), 'S' (old GNU sparse) or any other type.
 * Everything else is refused with the offset of the header that has it.
 */
#define TAR_MAX_EXT (64 * 1024)         /* an extension entry's data: names are <= 255 bytes */

static const char *const PAX_KEYS[] = { "path", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname" };

static bool all_digits(const char *p, size_t n)
{
        if (n == 0 || n > 20)
                return false;
        for (size_t i = 0; i < n; i++)
                if (p[i] < '0' || p[i] > '9')
                        return false;
        return true;
}

/* "-?digits(.digits)?": the pax time syntax */
static bool pax_time(const char *p, size_t n)
{
        const char *dot;

        if (n > 0 && p[0] == '-')
                p++, n--;
        dot = memchr(p, '.', n);
        if (!dot)
                return all_digits(p, n);
        return all_digits(p, (size_t) (dot - p)) && all_digits(dot + 1, n - (size_t) (dot - p) - 1);
}

static int check_pax_value(const char *key, const char *v, size_t n, const char *name, int64_t size,
                           uint64_t rec_off, const char *where, struct xerr *e)
{
        char shown[XOVA_ESC_MAX];
        bool ok;

        if (strcmp(key, "path") == 0) {
                ok = n == strlen(name) && memcmp(v, name, n) == 0;
        } else if (strcmp(key, "size") == 0) {
                char num[32];
                ok = size >= 0 && n < sizeof(num) && all_digits(v, n) &&
                     (size_t) snprintf(num, sizeof(num), "%" PRId64, size) == n && memcmp(num, v, n) == 0;
        } else if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
                ok = all_digits(v, n);
        } else if (strcmp(key, "uname") == 0 || strcmp(key, "gname") == 0) {
                ok = n <= 32;
                for (size_t i = 0; ok && i < n; i++)
                        ok = v[i] > 0x20 && v[i] < 0x7f;
        } else {
                ok = pax_time(v, n);
        }
        if (ok)
                return 0;
        return xerr_set(e, -XOVA_EVERIFY, where, "pax record '%s=%s' at offset %" PRIu64 ": %s", key,
                        xova_escape(shown, sizeof(shown), v, n, XOVA_ESC_BACKSLASH), rec_off,
                        strcmp(key, "path") == 0 ? "differs from the member's name" :
                        strcmp(key, "size") == 0 ? "differs from the member's size" : "malformed value");
}

/* The records of a pax 'x' entry whose data p[len] starts at offset off. */
static int check_pax_records(const char *p, size_t len, uint64_t off, const char *name, int64_t size,
                             const char *where, struct xerr *e)
{
        unsigned seen = 0;
        char shown[XOVA_ESC_MAX];

        for (size_t at = 0; at < len;) {
                const char *rec = p + at, *sp, *eq;
                size_t n = 0, i = 0, k;
                uint64_t rec_off = off + at;
                int r;

                /* LEN: decimal, no leading zero, then one space */
                while (i < len - at && i < 8 && rec[i] >= '0' && rec[i] <= '9')
                        n = n * 10 + (size_t) (rec[i++] - '0');
                sp = rec + i;
                if (i == 0 || rec[0] == '0' || i >= len - at || *sp != ' ' || n < i + 4 || n > len - at ||
                    rec[n - 1] != '\n')
                        return xerr_set(e, -XOVA_EVERIFY, where, "malformed pax record at offset %" PRIu64
                                        " (tar readers disagree on what it says)", rec_off);
                eq = memchr(sp + 1, '=', (size_t) (rec + n - 1 - (sp + 1)));
                if (!eq || eq == sp + 1 || memchr(sp + 1, '\0', (size_t) (rec + n - 1 - (sp + 1))))
                        return xerr_set(e, -XOVA_EVERIFY, where, "malformed pax record at offset %" PRIu64
                                        " (tar readers disagree on what it says)", rec_off);
                for (k = 0; k < ELEMENTSOF(PAX_KEYS); k++)
                        if (strlen(PAX_KEYS[k]) == (size_t) (eq - sp - 1) &&
                            memcmp(PAX_KEYS[k], sp + 1, (size_t) (eq - sp - 1)) == 0)
                                break;
                if (k == ELEMENTSOF(PAX_KEYS))
                        return xerr_set(e, -XOVA_EVERIFY, where, "pax record '%s' at offset %" PRIu64 ": not "
                                        "a keyword an OVA may use (path, size, mtime, atime, ctime, uid, gid, "
                                        "uname, gname; tar readers differ on the others)",
                                        xova_escape(shown, sizeof(shown), sp + 1, (size_t) (eq - sp - 1),
                                                    XOVA_ESC_BACKSLASH), rec_off);
                if (seen & (1u << k))
                        return xerr_set(e, -XOVA_EVERIFY, where, "pax record '%s' at offset %" PRIu64 ": a "
                                        "second '%s' for one member (tar readers differ on which one wins)",
                                        PAX_KEYS[k], rec_off, PAX_KEYS[k]);
                seen |= 1u << k;
                r = check_pax_value(PAX_KEYS[k], eq + 1, (size_t) (rec + n - 1 - (eq + 1)), name, size, rec_off,
                                    where, e);
                if (r < 0)
                        return r;
                at += n;
        }
        return 0;
}

static const char *tar_type_name(char t)
{
        switch (t) {
        case 'g': return "a pax global header";
        case 'x': return "a pax header";
        case 'X': return "a Solaris extended header";
        case 'L': return "a GNU long name";
        case 'K': return "a GNU long link name";
        case 'V': return "a GNU volume header";
        case 'M': return "a GNU multi-volume continuation";
        case 'N': return "an old GNU long name";
        case 'S': return "a GNU sparse member";
        case 'D': return "a GNU directory dump";
        case 'A': return "a Solaris ACL";
        case 'E': return "a Solaris extended attribute";
        case 'I': return "an inode-only member";
        case '1': return "a hard link";
        case '2': return "a symbolic link";
        case '3': return "a character device";
        case '4': return "a block device";
        case '5': return "a directory";
        case '6': return "a FIFO";
        case '7': return "a contiguous file";
        default: return "an unknown header type";
        }
}

/* The member's own header h at hdr_off is a regular file */
int ovf_tar_check_own_type(const struct tar_ustar_header *h, uint64_t hdr_off, const char *where, struct xerr *e)
{
        char type = h->typeflag[0], t[16];

        if (type == '0' || type == '\0')
                return 0;
        return xerr_set(e, -XOVA_EVERIFY, where, "the tar header at offset %" PRIu64 " has type '%s', %s (only "
                        "regular files, type '0', are allowed)", hdr_off,
                        xova_escape(t, sizeof(t), &type, 1, XOVA_ESC_BACKSLASH), tar_type_name(type));
}

/* The headers from `from` (after the previous member) up to the member's
 * own header at hdr_off. */
int ovf_tar_check_ext_headers(int fd, uint64_t from, uint64_t hdr_off,
                              const char *name, int64_t size, const char *where, struct xerr *e)
{
        _cleanup_free_ char *data = NULL;
        struct tar_ustar_header ext;
        char type;
        uint64_t ext_size;
        int r;

        if (from == hdr_off)
                return 0;
        if (xova_pread_all(fd, &ext, TAR_BLOCK, (off_t) from) < 0)
                return xerr_set(e, -EIO, where, "cannot read the tar header at offset %" PRIu64, from);
        type = ext.typeflag[0];
        if (type != 'x' && type != 'L') {
                char t[16];
                return xerr_set(e, -XOVA_EVERIFY, where, "the tar header at offset %" PRIu64 " has type '%s', "
                                "%s (tar readers disagree on it, or it has no meaning in an OVA)", from,
                                xova_escape(t, sizeof(t), &type, 1, XOVA_ESC_BACKSLASH), tar_type_name(type));
        }
        if (!tar_size_field((const unsigned char *) ext.size, &ext_size) || ext_size > TAR_MAX_EXT)
                return xerr_set(e, -XOVA_EVERIFY, where, "%s at offset %" PRIu64 " has a size field that is not a "
                                "plain number up to %d", tar_type_name(type), from, TAR_MAX_EXT);
        if (from + TAR_BLOCK + (ext_size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK != hdr_off)
                return xerr_set(e, -XOVA_EVERIFY, where, "more than one extension header before the member (at "
                                "offset %" PRIu64 " and after; tar readers differ on which one wins)", from);
        if (!(data = malloc(ext_size + 1)))
                return xerr_set(e, -ENOMEM, where, "out of memory");
        if (xova_pread_all(fd, data, (size_t) ext_size, (off_t) (from + TAR_BLOCK)) < 0)
                return xerr_set(e, -EIO, where, "cannot read at offset %" PRIu64, from + TAR_BLOCK);
        if (type == 'x')
                return check_pax_records(data, (size_t) ext_size, from + TAR_BLOCK, name, size, where, e);
        /* 'L': the name, then NULs (GNU tar writes one) */
        r = ext_size >= strlen(name) && memcmp(data, name, strlen(name)) == 0 ? 0 : -1;
        for (size_t i = strlen(name); r == 0 && i < ext_size; i++)
                r = data[i] ? -1 : 0;
        if (r < 0)
                return xerr_set(e, -XOVA_EVERIFY, where, "the GNU long name at offset %" PRIu64 " differs from "
                                "the member's name", from);
        return 0;
}

/* ---- the end of the archive ---------------------------------------------- */

/*
 * After the last member (whose data ends, padded, at end): the
 * end-of-archive marker (two zero blocks), then nothing but zero padding
 * (writers pad to their record size), at most OVF_TAR_MAX_TRAILER bytes.
 */
int ovf_tar_check_end(int fd, const char *path, uint64_t end, uint64_t file_size, const char *last,
                      struct xerr *e)
{
        uint64_t marker_end;
        char buf[4096];

        if (end > file_size || file_size - end < 2 * TAR_BLOCK)
                return xerr_set(e, -XOVA_EVERIFY, path, "truncated: no end-of-archive marker (two zero "
                                "blocks at offset %" PRIu64 ", after the last member '%s')", end, XOVA_ESC(last));
        marker_end = end + 2 * TAR_BLOCK;
        if (file_size - marker_end > OVF_TAR_MAX_TRAILER)
                return xerr_set(e, -XOVA_EVERIFY, path, "%" PRIu64 " bytes after the end of the archive "
                                "(offset %" PRIu64 "), more than the %d bytes of padding allowed",
                                file_size - marker_end, marker_end, OVF_TAR_MAX_TRAILER);
        for (uint64_t off = end; off < file_size; off += sizeof(buf)) {
                size_t n = file_size - off < sizeof(buf) ? (size_t) (file_size - off) : sizeof(buf);
                if (xova_pread_all(fd, buf, n, (off_t) off) < 0)
                        return xerr_set(e, -EIO, path, "cannot read at offset %" PRIu64, off);
                for (size_t i = 0; i < n; i++) {
                        if (!buf[i])
                                continue;
                        if (off + i < marker_end)
                                return xerr_set(e, -XOVA_EVERIFY, path, "damaged end-of-archive marker: "
                                                "non-zero byte at offset %" PRIu64 " (after the last "
                                                "member '%s')", off + i, XOVA_ESC(last));
                        return xerr_set(e, -XOVA_EVERIFY, path, "data after the end of the archive (offset %"
                                        PRIu64 ")", off + i);
                }
        }
        return 0;
}

/* ---- writing -------------------------------------------------------------- */

/* libarchive keeps the errno of a failed write (ENOSPC, EFBIG, ...): pass
 * it on, so the message says "No space left on device", not "Write error". */
int ovf_tar_error(struct archive *ar, struct xerr *e, const char *where, const char *what)
{
        int err = archive_errno(ar);
        const char *msg = archive_error_string(ar);

        if (err > 0)
                return xerr_set(e, -err, where, "%s: %s", what, strerror(err));
        return xerr_set(e, -EIO, where, "%s: %s", what, msg ? msg : "error");
}

int ovf_tar_member_header(struct archive *ar, const char *name, uint64_t size, uint64_t epoch,
                          const char *target, struct xerr *e)
{
        struct archive_entry *en = archive_entry_new();
        int r;

        if (!en)
                return xerr_set(e, -ENOMEM, target, "out of memory");
        archive_entry_set_pathname(en, name);
        archive_entry_set_size(en, (la_int64_t) size);
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_uid(en, 0);
        archive_entry_set_gid(en, 0);
        archive_entry_set_uname(en, "root");
        archive_entry_set_gname(en, "root");
        archive_entry_set_mtime(en, (time_t) epoch, 0);
        r = archive_write_header(ar, en);
        archive_entry_free(en);
        if (r != ARCHIVE_OK) {
                char what[300];
                snprintf(what, sizeof(what), "cannot write the header of member '%s'", name);
                return ovf_tar_error(ar, e, target, what);
        }
        return 0;
}

/* Writes all of buf to the current member (archive_write_data may write less). */
int ovf_tar_write_all(struct archive *ar, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                la_ssize_t n = archive_write_data(ar, p, len);
                if (n <= 0)
                        return -EIO;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* A whole member from memory: its header, then its bytes. */
int ovf_tar_add_buf(struct archive *ar, const char *name, const void *buf, size_t len, uint64_t epoch,
                          const char *target, struct xerr *e)
{
        int r = ovf_tar_member_header(ar, name, len, epoch, target, e);

        if (r < 0)
                return r;
        if (ovf_tar_write_all(ar, buf, len) < 0) {
                char what[300];
                snprintf(what, sizeof(what), "cannot write member '%s'", name);
                return ovf_tar_error(ar, e, target, what);
        }
        return 0;
}
