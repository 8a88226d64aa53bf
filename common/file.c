/* SPDX-License-Identifier: MIT */
/* Careful file input/output: regular files only, sizes capped, EINTR and short I/O handled. */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

int xova_open_input(const char *path, uint64_t max_size, int *ret_fd, uint64_t *ret_size,
                    struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        struct stat st;

        /* O_NONBLOCK: a FIFO named as input must not hang us */
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return xerr_set_errno(e, -errno, path, "cannot open");
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, path, "cannot stat");
        if (S_ISDIR(st.st_mode))
                return xerr_set(e, -EISDIR, path, "is a directory, expected a regular file");
        if (!S_ISREG(st.st_mode))
                return xerr_set(e, -EINVAL, path, "not a regular file");
        if ((uint64_t) st.st_size > max_size)
                return xerr_set(e, -EFBIG, path, "file is %llu bytes, more than the limit of %llu",
                                (unsigned long long) st.st_size, (unsigned long long) max_size);
        /* back to blocking reads for a regular file */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
                return xerr_set_errno(e, -errno, path, "cannot open");
        if (ret_size)
                *ret_size = (uint64_t) st.st_size;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int xova_read_file(const char *path, uint64_t max_size, char **ret_buf, size_t *ret_len,
                   struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        uint64_t size;
        int r;

        r = xova_open_input(path, max_size, &fd, &size, e);
        if (r < 0)
                return r;
        buf = malloc(size + 1);
        if (!buf)
                return xerr_oom(e, path);
        r = xova_pread_all(fd, buf, size, 0);
        if (r < 0)
                return xerr_set_errno(e, r, path, "cannot read");
        buf[size] = '\0';
        if (ret_len)
                *ret_len = size;
        *ret_buf = TAKE_PTR(buf);
        return 0;
}

/* One loop for all three: EINTR retried, short counts continued, a zero
 * count (end of file, or a device that takes nothing) is -EIO. off < 0 on
 * output is write() at the file position. */
static int io_all(int fd, char *p, size_t len, off_t off, bool out)
{
        while (len > 0) {
                ssize_t n = !out ? pread(fd, p, len, off) :
                            off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                if (off >= 0)
                        off += n;
                len -= (size_t) n;
        }
        return 0;
}

int xova_write_all(int fd, const void *buf, size_t len)
{
        /* io_all only passes the pointer on to write(), which does not write through it */
        return io_all(fd, (char *) (uintptr_t) buf, len, -1, true);
}

int xova_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
        if (off < 0 && len > 0)      /* what pread/pwrite would say */
                return -EINVAL;
        return io_all(fd, (char *) (uintptr_t) buf, len, off, true);
}

int xova_pread_all(int fd, void *buf, size_t len, off_t off)
{
        if (off < 0 && len > 0)      /* what pread/pwrite would say */
                return -EINVAL;
        return io_all(fd, buf, len, off, false);
}

bool xova_mem_is_zero(const void *mem, size_t n)
{
        /* 64 bytes at a time (memcpy compiles to plain loads): most zero
         * blocks sit in long zero runs, and this runs on every grain */
        const uint8_t *p = mem;
        size_t i;

        for (i = 0; i + 64 <= n; i += 64) {
                uint64_t w[8];
                memcpy(w, p + i, sizeof w);
                if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
                        return false;
        }
        for (; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

int xova_image_reaches(int fd, const char *tool, const char *what, uint64_t end, struct xerr *e)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, tool, "cannot stat the image");
        if ((uint64_t) st.st_size < end)
                return xerr_set_tool(e, tool, "the image is now %" PRIu64 " bytes, %s ends at byte %" PRIu64,
                                     (uint64_t) st.st_size, what, end);
        return 0;
}

int xova_copy_range(int in_fd, off_t in_off, int out_fd, off_t out_off, uint64_t len)
{
        const size_t bs = 64 * 1024;
        _cleanup_free_ char *buf = malloc(bs);
        int r;

        if (!buf)
                return -ENOMEM;
        while (len > 0) {
                size_t n = len < bs ? (size_t) len : bs;
                r = xova_pread_all(in_fd, buf, n, in_off);
                if (r < 0)
                        return r;
                if (!xova_mem_is_zero(buf, n)) {
                        r = xova_pwrite_all(out_fd, buf, n, out_off);
                        if (r < 0)
                                return r;
                }
                in_off += (off_t) n;
                out_off += (off_t) n;
                len -= n;
        }
        return 0;
}

char *xova_dirname(const char *path)
{
        _cleanup_free_ char *c = strdup(path);

        if (!c)
                return NULL;
        return strdup(dirname(c));
}

char *xova_basename(const char *path)
{
        _cleanup_free_ char *c = strdup(path);

        if (!c)
                return NULL;
        return strdup(basename(c));
}

char *xova_path_join(const char *a, const char *b)
{
        char *p;

        if (b[0] == '/' || !a || !*a)
                return strdup(b);
        if (asprintf(&p, "%s%s%s", a, a[strlen(a) - 1] == '/' ? "" : "/", b) < 0)
                return NULL;
        return p;
}
