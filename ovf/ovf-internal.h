/* SPDX-License-Identifier: MIT */
/* ovf-internal.h - what the files of ovf/ share and nobody else sees. */
#ifndef XOVA_OVF_INTERNAL_H
#define XOVA_OVF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ovf/ovf.h"

/* Namespaces of the descriptor */
#define OVF_NS "http://schemas.dmtf.org/ovf/envelope/1"
#define OVF_RASD_NS "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
#define OVF_VSSD_NS "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
#define OVF_VMW_NS "http://www.vmware.com/schema/ovf"
#define OVF_PASD_NS "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ProcessorAllocationSettingData"
#define OVF_VBOX_NS "http://www.virtualbox.org/ovf/machine"

#define OVF_FORMAT_VMDK_STREAM "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
/* No standard URI names a raw image; ours says whose convention it is. */
#define OVF_FORMAT_RAW OVF_XOVA_NS "#raw"

/* Caps on untrusted input: generous for real appliances, small enough that
 * a hostile bundle cannot make us allocate or loop much. */
#define OVF_MAX_DESCRIPTOR (1024 * 1024)
#define OVF_MAX_MANIFEST (64 * 1024)
#define OVF_MAX_CERT (64 * 1024)
#define OVF_MAX_CAPACITY (UINT64_C(64) << 40)   /* 64 TiB */
#define OVF_MAX_MEMBER (UINT64_C(64) << 40)
#define OVF_MAX_DISKS 64
#define OVF_MAX_VMS 16
#define OVF_MAX_NAME 255                        /* member names (ustar+pax, any fs) */
#define OVF_MAX_VCPUS 1024
#define OVF_MAX_MEMORY_MIB (UINT64_C(16) << 20) /* 16 TiB */

/* NULL if `name` may be a bundle member (a bare file name: no '/', '\\',
 * no "." or "..", no scheme, no control characters, printable ASCII only,
 * <= 255 bytes); otherwise why not, for the error message. */
const char *ovf_member_name_problem(const char *name);
/* NULL if `id` is a usable identifier (disk ids, the appliance name):
 * [A-Za-z0-9_.-], starting with a letter or digit, <= 64 bytes. */
const char *ovf_id_problem(const char *id);

/* ---- tar (ovf/tar.c) ---------------------------------------------------- */

#define TAR_BLOCK 512
#define OVF_TAR_MAX_TRAILER (1024 * 1024)       /* zero padding after the end-of-archive blocks */
#define OVF_TAR_NOT_REGULAR "is not a regular file"

/* A ustar header block (POSIX.1-1988 plus the GNU base-256 numbers), as
 * libarchive's struct archive_entry_header_ustar: all char arrays, so the
 * struct is the block byte for byte (checked in tar.c). Numbers are octal
 * text, or base-256 when the first byte has its top bit set. */
struct tar_ustar_header {
        char name[100];
        char mode[8];
        char uid[8];
        char gid[8];
        char size[12];
        char mtime[12];
        char checksum[8];
        char typeflag[1];
        char linkname[100];
        char magic[6];                  /* "ustar\0" (POSIX) or "ustar " (GNU) */
        char version[2];
        char uname[32];
        char gname[32];
        char rdevmajor[8];
        char rdevminor[8];
        char prefix[155];               /* POSIX only; GNU keeps times and sparse data here */
        char padding[12];
};

static inline bool ovf_has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a > b && strcmp(s + a - b, suffix) == 0;
}

/* Checks of a member as libarchive reports it: NULL, or why it cannot be
 * an OVA member (its name; its type: OVF_TAR_NOT_REGULAR for a type
 * libarchive does not name). */
struct archive_entry;
const char *ovf_tar_name_problem(const char *name);
const char *ovf_tar_type_problem(struct archive_entry *en);
/* Checks of a member's own header h (the block at hdr_off) against what
 * libarchive reported: a regular file, the name, the size. */
int ovf_tar_check_own_type(const struct tar_ustar_header *h, uint64_t hdr_off, const char *where, struct xerr *e);
int ovf_tar_check_name(const struct tar_ustar_header *h, uint64_t hdr_off, const char *name, const char *where,
                       struct xerr *e);
int ovf_tar_check_size(const struct tar_ustar_header *h, uint64_t hdr_off, int64_t size, const char *where,
                       struct xerr *e);
/* The header blocks of fd between from (where the previous member's data
 * ends) and the member's own header at hdr_off: at most one pax header of
 * allowed records, or one GNU long name, agreeing with name and size. */
int ovf_tar_check_ext_headers(int fd, uint64_t from, uint64_t hdr_off, const char *name, int64_t size,
                              const char *where, struct xerr *e);
/* After the last member (ending at end): the end-of-archive marker, then
 * only zero padding, up to file_size. Errors name path and last. */
int ovf_tar_check_end(int fd, const char *path, uint64_t end, uint64_t file_size, const char *last,
                      struct xerr *e);
/* libarchive's error for what failed on ar, with its errno when it has one
 * (ENOSPC, EFBIG, ...), so the message says "No space left on device". */
struct archive;
int ovf_tar_error(struct archive *ar, struct xerr *e, const char *where, const char *what);

/* The tar header the exporter writes for a member (on an archive set up
 * with archive_write_set_format_pax_restricted): regular file, 0644,
 * root:root, mtime = epoch; a pax header too when the member needs one.
 * Shared with the tests, so that "what we write is accepted" is checked on
 * the exporter's own headers. */
int ovf_tar_member_header(struct archive *ar, const char *name, uint64_t size, uint64_t epoch,
                          const char *target, struct xerr *e);
int ovf_tar_write_all(struct archive *ar, const void *buf, size_t len);
int ovf_tar_add_buf(struct archive *ar, const char *name, const void *buf, size_t len, uint64_t epoch,
                    const char *target, struct xerr *e);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void ovf_hex(const uint8_t *in, size_t n, char *out);
/* Parses exactly 2n hex digits (either case); -EINVAL otherwise. */
int ovf_unhex(const char *in, size_t in_len, uint8_t *out, size_t n);
/* SHA-256 of a buffer. */
int ovf_sha256(const void *buf, size_t len, uint8_t ret[32]);

/* Checks the model is complete and consistent (ids, names, arches, disk
 * references); used by the writer and by the reader after parsing. */
/* The hardware a consumer gets in a configuration's items (consumer.c). */
struct ovf_hw_profile {
        unsigned ctrl_type;             /* rasd:ResourceType of the disk controller: 6 or 20 */
        const char *ctrl_subtype;
        const char *nic_subtype;
        const char *system_type;        /* vssd:VirtualSystemType */
        bool vbox_machine;              /* write vbox:Machine (VirtualBox Arm) */
};
void ovf_hw_profile(enum ovf_consumer c, const struct xova_arch *a, struct ovf_hw_profile *ret);

int ovf_descriptor_validate(const struct ovf_descriptor *d, const char *where, struct xerr *e);

/* "SHA256(name)= hex\n" for each entry, in order. */
int ovf_manifest_format(const struct ovf_manifest *m, char **ret, size_t *ret_len);
/* The entry for name, or NULL; *ret_line gets its 1-based line. */
const struct ovf_manifest_entry *ovf_manifest_find(const struct ovf_manifest *m, const char *name,
                                                   size_t *ret_line);

/* .cert: "SHA256(mf_name)= <hex RSA PKCS#1 v1.5 signature of mf>\n" + PEM cert. */
int ovf_cert_sign(const char *mf_name, const void *mf, size_t mf_len, const char *key_path,
                  const char *cert_path, char **ret, size_t *ret_len, struct xerr *e);
/* Verifies a .cert over the manifest bytes; with ca_file, also the chain.
 * Failures are -XOVA_EVERIFY naming cert_name. */
int ovf_cert_verify(const char *cert_name, const char *cert, size_t cert_len, const char *mf_name,
                    const void *mf, size_t mf_len, const char *ca_file, char **ret_subject,
                    struct xerr *e);

#endif
