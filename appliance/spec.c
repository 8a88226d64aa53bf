/* SPDX-License-Identifier: MIT */
/*
 * spec.c - the appliance spec, xova.json(5): read, parse (json-c), validate.
 *
 * Every error names the spec file and the JSON path of the offending value
 * ("xova.json: disks[1].size") and says what was expected. The spec is the
 * user's own file, but the strings in it end up in grub.cfg, OVF XML, file
 * names and kernel command lines, so every string is checked against a
 * narrow alphabet here, once, and later layers may rely on that.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "appliance/appliance.h"
#include "appliance/json.h"

#define SPEC_ARCHS_MAX 8
#define SPEC_DISKS_MAX 16
#define SPEC_PATH_MAX 4096

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

#define DISK_SIZE_MIN (4 * MiB)        /* mke2fs needs room for its metadata */
#define DISK_SIZE_MAX (2 * TiB)
#define BOOT_SIZE_MIN (32 * MiB)
#define BOOT_SIZE_MAX (4 * GiB)
#define MEMORY_MIN (64 * MiB)
#define MEMORY_MAX (1 * TiB)
#define MEMORY_DEFAULT (512 * MiB)
#define VCPUS_MAX 256

struct ctx {
        struct sj_ctx j;                /* file name, text and error, for json.c */
        const char *dir;                /* absolute directory relative paths resolve against */
};


static bool ch_name(unsigned char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
               ch == '-';
}

static bool ch_disk_name(unsigned char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

static bool ch_version(unsigned char ch)
{
        return ch > 0x20 && ch < 0x7f && !strchr("\"'\\<>&/", ch);
}

static bool ch_text(unsigned char ch)
{
        return ch >= 0x20 && ch != 0x7f;       /* UTF-8 was validated for the whole file */
}

static bool ch_cmdline(unsigned char ch)
{
        /* the command line is pasted into grub.cfg: nothing GRUB's shell-like
         * parser would interpret */
        return ch >= 0x20 && ch < 0x7f && !strchr("\"'\\$;{}`", ch);
}

static bool ch_label(unsigned char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-';
}

static bool ch_path(unsigned char ch)
{
        return ch >= 0x20 && ch != 0x7f;
}

static int resolve_path(struct ctx *c, const char *jpath, const char *p, char **ret)
{
        char *r;

        /* a NUL-free string of printable characters is all a path needs */
        r = p[0] == '/' ? strdup(p) : xova_path_join(c->dir, p);
        if (!r)
                return sj_fail(&c->j, -ENOMEM, jpath, "out of memory");
        *ret = r;
        return 0;
}

static int get_path(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                    bool required, char **ret)
{
        static const struct sj_str_rule rule = { 1, SPEC_PATH_MAX, ch_path, "a file path", false };
        char kpath[256];
        const char *s = NULL;
        int r;

        r = sj_get_string(&c->j, o, jpath, key, required, &rule, &s);
        if (r <= 0)
                return r;
        sj_jpath_key(kpath, sizeof(kpath), jpath, key);
        r = resolve_path(c, kpath, s, ret);
        return r < 0 ? r : 1;
}

/* A payload: a host path (a string, resolved like every path), or
 * {"from-root": "PATH"}: a file inside the architecture's own root content,
 * kept as given and looked up at build time (appliance_root_extract). */
static int get_payload(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                       bool required, char **ret, bool *ret_from_root)
{
        static const char *const keys[] = { "from-root", NULL };
        static const struct sj_str_rule rule = {
                1, SPEC_PATH_MAX, ch_path, "a path inside the root content, like '/vmlinuz'", false };
        struct json_object *v;
        char kpath[256];
        const char *s = NULL;
        int r;

        r = sj_get_member(&c->j, o, jpath, key, required, &v);
        if (r <= 0 || !json_object_is_type(v, json_type_object)) {
                *ret_from_root = false;
                return r <= 0 ? r : get_path(c, o, jpath, key, required, ret);
        }
        sj_jpath_key(kpath, sizeof(kpath), jpath, key);
        if ((r = sj_check_keys(&c->j, v, kpath, keys)) < 0 ||
            (r = sj_get_string(&c->j, v, kpath, "from-root", true, &rule, &s)) < 0)
                return r;
        *ret = strdup(s);
        if (!*ret)
                return sj_fail(&c->j, -ENOMEM, kpath, "out of memory");
        *ret_from_root = true;
        return 1;
}

static int dup_opt(struct ctx *c, const char *jpath, const char *s, char **ret)
{
        if (!s)
                return 0;
        *ret = strdup(s);
        if (!*ret)
                return sj_fail(&c->j, -ENOMEM, jpath, "out of memory");
        return 0;
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */

static int lookup_arch(struct ctx *c, const char *jpath, const char *name,
                       const struct xova_arch **ret)
{
        const struct xova_arch *a = xova_arch_by_name(name);
        char q[80], known[128] = "";

        if (a) {
                *ret = a;
                return 0;
        }
        /* an alias (Debian's "arm64", any case) gets the right name */
        a = xova_arch_by_alias(name);
        if (a)
                return sj_fail(&c->j, -EINVAL, jpath, "unknown architecture '%s', did you mean '%s'?",
                            sj_quote(name, strlen(name), q), a->name);
        return sj_fail(&c->j, -EINVAL, jpath, "unknown architecture '%s', expected one of %s",
                    sj_quote(name, strlen(name), q), xova_arch_names(known, sizeof(known), "'", ", "));
}

static int parse_arch(struct ctx *c, struct json_object *o, const char *jpath,
                      struct appliance_arch *ret)
{
        static const char *const keys[] = { "name", "kernel", "initrd", "cmdline", "vcpus",
                                             "memory", "machine", NULL };
        static const struct sj_str_rule name_rule = { 1, 32, ch_name, "an architecture name like 'x86_64'", false };
        static const struct sj_str_rule cmdline_rule = {
                0, 1024, ch_cmdline, "printable ASCII without \" ' \\ $ ; { } `", false };
        static const struct sj_str_rule machine_rule = { 1, 32, ch_name, "a machine type [a-z0-9._-]", false };
        const char *name = NULL, *cmdline = NULL, *machine = NULL;
        char kpath[256];
        uint64_t vcpus = 1, memory = MEMORY_DEFAULT;
        int r;

        r = sj_check_object(&c->j, o, jpath, keys);
        if (r < 0)
                return r;
        sj_jpath_key(kpath, sizeof(kpath), jpath, "name");
        if ((r = sj_get_string(&c->j, o, jpath, "name", true, &name_rule, &name)) < 0)
                return r;
        if ((r = lookup_arch(c, kpath, name, &ret->arch)) < 0)
                return r;
        if ((r = get_payload(c, o, jpath, "kernel", true, &ret->kernel, &ret->kernel_from_root)) < 0 ||
            (r = get_payload(c, o, jpath, "initrd", false, &ret->initrd, &ret->initrd_from_root)) < 0 ||
            (r = sj_get_string(&c->j, o, jpath, "cmdline", false, &cmdline_rule, &cmdline)) < 0 ||
            (r = sj_get_uint(&c->j, o, jpath, "vcpus", false, 1, VCPUS_MAX, &vcpus)) < 0 ||
            (r = sj_get_size(&c->j, o, jpath, "memory", false, MEMORY_MIN, MEMORY_MAX, &memory)) < 0 ||
            (r = sj_get_string(&c->j, o, jpath, "machine", false, &machine_rule, &machine)) < 0)
                return r;
        ret->vcpus = (unsigned) vcpus;
        ret->memory_mib = memory / MiB;
        if (cmdline && !*cmdline)
                cmdline = NULL;
        if ((r = dup_opt(c, jpath, cmdline, &ret->cmdline)) < 0 ||
            (r = dup_opt(c, jpath, machine ? machine : ret->arch->qemu_machine, &ret->machine)) < 0)
                return r;
        return 0;
}

static const char *const content_keys[] = {
        [APPLIANCE_CONTENT_DIRECTORY] = "directory",
        [APPLIANCE_CONTENT_TARBALL] = "tarball",
        [APPLIANCE_CONTENT_IMAGE] = "image",
};

static int parse_disk(struct ctx *c, struct appliance *a, struct json_object *o,
                      const char *jpath, struct appliance_disk *ret)
{
        static const char *const keys[] = { "name", "role", "arch", "size", "directory", "tarball",
                                            "image", "label", NULL };
        static const struct sj_str_rule name_rule = {
                1, 32, ch_disk_name, "a disk name [a-z0-9][a-z0-9_-]", true };
        static const struct sj_str_rule role_rule = { 1, 16, ch_name, "'root' or 'data'", false };
        static const struct sj_str_rule arch_rule = { 1, 32, ch_name, "an architecture name", false };
        static const struct sj_str_rule label_rule = { 1, 16, ch_label, "a label [A-Za-z0-9_-], at most 16 characters", false };
        const char *name = NULL, *role = NULL, *arch = NULL, *label = NULL;
        const char *content_key = NULL;
        char kpath[256];
        int r;

        r = sj_check_object(&c->j, o, jpath, keys);
        if (r < 0)
                return r;
        if ((r = sj_get_string(&c->j, o, jpath, "name", true, &name_rule, &name)) < 0 ||
            (r = sj_get_string(&c->j, o, jpath, "role", true, &role_rule, &role)) < 0)
                return r;
        sj_jpath_key(kpath, sizeof(kpath), jpath, "role");
        if (strcmp(role, "root") == 0)
                ret->role = APPLIANCE_DISK_ROOT;
        else if (strcmp(role, "data") == 0)
                ret->role = APPLIANCE_DISK_DATA;
        else
                return sj_fail(&c->j, -EINVAL, kpath, "expected 'root' or 'data', got '%s'", role);

        sj_jpath_key(kpath, sizeof(kpath), jpath, "arch");
        if ((r = sj_get_string(&c->j, o, jpath, "arch", ret->role == APPLIANCE_DISK_ROOT, &arch_rule, &arch)) < 0)
                return r;
        if (arch && ret->role == APPLIANCE_DISK_DATA)
                return sj_fail(&c->j, -EINVAL, kpath, "a data disk is shared by all architectures: remove 'arch'");
        if (arch) {
                if ((r = lookup_arch(c, kpath, arch, &ret->arch)) < 0)
                        return r;
                if (!appliance_arch_get(a, ret->arch->name))
                        return sj_fail(&c->j, -EINVAL, kpath, "architecture '%s' is not listed in 'architectures'",
                                    ret->arch->name);
        }

        ret->content = APPLIANCE_CONTENT_EMPTY;
        for (size_t k = APPLIANCE_CONTENT_DIRECTORY; k < ELEMENTSOF(content_keys); k++) {
                if (!json_object_object_get_ex(o, content_keys[k], NULL))
                        continue;
                if (content_key) {
                        sj_jpath_key(kpath, sizeof(kpath), jpath, content_keys[k]);
                        return sj_fail(&c->j, -EINVAL, kpath, "'%s' and '%s' are exclusive: give at most one content source",
                                    content_key, content_keys[k]);
                }
                content_key = content_keys[k];
                ret->content = (enum appliance_content) k;
                if ((r = get_path(c, o, jpath, content_key, true, &ret->source)) < 0)
                        return r;
        }
        if ((r = sj_get_size(&c->j, o, jpath, "size", ret->content != APPLIANCE_CONTENT_IMAGE,
                          DISK_SIZE_MIN, DISK_SIZE_MAX, &ret->size)) < 0 ||
            (r = sj_get_string(&c->j, o, jpath, "label", false, &label_rule, &label)) < 0)
                return r;
        if ((r = dup_opt(c, jpath, name, &ret->name)) < 0 ||
            (r = dup_opt(c, jpath, label, &ret->label)) < 0)
                return r;
        return 0;
}

/* "secure_boot": {"mode": "distribution"|"own-key", "ca", "key", "cert", "sign_kernels"} */
static int parse_secure_boot(struct ctx *c, struct json_object *root, struct appliance *a)
{
        static const char *const keys[] = { "mode", "ca", "key", "cert", "sign_kernels", NULL };
        static const struct sj_str_rule mode_rule = { 1, 16, ch_name, "'distribution' or 'own-key'", false };
        struct appliance_secure_boot *sb = &a->secure_boot;
        struct json_object *o, *v;
        const char *mode = NULL;
        int r;

        r = sj_get_member(&c->j, root, "", "secure_boot", false, &o);
        if (r <= 0)
                return r;
        if ((r = sj_check_object(&c->j, o, "secure_boot", keys)) < 0 ||
            (r = sj_get_string(&c->j, o, "secure_boot", "mode", true, &mode_rule, &mode)) < 0)
                return r;
        if (strcmp(mode, "distribution") == 0)
                sb->mode = BOOTPART_SB_DISTRIBUTION;
        else if (strcmp(mode, "own-key") == 0)
                sb->mode = BOOTPART_SB_OWN_KEY;
        else
                return sj_fail(&c->j, -EINVAL, "secure_boot.mode", "expected 'distribution' or 'own-key', got '%s'",
                               mode);
        if ((r = get_path(c, o, "secure_boot", "ca", false, &sb->ca)) < 0 ||
            (r = get_path(c, o, "secure_boot", "key", false, &sb->key)) < 0 ||
            (r = get_path(c, o, "secure_boot", "cert", false, &sb->cert)) < 0)
                return r;
        r = sj_get_member(&c->j, o, "secure_boot", "sign_kernels", false, &v);
        if (r < 0)
                return r;
        if (r > 0) {
                if (!json_object_is_type(v, json_type_boolean))
                        return sj_fail(&c->j, -EINVAL, "secure_boot.sign_kernels", "expected true or false, got %s",
                                       sj_type_desc(v));
                sb->sign_kernels = json_object_get_boolean(v);
        }
        if (sb->mode == BOOTPART_SB_DISTRIBUTION && (sb->key || sb->cert || sb->sign_kernels))
                return sj_fail(&c->j, -EINVAL, sb->key ? "secure_boot.key" : sb->cert ? "secure_boot.cert" :
                               "secure_boot.sign_kernels", "only for mode 'own-key': 'distribution' ships "
                               "Debian's signed loaders and kernels as they are");
        if (sb->mode == BOOTPART_SB_OWN_KEY && !sb->key != !sb->cert)
                return sj_fail(&c->j, -EINVAL, sb->key ? "secure_boot.cert" : "secure_boot.key",
                               "own-key needs both \"key\" and \"cert\" (or neither, and --sb-key/--sb-cert)");
        return 0;
}

static int parse_top(struct ctx *c, struct json_object *root, struct appliance *a)
{
        static const char *const keys[] = { "name", "version", "vendor", "description", "layout",
                                            "boot_size", "architectures", "disks", "secure_boot", NULL };
        static const struct sj_str_rule name_rule = {
                1, 64, ch_name, "a name [a-z0-9][a-z0-9._-], at most 64 characters", true };
        static const struct sj_str_rule version_rule = {
                1, 64, ch_version, "printable ASCII without space, quotes, \\, /, <, > or &", false };
        static const struct sj_str_rule vendor_rule = { 0, 256, ch_text, "text without control characters", false };
        static const struct sj_str_rule desc_rule = { 0, 4096, ch_text, "text without control characters", false };
        static const struct sj_str_rule layout_rule = { 1, 16, ch_name, "'split' or 'single'", false };
        const char *name = NULL, *version = NULL, *vendor = NULL, *desc = NULL, *layout = NULL;
        struct json_object *archs = NULL, *disks = NULL;
        size_t n;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return sj_fail(&c->j, -EINVAL, NULL, "expected a JSON object at the top level, got %s",
                            sj_type_desc(root));
        if ((r = sj_check_keys(&c->j, root, "", keys)) < 0)
                return r;
        if ((r = sj_get_string(&c->j, root, "", "name", true, &name_rule, &name)) < 0)
                return r;
        if (strstr(name, ".."))
                return sj_fail(&c->j, -EINVAL, "name", "'..' not allowed in '%s': the name becomes file names", name);
        if ((r = sj_get_string(&c->j, root, "", "version", true, &version_rule, &version)) < 0 ||
            (r = sj_get_string(&c->j, root, "", "vendor", false, &vendor_rule, &vendor)) < 0 ||
            (r = sj_get_string(&c->j, root, "", "description", false, &desc_rule, &desc)) < 0 ||
            (r = sj_get_string(&c->j, root, "", "layout", false, &layout_rule, &layout)) < 0)
                return r;
        if (layout && strcmp(layout, "single") == 0)
                a->layout = APPLIANCE_LAYOUT_SINGLE;
        else if (layout && strcmp(layout, "split") != 0)
                return sj_fail(&c->j, -EINVAL, "layout", "expected 'split' or 'single', got '%s'", layout);
        if ((r = sj_get_size(&c->j, root, "", "boot_size", false, BOOT_SIZE_MIN, BOOT_SIZE_MAX, &a->boot_size)) < 0)
                return r;
        if ((r = parse_secure_boot(c, root, a)) < 0)
                return r;
        if ((r = dup_opt(c, "name", name, &a->name)) < 0 ||
            (r = dup_opt(c, "version", version, &a->version)) < 0 ||
            (r = dup_opt(c, "vendor", vendor, &a->vendor)) < 0 ||
            (r = dup_opt(c, "description", desc, &a->description)) < 0)
                return r;

        if ((r = sj_get_array(&c->j, root, "", "architectures", true, 1, SPEC_ARCHS_MAX, &archs)) < 0)
                return r;
        n = json_object_array_length(archs);
        a->archs = calloc(n, sizeof(*a->archs));
        if (!a->archs)
                return sj_fail(&c->j, -ENOMEM, "architectures", "out of memory");
        for (size_t i = 0; i < n; i++) {
                char jpath[64], npath[80];
                snprintf(jpath, sizeof(jpath), "architectures[%zu]", i);
                r = parse_arch(c, json_object_array_get_idx(archs, i), jpath, &a->archs[i]);
                a->n_archs = i + 1;     /* so that appliance_free releases what was set */
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++)
                        if (a->archs[k].arch == a->archs[i].arch) {
                                snprintf(npath, sizeof(npath), "%s.name", jpath);
                                return sj_fail(&c->j, -EINVAL, npath, "architecture '%s' is already listed as architectures[%zu]",
                                            a->archs[i].arch->name, k);
                        }
        }

        if ((r = sj_get_array(&c->j, root, "", "disks", false, 0, SPEC_DISKS_MAX, &disks)) < 0)
                return r;
        n = disks ? json_object_array_length(disks) : 0;
        if (n > 0) {
                a->disks = calloc(n, sizeof(*a->disks));
                if (!a->disks)
                        return sj_fail(&c->j, -ENOMEM, "disks", "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                char jpath[64], npath[80];
                struct appliance_disk *d = &a->disks[i];
                snprintf(jpath, sizeof(jpath), "disks[%zu]", i);
                r = parse_disk(c, a, json_object_array_get_idx(disks, i), jpath, d);
                a->n_disks = i + 1;
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++) {
                        const struct appliance_disk *o = &a->disks[k];
                        if (strcmp(o->name, d->name) == 0 && o->arch == d->arch) {
                                snprintf(npath, sizeof(npath), "%s.name", jpath);
                                return sj_fail(&c->j, -EINVAL, npath, "disk '%s'%s%s is already defined as disks[%zu]",
                                            d->name, d->arch ? " for " : "", d->arch ? d->arch->name : "", k);
                        }
                        if (d->role == APPLIANCE_DISK_ROOT && o->role == APPLIANCE_DISK_ROOT &&
                            o->arch == d->arch) {
                                snprintf(npath, sizeof(npath), "%s.arch", jpath);
                                return sj_fail(&c->j, -EINVAL, npath, "architecture '%s' already has a root disk (disks[%zu]): exactly one per architecture",
                                            d->arch->name, k);
                        }
                }
        }
        for (size_t i = 0; i < a->n_archs; i++)
                if (!appliance_root_disk(a, a->archs[i].arch))
                        return sj_fail(&c->j, -EINVAL, "disks", "no root disk for architecture '%s' (architectures[%zu]): add a disk with \"role\": \"root\", \"arch\": \"%s\"",
                                    a->archs[i].arch->name, i, a->archs[i].arch->name);
        for (size_t i = 0; i < a->n_archs; i++) {
                const struct appliance_arch *aa = &a->archs[i];
                const struct appliance_disk *d = appliance_root_disk(a, aa->arch);
                char kpath[96];
                if (!aa->kernel_from_root && !aa->initrd_from_root)
                        continue;
                snprintf(kpath, sizeof(kpath), "architectures[%zu].%s", i,
                         aa->kernel_from_root ? "kernel" : "initrd");
                if (d->content != APPLIANCE_CONTENT_DIRECTORY && d->content != APPLIANCE_CONTENT_TARBALL)
                        return sj_fail(&c->j, -EINVAL, kpath, "\"from-root\" needs the root disk of '%s' to "
                                    "have a \"directory\" or \"tarball\"", aa->arch->name);
        }
        return 0;
}

static void json_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}

/* The spec's directory made absolute (lexically: the file need not exist),
 * so resolved paths stay valid if the caller changes directory. */
static char *spec_dir_abs(const char *path)
{
        _cleanup_free_ char *dir = xova_dirname(path), *cwd = NULL;

        if (!dir)
                return NULL;
        if (dir[0] == '/')
                return TAKE_PTR(dir);
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return NULL;
        if (strcmp(dir, ".") == 0)
                return TAKE_PTR(cwd);
        return xova_path_join(cwd, dir);
}

int appliance_parse(const char *buf, size_t len, const char *path, struct appliance **ret,
                    struct xerr *e)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        _cleanup_(json_putp) struct json_object *root = NULL;
        struct ctx c = { .j = { .file = path ? path : "<spec>", .e = e } };
        int r;

        if (len > APPLIANCE_SPEC_MAX)
                return sj_fail(&c.j, -EFBIG, NULL, "spec is %zu bytes, more than the limit of %u",
                               len, APPLIANCE_SPEC_MAX);
        r = sj_parse(&c.j, buf, len, &root);
        sj_ctx_release(&c.j);
        if (r < 0)
                return r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return sj_fail(&c.j, -ENOMEM, NULL, "out of memory");
        a->spec_path = strdup(c.j.file);
        a->spec_dir = spec_dir_abs(c.j.file);
        if (!a->spec_path || !a->spec_dir)
                return sj_fail(&c.j, -ENOMEM, NULL, "cannot resolve the spec's directory");
        c.dir = a->spec_dir;
        r = parse_top(&c, root, a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int appliance_load(const char *path, struct appliance **ret, struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        /* refused unread when larger than the cap (xova_read_file checks fstat first) */
        r = xova_read_file(path, APPLIANCE_SPEC_MAX, &buf, &len, e);
        if (r < 0)
                return r;
        return appliance_parse(buf, len, path, ret, e);
}

/* ------------------------------------------------------------------ */
/* Sources                                                             */

static int check_file(const char *spec, const char *jpath, const char *path, uint64_t max,
                      struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        struct xerr sub = { 0 };
        char where[sizeof(e->where)];
        int r;

        r = xova_open_input(path, max, &fd, NULL, &sub);
        if (r < 0) {
                snprintf(where, sizeof(where), "%s: %s", spec, jpath);
                return xerr_set(e, r, where, "'%s': %s", path, sub.msg);
        }
        return 0;
}

static int check_dir(const char *spec, const char *jpath, const char *path, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        char where[sizeof(e->where)];
        struct stat st;

        snprintf(where, sizeof(where), "%s: %s", spec, jpath);
        /* O_NONBLOCK: a FIFO in place of the directory must not hang us */
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOTDIR)
                return xerr_set(e, -ENOTDIR, where, "'%s' is not a directory", path);
        if (fd < 0)
                return xerr_set_errno(e, -errno, where, "cannot open directory '%s'", path);
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, where, "cannot stat '%s'", path);
        if (!S_ISDIR(st.st_mode))
                return xerr_set(e, -ENOTDIR, where, "'%s' is not a directory", path);
        return 0;
}

int appliance_check_sources(const struct appliance *a, struct xerr *e)
{
        /* payloads go into the FAT USP (<= 4 GiB); images into disks (<= 2 TiB) */
        const uint64_t payload_max = BOOT_SIZE_MAX, image_max = DISK_SIZE_MAX;
        char jpath[128];
        int r;

        for (size_t i = 0; i < a->n_archs; i++) {
                snprintf(jpath, sizeof(jpath), "architectures[%zu].kernel", i);
                if (!a->archs[i].kernel_from_root &&
                    (r = check_file(a->spec_path, jpath, a->archs[i].kernel, payload_max, e)) < 0)
                        return r;
                if (!a->archs[i].initrd || a->archs[i].initrd_from_root)
                        continue;
                snprintf(jpath, sizeof(jpath), "architectures[%zu].initrd", i);
                if ((r = check_file(a->spec_path, jpath, a->archs[i].initrd, payload_max, e)) < 0)
                        return r;
        }
        for (size_t i = 0; i < a->n_disks; i++) {
                const struct appliance_disk *d = &a->disks[i];
                if (d->content == APPLIANCE_CONTENT_EMPTY)
                        continue;
                snprintf(jpath, sizeof(jpath), "disks[%zu].%s", i, content_keys[d->content]);
                if (d->content == APPLIANCE_CONTENT_DIRECTORY)
                        r = check_dir(a->spec_path, jpath, d->source, e);
                else
                        r = check_file(a->spec_path, jpath, d->source,
                                       d->content == APPLIANCE_CONTENT_IMAGE ? image_max : UINT64_MAX, e);
                if (r < 0)
                        return r;
                if (d->content == APPLIANCE_CONTENT_IMAGE && d->size) {
                        struct stat st;
                        if (stat(d->source, &st) == 0 && (uint64_t) st.st_size > d->size) {
                                char where[sizeof(e->where)];
                                snprintf(where, sizeof(where), "%s: disks[%zu].size", a->spec_path, i);
                                return xerr_set(e, -EFBIG, where, "image '%s' is %llu bytes, larger than the disk size %llu",
                                                d->source, (unsigned long long) st.st_size,
                                                (unsigned long long) d->size);
                        }
                }
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */

struct appliance *appliance_free(struct appliance *a)
{
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_archs; i++) {
                free(a->archs[i].kernel);
                free(a->archs[i].initrd);
                free(a->archs[i].cmdline);
                free(a->archs[i].machine);
        }
        free(a->archs);
        for (size_t i = 0; i < a->n_disks; i++) {
                free(a->disks[i].name);
                free(a->disks[i].source);
                free(a->disks[i].label);
        }
        free(a->disks);
        free(a->spec_path);
        free(a->spec_dir);
        free(a->name);
        free(a->secure_boot.ca);
        free(a->secure_boot.key);
        free(a->secure_boot.cert);
        free(a->version);
        free(a->vendor);
        free(a->description);
        free(a);
        return NULL;
}

const struct appliance_arch *appliance_arch_get(const struct appliance *a, const char *name)
{
        for (size_t i = 0; a && name && i < a->n_archs; i++)
                if (a->archs[i].arch && strcmp(a->archs[i].arch->name, name) == 0)
                        return &a->archs[i];
        return NULL;
}

const struct appliance_disk *appliance_root_disk(const struct appliance *a,
                                                 const struct xova_arch *arch)
{
        for (size_t i = 0; a && arch && i < a->n_disks; i++)
                if (a->disks[i].role == APPLIANCE_DISK_ROOT && a->disks[i].arch == arch)
                        return &a->disks[i];
        return NULL;
}
