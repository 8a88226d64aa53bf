/* SPDX-License-Identifier: MIT */
/*
 * The architecture table. Every per-arch fact the project needs (GRUB target,
 * EFI file name and PE machine, console, QEMU binary and machine, partition
 * type, OVF and libvirt names, the Debian package with its QEMU, the aliases
 * people write for it) is one row here, so a third architecture is one more
 * row, and messages listing the architectures are made from the table.
 * It lives in common/ rather than bootpart/ because hv/ and ovf/ need it too
 * and must not depend on bootpart/ (docs/ARCHITECTURE.md).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "common.h"

const struct xova_arch xova_arch_table[] = {
        {
                .name = "x86_64",
                .aliases = { "amd64", "x86-64", "x64", NULL },
                .uname = "x86_64",
                .deb_arch = "amd64",
                .grub_target = "x86_64-efi",
                .grub_cpu = "x86_64",
                .efi_name = "BOOTX64.EFI",
                .pe_machine = 0x8664,   /* IMAGE_FILE_MACHINE_AMD64 */
                .console = "ttyS0",
                .qemu_binary = "qemu-system-x86_64",
                .qemu_package = "qemu-system-x86",
                .qemu_machine = "q35",
                .fw_arch = "x86_64",
                /* Discoverable Partitions Specification: root-x86-64 */
                .dps_root_type = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
                .vmw_os_type = "other5xLinux64Guest",
                .ovf_os_id = 101,       /* CIM: Linux 64-Bit */
                .libvirt_arch = "x86_64",
        },
        {
                .name = "aarch64",
                .aliases = { "arm64", NULL },
                .uname = "aarch64",
                .deb_arch = "arm64",
                .grub_target = "arm64-efi",
                .grub_cpu = "arm64",
                .efi_name = "BOOTAA64.EFI",
                .pe_machine = 0xaa64,   /* IMAGE_FILE_MACHINE_ARM64 */
                .console = "ttyAMA0",
                .qemu_binary = "qemu-system-aarch64",
                .qemu_package = "qemu-system-arm",
                .qemu_machine = "virt",
                .fw_arch = "aarch64",
                /* Discoverable Partitions Specification: root-arm64 */
                .dps_root_type = "b921b045-1df0-41c3-af44-4c6f280d3fae",
                .vmw_os_type = "arm-other5xLinux64Guest",
                .ovf_os_id = 101,
                .libvirt_arch = "aarch64",
        },
};
const size_t xova_arch_count = ELEMENTSOF(xova_arch_table);

const struct xova_arch *xova_arch_by_name(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < xova_arch_count; i++)
                if (strcmp(xova_arch_table[i].name, name) == 0)
                        return &xova_arch_table[i];
        return NULL;
}

const struct xova_arch *xova_arch_by_alias(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < xova_arch_count; i++) {
                const struct xova_arch *t = &xova_arch_table[i];
                if (strcasecmp(name, t->name) == 0)
                        return t;
                for (size_t j = 0; t->aliases[j]; j++)
                        if (strcasecmp(name, t->aliases[j]) == 0)
                                return t;
        }
        return NULL;
}

const char *xova_arch_names(char *buf, size_t size, const char *quote, const char *sep)
{
        size_t n = 0;

        if (size)
                buf[0] = '\0';
        for (size_t i = 0; i < xova_arch_count && n < size; i++) {
                int k = snprintf(buf + n, size - n, "%s%s%s%s", i ? sep : "", quote,
                                 xova_arch_table[i].name, quote);
                if (k < 0)
                        break;
                n += (size_t) k;
        }
        return buf;
}

const struct xova_arch *xova_arch_host(void)
{
        struct utsname u;

        if (uname(&u) < 0)
                return NULL;
        for (size_t i = 0; i < xova_arch_count; i++)
                if (strcmp(xova_arch_table[i].uname, u.machine) == 0)
                        return &xova_arch_table[i];
        return NULL;
}
