/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer targets of fuzz/ share: the error-record
 * oracle and in-memory files.
 *
 * Besides ASan/UBSan, every target checks STYLE.md rule 5 on each input: a
 * library call that fails returns a negative code, stores that same code in
 * the caller's struct xerr and says something in it (a violation aborts,
 * a "crash" like any other, unless XOVA_FUZZ_STRICT=0). fuzz-tar also
 * checks that no file descriptor is left open, on success and on error.
 */
#ifndef XOVA_FUZZ_H
#define XOVA_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline int fuzz_strict(void)
{
        static int strict = -1;

        if (strict < 0) {
                const char *s = getenv("XOVA_FUZZ_STRICT");
                strict = !(s && strcmp(s, "0") == 0);
        }
        return strict;
}

/* r is what `call` returned and e the error record it was given. */
static inline void fuzz_check_err(const char *call, int r, const struct xerr *e)
{
        char buf[1024];

        if (r >= 0)
                return;
        /* formatting must work on whatever the library stored */
        xerr_format(e, buf, sizeof(buf));
        if (!fuzz_strict())
                return;
        if (e->code != r || e->msg[0] == '\0' || memchr(e->msg, '\0', sizeof(e->msg)) == NULL ||
            memchr(e->where, '\0', sizeof(e->where)) == NULL) {
                fprintf(stderr, "fuzz: %s returned %d but the error record says code %d, msg '%.*s'\n",
                        call, r, e->code, (int) sizeof(e->msg), e->msg);
                abort();
        }
}

static inline void fuzz_fail(const char *what)
{
        fprintf(stderr, "fuzz: %s\n", what);
        abort();
}

/* The lowest free file descriptor: the same before and after a call means
 * the call closed every descriptor it opened, on success and on error. */
static inline int fuzz_lowest_free_fd(void)
{
        int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

        if (fd < 0)
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fuzz_fail("cannot probe the lowest free file descriptor");
        close(fd);
        return fd;
}

/* An anonymous in-memory file (tmpfs) that the targets rewrite per input. */
static inline int fuzz_memfd(const char *name)
{
        int fd = memfd_create(name, MFD_CLOEXEC);

        if (fd < 0)
                fuzz_fail("memfd_create failed");
        return fd;
}

/* Replaces the contents of fd with data. */
static inline void fuzz_memfd_set(int fd, const uint8_t *data, size_t size)
{
        if (ftruncate(fd, 0) < 0 || (size > 0 && xova_pwrite_all(fd, data, size, 0) < 0))
                fuzz_fail("cannot write the input to the memfd");
}

#endif
