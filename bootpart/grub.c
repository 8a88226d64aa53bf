/* SPDX-License-Identifier: MIT */
/*
 * GRUB for the universal system partition: the module directory per arch,
 * the EFI images (grub-mkimage with an embedded early config) and the one
 * grub.cfg that every arch reads.
 *
 * grub-mkimage is run as a tool rather than linked: GRUB ships no library,
 * and the amd64 binary builds arm64-efi images too when -d points at the
 * arm64 modules, so building for aarch64 on x86_64 costs nothing extra.
 * grub.cfg is written by hand because it is a few lines of GRUB script that
 * no library generates.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"
#include "bootpart/bootpart.h"
#include "bootpart/bootpart-internal.h"

/* Modules linked into every image. search_* and configfile for the early
 * config; normal (script parser with `if`) for grub.cfg; linux/initrd/gzio
 * to boot; all_video/efi_gop so a graphical console works too. */
static const char *const grub_modules[] = {
        "part_gpt", "part_msdos", "fat", "search", "search_fs_file", "search_fs_uuid",
        "search_label", "normal", "configfile", "linux", "boot", "echo", "test", "true",
        "sleep", "reboot", "halt", "ls", "cat", "minicmd", "gzio", "all_video", "efi_gop",
};

/* The early config is run by GRUB's rescue parser (normal.mod is not
 * loaded yet): plain commands and $var only, no `if`. On EFI, GRUB has set
 * $root to the partition the image was loaded from, so --hint finds our
 * grub.cfg first and only then scans other disks. */
static const char early_cfg[] =
        "search --no-floppy --set=root --hint=\"$root\" --file /EFI/BOOT/grub.cfg\n"
        "set prefix=($root)/EFI/BOOT\n"
        "configfile ($root)/EFI/BOOT/grub.cfg\n";

/* A shape check only (not libuuid's uuid_parse): it guards text that goes
 * into grub.cfg and libfdisk, which parse the value themselves. */
bool bootpart_uuid_string_valid(const char *s)
{
        static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

        if (!s || strlen(s) != sizeof(pattern) - 1)
                return false;
        for (size_t i = 0; pattern[i]; i++) {
                if (pattern[i] == '-' ? s[i] != '-' : xova_hex_digit(s[i]) < 0)
                        return false;
        }
        return true;
}

void bootpart_strv_free(char **v)
{
        if (!v)
                return;
        for (size_t i = 0; v[i]; i++)
                free(v[i]);
        free(v);
}

static int strv_push(char ***v, size_t *n, const char *s)
{
        char **t;

        if (!s)
                return 0;
        t = realloc(*v, (*n + 2) * sizeof(**v));
        if (!t)
                return -ENOMEM;
        *v = t;
        t[*n] = strdup(s);
        if (!t[*n])
                return -ENOMEM;
        t[++*n] = NULL;
        return 0;
}

int bootpart_grub_search_path(const char *const *dirs, char ***ret, struct xerr *e)
{
        _cleanup_free_ char *env = NULL, *user = NULL, *sys = NULL;
        char **v = NULL;
        size_t n = 0;
        int r = 0;

        if (dirs && dirs[0]) {
                for (size_t i = 0; dirs[i] && r == 0; i++)
                        r = strv_push(&v, &n, dirs[i]);
        } else if (getenv("XOVA_GRUB_PATH")) {
                env = strdup(getenv("XOVA_GRUB_PATH"));
                if (!env)
                        r = -ENOMEM;
                for (char *save = NULL, *t = env ? strtok_r(env, ":", &save) : NULL; t && r == 0;
                     t = strtok_r(NULL, ":", &save))
                        r = strv_push(&v, &n, t);
        }
        if (r == 0)
                r = bootpart_loaders_grub_roots(&user, &sys);
        if (r == 0)
                r = strv_push(&v, &n, user);
        if (r == 0)
                r = strv_push(&v, &n, sys);
        if (r == 0)
                r = strv_push(&v, &n, "/usr/lib/grub");
        if (r < 0) {
                bootpart_strv_free(v);
                return xerr_set(e, r, "grub", "out of memory");
        }
        *ret = v;
        return 0;
}

/* A root inside a loaders cache: its parent (CACHE/loaders) holds CACHEDIR.TAG. */
static bool in_loaders_cache(const char *root)
{
        _cleanup_free_ char *parent = xova_dirname(root), *tag = NULL;
        struct stat st;

        if (!parent || !(tag = xova_path_join(parent, "CACHEDIR.TAG")))
                return false;
        return lstat(tag, &st) == 0 && S_ISREG(st.st_mode);
}

int bootpart_grub_dir(const struct bootpart_usp *u, const struct xova_arch *arch, char **ret,
                      struct xerr *e)
{
        char **owned = NULL;
        const char *const *roots;
        char tried[400] = "";
        size_t o = 0;
        int r;

        if (!arch)
                return xerr_set(e, -EINVAL, "grub", "no architecture given");
        if (u && u->grub_dirs) {
                roots = u->grub_dirs;
        } else {
                r = bootpart_grub_search_path(NULL, &owned, e);
                if (r < 0)
                        return r;
                roots = (const char *const *) owned;
        }
        r = -ENOENT;
        for (size_t i = 0; roots[i] && r == -ENOENT; i++) {
                _cleanup_free_ char *dir = NULL, *dep = NULL, *manifest = NULL;
                struct stat st;

                if (asprintf(&dir, "%s/%s", roots[i], arch->grub_target) < 0 ||
                    asprintf(&manifest, "%s.manifest", dir) < 0 ||
                    !(dep = xova_path_join(dir, "moddep.lst"))) {
                        r = xerr_oom(e, arch->grub_target);
                        break;
                }
                if (stat(dep, &st) == 0 && S_ISREG(st.st_mode)) {
                        bool has_manifest = lstat(manifest, &st) == 0;
                        if (has_manifest) {
                                /* fetched by xova loaders: must still be what was fetched */
                                struct xerr sub = { 0 };
                                int v = bootpart_loaders_verify(dir, &sub);
                                if (v < 0) {
                                        r = xerr_set(e, v, arch->grub_target,
                                                     "%s (run 'xova loaders fetch --arch %s' to fetch it again)",
                                                     xerr_format(&sub, (char[400]){ 0 }, 400), arch->name);
                                        break;
                                }
                        }
                        if (has_manifest || !in_loaders_cache(roots[i])) {
                                *ret = TAKE_PTR(dir);
                                r = 0;
                                break;
                        }
                }
                if (o < sizeof(tried)) {
                        int k = snprintf(tried + o, sizeof(tried) - o, "%s'%s'", o ? ", " : "", dir);
                        if (k > 0)
                                o += (size_t) k;
                }
        }
        bootpart_strv_free(owned);
        if (r != -ENOENT)
                return r;
        return xerr_set(e, -ENOENT, arch->grub_target,
                        "no GRUB modules (moddep.lst) in %s (run 'xova loaders fetch --arch %s', or "
                        "install the Debian package 'grub-efi-%s-bin')",
                        tried[0] ? tried : "any directory", arch->name, arch->deb_arch);
}

/* Characters that could end a quoted word, start an expansion or a new
 * command in GRUB script. The spec parser already validated the cmdline;
 * this is the second line of defence, because the text ends up inside a
 * script that the firmware runs. */
static int check_cfg_text(const char *what, const struct xova_arch *arch, const char *s,
                          struct xerr *e)
{
        for (size_t i = 0; s[i]; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f || strchr("\"'\\$;{}`", c)) {
                        if (c < 0x20 || c == 0x7f)
                                return xerr_set(e, -EINVAL, arch->name,
                                                "%s: control character 0x%02x at offset %zu is not "
                                                "allowed in grub.cfg", what, c, i);
                        return xerr_set(e, -EINVAL, arch->name,
                                        "%s: character '%c' at offset %zu is not allowed in grub.cfg",
                                        what, c, i);
                }
        }
        return 0;
}

int bootpart_grub_cfg(const struct bootpart_payload *p, size_t n, char **ret, struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, n_initrd = 0;
        FILE *f;
        int r;

        if (!p || n == 0)
                return xerr_set(e, -EINVAL, "grub.cfg", "no boot payloads");
        for (size_t i = 0; i < n; i++) {
                if (!p[i].arch || !p[i].arch->grub_cpu)
                        return xerr_set(e, -EINVAL, "grub.cfg", "payload %zu has no architecture", i);
                for (size_t j = 0; j < i; j++)
                        if (p[j].arch == p[i].arch)
                                return xerr_set(e, -EINVAL, p[i].arch->name,
                                                "architecture given twice (payloads %zu and %zu)", j, i);
                if (p[i].root_partuuid[0] && !bootpart_uuid_string_valid(p[i].root_partuuid))
                        return xerr_set(e, -EINVAL, p[i].arch->name,
                                        "root PARTUUID is not a UUID");
                if (p[i].cmdline) {
                        r = check_cfg_text("kernel cmdline", p[i].arch, p[i].cmdline, e);
                        if (r < 0)
                                return r;
                }
                if (p[i].initrd)
                        n_initrd++;
        }

        f = open_memstream(&buf, &len);
        if (!f)
                return xerr_oom(e, "grub.cfg");
        fputs("# xova universal system partition: one grub.cfg for every architecture.\n"
              "# $grub_cpu says which GRUB runs; each branch picks that arch's payload.\n"
              "set timeout=0\n"
              "set timeout_style=hidden\n"
              "set xova_arch=\"\"\n", f);
        for (size_t i = 0; i < n; i++) {
                const struct xova_arch *a = p[i].arch;
                fprintf(f, "%s [ \"$grub_cpu\" = \"%s\" ]; then\n", i == 0 ? "if" : "elif", a->grub_cpu);
                fprintf(f, "        set xova_arch=\"%s\"\n", a->name);
                fprintf(f, "        set xova_dir=\"/%s\"\n", a->name);
                fprintf(f, "        set xova_initrd=\"%s\"\n", p[i].initrd ? "1" : "");
                fprintf(f, "        set xova_args=\"console=%s", a->console);
                if (p[i].root_partuuid[0])
                        fprintf(f, " root=PARTUUID=%s", p[i].root_partuuid);
                fputs(" panic=-1", f);
                if (p[i].cmdline && p[i].cmdline[0])
                        fprintf(f, " %s", p[i].cmdline);
                fputs("\"\n", f);
        }
        fputs("else\n"
              "        echo \"xova: this appliance has no boot payload for grub_cpu=$grub_cpu\"\n"
              "        sleep 5\n"
              "        halt\n"
              "fi\n"
              "# a menuentry runs in a new scope: only exported variables reach it\n"
              "export xova_arch xova_dir xova_initrd xova_args\n"
              "menuentry \"xova ($xova_arch)\" {\n"
              "        echo \"xova: booting $xova_dir/vmlinuz on $grub_cpu-$grub_platform\"\n"
              "        linux $xova_dir/vmlinuz $xova_args\n", f);
        /* The initrd line appears only when an initrd exists: unconditional
         * when every arch has one, guarded when only some have. */
        if (n_initrd == n)
                fputs("        initrd $xova_dir/initrd.img\n", f);
        else if (n_initrd > 0)
                fputs("        if [ \"$xova_initrd\" = \"1\" ]; then\n"
                      "                initrd $xova_dir/initrd.img\n"
                      "        fi\n", f);
        fputs("}\n", f);
        if (fclose(f) != 0 || !buf)
                return xerr_oom(e, "grub.cfg");
        *ret = TAKE_PTR(buf);
        return 0;
}

static int write_text(const char *path, const char *text, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        int r;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return xerr_set_errno(e, -errno, path, "cannot create");
        r = xova_write_all(fd, text, strlen(text));
        if (r < 0)
                return xerr_set_errno(e, r, path, "cannot write");
        if (close(TAKE_FD(fd)) < 0)
                return xerr_set_errno(e, -errno, path, "cannot write");
        return 0;
}

/*
 * PE/COFF as the UEFI firmware loads it (Microsoft PE format spec): "MZ" at
 * 0, e_lfanew at 0x3c, "PE\0\0" there, the 20-byte COFF header (Machine,
 * NumberOfSections, ..., SizeOfOptionalHeader), the optional header (magic
 * 0x20b = PE32+, Subsystem at +68; 10 = EFI application) and the section
 * table (40 bytes each: PointerToRawData at +20, SizeOfRawData at +16).
 * GRUB's images keep all headers in the first page (0x80 + 24 + 240 + 4 * 40
 * bytes for grub-mkimage 2.06), so one 4 KiB read is enough, and the last
 * section ends exactly at the end of the file: a truncated image shows.
 */
#define PE_HEAD_MAX 4096

int bootpart_pe_check(const char *path, const char *name, uint16_t machine, const char *tool,
                      struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        uint8_t h[PE_HEAD_MAX];
        uint32_t pe, sect, nsec, optsz;
        struct stat st;
        size_t len;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT)
                return xerr_set_tool(e, tool, "'%s' was not written", name);
        if (fd < 0)
                return xerr_set_errno(e, -errno, path, "cannot open");
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, path, "cannot stat");
        if (!S_ISREG(st.st_mode))
                return xerr_set_tool(e, tool, "'%s' is not a regular file", name);
        if (st.st_size == 0)
                return xerr_set_tool(e, tool, "'%s' is empty", name);
        len = st.st_size < PE_HEAD_MAX ? (size_t) st.st_size : PE_HEAD_MAX;
        do
                n = pread(fd, h, len, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return xerr_set_errno(e, -errno, path, "cannot read");
        len = (size_t) n;
        if (len < 0x40 || h[0] != 'M' || h[1] != 'Z')
                return xerr_set_tool(e, tool, "'%s' is not a PE image (no 'MZ' header)", name);
        pe = xova_le32(h + 0x3c);
        if (pe > len - 24 && len == (size_t) st.st_size && pe < PE_HEAD_MAX)
                return xerr_set_tool(e, tool, "'%s' is truncated: %zu bytes, its PE header is at "
                                     "offset %" PRIu32, name, len, pe);
        if (pe > len - 24 || memcmp(h + pe, "PE\0\0", 4) != 0)
                return xerr_set_tool(e, tool, "'%s' is not a PE image (no PE signature at offset %" PRIu32
                                     ")", name, pe);
        if (xova_le16(h + pe + 4) != machine)
                return xerr_set_tool(e, tool, "'%s' is a PE image for machine 0x%04x, want 0x%04x", name,
                                     xova_le16(h + pe + 4), machine);
        nsec = xova_le16(h + pe + 6);
        optsz = xova_le16(h + pe + 20);
        sect = pe + 24 + optsz;
        if (sect + 40 * nsec > len && len == (size_t) st.st_size)
                return xerr_set_tool(e, tool, "'%s' is truncated: %zu bytes, its PE headers end at "
                                     "byte %" PRIu32, name, len, sect + 40 * nsec);
        if (sect + 40 * nsec > len)
                return xerr_set_tool(e, tool, "'%s' has PE headers beyond its first %d bytes", name,
                                     PE_HEAD_MAX);
        if (optsz < 70 || nsec == 0)
                return xerr_set_tool(e, tool, "'%s' has no PE optional header or no sections", name);
        if (xova_le16(h + pe + 24) != 0x20b || xova_le16(h + pe + 24 + 68) != 10)
                return xerr_set_tool(e, tool, "'%s' is not a PE32+ EFI application (magic 0x%04x, "
                                     "subsystem %u)", name, xova_le16(h + pe + 24),
                                     xova_le16(h + pe + 24 + 68));
        for (uint32_t i = 0; i < nsec; i++) {
                const uint8_t *s = h + sect + 40 * i;
                uint64_t end = (uint64_t) xova_le32(s + 20) + xova_le32(s + 16);
                if (end > (uint64_t) st.st_size)
                        return xerr_set_tool(e, tool, "'%s' is truncated: section %" PRIu32 " ends at "
                                             "byte %" PRIu64 ", the file has %" PRIu64, name, i + 1,
                                             end, (uint64_t) st.st_size);
        }
        return 0;
}

static int make_shim(const struct bootpart_usp *u, const struct xova_arch *a, const char *early,
                     const char *sbat, const char *out, struct xerr *e)
{
        _cleanup_free_ char *moddir = NULL;
        const char *argv[16 + ELEMENTSOF(grub_modules)];
        size_t k = 0;
        int r;

        r = bootpart_grub_dir(u, a, &moddir, e);
        if (r < 0)
                return r;
        argv[k++] = "grub-mkimage";
        argv[k++] = "-O";
        argv[k++] = a->grub_target;
        argv[k++] = "-d";
        argv[k++] = moddir;
        argv[k++] = "-p";
        argv[k++] = "/EFI/BOOT";
        argv[k++] = "-c";
        argv[k++] = early;
        argv[k++] = "-o";
        argv[k++] = out;
        if (sbat) {     /* own-key Secure Boot: shim wants SBAT metadata */
                argv[k++] = "--sbat";
                argv[k++] = sbat;
        }
        for (size_t i = 0; i < ELEMENTSOF(grub_modules); i++)
                argv[k++] = grub_modules[i];
        /* UGA is the pre-GOP video protocol of old x86 firmware; there is no
         * efi_uga module for arm64. */
        if (strcmp(a->grub_target, "x86_64-efi") == 0)
                argv[k++] = "efi_uga";
        argv[k] = NULL;
        r = xova_run("grub-common", (char *const *) argv, NULL, NULL, e);
        if (r >= 0)     /* its exit status is not proof: check the image */
                r = bootpart_pe_check(out, a->efi_name, a->pe_machine, "grub-mkimage", e);
        if (r < 0)
                return xerr_prefix(e, "cannot build the GRUB image for %s", a->name);
        return 0;
}

void bootpart_stage_done(struct bootpart_stage *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < ELEMENTSOF(s->shim); i++) {
                s->shim[i] = (free(s->shim[i]), NULL);
                s->second[i] = (free(s->second[i]), NULL);
                s->kernel[i] = (free(s->kernel[i]), NULL);
        }
        s->db_cert = (free(s->db_cert), NULL);
        s->grub_cfg = (free(s->grub_cfg), NULL);
        s->dir = (free(s->dir), NULL);
}

int bootpart_stage_build(const struct bootpart_usp *u, struct bootpart_stage *ret,
                         struct xerr *e)
{
        _cleanup_(bootpart_stage_done) struct bootpart_stage s = { 0 };
        _cleanup_free_ char *early = NULL, *cfg = NULL;
        enum bootpart_sb_mode sb;
        int r;

        if (!u || !u->workdir)
                return xerr_set(e, -EINVAL, "boot partition", "no work directory");
        if (u->n_payloads > ELEMENTSOF(s.shim))
                return xerr_set(e, -E2BIG, "boot partition", "%zu payloads, at most %zu",
                                u->n_payloads, ELEMENTSOF(s.shim));
        r = bootpart_grub_cfg(u->payloads, u->n_payloads, &cfg, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < u->n_payloads; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(u->payloads[i].arch->efi_name, u->payloads[j].arch->efi_name) == 0)
                                return xerr_set(e, -EINVAL, u->payloads[i].arch->name,
                                                "EFI file name '%s' used twice",
                                                u->payloads[i].arch->efi_name);

        s.dir = xova_path_join(u->workdir, "usp");
        if (!s.dir)
                return xerr_oom(e, "boot partition");
        early = xova_path_join(s.dir, "early.cfg");
        s.grub_cfg = xova_path_join(s.dir, "grub.cfg");
        if (!early || !s.grub_cfg)
                return xerr_oom(e, "boot partition");
        if (mkdir(s.dir, 0755) < 0 && errno != EEXIST)
                return xerr_set_errno(e, -errno, s.dir, "cannot create directory");
        r = write_text(early, early_cfg, e);
        if (r < 0)
                return r;
        r = write_text(s.grub_cfg, cfg, e);
        if (r < 0)
                return r;
        s.cfg_dir = "EFI/BOOT";
        sb = u->secure_boot ? u->secure_boot->mode : BOOTPART_SB_OFF;
        for (size_t i = 0; sb != BOOTPART_SB_DISTRIBUTION && i < u->n_payloads; i++) {
                const struct xova_arch *a = u->payloads[i].arch;
                s.shim[i] = xova_path_join(s.dir, a->efi_name);
                if (!s.shim[i])
                        return xerr_oom(e, "boot partition");
                _cleanup_free_ char *sbat = NULL;
                if (sb == BOOTPART_SB_OWN_KEY) {
                        char name[64];
                        snprintf(name, sizeof(name), "sbat-%s.csv", a->name);
                        sbat = xova_path_join(s.dir, name);
                        if (!sbat)
                                return xerr_oom(e, "boot partition");
                        r = bootpart_sb_sbat(u, a, sbat, e);
                        if (r < 0)
                                return r;
                }
                r = make_shim(u, a, early, sbat, s.shim[i], e);
                if (r < 0)
                        return r;
        }
        if (sb != BOOTPART_SB_OFF) {
                r = bootpart_sb_stage(u, &s, e);
                if (r < 0)
                        return r;
        }
        *ret = s;
        s = (struct bootpart_stage) { 0 };
        return 0;
}
