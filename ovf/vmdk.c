/* SPDX-License-Identifier: MIT */
/* streamOptimized VMDK: being written (see ovf.h). */
#include "config.h"

#include "ovf/ovf.h"

int ovf_vmdk_write(int raw_fd, uint64_t raw_size, int out_fd, const char *seed, unsigned threads,
                   const struct xova_progress *progress, struct ovf_vmdk_info *ret,
                   struct xerr *e)
{
        return xerr_set(e, -ENOSYS, NULL, "VMDK writer not built yet");
}

int ovf_vmdk_check(int fd, uint64_t offset, uint64_t size, const char *where, int out_fd,
                   uint64_t *ret_capacity, struct xerr *e)
{
        return xerr_set(e, -ENOSYS, where, "VMDK reader not built yet");
}
