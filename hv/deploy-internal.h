/* SPDX-License-Identifier: MIT */
/*
 * deploy-internal.h - what the files of `xova deploy --connect` share:
 * capabilities and the choice of a VM definition (libvirt-caps.c), volumes
 * (deploy-volumes.c), the domain XML (deploy-domain.c) and the per-host
 * flow, console and undeploy (deploy.c).
 */
#ifndef XOVA_HV_DEPLOY_INTERNAL_H
#define XOVA_HV_DEPLOY_INTERNAL_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv/hv-internal.h"

/* the namespace of the <metadata> element deploy writes and undeploy reads */
#define HV_DEPLOY_NS_URI "https://xova.invalid/ns/deploy/1"
#define HV_DEPLOY_NS_PREFIX "xova"

/* ---- capabilities (libvirt-caps.c) ---------------------------------------- */

/* What one host reports it can run for one guest arch. */
struct hv_lv_guest {
        const struct xova_arch *arch;
        char *emulator;
        bool kvm;                       /* <domain type='kvm'/> offered */
        char **machines;                /* names and canonical names, NULL-ended */
};

struct hv_lv_caps {
        char host_arch[32];             /* host/cpu/arch as libvirt says it */
        const struct xova_arch *host;   /* NULL if not in xova's table */
        struct hv_lv_guest *guests;
        size_t n_guests;
};

/* Parses virConnectGetCapabilities() text; `host` names it in errors. */
int hv_lv_caps_parse(const char *xml, const char *host, struct hv_lv_caps *ret, struct xerr *e);
void hv_lv_caps_clear(struct hv_lv_caps *c);
/* "x86_64 (kvm, qemu), i686 (qemu)": what a host offers, for messages. */
void hv_lv_caps_describe(const struct hv_lv_caps *c, char *buf, size_t size);

/* The decision for one host: which of the bundle's VM definitions, which
 * machine, emulator and accelerator. */
struct hv_lv_choice {
        const struct ovf_vm *vm;
        const struct hv_lv_guest *guest;
        const char *machine;            /* vm->machine, checked against the host's list */
        enum hv_accel accel;            /* KVM or TCG */
        char note[256];                 /* why TCG, when it is not the obvious case */
};

/* want_arch NULL: the bundle's definition for the host's own arch when the
 * host offers it, else the first definition the host can emulate.
 * local_kvm_ok: for a local host the real KVM probe's verdict (remote
 * hosts: true, their capabilities are trusted). */
int hv_lv_choose(const struct hv_lv_caps *c, const struct ovf_descriptor *d, const char *want_arch,
                 enum hv_accel want, bool local_kvm_ok, const char *local_kvm_reason, const char *host,
                 struct hv_lv_choice *ret, struct xerr *e);
/* Asks the host's domain capabilities whether it offers UEFI firmware
 * autoselection (<os firmware='efi'>) for the choice. */
int hv_lv_check_efi(virConnectPtr conn, const struct hv_lv_choice *ch, const char *host, struct xerr *e);

/* Has a signal asked deploy to stop (deploy.c)? */
bool hv_lv_cancelled(void);
/* The text of libvirt's last error ("unknown error" if none). */
const char *hv_lv_error(void);
/* A URI for messages: the userinfo's password (user:PASS@) and the query
 * removed. */
void hv_lv_uri_display(const char *uri, char *buf, size_t size);
/* Is the URI's host this machine (no server part, localhost, loopback)? */
bool hv_lv_uri_local(const char *uri);

/* ---- volumes (deploy-volumes.c) -------------------------------------------- */

/* Converts d (read from its verified fd, never its path) to qcow2 in an
 * unnamed temporary file and uploads it as a new volume `name` in pool.
 * Returns the volume (caller frees; on failure nothing is left in the pool). */
int hv_lv_volume_upload(virStoragePoolPtr pool, const char *name, const struct hv_disk *d, const char *host,
                        void (*note)(void *, const char *), void *userdata, virStorageVolPtr *ret,
                        uint64_t *ret_bytes, struct xerr *e);
/* Deletes volume `name` of pool `pool_name` if it exists; 0 if absent. */
int hv_lv_volume_delete(virConnectPtr conn, const char *pool_name, const char *name, struct xerr *e);

/* ---- the domain (deploy-domain.c) ------------------------------------------ */

struct hv_lv_volume {
        char *disk;                     /* the bundle's disk id (for the summary) */
        char *name;                     /* volume name in the pool */
        char *path;                     /* its path on the host */
};

struct hv_lv_domain {
        const char *name;
        const struct ovf_descriptor *d;
        const struct hv_lv_choice *ch;
        const char *pool;
        const struct hv_lv_volume *vols;
        size_t n_vols;
        const char *console_log;        /* file on the host, or NULL */
        bool network;                   /* the host has an active network "default" */
};
int hv_lv_domain_xml(const struct hv_lv_domain *x, char **ret_xml, struct xerr *e);
/* Volumes a deployed domain's metadata names: pool and name pairs. */
int hv_lv_domain_volumes(const char *metadata_xml, char ***ret_pools, char ***ret_names, size_t *ret_n,
                         struct xerr *e);

#endif
