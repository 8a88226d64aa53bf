/* SPDX-License-Identifier: MIT */
/*
 * vmdk-bench: tiny driver around ovf_vmdk_write()/ovf_vmdk_check() for
 * bench/vmdk.sh. Not part of the build (bench/vmdk.sh compiles it against
 * the static convenience libraries of a build dir).
 *
 *   vmdk-bench write RAW OUT.vmdk [THREADS]   prints "<file_size> <populated> <sha256>"
 *   vmdk-bench check VMDK [RAW_OUT]           prints "<capacity>"
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ovf/ovf.h"

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
        fprintf(stderr, "usage: vmdk-bench write RAW OUT [THREADS] | check VMDK [RAW_OUT]\n");
        return 2;
}
