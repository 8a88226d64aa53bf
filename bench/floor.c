/* SPDX-License-Identifier: MIT */
/*
 * bench/floor.c - the floor for `xova build`: deflate the bytes of the raw
 * disk images once, with libdeflate at the writer's level (5), zlib format,
 * in 64 KiB grains, on all cores. That is the compression every
 * streamOptimized VMDK of those images needs, done with nothing else: no
 * filesystem to make, no reading (the images are mapped and faulted in
 * before the clock starts), no writing, no hashing, no tar. All-zero grains
 * are skipped, as the writer skips them (a VMDK has no record for them),
 * and the zero test is not timed either.
 *
 * Usage: floor [-t THREADS] [-l LEVEL] IMAGE...
 *   THREADS defaults to the online CPUs, LEVEL to 5.
 * Prints one line: images bytes, grains compressed, compressed bytes,
 * threads, then the CPU seconds (user+sys, all threads) and the wall
 * seconds of the compression alone, e.g.
 *   floor: in 1073741824 grains 6012 out 151234567 threads 2 cpu 6.130 seconds 3.112
 *
 * Build: cc -O2 -o floor bench/floor.c -ldeflate -lpthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GRAIN (64 * 1024)

static const uint8_t **grains;          /* the non-zero grains, in order */
static size_t n_grains;
static atomic_size_t next;
static int level = 5;

struct worker {
        pthread_t tid;
        uint64_t out;
        int error;
};

static void *work(void *arg)
{
        struct worker *w = arg;
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
        size_t max = libdeflate_zlib_compress_bound(NULL, GRAIN);
        uint8_t *buf = malloc(max);
        size_t i;

        if (!c || !buf) {
                w->error = ENOMEM;
                goto out;
        }
        while ((i = atomic_fetch_add(&next, 1)) < n_grains) {
                size_t n = libdeflate_zlib_compress(c, grains[i], GRAIN, buf, max);
                if (n == 0) {
                        w->error = EIO;
                        break;
                }
                w->out += n;
        }
out:
        free(buf);
        libdeflate_free_compressor(c);
        return NULL;
}

static double tv_s(const struct timeval *t)
{
        return (double) t->tv_sec + (double) t->tv_usec / 1e6;
}

static bool is_zero(const uint8_t *p, size_t n)
{
        return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

int main(int argc, char **argv)
{
        long threads = sysconf(_SC_NPROCESSORS_ONLN);
        uint64_t in = 0, out = 0;
        struct worker *ws;
        struct timespec t0, t1;
        struct rusage u0, u1;
        size_t cap = 0;
        int opt;

        while ((opt = getopt(argc, argv, "t:l:")) != -1) {
                if (opt == 't')
                        threads = atol(optarg);
                else if (opt == 'l')
                        level = atoi(optarg);
                else
                        goto usage;
        }
        if (optind >= argc || threads < 1 || threads > 256 || level < 0 || level > 12)
                goto usage;
        for (int a = optind; a < argc; a++) {
                int fd = open(argv[a], O_RDONLY | O_CLOEXEC);
                struct stat st;
                uint8_t *m;

                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
                        fprintf(stderr, "floor: %s: %s\n", argv[a], fd < 0 ? strerror(errno) : "not a non-empty file");
                        return 1;
                }
                /* whole grains only: a tail is padded with zeros by the writer;
                 * the images are MiB multiples, so there is none here */
                m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
                close(fd);
                if (m == MAP_FAILED) {
                        fprintf(stderr, "floor: %s: mmap: %s\n", argv[a], strerror(errno));
                        return 1;
                }
                in += (uint64_t) st.st_size;
                for (off_t o = 0; o + GRAIN <= st.st_size; o += GRAIN) {
                        if (is_zero(m + o, GRAIN))
                                continue;
                        if (n_grains == cap) {
                                cap = cap ? 2 * cap : 4096;
                                grains = realloc(grains, cap * sizeof(*grains));
                                if (!grains) {
                                        fprintf(stderr, "floor: out of memory\n");
                                        return 1;
                                }
                        }
                        grains[n_grains++] = m + o;
                }
        }
        ws = calloc((size_t) threads, sizeof(*ws));
        if (!ws)
                return 1;
        getrusage(RUSAGE_SELF, &u0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < threads; i++)
                if (pthread_create(&ws[i].tid, NULL, work, &ws[i]) != 0) {
                        fprintf(stderr, "floor: cannot start thread\n");
                        return 1;
                }
        for (long i = 0; i < threads; i++) {
                pthread_join(ws[i].tid, NULL);
                if (ws[i].error) {
                        fprintf(stderr, "floor: compression failed: %s\n", strerror(ws[i].error));
                        return 1;
                }
                out += ws[i].out;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        getrusage(RUSAGE_SELF, &u1);
        printf("floor: in %llu grains %zu out %llu threads %ld cpu %.3f seconds %.3f\n", (unsigned long long) in,
               n_grains, (unsigned long long) out, threads,
               tv_s(&u1.ru_utime) + tv_s(&u1.ru_stime) - tv_s(&u0.ru_utime) - tv_s(&u0.ru_stime),
               (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
usage:
        fprintf(stderr, "usage: floor [-t THREADS] [-l LEVEL] IMAGE...\n");
        return 2;
}
