/* SPDX-License-Identifier: MIT */
/*
 * The boot-loader cache (`xova loaders`): each architecture's boot-loader
 * files, taken from Debian packages of that architecture, kept per file set
 * with the package versions and a SHA-256 of every file.
 *
 *   CACHE/loaders/CACHEDIR.TAG             (bford.info/cachedir: backups skip it)
 *   CACHE/loaders/grub/<grub_target>/       GRUB modules, as /usr/lib/grub/<target>
 *   CACHE/loaders/grub/<grub_target>.manifest
 *   CACHE/loaders/secure-boot/<arch>/       shim/ (signed shim, helpers), grub/ (signed GRUB)
 *   CACHE/loaders/secure-boot/<arch>.manifest
 *   CACHE/apt/<deb_arch>/                   private apt lists of the fetch helper
 *
 * The download itself is the helper script xova-fetch-debs (apt-get download
 * with private lists per architecture, dpkg-deb -x), run with xova_run: the
 * same script fetches the boot-test fixtures, so there is one copy of the apt
 * code, and apt (not us) checks the Release signatures against the host's
 * keyring and each .deb against the signed hashes.
 *
 * A set is complete when its manifest exists: the manifest is removed before
 * a set is replaced and written (atomically) last. The manifest lists every
 * file with its size and SHA-256, and a SHA-256 over those lines (the set's
 * content hash); a set whose files no longer match is "changed" and is
 * fetched again. That notices corruption and edits, not an attacker who can
 * write the cache (they can rewrite the manifest too): the cache is as
 * trusted as the account that owns it.
 *
 * The tree walk and the manifest are written here by hand: they are a few
 * dozen lines over openat/fstatat, and no library we link has one that
 * refuses symlinks and special files the way we need.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "common/common.h"
#include "bootpart/bootpart.h"

#define MANIFEST_MAGIC "xova-loaders-manifest 1"
#define MANIFEST_MAX (UINT64_C(4) << 20)
#define FILE_MAX (UINT64_C(256) << 20)

struct loader_move {
        const char *src;                /* in the unpacked root; %s = grub_target */
        const char *dst;                /* in the set dir ("" = the set dir itself) */
};

struct loader_set {
        const char *name;               /* "grub", "secure-boot" */
        bool secure_boot;               /* fetched only with --secure-boot */
        const char *dir;                /* under CACHE/loaders; %s = grub_target or arch name */
        bool dir_by_grub_target;
        const char *packages[4];        /* %s = deb_arch */
        struct loader_move moves[3];
        const char *required[3];        /* in the set dir; %s = efi suffix ("x64", "aa64") */
};

static const struct loader_set loader_sets[] = {
        {
                .name = "grub",
                .dir = "grub/%s",
                .dir_by_grub_target = true,
                .packages = { "grub-efi-%s-bin" },
                .moves = { { "usr/lib/grub/%s", "" } },
                .required = { "moddep.lst", "normal.mod" },
        },
        {
                .name = "secure-boot",
                .secure_boot = true,
                .dir = "secure-boot/%s",
                .packages = { "shim-signed", "shim-helpers-%s-signed", "grub-efi-%s-signed" },
                .moves = { { "usr/lib/shim", "shim" }, { "usr/lib/grub/%s-signed", "grub" } },
                .required = { "shim/shim%s.efi.signed", "shim/mm%s.efi.signed",
                              "grub/grub%s.efi.signed" },
        },
};

/* "BOOTX64.EFI" -> "x64": the suffix Debian's shim and signed GRUB use */
static void efi_suffix(const struct xova_arch *arch, char buf[16])
{
        const char *s = arch->efi_name + 4;     /* after "BOOT" */
        size_t i = 0;

        for (; s[i] && s[i] != '.' && i < 15; i++)
                buf[i] = (char) (s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        buf[i] = '\0';
}

/* pattern with every "%s" replaced by value, into buf (the table's patterns
 * are ours and short; a cut result is caught by the checks that follow) */
static const char *subst(char *buf, size_t size, const char *pattern, const char *value)
{
        size_t o = 0;

        for (const char *p = pattern; *p && o + 1 < size; p++) {
                if (p[0] == '%' && p[1] == 's') {
                        for (const char *v = value; *v && o + 1 < size; v++)
                                buf[o++] = *v;
                        p++;
                } else {
                        buf[o++] = *p;
                }
        }
        buf[o] = '\0';
        return buf;
}

static char *set_dir(const char *cache, const struct loader_set *s, const struct xova_arch *arch)
{
        char rel[128], *p = NULL;

        subst(rel, sizeof(rel), s->dir, s->dir_by_grub_target ? arch->grub_target : arch->name);
        if (asprintf(&p, "%s/loaders/%s", cache, rel) < 0)
                return NULL;
        return p;
}

/* ------------------------------------------------------------------ */
/* The tree manifest                                                   */

static int hash_fd(int fd, uint64_t max, char hex[65], uint64_t *ret_size)
{
        _cleanup_free_ uint8_t *buf = malloc(1 << 16);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        uint64_t size = 0;
        int r = 0;

        if (!buf || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(ctx);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t n = read(fd, buf, 1 << 16);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                size += (uint64_t) n;
                if (size > max) {
                        r = -EFBIG;
                        break;
                }
                EVP_DigestUpdate(ctx, buf, (size_t) n);
        }
        if (r == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
                r = -EIO;
        EVP_MD_CTX_free(ctx);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < mdlen && i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        *ret_size = size;
        return 0;
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;

        hex[0] = '\0';
        if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
                return;
        for (unsigned i = 0; i < mdlen && i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Appends "file SIZE SHA256 PATH" / "link TARGET PATH" / "dir PATH" lines
 * for the tree under dfd (prefix = its path in the set), names sorted. */
static int walk(int dfd, const char *prefix, FILE *out, struct xerr *e)
{
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0, dup_fd;

        dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return xerr_set_errno(e, -errno, prefix[0] ? prefix : ".", "cannot read directory");
        d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return xerr_set_errno(e, -errno, prefix[0] ? prefix : ".", "cannot read directory");
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (strchr(de->d_name, '\n') || strchr(de->d_name, ' ')) {
                        r = xerr_set(e, -EBADMSG, XOVA_ESC(de->d_name),
                                     "file name with a space or newline in a loader set");
                        goto out;
                }
                if (n == cap) {
                        char **t = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));
                        if (!t) {
                                r = xerr_set(e, -ENOMEM, prefix, "out of memory");
                                goto out;
                        }
                        names = t;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = xerr_set(e, -ENOMEM, prefix, "out of memory");
                        goto out;
                }
                n++;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n && r == 0; i++) {
                char path[4096];
                struct stat st;

                snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "/" : "", names[i]);
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = xerr_set_errno(e, -errno, XOVA_ESC(path), "cannot stat");
                } else if (S_ISREG(st.st_mode)) {
                        char hex[65];
                        uint64_t size = 0;
                        int fd = openat(dfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                        if (fd < 0) {
                                r = xerr_set_errno(e, -errno, XOVA_ESC(path), "cannot open");
                                continue;
                        }
                        r = hash_fd(fd, FILE_MAX, hex, &size);
                        close(fd);
                        if (r < 0)
                                r = xerr_set_errno(e, r, XOVA_ESC(path), "cannot read");
                        else
                                fprintf(out, "file %" PRIu64 " %s %s\n", size, hex, path);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[4096];
                        ssize_t l = readlinkat(dfd, names[i], target, sizeof(target) - 1);
                        if (l < 0) {
                                r = xerr_set_errno(e, -errno, XOVA_ESC(path), "cannot read link");
                                continue;
                        }
                        target[l] = '\0';
                        if (strchr(target, '\n') || strchr(target, ' '))
                                r = xerr_set(e, -EBADMSG, XOVA_ESC(path), "odd symlink target");
                        else
                                fprintf(out, "link %s %s\n", target, path);
                } else if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                r = xerr_set_errno(e, -errno, XOVA_ESC(path), "cannot open directory");
                                continue;
                        }
                        fprintf(out, "dir %s\n", path);
                        r = walk(sub, path, out, e);
                        close(sub);
                } else {
                        r = xerr_set(e, -EBADMSG, XOVA_ESC(path), "not a file, directory or symlink");
                }
        }
out:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        closedir(d);
        return r;
}

/* The "file/link/dir" lines of the tree at dir, into a new string. */
static int tree_lines(const char *dir, char **ret, struct xerr *e)
{
        _cleanup_close_ int dfd = -1;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return xerr_set_errno(e, -errno, dir, "cannot open");
        f = open_memstream(&buf, &len);
        if (!f)
                return xerr_set(e, -ENOMEM, dir, "out of memory");
        r = walk(dfd, "", f, e);
        if (fclose(f) != 0 && r == 0)
                r = xerr_set(e, -ENOMEM, dir, "out of memory");
        if (r < 0) {
                free(buf);
                return r < 0 && e && !e->where[0] ? xerr_set(e, r, dir, "cannot read") : r;
        }
        *ret = buf;
        return 0;
}

/* Reads "KEY VALUE" header lines and the tree lines of a manifest. */
struct manifest {
        char *text;                     /* whole file */
        const char *tree;               /* the tree lines inside text */
        char sha256[65];                /* "tree-sha256" */
};

static void manifest_done(struct manifest *m)
{
        free(m->text);
        m->text = NULL;
}

static int manifest_read(const char *path, struct manifest *ret, struct xerr *e)
{
        struct manifest m = { 0 };
        size_t len = 0;
        char *p, *tree;
        int r;

        r = xova_read_file(path, MANIFEST_MAX, &m.text, &len, e);
        if (r < 0)
                return r;
        if (strncmp(m.text, MANIFEST_MAGIC "\n", sizeof(MANIFEST_MAGIC)) != 0) {
                manifest_done(&m);
                return xerr_set(e, -EBADMSG, path, "line 1: not a xova loaders manifest");
        }
        p = strstr(m.text, "\ntree-sha256 ");
        tree = strstr(m.text, "\nfile ");
        if (!p || sscanf(p + 13, "%64[0-9a-f]", m.sha256) != 1 || strlen(m.sha256) != 64 || !tree) {
                manifest_done(&m);
                return xerr_set(e, -EBADMSG, path, "no tree-sha256 or no file lines");
        }
        /* the tree lines start at the first "dir " or "file " or "link " line after the header */
        for (const char *k = m.text; (k = strchr(k, '\n')); ) {
                k++;
                if (strncmp(k, "file ", 5) == 0 || strncmp(k, "dir ", 4) == 0 || strncmp(k, "link ", 5) == 0) {
                        m.tree = k;
                        break;
                }
        }
        *ret = m;
        return 0;
}

/* The first line that differs between want and got, as a message. */
static int tree_mismatch(const char *set, const char *want, const char *got, struct xerr *e)
{
        while (*want && *got) {
                const char *we = strchr(want, '\n'), *ge = strchr(got, '\n');
                size_t wl = we ? (size_t) (we - want) : strlen(want);
                size_t gl = ge ? (size_t) (ge - got) : strlen(got);
                if (wl != gl || memcmp(want, got, wl) != 0) {
                        const char *wp = memrchr(want, ' ', wl), *gp = memrchr(got, ' ', gl);
                        char wpath[256] = "", gpath[256] = "";
                        if (wp)
                                snprintf(wpath, sizeof(wpath), "%.*s", (int) (want + wl - wp - 1), wp + 1);
                        if (gp)
                                snprintf(gpath, sizeof(gpath), "%.*s", (int) (got + gl - gp - 1), gp + 1);
                        if (strcmp(wpath, gpath) == 0)
                                return xerr_set(e, -EBADMSG, set, "'%s' changed since it was fetched",
                                                XOVA_ESC(wpath));
                        return xerr_set(e, -EBADMSG, set,
                                        "'%s' is missing or '%s' was added since it was fetched",
                                        XOVA_ESC(wpath), XOVA_ESC(gpath));
                }
                want += wl + (we ? 1 : 0);
                got += gl + (ge ? 1 : 0);
        }
        if (*want || *got)
                return xerr_set(e, -EBADMSG, set, "files were %s since it was fetched",
                                *want ? "removed" : "added");
        return xerr_set(e, -EBADMSG, set, "content hash differs from its manifest");
}

int bootpart_loaders_verify(const char *dir, struct xerr *e)
{
        _cleanup_free_ char *mpath = NULL, *lines = NULL;
        struct manifest m = { 0 };
        char hex[65];
        struct stat st;
        int r;

        if (asprintf(&mpath, "%s.manifest", dir) < 0)
                return xerr_set(e, -ENOMEM, dir, "out of memory");
        if (lstat(mpath, &st) < 0 || !S_ISREG(st.st_mode))
                return xerr_set(e, -ENOENT, dir, "not fetched (no manifest)");
        r = manifest_read(mpath, &m, e);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                manifest_done(&m);
                return xerr_set(e, -EBADMSG, dir, "the directory of a fetched set is missing");
        }
        r = tree_lines(dir, &lines, e);
        if (r < 0) {
                manifest_done(&m);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        sha256_hex(lines, strlen(lines), hex);
        if (strcmp(hex, m.sha256) != 0 || !m.tree || strcmp(m.tree, lines) != 0) {
                r = tree_mismatch(dir, m.tree ? m.tree : "", lines, e);
                manifest_done(&m);
                return r;
        }
        manifest_done(&m);
        return 0;
}

/* ------------------------------------------------------------------ */
/* Where the caches are                                                */

int bootpart_loaders_user_dir(char **ret, struct xerr *e)
{
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        char *p = NULL;

        /* XDG base directory spec: a relative XDG_CACHE_HOME is invalid, ignore it */
        if (xdg && xdg[0] == '/') {
                if (asprintf(&p, "%s/xova", xdg) < 0)
                        p = NULL;
        } else if (home && home[0] == '/') {
                if (asprintf(&p, "%s/.cache/xova", home) < 0)
                        p = NULL;
        } else {
                return xerr_set(e, -ENOENT, "loaders",
                                "neither XDG_CACHE_HOME nor HOME is an absolute path: no per-user cache");
        }
        if (!p)
                return xerr_set(e, -ENOMEM, "loaders", "out of memory");
        *ret = p;
        return 0;
}

int bootpart_loaders_grub_roots(char **ret_user, char **ret_system)
{
        _cleanup_free_ char *user = NULL, *sys = NULL;
        char *u = NULL;

        if (bootpart_loaders_user_dir(&u, NULL) == 0) {
                user = xova_path_join(u, "loaders/grub");
                free(u);
                if (!user)
                        return -ENOMEM;
        }
        sys = strdup(BOOTPART_LOADERS_SYSTEM_DIR "/loaders/grub");
        if (!sys)
                return -ENOMEM;
        *ret_user = TAKE_PTR(user);
        *ret_system = TAKE_PTR(sys);
        return 0;
}

/* ------------------------------------------------------------------ */
/* Fetch                                                               */

static int mkdir_p(const char *path, mode_t mode, struct xerr *e)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return xerr_set(e, -ENOMEM, path, "out of memory");
        for (char *s = p + 1; ; s++) {
                if (*s == '/' || *s == '\0') {
                        char c = *s;
                        *s = '\0';
                        if (mkdir(p, mode) < 0 && errno != EEXIST)
                                return xerr_set_errno(e, -errno, p, "cannot create directory");
                        *s = c;
                        if (!c)
                                break;
                }
        }
        struct stat st;
        if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return xerr_set(e, -ENOTDIR, path, "not a directory");
        return 0;
}

#define note(o, ...) xova_note((o)->note, (o)->userdata, __VA_ARGS__)

static int write_text(const char *path, const char *text, struct xerr *e)
{
        _cleanup_atomic_ struct xova_atomic *a = NULL;
        int r;

        r = xova_atomic_open(path, 0644, XOVA_ATOMIC_REPLACE, &a, e);
        if (r < 0)
                return r;
        r = xova_write_all(xova_atomic_fd(a), text, strlen(text));
        if (r < 0)
                return xerr_set_errno(e, r, path, "cannot write");
        return xova_atomic_commit(a, e);
}

/* the work dir of one fetch goes with the function, whatever its exit */
static void workdir_freep(char **p)
{
        if (*p) {
                xova_workdir_remove(*p);
                free(*p);
        }
}

/* One set for one arch: helper into a work dir, check, swap in, manifest last. */
static int fetch_set(const struct bootpart_loaders_fetch_opts *o, const char *loaders,
                     const struct loader_set *s, const struct xova_arch *arch, const char *dir,
                     struct xerr *e)
{
        _cleanup_(workdir_freep) char *work = NULL;
        _cleanup_free_ char *state = NULL, *dest = NULL, *root = NULL, *newdir = NULL,
                            *olddir = NULL, *mpath = NULL, *versions = NULL, *out = NULL,
                            *lines = NULL, *text = NULL;
        char pkgs[ELEMENTSOF(s->packages)][64], suffix[16], where[128];
        char *argv[8 + ELEMENTSOF(s->packages)];
        size_t argc = 0, vlen = 0;
        char hex[65];
        int r;

        snprintf(where, sizeof(where), "%s %s", s->name, arch->name);
        efi_suffix(arch, suffix);
        r = xova_workdir_new(loaders, &work, e);
        if (r < 0)
                return r;
        state = xova_path_join(o->cache_dir, "apt");
        dest = xova_path_join(work, "fetch");
        root = xova_path_join(dest, "root");
        newdir = xova_path_join(work, "new");
        olddir = xova_path_join(work, "old");
        if (!state || !dest || !root || !newdir || !olddir || asprintf(&mpath, "%s.manifest", dir) < 0) {
                return xerr_set(e, -ENOMEM, where, "out of memory");
        }
        argv[argc++] = (char *) o->helper;
        argv[argc++] = (char *) "fetch";
        argv[argc++] = state;
        argv[argc++] = (char *) arch->deb_arch;
        argv[argc++] = dest;
        for (size_t i = 0; i < ELEMENTSOF(s->packages) && s->packages[i]; i++) {
                subst(pkgs[i], sizeof(pkgs[i]), s->packages[i], arch->deb_arch);
                argv[argc++] = pkgs[i];
        }
        argv[argc] = NULL;
        r = xova_run("xova", argv, NULL, &out, e);
        if (r < 0)
                return xerr_prefix(e, "cannot fetch %s for %s", s->name, arch->name);
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                note(o, "%s", l);

        /* assemble the set in work/new: each move is a rename inside the work dir */
        if (mkdir(newdir, 0755) < 0) {
                return xerr_set_errno(e, -errno, newdir, "cannot create directory");
        }
        for (size_t i = 0; i < ELEMENTSOF(s->moves) && s->moves[i].src; i++) {
                char src[256];
                _cleanup_free_ char *from = NULL, *to = NULL;
                struct stat st;

                subst(src, sizeof(src), s->moves[i].src, arch->grub_target);
                from = xova_path_join(root, src);
                to = s->moves[i].dst[0] ? xova_path_join(newdir, s->moves[i].dst) : strdup(newdir);
                if (!from || !to) {
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                }
                if (lstat(from, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        return xerr_set(e, -ENOENT, where, "the packages %s%s%s have no directory '/%s'",
                                     pkgs[0], s->packages[1] ? " ..." : "", "", src);
                }
                if (!s->moves[i].dst[0])
                        (void) rmdir(to);
                if (rename(from, to) < 0) {
                        return xerr_set_errno(e, -errno, to, "cannot move '%s' there", src);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(s->required) && s->required[i]; i++) {
                char req[256];
                _cleanup_free_ char *p = NULL;
                struct stat st;

                subst(req, sizeof(req), s->required[i], suffix);
                p = xova_path_join(newdir, req);
                if (!p) {
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                }
                if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
                        return xerr_set(e, -ENOENT, where, "the fetched packages have no file '%s'", req);
                }
        }

        /* the manifest: header, package versions (from the helper), tree lines */
        {
                _cleanup_free_ char *vpath = xova_path_join(dest, "VERSIONS");
                if (!vpath) {
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                }
                r = xova_read_file(vpath, 1 << 16, &versions, &vlen, e);
                if (r < 0)
                        return r;
        }
        r = tree_lines(newdir, &lines, e);
        if (r < 0)
                return r;
        sha256_hex(lines, strlen(lines), hex);
        {
                char *buf = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&buf, &len);
                if (!f) {
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                }
                fprintf(f, MANIFEST_MAGIC "\nset %s\narch %s\n", s->name, arch->name);
                for (char *save = NULL, *l = strtok_r(versions, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                        fprintf(f, "package %s\n", l);
                fprintf(f, "tree-sha256 %s\n%s", hex, lines);
                if (fclose(f) != 0) {
                        free(buf);
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                }
                text = buf;
        }

        /* swap: the marker goes first, the old set aside, the new one in, the marker last */
        {
                _cleanup_free_ char *parent = xova_dirname(dir);
                if (!parent) {
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                }
                r = mkdir_p(parent, 0755, e);
                if (r < 0)
                        return r;
        }
        if (unlink(mpath) < 0 && errno != ENOENT) {
                return xerr_set_errno(e, -errno, mpath, "cannot remove");
        }
        if (rename(dir, olddir) < 0 && errno != ENOENT) {
                return xerr_set_errno(e, -errno, dir, "cannot move the old set aside");
        }
        if (rename(newdir, dir) < 0) {
                return xerr_set_errno(e, -errno, dir, "cannot move the new set into place");
        }
        r = write_text(mpath, text, e);
        if (r < 0)
                return r;
        note(o, "%s %s: ready in %s (sha256 %s)", s->name, arch->name, dir, hex);
        return 0;
}

static bool arch_wanted(const struct bootpart_loaders_fetch_opts *o, const struct xova_arch *a)
{
        if (!o->archs)
                return true;
        for (size_t i = 0; o->archs[i]; i++)
                if (o->archs[i] == a)
                        return true;
        return false;
}

int bootpart_loaders_fetch(const struct bootpart_loaders_fetch_opts *o, struct xerr *e)
{
        _cleanup_free_ char *loaders = NULL, *tag = NULL, *lock = NULL;
        _cleanup_close_ int lock_fd = -1;
        struct stat st;
        int r;

        if (!o || !o->cache_dir || !o->helper)
                return xerr_set(e, -EINVAL, "loaders", "no cache directory or helper given");
        loaders = xova_path_join(o->cache_dir, "loaders");
        tag = loaders ? xova_path_join(loaders, "CACHEDIR.TAG") : NULL;
        lock = loaders ? xova_path_join(loaders, ".lock") : NULL;
        if (!tag || !lock)
                return xerr_set(e, -ENOMEM, "loaders", "out of memory");
        r = mkdir_p(loaders, 0755, e);
        if (r < 0)
                return r;
        /* one fetch at a time per cache; a second waits */
        lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (lock_fd < 0)
                return xerr_set_errno(e, -errno, lock, "cannot open");
        if (flock(lock_fd, LOCK_EX) < 0)
                return xerr_set_errno(e, -errno, lock, "cannot lock");
        if (lstat(tag, &st) < 0) {
                r = write_text(tag, "Signature: 8a477f597d28d172789f06886806bc55\n"
                                    "# This directory is a cache made by xova loaders fetch.\n", e);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < xova_arch_count; i++) {
                const struct xova_arch *arch = &xova_arch_table[i];
                if (!arch_wanted(o, arch))
                        continue;
                for (size_t j = 0; j < ELEMENTSOF(loader_sets); j++) {
                        const struct loader_set *s = &loader_sets[j];
                        _cleanup_free_ char *dir = NULL;
                        struct xerr why = { 0 };

                        if (s->secure_boot && !o->secure_boot)
                                continue;
                        dir = set_dir(o->cache_dir, s, arch);
                        if (!dir)
                                return xerr_set(e, -ENOMEM, "loaders", "out of memory");
                        r = bootpart_loaders_verify(dir, &why);
                        if (r == 0 && !o->refresh) {
                                note(o, "%s %s: up to date in %s", s->name, arch->name, dir);
                                continue;
                        }
                        if (r == -EBADMSG) {
                                char buf[800];
                                note(o, "%s %s: %s: fetching it again", s->name, arch->name,
                                     xerr_format(&why, buf, sizeof(buf)));
                        } else if (r < 0 && r != -ENOENT) {
                                *e = why;
                                return r;
                        }
                        r = fetch_set(o, loaders, s, arch, dir, e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* List                                                                */

int bootpart_loaders_list(const char *cache_dir, bool secure_boot, bootpart_loaders_list_fn fn,
                          void *userdata, struct xerr *e)
{
        if (!cache_dir || !fn)
                return xerr_set(e, -EINVAL, "loaders", "no cache directory given");
        for (size_t i = 0; i < xova_arch_count; i++) {
                const struct xova_arch *arch = &xova_arch_table[i];
                for (size_t j = 0; j < ELEMENTSOF(loader_sets); j++) {
                        const struct loader_set *s = &loader_sets[j];
                        _cleanup_free_ char *dir = NULL, *mpath = NULL;
                        struct bootpart_loaders_info info = { .set = s->name, .arch = arch };
                        struct manifest m = { 0 };
                        char *pk = NULL;
                        size_t pklen = 0;
                        FILE *pf;

                        dir = set_dir(cache_dir, s, arch);
                        if (!dir || asprintf(&mpath, "%s.manifest", dir) < 0)
                                return xerr_set(e, -ENOMEM, "loaders", "out of memory");
                        info.dir = dir;
                        info.status = bootpart_loaders_verify(dir, &info.why);
                        if (info.status == -ENOENT && s->secure_boot && !secure_boot)
                                continue;
                        pf = open_memstream(&pk, &pklen);
                        if (!pf)
                                return xerr_set(e, -ENOMEM, "loaders", "out of memory");
                        if (info.status != -ENOENT && manifest_read(mpath, &m, NULL) == 0) {
                                snprintf(info.sha256, sizeof(info.sha256), "%s", m.sha256);
                                for (const char *l = m.text; l && *l; ) {
                                        const char *end = strchr(l, '\n');
                                        size_t n = end ? (size_t) (end - l) : strlen(l);
                                        if (strncmp(l, "package ", 8) == 0)
                                                fprintf(pf, "%.*s\n", (int) (n - 8), l + 8);
                                        l = end ? end + 1 : NULL;
                                }
                        }
                        manifest_done(&m);
                        if (fclose(pf) != 0) {
                                free(pk);
                                return xerr_set(e, -ENOMEM, "loaders", "out of memory");
                        }
                        info.packages = pk;
                        fn(userdata, &info);
                        free(pk);
                }
        }
        return 0;
}
