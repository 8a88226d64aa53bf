/* SPDX-License-Identifier: MIT */
/*
 * state.c - `xova run --state DIR`: the writable half of an appliance kept
 * between runs. DIR holds
 *
 *   lock           flock(LOCK_EX|LOCK_NB) for the whole run: one run per DIR
 *   stamp          which bundle (name, version, SHA-256 of its manifest,
 *                  so of every disk) and which arch the files below belong to
 *   diskN.qcow2    the qcow2 overlay of the VM's disk N
 *   efi-vars.fd    the firmware variables (a copy of the NVRAM template)
 *
 * The overlays record no backing file in their header: QEMU gets the
 * backing as an explicit "backing" node of the -blockdev graph, the
 * verified bundle fd (blockdev.c), so a second run from a moved or renamed
 * bundle needs no rebase and the header can never point QEMU elsewhere.
 * The bundle itself is never written.
 *
 * Files: DIR is opened O_NOFOLLOW|O_DIRECTORY and must be ours and not
 * group/other-writable; every file in it is opened with openat() and
 * O_NOFOLLOW, created O_CREAT|O_EXCL (docs/SECURITY.md, promise 18), and
 * handed to qemu-img and QEMU as /proc/self/fd/N, never by path: a symlink
 * planted in DIR is refused, and nothing is written at its target.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "hv/hv-internal.h"

#define STAMP_MAX 4096
#define MANIFEST_MAX (1u << 20)

struct hv_state {
        int dir_fd, lock_fd;
        int *fds;                       /* overlays, then the vars file */
        size_t n_fds;
};

struct hv_state *hv_state_free(struct hv_state *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_fds; i++)
                if (s->fds[i] >= 0)
                        close(s->fds[i]);
        free(s->fds);
        if (s->lock_fd >= 0)
                close(s->lock_fd);      /* releases the lock */
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        free(s);
        return NULL;
}

const int *hv_state_fds(const struct hv_state *s, size_t *ret_n)
{
        *ret_n = s->n_fds;
        return s->fds;
}

/* A value from the bundle on one stamp line: printable ASCII only. */
static void stamp_value(char *out, size_t size, const char *s)
{
        size_t o = 0;

        for (; s && *s && o + 1 < size; s++)
                out[o++] = (*s >= 33 && *s < 127) ? *s : '?';
        out[o] = '\0';
}

static int manifest_digest(const char *bundle, const struct ovf_bundle *b, char hex[65], struct xerr *e)
{
        _cleanup_free_ char *buf = NULL, *path = NULL;
        _cleanup_close_ int own = -1;
        unsigned char md[32];
        unsigned int md_len = 0;
        const char *name = NULL;
        uint64_t off = 0, size = 0;
        ssize_t k;
        int fd;

        for (size_t i = 0; i < ovf_bundle_n_members(b); i++) {
                const char *n;
                uint64_t o, s;
                size_t l;
                if (ovf_bundle_member(b, i, &n, &o, &s) < 0)
                        continue;
                l = strlen(n);
                if (l > 3 && strcmp(n + l - 3, ".mf") == 0) {
                        name = n;
                        off = o;
                        size = s;
                        break;
                }
        }
        if (!name)
                return xerr_set(e, -EINVAL, bundle, "no manifest to identify the bundle by");
        if (size > MANIFEST_MAX)
                return xerr_set(e, -EFBIG, name, "manifest larger than %u bytes", MANIFEST_MAX);
        if (off > 0) {
                /* an OVA: the member lies in the verified file disk 0 is read from */
                fd = ovf_bundle_disk_fd(b, 0);
        } else {
                uint64_t got;
                int r;
                path = xova_path_join(bundle, name);
                if (!path)
                        return xerr_oom(e, bundle);
                r = xova_open_input(path, MANIFEST_MAX, &own, &got, e);
                if (r < 0)
                        return r;
                size = got;
                fd = own;
        }
        if (fd < 0)
                return xerr_set(e, -EBADF, bundle, "no open file for the manifest");
        buf = malloc(size ? size : 1);
        if (!buf)
                return xerr_oom(e, bundle);
        k = pread(fd, buf, size, (off_t) off);
        if (k < 0 || (uint64_t) k != size)
                return xerr_set_errno(e, k < 0 ? -errno : -EIO, name, "cannot read the manifest");
        if (EVP_Digest(buf, size, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
                return xerr_set(e, -EIO, name, "cannot hash the manifest");
        for (unsigned i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return 0;
}

int hv_state_identity(const char *bundle, const struct ovf_bundle *b, const struct xova_arch *arch, char **ret,
                      struct xerr *e)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);
        char name[128], version[64], hex[65];
        char *s;
        int r;

        r = manifest_digest(bundle, b, hex, e);
        if (r < 0)
                return r;
        stamp_value(name, sizeof(name), d->name);
        stamp_value(version, sizeof(version), d->version);
        if (asprintf(&s, "xova-state 1\nbundle %s\nversion %s\narch %s\nmanifest-sha256 %s\n", name,
                     version[0] ? version : "-", arch->name, hex) < 0)
                return xerr_oom(e, bundle);
        *ret = s;
        return 0;
}

/* The value of "KEY value" in a stamp, into out ("?" if absent). */
static void stamp_get(const char *stamp, const char *key, char *out, size_t size)
{
        size_t kl = strlen(key);

        for (const char *p = stamp; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
                        snprintf(out, size, "%.*s", (int) strcspn(p + kl + 1, "\n"), p + kl + 1);
                        return;
                }
        snprintf(out, size, "?");
}

/* Why the stamp found in dir does not fit this run. */
static int stamp_refuse(const char *dir, const char *have, const char *want, struct xerr *e)
{
        char hb[128], hv_[64], ha[32], hm[80], wb[128], wv[64], wa[32], wm[80];

        stamp_get(have, "bundle", hb, sizeof(hb));
        stamp_get(have, "version", hv_, sizeof(hv_));
        stamp_get(have, "arch", ha, sizeof(ha));
        stamp_get(have, "manifest-sha256", hm, sizeof(hm));
        stamp_get(want, "bundle", wb, sizeof(wb));
        stamp_get(want, "version", wv, sizeof(wv));
        stamp_get(want, "arch", wa, sizeof(wa));
        stamp_get(want, "manifest-sha256", wm, sizeof(wm));
        if (strcmp(ha, wa) != 0)
                return xerr_set(e, -EEXIST, dir,
                                "holds the %s state of '%s' %s, not the %s one; use another --state directory, "
                                "or --reset to start over", XOVA_ESC(ha), XOVA_ESC(hb), XOVA_ESC(hv_), wa);
        if (strcmp(hb, wb) != 0 || strcmp(hv_, wv) != 0)
                return xerr_set(e, -EEXIST, dir,
                                "holds the state of '%s' %s, not of '%s' %s; use another --state directory, "
                                "or --reset to start over", XOVA_ESC(hb), XOVA_ESC(hv_), XOVA_ESC(wb), XOVA_ESC(wv));
        if (strcmp(hm, wm) != 0)
                return xerr_set(e, -EEXIST, dir,
                                "holds the state of another build of '%s' %s (manifest SHA-256 %.12s..., this "
                                "bundle's %.12s...); use another --state directory, or --reset to start over",
                                XOVA_ESC(wb), XOVA_ESC(wv), XOVA_ESC(hm), wm);
        return xerr_set(e, -EINVAL, dir, "has a stamp file xova did not write; --reset to start over");
}

/* Removes what a state directory holds (not the lock): for --reset, and
 * what a run that died before writing its stamp left. unlinkat() removes a
 * symlink itself, never its target. */
static int state_clear(const char *dir, int dir_fd, struct xerr *e)
{
        DIR *d;
        struct dirent *de;
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return xerr_set_errno(e, -errno, dir, "cannot list");
        }
        while ((de = readdir(d))) {
                const char *s = de->d_name;
                size_t digits = strncmp(s, "disk", 4) == 0 ? strspn(s + 4, "0123456789") : 0;
                bool ours = strcmp(s, "stamp") == 0 || strcmp(s, "stamp.new") == 0 ||
                            strcmp(s, "efi-vars.fd") == 0 ||
                            (digits > 0 && strcmp(s + 4 + digits, ".qcow2") == 0);
                if (ours && unlinkat(dir_fd, s, 0) < 0 && errno != ENOENT) {
                        int r = xerr_set_errno(e, -errno, dir, "cannot remove '%s'", XOVA_ESC(s));
                        closedir(d);
                        return r;
                }
        }
        closedir(d);
        return 0;
}

static int read_stamp(int dir_fd, char *buf, size_t size, bool *ret_present)
{
        _cleanup_close_ int fd = openat(dir_fd, "stamp", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        ssize_t k;

        *ret_present = false;
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size >= (off_t) size)
                return -EINVAL;
        k = pread(fd, buf, size - 1, 0);
        if (k < 0)
                return -errno;
        buf[k] = '\0';
        *ret_present = true;
        return 0;
}

static int write_stamp(const char *dir, int dir_fd, const char *text, struct xerr *e)
{
        _cleanup_close_ int fd = -1;

        unlinkat(dir_fd, "stamp.new", 0);
        fd = openat(dir_fd, "stamp.new", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return xerr_set_errno(e, -errno, dir, "cannot create 'stamp.new'");
        if (xova_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0)
                return xerr_set_errno(e, -errno, dir, "cannot write 'stamp.new'");
        if (renameat(dir_fd, "stamp.new", dir_fd, "stamp") < 0)
                return xerr_set_errno(e, -errno, dir, "cannot rename 'stamp.new' to 'stamp'");
        if (fsync(dir_fd) < 0)
                return xerr_set_errno(e, -errno, dir, "cannot sync");
        return 0;
}

/* An existing state file: regular, ours; an overlay starts with the qcow2 magic. */
static int open_existing(const char *dir, int dir_fd, const char *name, bool qcow2, int *ret, struct xerr *e)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        unsigned char magic[4];
        struct stat st;

        if (fd < 0)
                return xerr_set_errno(e, -errno, dir, "cannot open '%s'%s", name,
                                      errno == ENOENT ? " (the state is incomplete; --reset to start over)" :
                                      errno == ELOOP ? " (a symlink; refused)" : "");
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, dir, "cannot stat '%s'", name);
        if (!S_ISREG(st.st_mode))
                return xerr_set(e, -EINVAL, dir, "'%s' is not a regular file", name);
        if (qcow2 && (pread(fd, magic, 4, 0) != 4 || memcmp(magic, "QFI\xfb", 4) != 0))
                return xerr_set(e, -EINVAL, dir, "'%s' is not a qcow2 image; --reset to start over", name);
        if (fcntl(fd, F_SETFL, 0) < 0)
                return xerr_set_errno(e, -errno, dir, "'%s'", name);
        *ret = TAKE_FD(fd);
        return 0;
}

static int create_new(const char *dir, int dir_fd, const char *name, int *ret, struct xerr *e)
{
        int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

        if (fd < 0)
                return xerr_set_errno(e, -errno, dir, "cannot create '%s'", name);
        *ret = fd;
        return 0;
}

static char *fd_path(int fd)
{
        char *s;

        return asprintf(&s, "/proc/self/fd/%d", fd) < 0 ? NULL : s;
}

int hv_state_open(const char *dir, const char *identity, bool reset, const struct hv_firmware *fw,
                  const struct hv_disk *disks, size_t n, struct hv_state **ret, char **overlays, char **ret_vars,
                  struct xerr *e)
{
        struct hv_state *s = NULL;
        /* one goto-out function: no _cleanup_ here (STYLE.md) */
        struct hv_overlay *v = NULL;
        char (*names)[32] = NULL;       /* the overlays' names: v[] points into it */
        char stamp[STAMP_MAX];
        bool present, fresh, vars = fw && fw->nvram_template;
        struct stat st;
        int r;

        if (!identity)
                return xerr_set(e, -EINVAL, dir, "--state needs a bundle");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return xerr_set_errno(e, -errno, dir, "cannot create the state directory");
        s = calloc(1, sizeof(*s));
        v = calloc(n ? n : 1, sizeof(*v));
        names = calloc(n ? n : 1, sizeof(*names));
        if (!s || !v || !names) {
                free(s);
                free(v);
                free(names);
                return xerr_oom(e, dir);
        }
        s->dir_fd = s->lock_fd = -1;
        s->fds = malloc((n + 1) * sizeof(int));
        if (!s->fds) {
                r = xerr_oom(e, dir);
                goto fail;
        }
        s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s->dir_fd < 0) {
                r = xerr_set_errno(e, -errno, dir, "cannot open the state directory%s",
                                   errno == ELOOP || errno == ENOTDIR ? " (not a directory, or a symlink)" : "");
                goto fail;
        }
        if (fstat(s->dir_fd, &st) < 0) {
                r = xerr_set_errno(e, -errno, dir, "cannot stat");
                goto fail;
        }
        if (st.st_uid != geteuid() || (st.st_mode & 022)) {
                r = xerr_set(e, -EPERM, dir, "the state directory must be yours and writable only by you");
                goto fail;
        }
        s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
        if (s->lock_fd < 0) {
                r = xerr_set_errno(e, -errno, dir, "cannot open 'lock'");
                goto fail;
        }
        if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ?
                    xerr_set(e, -EBUSY, dir, "is in use by another xova run (its 'lock' is held)") :
                    xerr_set_errno(e, -errno, dir, "cannot lock 'lock'");
                goto fail;
        }
        r = read_stamp(s->dir_fd, stamp, sizeof(stamp), &present);
        if (r < 0 && !reset) {
                r = xerr_set_errno(e, r, dir, "cannot read 'stamp'; --reset to start over");
                goto fail;
        }
        if (present && !reset && strcmp(stamp, identity) != 0) {
                r = stamp_refuse(dir, stamp, identity, e);
                goto fail;
        }
        fresh = reset || !present;
        if (fresh) {
                r = state_clear(dir, s->dir_fd, e);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                char *name = names[i];
                snprintf(name, sizeof(names[i]), "disk%zu.qcow2", i);
                r = fresh ? create_new(dir, s->dir_fd, name, &s->fds[i], e) :
                            open_existing(dir, s->dir_fd, name, true, &s->fds[i], e);
                if (r < 0)
                        goto fail;
                s->n_fds++;
                if (fresh) {
                        v[i] = (struct hv_overlay) { .id = disks[i].id, .path = name, .fd = s->fds[i] };
                        r = hv_disk_capacity(&disks[i], &v[i].capacity, e);
                        if (r < 0)
                                goto fail;
                }
        }
        if (vars) {
                r = fresh ? create_new(dir, s->dir_fd, "efi-vars.fd", &s->fds[n], e) :
                            open_existing(dir, s->dir_fd, "efi-vars.fd", false, &s->fds[n], e);
                if (r < 0)
                        goto fail;
                s->n_fds++;
        }
        if (fresh) {
                /* no backing in the headers: QEMU gets it in the -blockdev graph */
                r = hv_overlays_create(v, n, e);
                if (r >= 0 && vars)
                        r = hv_vars_fill(fw->nvram_template, s->fds[n], e);
                if (r >= 0)
                        r = write_stamp(dir, s->dir_fd, identity, e);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < n; i++)
                if (!(overlays[i] = fd_path(s->fds[i]))) {
                        r = xerr_oom(e, dir);
                        goto fail;
                }
        if (vars && !(*ret_vars = fd_path(s->fds[n]))) {
                r = xerr_oom(e, dir);
                goto fail;
        }
        free(v);
        free(names);
        *ret = s;
        return fresh ? 1 : 0;
fail:
        free(v);
        free(names);
        for (size_t i = 0; i < n; i++) {
                free(overlays[i]);
                overlays[i] = NULL;
        }
        hv_state_free(s);
        return r;
}
