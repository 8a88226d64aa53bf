/* SPDX-License-Identifier: MIT */
/*
 * vmdk-bench: tiny driver around ovf_vmdk_write()/ovf_vmdk_check() for
 * bench/vmdk.sh. Not part of the build (bench/vmdk.sh compiles it against
 * the static convenience libraries of a build dir).
 *
 *   vmdk-bench write RAW OUT.vmdk [THREADS]   prints "<file_size> <populated> <sha256>"
 *   vmdk-bench check VMDK [RAW_OUT]           prints "<capacity>"
 *   vmdk-bench gen RAW MIB SEED               writes a generated raw image
 *
 * gen: the same bytes on every host for the same MIB and SEED. Per 64 KiB
 * block, drawn from the seed: 40% text (words of a small vocabulary, about
 * as compressible as source and documentation), 20% random bytes (like
 * compressed or encrypted files), 10% half text and half zeros (a file's
 * last block), 30% left a hole (free space; the file is sparse there).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ovf/ovf.h"

static uint64_t mix(uint64_t x)         /* splitmix64 */
{
        x += UINT64_C(0x9e3779b97f4a7c15);
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

static void text(uint8_t *p, size_t n, uint64_t *st)
{
        static const char *const words[] = {
                "the", "of", "and", "to", "in", "is", "for", "that", "with", "as", "static", "int",
                "return", "struct", "const", "char", "if", "else", "while", "size_t", "buffer", "file",
                "system", "kernel", "device", "package", "version", "license", "copyright", "debian",
                "configure", "error", "value", "string", "0x1f", "42", "\n", "{", "}", "(", ")", ";",
        };
        size_t i = 0;

        while (i < n) {
                const char *w;
                *st = mix(*st);
                w = words[*st % (sizeof(words) / sizeof(words[0]))];
                for (size_t k = 0; w[k] && i < n; k++)
                        p[i++] = (uint8_t) w[k];
                if (i < n)
                        p[i++] = (*st >> 20) % 9 == 0 ? '\n' : ' ';
        }
}

static int gen(const char *file, uint64_t mib, uint64_t seed)
{
        uint8_t *b = malloc(65536);
        uint64_t st = seed;
        int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (!b || fd < 0 || ftruncate(fd, (off_t) (mib << 20)) < 0) {
                perror("vmdk-bench gen");
                return 1;
        }
        for (uint64_t i = 0; i < mib * 16; i++) {
                unsigned kind = (unsigned) (mix(seed ^ (i * 2 + 1)) % 10);
                if (kind >= 7)
                        continue;                       /* hole */
                if (kind < 4) {
                        text(b, 65536, &st);
                } else if (kind < 6) {
                        for (size_t k = 0; k < 65536; k += 8) {
                                st = mix(st);
                                memcpy(b + k, &st, 8);
                        }
                } else {
                        text(b, 32768, &st);
                        memset(b + 32768, 0, 32768);
                }
                if (xova_pwrite_all(fd, b, 65536, (off_t) (i * 65536)) < 0) {
                        perror("vmdk-bench gen");
                        return 1;
                }
        }
        free(b);
        return close(fd) < 0;
}

int main(int argc, char **argv)
{
        struct xerr e = {};
        char buf[1024];
        int r;

        if (argc >= 4 && strcmp(argv[1], "write") == 0) {
                struct ovf_vmdk_info info;
                struct stat st;
                unsigned threads = argc > 4 ? (unsigned) strtoul(argv[4], NULL, 10) : 0;
                int in = open(argv[2], O_RDONLY | O_CLOEXEC);
                int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                if (in < 0 || out < 0 || fstat(in, &st) < 0) {
                        perror("vmdk-bench");
                        return 1;
                }
                r = ovf_vmdk_write(in, (uint64_t) st.st_size, out, "bench", threads, NULL, &info, &e);
                if (r < 0 || close(out) < 0) {
                        fprintf(stderr, "vmdk-bench: %s\n", xerr_format(&e, buf, sizeof buf));
                        return 1;
                }
                printf("%llu %llu ", (unsigned long long) info.file_size,
                       (unsigned long long) info.populated);
                for (int i = 0; i < 32; i++)
                        printf("%02x", info.sha256[i]);
                printf("\n");
                return 0;
        }
        if (argc >= 3 && strcmp(argv[1], "check") == 0) {
                struct stat st;
                uint64_t cap;
                int in = open(argv[2], O_RDONLY | O_CLOEXEC);
                int out = argc > 3 ? open(argv[3], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;

                if (in < 0 || (argc > 3 && out < 0) || fstat(in, &st) < 0) {
                        perror("vmdk-bench");
                        return 1;
                }
                r = ovf_vmdk_check(in, 0, (uint64_t) st.st_size, argv[2], out, &cap, &e);
                if (r < 0) {
                        fprintf(stderr, "vmdk-bench: %s\n", xerr_format(&e, buf, sizeof buf));
                        return 1;
                }
                printf("%llu\n", (unsigned long long) cap);
                return 0;
        }
        if (argc == 5 && strcmp(argv[1], "gen") == 0)
                return gen(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
        fprintf(stderr, "usage: vmdk-bench write RAW OUT [THREADS] | check VMDK [RAW_OUT] | gen RAW MIB SEED\n");
        return 2;
}
