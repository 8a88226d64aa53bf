/* SPDX-License-Identifier: MIT */
/*
 * ovf-fixture.h - what the ovf/ unit tests share (tests/unit/ovf-fixture.c):
 * the test model and its raw images in a private directory, the good
 * bundle exported from it, and a writer of tar archives block by block.
 */
#ifndef XOVA_TESTS_OVF_FIXTURE_H
#define XOVA_TESTS_OVF_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ovf/ovf-internal.h"

struct fx {
        char *dir;
        struct ovf_descriptor d;
        struct ovf_disk disks[4];
        struct ovf_vm vms[2];
        size_t att[2][3];
};

struct good {
        char *names[8];
        char *data[8];
        size_t lens[8];
        size_t n;
};

/*
 * libarchive's writer never writes a pax path that contradicts the ustar
 * name, a negative size or a bad checksum, so these archives are built here
 * one 512-byte block at a time. A ustar header (POSIX.1-1988) is
 *   name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1]
 *   linkname[100] magic[6] version[2] uname[32] gname[32] devmajor[8]
 *   devminor[8] prefix[155], then 12 bytes of padding;
 * numbers are octal text, or (GNU base-256) binary when the first byte has
 * its top bit set. The archive ends with two zero blocks.
 */
#define TAR_BLOCK 512
#define TAR_SIZE_OFF 124
#define TAR_CHKSUM_OFF 148

struct rawtar {
        char *buf;
        size_t len;
};

char *path_in(const struct fx *f, const char *name);

int setup(void **state);

int teardown(void **state);

/* A descriptor model with hrefs and sizes as export would fill them. */
void fill_hrefs(struct fx *f);

char *write_xml(struct fx *f, size_t *len);

/* Returns a copy of s with the first occurrence of from replaced by to. */
char *replace(const char *s, const char *from, const char *to);

void write_file(const char *path, const void *buf, size_t len);

char *run_out(const char *cmd);

int export(struct fx *f, const char *name, enum ovf_export_format fmt, enum ovf_disk_format df,
           const char *key, const char *cert, bool force, struct xerr *e);

int open_bundle(struct fx *f, const char *name, const struct ovf_open_opts *o, struct ovf_bundle **b,
                struct xerr *e);

void slurp(const char *path, char **buf, size_t *len);

void read_good(struct fx *f, struct good *g);

void free_good(struct good *g);

void expect_open_fail(struct fx *f, const char *name, const char *expect);

/* appends n bytes of p, or n zero bytes if p is NULL */
void raw_append(struct rawtar *t, const void *p, size_t n);

void raw_pad(struct rawtar *t);

/* octal digits, right-aligned, NUL-terminated, in a field of `size` bytes */
void raw_octal(char *field, size_t size, uint64_t v);

/* The checksum: the sum of the header's bytes with the chksum field read as
 * eight spaces, stored as six octal digits, NUL, space. Call after every
 * edit of the header at `off`, unless the test wants it wrong. */
void raw_checksum(struct rawtar *t, size_t off);

/* Appends a ustar header (name cut at 100 bytes, as the field is); returns
 * its offset for later byte edits. */
size_t raw_header(struct rawtar *t, const char *name, char type, uint64_t size);

/* an entry of any type: header, data, zero padding to the block; returns
 * the header's offset */
size_t raw_entry(struct rawtar *t, const char *name, char type, const void *data, size_t len);

size_t raw_member(struct rawtar *t, const char *name, const void *data, size_t len);

/* one pax record "LEN key=value\n", LEN counting the whole record, its own
 * digits included */
char *pax_record(const char *key, const char *value);

/* members [from, to) of the good bundle, byte for byte as a ustar writer would */
void raw_good(struct rawtar *t, const struct good *g, size_t from, size_t to);

void raw_end(struct rawtar *t);

void raw_write(struct fx *f, const char *name, const struct rawtar *t);

void expect_open_ok(struct fx *f, const char *name);

/* The good bundle rewritten by the raw writer must open, so each refusal
 * below comes from the one hostile piece its case adds. */
void raw_read_good(struct fx *f, struct good *g);

#endif
