/* SPDX-License-Identifier: MIT */
/*
 * UEFI firmware from QEMU's firmware descriptors (docs/interop/firmware.json):
 * the same choice libvirt makes, so `xova run` and `xova deploy` boot with
 * the firmware the distribution meant for that machine. Files are read in
 * name order: the numeric prefixes are the distribution's priority.
 */
#include "config.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "hv/hv-internal.h"

#define FW_DESCRIPTOR_MAX (64 * 1024)

struct hv_firmware *hv_firmware_free(struct hv_firmware *f)
{
        if (!f)
                return NULL;
        free(f->descriptor);
        free(f->executable);
        free(f->executable_format);
        free(f->nvram_template);
        free(f->nvram_format);
        free(f);
        return NULL;
}

static void fw_freep(struct hv_firmware **f) { *f = hv_firmware_free(*f); }
static void json_putp(json_object **o) { if (*o) json_object_put(*o); }

bool hv_machine_name_valid(const char *m)
{
        if (!m || !*m || strlen(m) > 64)
                return false;
        for (const char *p = m; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
                        return false;
        return true;
}

bool hv_machine_matches(const char *pattern, const char *machine)
{
        /* QEMU's alias names versus the versioned names in the descriptors:
         * "q35" is the newest "pc-q35-X.Y", "pc" the newest "pc-i440fx-X.Y",
         * "virt" the newest "virt-X.Y". "-latest" stands for any version. */
        static const struct { const char *alias, *versioned; } aliases[] = {
                { "q35", "pc-q35-latest" },
                { "pc", "pc-i440fx-latest" },
                { "virt", "virt-latest" },
        };

        if (fnmatch(pattern, machine, 0) == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (strcmp(machine, aliases[i].alias) == 0 &&
                    fnmatch(pattern, aliases[i].versioned, 0) == 0)
                        return true;
        return false;
}

static bool str_in_array(json_object *arr, const char *s)
{
        if (!arr || !json_object_is_type(arr, json_type_array))
                return false;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *v = json_object_array_get_idx(arr, i);
                if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), s) == 0)
                        return true;
        }
        return false;
}

static const char *get_str(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* Checks one descriptor. Returns 1 and fills *ret if it fits, 0 if it does
 * not (why in skip[], for the final message), <0 on a broken file. */
static int fw_consider(const char *path, const struct xova_arch *arch, const char *machine,
                       bool secure_boot, struct hv_firmware **ret, char *skip, size_t skip_size,
                       struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_(json_putp) json_object *root = NULL;
        _cleanup_(fw_freep) struct hv_firmware *fw = NULL;
        json_object *mapping, *targets, *features, *itypes, *exec, *nv;
        enum json_tokener_error jerr;
        json_tokener *tok;
        const char *device;
        bool target_ok = false, secure;
        size_t len;
        int r;

        r = xova_read_file(path, FW_DESCRIPTOR_MAX, &buf, &len, e);
        if (r < 0)
                return r;
        tok = json_tokener_new();
        if (!tok)
                return xerr_set(e, -ENOMEM, path, "out of memory");
        root = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        if (!root || jerr != json_tokener_success) {
                size_t off = json_tokener_get_parse_end(tok);
                json_tokener_free(tok);
                return xerr_set(e, -EINVAL, path, "not a valid firmware descriptor: %s at byte %zu",
                                json_tokener_error_desc(jerr == json_tokener_success ?
                                                        json_tokener_continue : jerr), off);
        }
        json_tokener_free(tok);
        if (!json_object_is_type(root, json_type_object))
                return xerr_set(e, -EINVAL, path, "not a valid firmware descriptor: top level is not an object");

        if (!json_object_object_get_ex(root, "interface-types", &itypes) || !str_in_array(itypes, "uefi")) {
                snprintf(skip, skip_size, "not uefi");
                return 0;
        }
        if (!json_object_object_get_ex(root, "targets", &targets) ||
            !json_object_is_type(targets, json_type_array))
                return xerr_set(e, -EINVAL, path, "firmware descriptor: 'targets' missing or not an array");
        for (size_t i = 0; i < json_object_array_length(targets) && !target_ok; i++) {
                json_object *t = json_object_array_get_idx(targets, i), *machines;
                const char *a = get_str(t, "architecture");
                if (!a || strcmp(a, arch->fw_arch) != 0)
                        continue;
                if (!json_object_object_get_ex(t, "machines", &machines) ||
                    !json_object_is_type(machines, json_type_array))
                        continue;
                for (size_t j = 0; j < json_object_array_length(machines); j++) {
                        json_object *m = json_object_array_get_idx(machines, j);
                        if (json_object_is_type(m, json_type_string) &&
                            hv_machine_matches(json_object_get_string(m), machine)) {
                                target_ok = true;
                                break;
                        }
                }
        }
        if (!target_ok) {
                snprintf(skip, skip_size, "no target %s/%s", arch->fw_arch, machine);
                return 0;
        }
        json_object_object_get_ex(root, "features", &features);
        secure = str_in_array(features, "secure-boot");
        if (!secure_boot && (secure || str_in_array(features, "enrolled-keys") ||
                             str_in_array(features, "requires-smm"))) {
                snprintf(skip, skip_size, "secure boot / SMM");
                return 0;
        }
        if (secure_boot && !secure) {
                snprintf(skip, skip_size, "no secure boot");
                return 0;
        }
        /* a bundle that needs Secure Boot needs it on and keys in db: the
         * "*-secure-enrolled" descriptors, not the empty-db "*-secure" ones */
        if (secure_boot && !str_in_array(features, "enrolled-keys")) {
                snprintf(skip, skip_size, "no enrolled keys");
                return 0;
        }
        if (!json_object_object_get_ex(root, "mapping", &mapping) ||
            !json_object_is_type(mapping, json_type_object))
                return xerr_set(e, -EINVAL, path, "firmware descriptor: 'mapping' missing or not an object");
        device = get_str(mapping, "device");
        fw = calloc(1, sizeof(*fw));
        if (!fw)
                return xerr_set(e, -ENOMEM, path, "out of memory");
        fw->secure_boot = secure;
        fw->enrolled_keys = str_in_array(features, "enrolled-keys");
        fw->requires_smm = str_in_array(features, "requires-smm");
        if (device && strcmp(device, "flash") == 0) {
                const char *mode = get_str(mapping, "mode");
                if (mode && strcmp(mode, "split") != 0) {
                        snprintf(skip, skip_size, "flash mode '%s'", mode);
                        return 0;
                }
                if (!json_object_object_get_ex(mapping, "executable", &exec) || !get_str(exec, "filename"))
                        return xerr_set(e, -EINVAL, path, "firmware descriptor: 'mapping.executable.filename' missing");
                fw->executable = strdup(get_str(exec, "filename"));
                fw->executable_format = strdup(get_str(exec, "format") ?: "raw");
                if (json_object_object_get_ex(mapping, "nvram-template", &nv)) {
                        if (!get_str(nv, "filename"))
                                return xerr_set(e, -EINVAL, path,
                                                "firmware descriptor: 'mapping.nvram-template.filename' missing");
                        fw->nvram_template = strdup(get_str(nv, "filename"));
                        fw->nvram_format = strdup(get_str(nv, "format") ?: "raw");
                        if (!fw->nvram_template || !fw->nvram_format)
                                return xerr_set(e, -ENOMEM, path, "out of memory");
                }
        } else if (device && strcmp(device, "memory") == 0) {
                if (!get_str(mapping, "filename"))
                        return xerr_set(e, -EINVAL, path, "firmware descriptor: 'mapping.filename' missing");
                fw->executable = strdup(get_str(mapping, "filename"));
                fw->executable_format = strdup("raw");
        } else {
                snprintf(skip, skip_size, "mapping device '%s'", device ?: "(none)");
                return 0;
        }
        if (!fw->executable || !fw->executable_format)
                return xerr_set(e, -ENOMEM, path, "out of memory");
        /* only formats we name explicitly to QEMU; never let it guess */
        if (strcmp(fw->executable_format, "raw") != 0 && strcmp(fw->executable_format, "qcow2") != 0) {
                snprintf(skip, skip_size, "format '%s'", fw->executable_format);
                return 0;
        }
        if (fw->nvram_format && strcmp(fw->nvram_format, "raw") != 0 && strcmp(fw->nvram_format, "qcow2") != 0) {
                snprintf(skip, skip_size, "nvram format '%s'", fw->nvram_format);
                return 0;
        }
        if (access(fw->executable, R_OK) != 0 || (fw->nvram_template && access(fw->nvram_template, R_OK) != 0)) {
                snprintf(skip, skip_size, "image files not installed");
                return 0;
        }
        fw->descriptor = strdup(path);
        if (!fw->descriptor)
                return xerr_set(e, -ENOMEM, path, "out of memory");
        *ret = TAKE_PTR(fw);
        return 1;
}

/* Appends to a fixed buffer, silently truncating: it only feeds a message. */
static void str_append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void str_append(char *buf, size_t size, const char *fmt, ...)
{
        size_t len = strlen(buf);
        va_list ap;

        if (len + 1 >= size)
                return;
        va_start(ap, fmt);
        (void) !vsnprintf(buf + len, size - len, fmt, ap);
        va_end(ap);
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int json_only(const struct dirent *d)
{
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

int hv_firmware_find_in(const char *dir, const struct xova_arch *arch, const char *machine,
                        bool secure_boot, struct hv_firmware **ret, struct xerr *e)
{
        struct dirent **list = NULL;
        int n, r = 0;
        char skipped[256] = "";

        n = scandir(dir, &list, json_only, name_cmp);
        if (n < 0)
                return xerr_set_errno(e, -errno, dir, "cannot read firmware descriptors");
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = xova_path_join(dir, list[i]->d_name);
                char why[96] = "";
                if (r != 0 || !path) {
                        if (!path && r == 0)
                                r = xerr_set(e, -ENOMEM, dir, "out of memory");
                        continue;
                }
                r = fw_consider(path, arch, machine, secure_boot, ret, why, sizeof(why), e);
                if (r == 0 && why[0])
                        str_append(skipped, sizeof(skipped), "%s%s: %s", skipped[0] ? "; " : "",
                                   list[i]->d_name, why);
        }
        for (int i = 0; i < n; i++)
                free(list[i]);
        free(list);
        if (r < 0)
                return r;
        if (r == 0)
                return xerr_set(e, -ENOENT, dir, "no %sUEFI firmware for %s machine '%s'%s%s%s",
                                secure_boot ? "secure-boot " : "", arch->fw_arch, machine,
                                skipped[0] ? " (" : " (no descriptors; install 'ovmf' or 'qemu-efi-aarch64'",
                                skipped, ")");
        return 0;
}

int hv_firmware_find(const struct xova_arch *arch, const char *machine, bool secure_boot,
                     struct hv_firmware **ret, struct xerr *e)
{
        const char *dir = getenv("XOVA_FIRMWARE_DIR");

        return hv_firmware_find_in(dir && *dir ? dir : "/usr/share/qemu/firmware", arch, machine,
                                   secure_boot, ret, e);
}

int hv_vm_firmware(const struct ovf_vm *vm, const char *machine, struct hv_firmware **ret, struct xerr *e)
{
        /* The one firmware decision, shared by `run` and `deploy` so the two
         * verbs cannot disagree on a bundle: only UEFI is built and booted
         * (the USP holds EFI loaders, nothing a BIOS could start); any other
         * value in the descriptor is refused, never replaced by a UEFI
         * loader. Empty means the default, efi. */
        if (vm->firmware && *vm->firmware && strcmp(vm->firmware, "efi") != 0)
                return xerr_set(e, -ENOTSUP, vm->arch ? vm->arch->name : "firmware",
                                "firmware '%s' is not supported (only efi)", XOVA_ESC(vm->firmware));
        /* Secure Boot when the descriptor says the bundle needs it
         * (xova:SecureBoot): the keys-enrolled firmware */
        return hv_firmware_find(vm->arch, machine, vm->secure_boot, ret, e);
}

int hv_run_firmware(const struct ovf_vm *vm, const char *machine, const struct hv_run_opts *o,
                    struct hv_firmware **ret, struct xerr *e)
{
        struct ovf_vm plain = *vm;
        int r;

        if (vm->secure_boot && o->no_secure_boot) {
                xova_note(o->note, o->userdata, "Secure Boot: off (--no-secure-boot), although the bundle asks for it");
                plain.secure_boot = false;
        }
        r = hv_vm_firmware(&plain, machine, ret, e);
        if (r == 0 && (*ret)->secure_boot)
                xova_note(o->note, o->userdata, "Secure Boot: on (firmware %s)", (*ret)->executable);
        return r;
}

int hv_secure_boot_refused(const struct xova_arch *arch, const char *refusal, const char *lines, struct xerr *e)
{
        return xerr_set(e, -EKEYREJECTED, arch->name, "Secure Boot refused to start the boot loader (the "
                        "console says '%s': its signature is not trusted by the firmware's db, or the file "
                        "was changed); last console line:%s", refusal, lines[0] ? lines : " (none)");
}

/* What the loaders print when Secure Boot refuses an image: EDK2's boot
 * manager ("BdsDxe: failed to load Boot0001 ...: Access Denied"), shim
 * ("Verification failed: (0x1A) Security Violation") and GRUB under
 * lockdown. Searched in the console tail, so a refusal split across two
 * reads is still found. */
const char *hv_secure_boot_refusal(const char *buf, size_t len)
{
        static const char *const refusals[] = {
                "Access Denied",
                "Security Violation",
                "bad shim signature",
                "prohibited by secure boot policy",
        };

        for (size_t i = 0; i < ELEMENTSOF(refusals); i++)
                if (memmem(buf, len, refusals[i], strlen(refusals[i])))
                        return refusals[i];
        return NULL;
}
