/* SPDX-License-Identifier: MIT */
/*
 * rootfile.c - one file taken out of a disk's content: the kernel and
 * initrd of an architecture whose spec says {"from-root": "/vmlinuz"}.
 *
 * The path is resolved inside the content, as the guest would see it:
 * symlinks are followed (absolute ones from the content's root, ".." never
 * above it, at most 40 of them), and never on the host: a directory source
 * is read with *at() calls relative to its root, without following links;
 * a tarball is read twice, once for its names and links, once for the data
 * of the one member found. Debian's "/vmlinuz -> boot/vmlinuz-6.1.0-NN-..."
 * is the case this exists for.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "appliance/appliance.h"
#include "appliance/appliance-internal.h"

#define LINKS_MAX 40                    /* as the kernel's MAXSYMLINKS */

/* What a lookup reports about one name of the content. */
struct rootent {
        mode_t type;                    /* S_IFREG, S_IFDIR, S_IFLNK, ... */
        char *link;                     /* symlink target; for a tar hard link, its target */
        bool hard;
};

struct tarname {
        char *name;
        struct rootent ent;
};

struct source {
        const struct appliance_disk *d;
        int dfd;                        /* directory source */
        struct tarname *v;              /* tarball source: every member, in order */
        size_t n, cap;
        struct xerr *e;
};

static void source_release(struct source *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].name);
                free(s->v[i].ent.link);
        }
        free(s->v);
        if (s->dfd >= 0)
                close(s->dfd);
}

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_free(*a);
}

/* 0 and *ret filled, or -ENOENT, or another error already set in s->e. */
static int lookup(struct source *s, const char *rel, struct rootent *ret)
{
        size_t len = strlen(rel);

        *ret = (struct rootent) { 0 };
        if (s->dfd >= 0) {
                struct stat st;
                if (fstatat(s->dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno == ENOENT || errno == ENOTDIR ? -ENOENT :
                               xerr_set_errno(s->e, -errno, s->d->source, "cannot stat '%s'", XOVA_ESC(rel));
                ret->type = st.st_mode & S_IFMT;
                if (S_ISLNK(st.st_mode)) {
                        char buf[PATH_MAX];
                        ssize_t n = readlinkat(s->dfd, rel, buf, sizeof(buf) - 1);
                        if (n < 0)
                                return xerr_set_errno(s->e, -errno, s->d->source, "cannot read the "
                                                      "symlink '%s'", XOVA_ESC(rel));
                        buf[n] = '\0';
                        ret->link = strdup(buf);
                        if (!ret->link)
                                return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
                }
                return 0;
        }
        /* the last member of a name wins, as when extracting */
        for (size_t i = s->n; i-- > 0;)
                if (strcmp(s->v[i].name, rel) == 0) {
                        *ret = s->v[i].ent;
                        ret->link = NULL;
                        if (s->v[i].ent.link) {
                                ret->link = strdup(s->v[i].ent.link);
                                if (!ret->link)
                                        return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
                        }
                        return 0;
                }
        /* a directory the tarball implies ("boot/x" without "boot/") */
        for (size_t i = 0; i < s->n; i++)
                if (strncmp(s->v[i].name, rel, len) == 0 && s->v[i].name[len] == '/') {
                        ret->type = S_IFDIR;
                        return 0;
                }
        return -ENOENT;
}

static int read_tar_names(struct source *s)
{
        _cleanup_(archive_freep) struct archive *a = NULL;
        _cleanup_close_ int fd = -1;
        struct archive_entry *entry;
        int r;

        r = appliance_tar_open(s->d->source, "", &fd, &a, s->e);
        if (r < 0)
                return r;
        while ((r = archive_read_next_header(a, &entry)) >= ARCHIVE_WARN) {
                const char *hl = archive_entry_hardlink(entry), *sl = archive_entry_symlink(entry);
                struct tarname t = { 0 };

                if (r == ARCHIVE_EOF)
                        break;
                r = appliance_member_normalize(s->d->source, archive_entry_pathname(entry) ?
                                               archive_entry_pathname(entry) : "", &t.name, s->e);
                if (r < 0)
                        return r;
                t.ent.type = archive_entry_filetype(entry);
                if (hl) {
                        t.ent.hard = true;
                        r = appliance_member_normalize(s->d->source, hl, &t.ent.link, s->e);
                        if (r < 0) {
                                free(t.name);
                                return r;
                        }
                } else if (sl) {
                        t.ent.link = strdup(sl);
                }
                if (s->n == s->cap) {
                        size_t cap = s->cap ? s->cap * 2 : 256;
                        struct tarname *v = realloc(s->v, cap * sizeof(*v));
                        if (!v) {
                                free(t.name);
                                free(t.ent.link);
                                return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
                        }
                        s->v = v;
                        s->cap = cap;
                }
                s->v[s->n++] = t;
                if (!t.name || ((hl || sl) && !t.ent.link))
                        return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
        }
        if (r != ARCHIVE_EOF)
                return xerr_set(s->e, -EINVAL, s->d->source, "cannot read tarball: %s",
                                archive_error_string(a) ? archive_error_string(a) : "unknown error");
        return 0;
}

/* `path` resolved to a content-relative name without symlinks ("" = root). */
static int resolve(struct source *s, const char *path, char **ret)
{
        _cleanup_free_ char *todo = strdup(path), *cur = strdup("");
        unsigned hops = 0;
        int r;

        if (!todo || !cur)
                return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
        while (*todo) {
                _cleanup_free_ char *comp = NULL, *cand = NULL;
                const char *p = todo, *rest;
                struct rootent ent;
                size_t n;

                while (*p == '/')
                        p++;
                n = strcspn(p, "/");
                rest = p + n;
                comp = strndup(p, n);
                if (!comp)
                        return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
                if (n == 0 || strcmp(comp, ".") == 0) {
                        memmove(todo, rest, strlen(rest) + 1);
                        continue;
                }
                if (strcmp(comp, "..") == 0) {  /* never above the root */
                        char *slash = strrchr(cur, '/');
                        *(slash ? slash : cur) = '\0';
                        memmove(todo, rest, strlen(rest) + 1);
                        continue;
                }
                if (asprintf(&cand, "%s%s%s", cur, *cur ? "/" : "", comp) < 0)
                        return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
                r = lookup(s, cand, &ent);
                if (r == -ENOENT)
                        return xerr_set(s->e, -ENOENT, s->d->source, "'%s' (looking up '%s') is not "
                                        "in the content", XOVA_ESC(cand), XOVA_ESC(path));
                if (r < 0)
                        return r;
                if (S_ISLNK(ent.type)) {
                        char *next;
                        if (++hops > LINKS_MAX) {
                                free(ent.link);
                                return xerr_set(s->e, -ELOOP, s->d->source, "'%s': more than %d "
                                                "symlinks", XOVA_ESC(path), LINKS_MAX);
                        }
                        if (ent.link[0] == '/')
                                cur[0] = '\0';
                        r = asprintf(&next, "%s%s", ent.link, rest);
                        free(ent.link);
                        if (r < 0)
                                return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
                        free(todo);
                        todo = next;
                        continue;
                }
                free(ent.link);
                if (*rest && !S_ISDIR(ent.type))
                        return xerr_set(s->e, -ENOTDIR, s->d->source, "'%s' (looking up '%s') is not "
                                        "a directory", XOVA_ESC(cand), XOVA_ESC(path));
                free(cur);
                cur = TAKE_PTR(cand);
                memmove(todo, rest, strlen(rest) + 1);
        }
        *ret = TAKE_PTR(cur);
        return 0;
}

static int copy_fd(int in, int out, uint64_t max, const char *what, struct xerr *e)
{
        char buf[64 * 1024];
        uint64_t total = 0;

        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0)
                        return xerr_set_errno(e, -errno, what, "cannot read");
                if (n == 0)
                        return 0;
                total += (uint64_t) n;
                if (total > max)
                        return xerr_set(e, -EFBIG, what, "larger than %llu bytes", (unsigned long long) max);
                if (xova_write_all(out, buf, (size_t) n) < 0)
                        return xerr_set_errno(e, -errno, what, "cannot write the copy");
        }
}

static int extract_from_dir(struct source *s, const char *rel, int out, uint64_t max)
{
        _cleanup_close_ int fd = -1;
        char what[PATH_MAX + 64];
        struct stat st;

        snprintf(what, sizeof(what), "%s: '%s'", s->d->source, XOVA_ESC(rel));
        fd = openat(s->dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return xerr_set_errno(s->e, -errno, what, "cannot open");
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(s->e, -errno, what, "cannot stat");
        if (!S_ISREG(st.st_mode))
                return xerr_set(s->e, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL, what, "not a regular file");
        return copy_fd(fd, out, max, what, s->e);
}

/* One pass over the tarball: member rels[k]'s data into outs[k], for every
 * k (the same name twice gets the same data twice). */
static int extract_from_tar(struct source *s, size_t n, char *const *rels, const int *outs, uint64_t max)
{
        _cleanup_(archive_freep) struct archive *a = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ bool *done = calloc(2 * n, sizeof(bool));
        bool *hit = done + n;           /* the k this member is the data of */
        struct archive_entry *entry;
        char what[PATH_MAX + 64];
        size_t left = n;
        int r;

        if (!done)
                return xerr_set(s->e, -ENOMEM, s->d->source, "out of memory");
        r = appliance_tar_open(s->d->source, "", &fd, &a, s->e);
        if (r < 0)
                return r;
        while (left > 0 && (r = archive_read_next_header(a, &entry)) >= ARCHIVE_WARN && r != ARCHIVE_EOF) {
                _cleanup_free_ char *name = NULL;
                bool any = false;
                if (archive_entry_hardlink(entry) || archive_entry_filetype(entry) != AE_IFREG)
                        continue;
                if (appliance_member_normalize(s->d->source, archive_entry_pathname(entry) ?
                                               archive_entry_pathname(entry) : "", &name, s->e) < 0)
                        return s->e->code;
                /* the data is in the first regular member of that name */
                for (size_t k = 0; k < n; k++)
                        any |= hit[k] = !done[k] && strcmp(name, rels[k]) == 0;
                if (!any)
                        continue;
                snprintf(what, sizeof(what), "%s: '%s'", s->d->source, XOVA_ESC(name));
                if (archive_entry_size(entry) < 0 || (uint64_t) archive_entry_size(entry) > max)
                        return xerr_set(s->e, -EFBIG, what, "larger than %llu bytes", (unsigned long long) max);
                for (;;) {
                        const void *buf;
                        size_t len;
                        la_int64_t off;
                        r = archive_read_data_block(a, &buf, &len, &off);
                        if (r == ARCHIVE_EOF)
                                break;
                        if (r < ARCHIVE_OK)
                                return xerr_set(s->e, -EIO, what, "cannot read: %s",
                                                archive_error_string(a) ? archive_error_string(a) : "unknown error");
                        for (size_t k = 0; k < n; k++)
                                if (hit[k] && xova_pwrite_all(outs[k], buf, len, (off_t) off) < 0)
                                        return xerr_set_errno(s->e, -errno, what, "cannot write the copy");
                }
                for (size_t k = 0; k < n; k++) {
                        if (!hit[k])
                                continue;
                        if (ftruncate(outs[k], (off_t) archive_entry_size(entry)) < 0)
                                return xerr_set_errno(s->e, -errno, what, "cannot write the copy");
                        done[k] = true;
                        left--;
                }
        }
        for (size_t k = 0; k < n; k++)
                if (!done[k]) {
                        snprintf(what, sizeof(what), "%s: '%s'", s->d->source, XOVA_ESC(rels[k]));
                        return xerr_set(s->e, -ENOENT, what, "no data member of that name in the tarball");
                }
        return 0;
}

/* `path` resolved to the name of a regular file in the content, into *ret */
static int resolve_file(struct source *s, const char *path, char **ret)
{
        _cleanup_free_ char *rel = NULL;
        struct rootent ent = { 0 };
        int r;

        r = resolve(s, path, &rel);
        if (r < 0)
                return r;
        if (!*rel)
                return xerr_set(s->e, -EISDIR, s->d->source, "'%s' is the root directory", XOVA_ESC(path));
        r = lookup(s, rel, &ent);
        if (r == 0 && ent.hard) {       /* a tar hard link: the data is its target's */
                free(rel);
                rel = TAKE_PTR(ent.link);
                r = lookup(s, rel, &ent);
        }
        if (r < 0) {
                if (r == -ENOENT)
                        xerr_set(s->e, r, s->d->source, "'%s' is not in the content", XOVA_ESC(rel));
                free(ent.link);
                return r;
        }
        free(ent.link);
        if (!S_ISREG(ent.type))
                return xerr_set(s->e, S_ISDIR(ent.type) ? -EISDIR : -EINVAL, s->d->source, "'%s' (as '%s') "
                                "is not a regular file", XOVA_ESC(path), XOVA_ESC(rel));
        xova_debug("root file: %s '%s' is '%s'", s->d->source, path, rel);
        *ret = TAKE_PTR(rel);
        return 0;
}

int appliance_root_extract_n(const struct appliance_disk *d, size_t n, const char *const *paths,
                             const char *const *dests, uint64_t max, struct xerr *e)
{
        struct source s = { .d = d, .dfd = -1, .e = e };
        char **rels = calloc(n ? n : 1, sizeof(char *));
        int *outs = malloc((n ? n : 1) * sizeof(int));
        int r = 0;

        if (!rels || !outs) {
                free(rels);
                free(outs);
                return xerr_set(e, -ENOMEM, d->source, "out of memory");
        }
        for (size_t k = 0; k < n; k++)
                outs[k] = -1;
        if (d->content == APPLIANCE_CONTENT_DIRECTORY) {
                s.dfd = open(d->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
                if (s.dfd < 0)
                        r = xerr_set_errno(e, -errno, d->source, "cannot open directory");
        } else if (d->content == APPLIANCE_CONTENT_TARBALL) {
                r = read_tar_names(&s);
        } else {
                r = xerr_set(e, -EINVAL, d->name, "has no directory or tarball to take '%s' from",
                             XOVA_ESC(n ? paths[0] : ""));
        }
        /* every name first: a missing one fails before any data is read */
        for (size_t k = 0; r == 0 && k < n; k++)
                r = resolve_file(&s, paths[k], &rels[k]);
        for (size_t k = 0; r == 0 && k < n; k++) {
                outs[k] = open(dests[k], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (outs[k] < 0)
                        r = xerr_set_errno(e, -errno, dests[k], "cannot create");
        }
        if (r == 0 && s.dfd >= 0)
                for (size_t k = 0; r == 0 && k < n; k++)
                        r = extract_from_dir(&s, rels[k], outs[k], max);
        else if (r == 0)
                r = extract_from_tar(&s, n, rels, outs, max);
        for (size_t k = 0; k < n; k++) {
                free(rels[k]);
                if (outs[k] >= 0)
                        close(outs[k]);
        }
        free(rels);
        free(outs);
        source_release(&s);
        return r;
}

int appliance_root_extract(const struct appliance_disk *d, const char *path, const char *dest,
                           uint64_t max, struct xerr *e)
{
        return appliance_root_extract_n(d, 1, &path, &dest, max, e);
}
