/* SPDX-License-Identifier: MIT */
/*
 * common.h - the only public header of common/: error values, cleanup
 * helpers, checked number and size parsing, the architecture table, derived
 * (reproducible) identifiers, child processes and atomic output files.
 *
 * common/ uses nothing else of ours (see docs/ARCHITECTURE.md).
 */
#ifndef XOVA_COMMON_H
#define XOVA_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Cleanup: _cleanup_ or one goto, never both (docs/HACKING.md)       */

#define _cleanup_(f) __attribute__((cleanup(f)))
static inline void freep(void *p) { free(*(void **) p); }
#define _cleanup_free_ _cleanup_(freep)
static inline void closep(int *fd) { if (*fd >= 0) { int e = errno; close(*fd); errno = e; } }
#define _cleanup_close_ _cleanup_(closep)
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Units every layer uses: binary sizes and the 512-byte sector of disk
 * images (GPT LBAs, VMDK grains and offsets, FAT sectors). */
#define XOVA_KiB (UINT64_C(1) << 10)
#define XOVA_MiB (UINT64_C(1) << 20)
#define XOVA_GiB (UINT64_C(1) << 30)
#define XOVA_SECTOR_SIZE UINT64_C(512)

/* The value of one hex digit, either case; -1 if c is not one. */
static inline int xova_hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* True when the n bytes at p are all zero (n == 0 included). Fast on long
 * zero runs (sparse images, grains, holes): 64 bytes per step. */
bool xova_mem_is_zero(const void *p, size_t n);

/* Little-endian fields of the on-disk formats we read (VMDK, FAT, ext4, PE). */
static inline uint16_t xova_le16(const uint8_t *p)
{
        return (uint16_t) (p[0] | p[1] << 8);
}
static inline uint32_t xova_le32(const uint8_t *p)
{
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static inline uint64_t xova_le64(const uint8_t *p)
{
        return (uint64_t) xova_le32(p) | (uint64_t) xova_le32(p + 4) << 32;
}

/* ------------------------------------------------------------------ */
/* Errors are values, never exits or prints (docs/HACKING.md)          */

/* Caller-owned, fixed size: the error path never allocates. */
struct xerr {
        int code;               /* -errno, or 0 */
        char where[256];        /* file, member, JSON path ... (may be empty) */
        char msg[512];          /* lowercase, no final period */
};

/* Exit codes of the xova binary (documented in xova(1)). */
enum {
        XOVA_EXIT_OK = 0,
        XOVA_EXIT_FAILURE = 1,
        XOVA_EXIT_USAGE = 2,
        XOVA_EXIT_VERIFY = 3,   /* digest, signature or bundle structure */
        XOVA_EXIT_TIMEOUT = 4,  /* guest did not print the marker in time */
};

/* Library-specific error codes above the errno range. */
#define XOVA_EVERIFY 4096       /* verification failed: maps to exit 3 */
#define XOVA_ETIMEOUT 4097      /* marker not seen in time: maps to exit 4 */

/* Sets *e (if e != NULL) and returns code (which must be < 0), so that
 * `return xerr_set(e, -EINVAL, path, "line %u: ...", n);` reads naturally. */
int xerr_set(struct xerr *e, int code, const char *where, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Like xerr_set but appends ": strerror(-code)". */
int xerr_set_errno(struct xerr *e, int code, const char *where, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* A tool that exited 0 but whose output is missing or wrong (its exit status
 * is not the whole truth: a broken or fake tool, a full disk it ignored):
 * code -EIO, where = the tool, as for the errors of xova_run, and msg
 * "exited 0 but " followed by fmt ("'BOOTX64.EFI' is empty"). */
int xerr_set_tool(struct xerr *e, const char *tool, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* What a check of a tool's output (r, with its detail in sub) means for
 * the build: a finding (-EBADMSG broken, -ENOENT missing, -ENOTDIR a file
 * where a directory belongs) becomes the tool's error as xerr_set_tool();
 * anything else (a read error, -ENOMEM) stays what it is. Returns e's code. */
int xerr_set_tool_finding(struct xerr *e, const char *tool, int r, const struct xerr *sub);
/* The one out-of-memory error: -ENOMEM, "out of memory", at where. Never
 * allocates (struct xerr is fixed-size), so it is safe on the OOM path. */
int xerr_oom(struct xerr *e, const char *where);
/* Prefixes the message with context ("building disk 'data': ..."); returns e->code. */
int xerr_prefix(struct xerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats "where: msg" (or "msg") into buf. */
const char *xerr_format(const struct xerr *e, char *buf, size_t size);
/* Maps an error code to an exit code (1, 3 or 4). */
int xerr_exit_code(int code);

/* Debug output only when XOVA_DEBUG is set (util-linux style); libraries never log otherwise. */
void xova_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A library's note to its caller: formats fmt and hands the line to fn (an
 * options struct's `note` callback); nothing when fn is NULL. */
void xova_note(void (*fn)(void *userdata, const char *line), void *userdata, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Outside text on a terminal (escape.c has the whole rule)            */

/* Escapes len bytes of src into dst (size bytes, NUL-terminated, cut with
 * "..." when too long): C0, DEL, C1, bidi and other hidden format characters
 * and bytes that are not well-formed UTF-8 become \n \r \t \e \xNN \u{XXXX}.
 * With XOVA_ESC_BACKSLASH a backslash becomes \\ too (quoting one name);
 * without it the call is idempotent (filtering a whole message). Returns dst. */
#define XOVA_ESC_BACKSLASH 1u
const char *xova_escape(char *dst, size_t size, const void *src, size_t len, unsigned flags);
/* A NUL-terminated string (NULL is ""), with XOVA_ESC_BACKSLASH. */
const char *xova_escape_str(char *dst, size_t size, const char *s);
/* For a message argument: XOVA_ESC(name) is the escaped name in a buffer that
 * lives until the end of the enclosing block. */
#define XOVA_ESC_MAX 256
#define XOVA_ESC(s) xova_escape_str((char[XOVA_ESC_MAX]){ 0 }, XOVA_ESC_MAX, (s))

/* ------------------------------------------------------------------ */
/* Numbers and sizes: checked parsing only (docs/HACKING.md)           */

/* Decimal only, no sign, no leading/trailing junk, no overflow. */
int xova_parse_u64(const char *s, uint64_t *ret);
/* "512", "512K", "64M", "2G", "1T" (binary units; an optional "iB"/"B" suffix is accepted). */
int xova_parse_size(const char *s, uint64_t *ret);
/* "64.0 MiB" style, into buf. */
const char *xova_format_size(uint64_t bytes, char *buf, size_t size);
/* SOURCE_DATE_EPOCH per the reproducible-builds spec: a non-negative decimal
 * integer <= 253402300799. Unset -> *ret = 0 and returns 0 (builds are then
 * still reproducible: 0 is the default epoch). Malformed -> -EINVAL with e set. */
int xova_source_date_epoch(uint64_t *ret, struct xerr *e);

/* ------------------------------------------------------------------ */
/* Architecture table: one row per supported guest architecture.      */
/* A third arch is a new row in common/arch.c.                         */

struct xova_arch {
        const char *name;              /* "x86_64", "aarch64": spec, OVF, CLI */
        const char *aliases[4];        /* other names people write ("arm64"), NULL-ended;
                                        * only suggested, never accepted */
        const char *uname;             /* uname -m on such a host */
        const char *deb_arch;          /* "amd64", "arm64" */
        const char *grub_target;       /* grub-mkimage -O: "x86_64-efi" */
        const char *grub_cpu;          /* $grub_cpu at boot: "x86_64", "arm64" */
        const char *efi_name;          /* "BOOTX64.EFI" (under EFI/BOOT/) */
        uint16_t pe_machine;           /* PE/COFF Machine of that image: 0x8664, 0xaa64 */
        const char *console;           /* kernel console: "ttyS0", "ttyAMA0" */
        const char *qemu_binary;       /* "qemu-system-x86_64" */
        const char *qemu_package;      /* the Debian package with it: "qemu-system-x86" */
        const char *qemu_machine;      /* default machine type: "q35", "virt" */
        const char *fw_arch;           /* architecture in QEMU firmware descriptors */
        const char *dps_root_type;     /* Discoverable Partitions root type GUID */
        const char *vmw_os_type;       /* VMware osType hint for OVF */
        unsigned ovf_os_id;            /* CIM OperatingSystemSection id (e.g. 101 = Linux 64-bit) */
        const char *libvirt_arch;      /* <type arch=...> */
};

extern const struct xova_arch xova_arch_table[];
extern const size_t xova_arch_count;
/* Exact name only ("aarch64"); NULL if unknown. */
const struct xova_arch *xova_arch_by_name(const char *name);
/* The row whose name or alias is `name`, any case ("AMD64" -> x86_64): for
 * "did you mean" hints; NULL if none. */
const struct xova_arch *xova_arch_by_alias(const char *name);
/* The names of all rows for a message: each in `quote`, joined by `sep`
 * ("x86_64, aarch64", "'x86_64', 'aarch64'", "x86_64 or aarch64"). Returns buf. */
const char *xova_arch_names(char *buf, size_t size, const char *quote, const char *sep);
/* The host's row (from uname), NULL if the host arch is not in the table. */
const struct xova_arch *xova_arch_host(void);

/* ------------------------------------------------------------------ */
/* Reproducible identifiers                                            */

/* HMAC-SHA256(key = seed, msg = token), first 16 bytes, made a valid RFC 4122
 * version 4 UUID (as systemd-repart's derive_uuid). */
void xova_derive_uuid(const char *seed, const char *token, uint8_t ret[16]);
/* Same derivation, first 4 bytes as a number (FAT serials). */
uint32_t xova_derive_u32(const char *seed, const char *token);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase; buf must hold 37 bytes. */
const char *xova_uuid_format(const uint8_t uuid[16], char buf[37]);

/* ------------------------------------------------------------------ */
/* Child processes                                                     */

/* Finds argv0 on PATH (also /usr/sbin:/sbin). Returns 0, or -ENOENT with e
 * naming the tool and `package` (the Debian package that provides it). */
int xova_find_tool(const char *tool, const char *package, char **ret_path, struct xerr *e);

/* Runs argv (argv[0] looked up with xova_find_tool against `package`) with
 * stdin from /dev/null, stdout discarded unless ret_stdout != NULL (then
 * captured, up to 16 MiB), stderr captured. Non-zero exit or a signal is an
 * error whose message names the tool and quotes the last lines of its
 * stderr. envp_extra: NULL or a NULL-terminated list of "K=V" to add. */
int xova_run(const char *package, char *const argv[], char *const envp_extra[],
             char **ret_stdout, struct xerr *e);

/* xova_run() with options: fds the tool must see under their numbers
 * (e.g. a verified disk or a no-follow output handed over as
 * /proc/self/fd/N; each > 2, CLOEXEC in xova, cleared in the child only). */
struct xova_run_opts {
        char *const *env_extra;
        const int *keep_fds;
        size_t n_keep_fds;
};
int xova_run_with(const char *package, char *const argv[], const struct xova_run_opts *o,
                  char **ret_stdout, struct xerr *e);

/* The one way a child is started (common/process.c): fork + execve of
 * `path` (not looked up) with stdin from /dev/null, stdout/stderr to the
 * given fds (-1 = /dev/null), default signal dispositions, an empty signal
 * mask and only fds 0-2 plus keep_fds open. An exec failure is an error
 * here (-errno), not an exit status 127 later. */
struct xova_spawn_opts {
        char *const *env_extra;         /* NULL or "K=V" list; wins over environ */
        const int *keep_fds;            /* stay open, same numbers (each > 2) */
        size_t n_keep_fds;
        int stdout_fd, stderr_fd;       /* -1 = /dev/null */
        bool pdeathsig;                 /* PR_SET_PDEATHSIG(SIGKILL): dies with xova */
        bool own_pgrp;                  /* its own process group (a terminal ^C reaches only xova) */
};
int xova_spawn(const char *path, char *const argv[], const struct xova_spawn_opts *o, pid_t *ret_pid,
               struct xerr *e);

/* ------------------------------------------------------------------ */
/* Atomic output: all or nothing at the target (docs/HACKING.md)       */

/* A file that appears at `target` only when committed. The temp lives in
 * the target's directory (O_TMPFILE where the filesystem has it, otherwise a
 * named ".NAME.xova-XXXXXX" registered for removal at exit and on
 * SIGINT/SIGTERM/SIGHUP). Freed without commit, it is removed. */
struct xova_atomic;

enum {
        XOVA_ATOMIC_REPLACE = 1 << 0,   /* an existing target may be replaced (--force) */
        XOVA_ATOMIC_NAMED = 1 << 1,     /* use a named temp even where O_TMPFILE works (tests) */
};

/* The checks xova_atomic_open / _dir_open make first (directory exists,
 * target absent unless XOVA_ATOMIC_REPLACE, right type): lets a long job
 * fail before it starts rather than at the end. */
int xova_output_check(const char *target, unsigned flags, bool is_dir, struct xerr *e);
int xova_atomic_open(const char *target, mode_t mode, unsigned flags,
                     struct xova_atomic **ret, struct xerr *e);
int xova_atomic_fd(const struct xova_atomic *a);
/* fsync(file), link/rename into place, fsync(dir). After success the object
 * still needs xova_atomic_free (which then removes nothing). */
int xova_atomic_commit(struct xova_atomic *a, struct xerr *e);
struct xova_atomic *xova_atomic_free(struct xova_atomic *a);
static inline void xova_atomic_freep(struct xova_atomic **a) { *a = xova_atomic_free(*a); }
#define _cleanup_atomic_ _cleanup_(xova_atomic_freep)

/* A directory that appears at `target` only when committed: files are
 * written into xova_atomic_dir_path() (a ".NAME.xova-XXXXXX" directory beside
 * the target, registered for removal), then the whole directory is renamed
 * into place. The temp directory may hold files and subdirectories. */
struct xova_atomic_dir;
int xova_atomic_dir_open(const char *target, unsigned flags, struct xova_atomic_dir **ret,
                         struct xerr *e);
const char *xova_atomic_dir_path(const struct xova_atomic_dir *d);
/* fsyncs every regular file in it, renames into place, fsyncs the parent. */
int xova_atomic_dir_commit(struct xova_atomic_dir *d, struct xerr *e);
struct xova_atomic_dir *xova_atomic_dir_free(struct xova_atomic_dir *d);
static inline void xova_atomic_dir_freep(struct xova_atomic_dir **d) { *d = xova_atomic_dir_free(*d); }
#define _cleanup_atomic_dir_ _cleanup_(xova_atomic_dir_freep)

/* A private work directory ("xova-work.XXXXXX") under `parent` (NULL: under
 * $TMPDIR or /tmp), registered for removal at exit and on signals. */
int xova_workdir_new(const char *parent, char **ret_path, struct xerr *e);
/* Removes a tree made by us (no symlinks followed) and unregisters it. */
int xova_workdir_remove(const char *path);

/* Stale temps. While its process lives, every named temp above (file,
 * directory, work directory) is held by a flock(LOCK_EX) on an O_CLOEXEC fd;
 * the kernel drops it when the last holder dies, SIGKILL included. This scans
 * `dir` for entries named exactly like our temps (".NAME.xova-XXXXXX" files
 * and directories, "xova-work.XXXXXX" directories, for any NAME), and removes
 * each one whose lock it can take (LOCK_NB): its owner is dead. Entries
 * whose lock is held, symlinks, FIFOs and other special files, entries owned
 * by another uid and mount points are kept; nothing is followed, and a
 * directory is removed with openat/unlinkat without leaving it.
 * xova_atomic_open, xova_atomic_dir_open and xova_workdir_new (with an
 * explicit parent) call it on the directory they create in. fn (may be NULL)
 * is called for each removed entry. Returns the number removed, or -errno if
 * `dir` cannot be read. Silent but for XOVA_DEBUG. */
typedef void (*xova_reclaim_fn)(void *userdata, const char *dir, const char *name);
int xova_reclaim_stale_temps(const char *dir, xova_reclaim_fn fn, void *userdata);

/* Removes every registered temp now (async-signal-safe part used by the
 * signal handler; exposed for tests). */
void xova_cleanup_registered(void);
/* Test hook: XOVA_DEBUG_PAUSE=<phase> makes xova_pause_point("<phase>") print
 * "xova: paused at <phase>" on stderr and sleep until a signal arrives. */
void xova_pause_point(const char *phase);

/* ------------------------------------------------------------------ */
/* Files                                                               */

/* Opens a user-named input O_RDONLY|O_NONBLOCK|O_CLOEXEC (a FIFO cannot
 * hang us), requires a regular file no larger than max_size, returns its
 * size. Errors name the path. */
int xova_open_input(const char *path, uint64_t max_size, int *ret_fd, uint64_t *ret_size,
                    struct xerr *e);
/* Reads a whole regular file (max_size cap) into a NUL-terminated buffer. */
int xova_read_file(const char *path, uint64_t max_size, char **ret_buf, size_t *ret_len,
                   struct xerr *e);
/* Full write / pwrite with EINTR and short-write handling; returns 0 or -errno. */
int xova_write_all(int fd, const void *buf, size_t len);
int xova_pwrite_all(int fd, const void *buf, size_t len, off_t off);
int xova_pread_all(int fd, void *buf, size_t len, off_t off);  /* -EIO on short read (EOF) */
/* Copies len bytes from in_fd@in_off to out_fd@out_off, keeping holes for
 * all-zero 64 KiB blocks (output must already be sized). */
/* After `tool` (mke2fs, mkfs.fat) wrote a region into the image behind fd:
 * the image must still reach byte `end`, where the region (`what`: "the
 * filesystem") ends; otherwise xerr_set_tool(). */
int xova_image_reaches(int fd, const char *tool, const char *what, uint64_t end, struct xerr *e);
int xova_copy_range(int in_fd, off_t in_off, int out_fd, off_t out_off, uint64_t len);
/* dirname/basename that allocate; NULL on OOM. */
char *xova_dirname(const char *path);
char *xova_basename(const char *path);
/* Path join "a/b"; NULL on OOM. */
char *xova_path_join(const char *a, const char *b);

/* ------------------------------------------------------------------ */
/* Progress: libraries report, cli/ renders (docs/HACKING.md).        */

typedef void (*xova_progress_fn)(void *userdata, const char *phase, uint64_t done, uint64_t total);
struct xova_progress {
        xova_progress_fn fn;            /* may be NULL */
        void *userdata;
};
static inline void xova_progress_report(const struct xova_progress *p, const char *phase,
                                        uint64_t done, uint64_t total)
{
        if (p && p->fn)
                p->fn(p->userdata, phase, done, total);
}

#endif
