/* SPDX-License-Identifier: MIT */
/*
 * What each OVF consumer accepts, as one table: the hardware the
 * descriptor writer puts in a configuration's items, and the identity
 * (guest ids, CIM processor fields) each importer reads. The rules come
 * from the importers' sources (docs/COMPATIBILITY.md names them):
 *
 *  - govmomi simulator/ovf_manager.go CreateImportSpec (0.24, Debian 12):
 *    ResourceType 5 (IDE), 6 (SCSI: lsilogic, buslogic, lsilogic-sas,
 *    pvscsi), 10 (NIC: e1000, e1000e, vmxnet3, ...), 14, 15, 17, 23, 24;
 *    anything else, 20 and 21 included, is an OvfUnsupportedType error and
 *    disks under an unsupported controller are dropped.
 *  - VirtualBox ovfreader.cpp OVFReader::HandleVirtualSystemContent: 6 is
 *    kept with its subtype (LsiLogic), 20 only with AHCI/vmware.sata.ahci,
 *    VirtioSCSI/virtio-scsi or NVMe/vmware.nvme.controller; an unknown
 *    type is an OVFLogicError unless ovf:required="false".
 *  - virt-v2v input/OVF.ml parent_controller: 5 IDE, 6 SCSI, 20 SATA;
 *    parse_nics: "E1000" is e1000, any other subtype lower-cased.
 *
 * So the universal descriptor uses SCSI lsilogic and E1000 for every
 * configuration (the one set all three accept) and no serial item (govmomi
 * refuses type 21 whatever ovf:required says); xova's own hardware
 * (virtio disks and NIC, serial console) rides along as xova: markers.
 */
#include "config.h"

#include <string.h>

#include "ovf/ovf-internal.h"

static const struct {
        enum ovf_consumer c;
        const char *name;
} consumers[] = {
        { OVF_FOR_ALL, "all" },
        { OVF_FOR_VMWARE, "vmware" },
        { OVF_FOR_VIRTUALBOX, "virtualbox" },
        { OVF_FOR_VIRTV2V, "virt-v2v" },
        { OVF_FOR_GLANCE, "glance" },
        { OVF_FOR_LIBVIRT, "libvirt" },
};

const char *ovf_consumer_to_string(enum ovf_consumer c)
{
        for (size_t i = 0; i < sizeof(consumers) / sizeof(consumers[0]); i++)
                if (consumers[i].c == c)
                        return consumers[i].name;
        return "?";
}

int ovf_consumer_from_string(const char *s, enum ovf_consumer *ret)
{
        for (size_t i = 0; i < sizeof(consumers) / sizeof(consumers[0]); i++)
                if (s && strcmp(consumers[i].name, s) == 0) {
                        *ret = consumers[i].c;
                        return 0;
                }
        return -EINVAL;
}

static bool is_arm(const struct xova_arch *a)
{
        return a && strcmp(a->name, "aarch64") == 0;
}

void ovf_arch_ids(const struct xova_arch *a, struct ovf_arch_ids *ret)
{
        /* CIM_ProcessorAllocationSettingData InstructionSet and
         * ProcessorArchitecture value maps ("DMTF:" + Glance's metadef
         * enums x86:64 / ARM:A64, x86 / ARM) */
        if (is_arm(a)) {
                *ret = (struct ovf_arch_ids){
                        .instruction_set = "DMTF:ARM:A64",
                        .processor_architecture = "DMTF:ARM",
                        /* Fusion/ESXi-Arm ids (the one in common/arch.c
                         * matches no VMware id) */
                        .vmw_os_type = "arm-other6xlinux-64",
                        .vbox_os_type = "Linux_arm64",
                        .glance_architecture = "aarch64",
                };
        } else {
                *ret = (struct ovf_arch_ids){
                        .instruction_set = "DMTF:x86:64",
                        .processor_architecture = "DMTF:x86",
                        .vmw_os_type = "other5xLinux64Guest",
                        .vbox_os_type = "Linux_64",
                        .glance_architecture = "x86_64",
                };
        }
}

void ovf_hw_profile(enum ovf_consumer c, const struct xova_arch *a, struct ovf_hw_profile *ret)
{
        /* the universal set: see the top of this file */
        *ret = (struct ovf_hw_profile){
                .ctrl_type = 6,
                .ctrl_subtype = "lsilogic",
                .nic_subtype = "E1000",
                .system_type = "vmx-14",
        };
        switch (c) {
        case OVF_FOR_VMWARE:
                ret->nic_subtype = "VmxNet3";
                if (is_arm(a)) {
                        /* Arm guests on Fusion / ESXi-Arm: HW 19+, EFI,
                         * SATA or NVMe only (no LSI Logic) */
                        ret->ctrl_type = 20;
                        ret->ctrl_subtype = "vmware.sata.ahci";
                        ret->system_type = "vmx-19";
                }
                break;
        case OVF_FOR_VIRTUALBOX:
                /* ovfreader.cpp: 20 with AHCI; Arm VMs have no AHCI in
                 * VirtualBox 7.1, they use VirtioSCSI */
                ret->ctrl_type = 20;
                ret->ctrl_subtype = is_arm(a) ? "VirtioSCSI" : "AHCI";
                ret->vbox_machine = is_arm(a);
                break;
        case OVF_FOR_ALL:
        case OVF_FOR_VIRTV2V:
        case OVF_FOR_GLANCE:
        case OVF_FOR_LIBVIRT:
                break;
        }
}

const char *ovf_suit_to_string(enum ovf_suit s)
{
        return s == OVF_SUIT_AS_IS ? "as-is" : s == OVF_SUIT_EXPORT ? "export" : "no";
}

enum ovf_suit ovf_descriptor_suits(const struct ovf_descriptor *d, const struct ovf_vm *v, enum ovf_consumer c)
{
        switch (c) {
        case OVF_FOR_VMWARE:
                /* vSphere picks a configuration (deployment option), but the
                 * guest id is the default one's: an Arm VM needs its own */
                return is_arm(v->arch) ? OVF_SUIT_EXPORT : OVF_SUIT_AS_IS;
        case OVF_FOR_VIRTUALBOX:
                /* reads no configurations; an Arm VM needs vbox:Machine */
                return d->n_vms == 1 && !is_arm(v->arch) ? OVF_SUIT_AS_IS : OVF_SUIT_EXPORT;
        case OVF_FOR_VIRTV2V:
                /* takes every item whatever its configuration */
                return d->n_vms == 1 ? OVF_SUIT_AS_IS : OVF_SUIT_EXPORT;
        case OVF_FOR_GLANCE:
                /* exactly one disk in the OVA */
                if (v->n_disks != 1)
                        return OVF_SUIT_NO;
                return d->n_disks == 1 && d->n_vms == 1 ? OVF_SUIT_AS_IS : OVF_SUIT_EXPORT;
        case OVF_FOR_ALL:
        case OVF_FOR_LIBVIRT:
                break;
        }
        return OVF_SUIT_AS_IS;
}
