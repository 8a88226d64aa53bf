/* SPDX-License-Identifier: MIT */
/*
 * VM definition -> QEMU argv. An argv array, never a shell string; every
 * block node is a -blockdev JSON object built with json-c, with an explicit
 * "driver" at every level, so QEMU never probes a format (CVE-2010-3851
 * class) and a file name with ',' or '"' can neither split an option nor
 * inject one (keyval syntax would need ",," escaping).
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <json-c/json.h>

#include "hv/hv-internal.h"

char **hv_argv_free(char **argv)
{
        if (!argv)
                return NULL;
        for (char **p = argv; *p; p++)
                free(*p);
        free(argv);
        return NULL;
}

struct argv_builder {
        char **v;
        size_t n, cap;
        bool oom;
};

static void add(struct argv_builder *b, const char *s)
{
        if (b->oom)
                return;
        if (b->n + 2 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 32;
                char **v = realloc(b->v, cap * sizeof(char *));
                if (!v) {
                        b->oom = true;
                        return;
                }
                b->v = v;
                b->cap = cap;
        }
        b->v[b->n] = strdup(s);
        if (!b->v[b->n]) {
                b->oom = true;
                return;
        }
        b->v[++b->n] = NULL;
}

static void addf(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct argv_builder *b, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                b->oom = true;
                return;
        }
        add(b, s);
        free(s);
}

static void add_json(struct argv_builder *b, json_object *o)
{
        if (!o) {
                b->oom = true;
                return;
        }
        add(b, hv_json_text(o));
        json_object_put(o);
}

static json_object *fw_node(const char *node_name, const char *filename, const char *format, bool read_only)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "driver", json_object_new_string(format));
        json_object_object_add(o, "node-name", json_object_new_string(node_name));
        if (read_only)
                json_object_object_add(o, "read-only", json_object_new_boolean(1));
        json_object_object_add(o, "file", hv_blockdev_file(filename, read_only));
        return o;
}

int hv_qemu_argv(const struct hv_qemu_config *c, char ***ret_argv, struct xerr *e)
{
        struct argv_builder b = { 0 };
        bool kvm = c->accel == HV_ACCEL_KVM;
        bool flash = c->fw && c->fw->nvram_template;

        if (!hv_machine_name_valid(c->machine))
                return xerr_set(e, -EINVAL, c->arch->name, "invalid machine type '%s'", c->machine);
        if (c->accel != HV_ACCEL_KVM && c->accel != HV_ACCEL_TCG)
                return xerr_set(e, -EINVAL, c->arch->name, "accelerator not resolved");
        if (flash && !c->fw_vars)
                return xerr_set(e, -EINVAL, c->fw->descriptor, "firmware needs a private vars copy");

        add(&b, c->qemu ?: c->arch->qemu_binary);
        add(&b, "-machine");
        addf(&b, "%s,accel=%s%s%s", c->machine, kvm ? "kvm" : "tcg",
             flash ? ",pflash0=fw-code,pflash1=fw-vars" : "",
             c->fw && c->fw->requires_smm ? ",smm=on" : "");
        /* Secure Boot on x86 (descriptor feature requires-smm): only SMM
         * may write the vars flash, or the guest could rewrite db */
        if (c->fw && c->fw->requires_smm) {
                add(&b, "-global");
                add(&b, "driver=cfi.pflash01,property=secure,value=on");
        }
        add(&b, "-cpu");
        add(&b, kvm ? "host" : "max");
        add(&b, "-m");
        addf(&b, "%" PRIu64, c->memory_mib);
        add(&b, "-smp");
        addf(&b, "%u", c->vcpus ? c->vcpus : 1);
        add(&b, "-nodefaults");
        add(&b, "-no-user-config");
        add(&b, "-display");
        add(&b, "none");
        add(&b, "-no-reboot");
        if (c->fw && flash) {
                add(&b, "-blockdev");
                add_json(&b, fw_node("fw-code", c->fw->executable, c->fw->executable_format, true));
                add(&b, "-blockdev");
                add_json(&b, fw_node("fw-vars", c->fw_vars, c->fw->nvram_format, false));
        } else if (c->fw) {
                /* memory-mapped firmware: -bios is a plain string, not keyval */
                add(&b, "-bios");
                add(&b, c->fw->executable);
        }
        for (size_t i = 0; i < c->n_disks; i++) {
                char node[32];
                snprintf(node, sizeof(node), "disk%zu", i);
                add(&b, "-blockdev");
                add_json(&b, hv_blockdev_overlay(&c->disks[i], c->overlays[i], node));
                add(&b, "-device");
                if (i == 0)
                        addf(&b, "virtio-blk-pci,drive=%s,bootindex=0", node);
                else
                        addf(&b, "virtio-blk-pci,drive=%s", node);
        }
        if (c->n_forwards && !c->nic) {
                hv_argv_free(b.v);
                return xerr_set(e, -EINVAL, c->arch->name, "--forward needs a network adapter, and "
                                "the VM definition has none");
        }
        if (c->nic) {
                /* user networking, with the host forwards asked for (each one a
                 * dotted IPv4 and two numbers: nothing that could split the
                 * keyval string); romfile= skips the iPXE option ROM (we boot
                 * from disk) */
                _cleanup_free_ char *netdev = strdup("user,id=net0");
                for (size_t i = 0; netdev && i < c->n_forwards; i++) {
                        const struct hv_forward *f = &c->forwards[i];
                        char *n = NULL;
                        if (asprintf(&n, "%s,hostfwd=tcp:%s:%u-:%u", netdev, f->addr, f->host_port,
                                     f->guest_port) < 0)
                                n = NULL;
                        free(netdev);
                        netdev = n;
                }
                if (!netdev)
                        b.oom = true;
                add(&b, "-netdev");
                add(&b, netdev ? netdev : "");
                add(&b, "-device");
                add(&b, "virtio-net-pci,netdev=net0,romfile=");
        }
        /* the first serial port is the guest console (ttyS0 / ttyAMA0): on our
         * stdout pipe, or both ways on an inherited socket (console.c) */
        add(&b, "-chardev");
        if (c->console_fd > STDERR_FILENO)
                addf(&b, "socket,id=con0,fd=%d", c->console_fd);
        else
                add(&b, "stdio,id=con0,signal=off");
        add(&b, "-serial");
        add(&b, "chardev:con0");
        if (b.oom) {
                hv_argv_free(b.v);
                return xerr_set(e, -ENOMEM, c->arch->name, "out of memory");
        }
        *ret_argv = b.v;
        return 0;
}

/* ---- --forward ---------------------------------------------------------- */

static int forward_port(const char *s, const char *what, const char *value, uint16_t *ret, struct xerr *e)
{
        uint64_t v;

        if (xova_parse_u64(s, &v) < 0 || v < 1 || v > 65535)
                return xerr_set(e, -EINVAL, "--forward", "'%s': %s port '%s' is not a number from 1 to 65535",
                                XOVA_ESC(value), what, XOVA_ESC(s));
        *ret = (uint16_t) v;
        return 0;
}

int hv_forward_parse(const char *s, struct hv_forward *ret, struct xerr *e)
{
        _cleanup_free_ char *copy = strdup(s ? s : "");
        struct hv_forward f = { .addr = "127.0.0.1" };
        char *host, *guest, *addr = NULL;
        struct in_addr in;
        int r;

        if (!copy)
                return xerr_set(e, -ENOMEM, "--forward", "out of memory");
        /* [ADDR:]HOSTPORT:GUESTPORT: the last colon ends the host part */
        guest = strrchr(copy, ':');
        if (!guest)
                return xerr_set(e, -EINVAL, "--forward", "'%s' is not [ADDR:]HOSTPORT:GUESTPORT",
                                XOVA_ESC(s));
        *guest++ = '\0';
        host = strrchr(copy, ':');
        if (host) {
                *host++ = '\0';
                addr = copy;
        } else {
                host = copy;
        }
        if (addr) {
                if (inet_pton(AF_INET, addr, &in) != 1)
                        return xerr_set(e, -EINVAL, "--forward", "'%s': '%s' is not an IPv4 address "
                                        "(such as 127.0.0.1 or 0.0.0.0)", XOVA_ESC(s), XOVA_ESC(addr));
                if (!inet_ntop(AF_INET, &in, f.addr, sizeof(f.addr)))
                        return xerr_set_errno(e, -errno, "--forward", "'%s'", XOVA_ESC(s));
        }
        r = forward_port(host, "host", s, &f.host_port, e);
        if (r < 0)
                return r;
        r = forward_port(guest, "guest", s, &f.guest_port, e);
        if (r < 0)
                return r;
        *ret = f;
        return 0;
}

int hv_forward_check(const struct hv_forward *f, size_t n, struct xerr *e)
{
        for (size_t i = 0; i < n; i++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(f[i].host_port) };
                _cleanup_close_ int fd = -1;
                int one = 1;

                for (size_t j = 0; j < i; j++)
                        if (f[j].host_port == f[i].host_port &&
                            (strcmp(f[j].addr, f[i].addr) == 0 || strcmp(f[j].addr, "0.0.0.0") == 0 ||
                             strcmp(f[i].addr, "0.0.0.0") == 0))
                                return xerr_set(e, -EINVAL, "--forward", "host port %s:%u is given twice "
                                                "(also as %s:%u)", f[i].addr, f[i].host_port, f[j].addr,
                                                f[j].host_port);
                if (inet_pton(AF_INET, f[i].addr, &sa.sin_addr) != 1)
                        return xerr_set(e, -EINVAL, "--forward", "'%s' is not an IPv4 address",
                                        XOVA_ESC(f[i].addr));
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return xerr_set_errno(e, -errno, "--forward", "cannot make a socket");
                /* as QEMU's slirp does: a port in TIME_WAIT is free, a listener is not */
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        int r = -errno;
                        return xerr_set_errno(e, r, "--forward", "cannot listen on host port %s:%u%s",
                                              f[i].addr, f[i].host_port,
                                              r == -EADDRINUSE ? " (another program has it)" : "");
                }
        }
        return 0;
}

int hv_vars_fill(const char *template_path, int out, struct xerr *e)
{
        _cleanup_close_ int in = -1;
        uint64_t size;
        int r;

        /* Debian's AAVMF_VARS.fd is 64 MiB, nearly all zero: copy sparse */
        r = xova_open_input(template_path, 1ull << 30, &in, &size, e);
        if (r < 0)
                return r;
        if (ftruncate(out, (off_t) size) < 0)
                return xerr_set_errno(e, -errno, template_path, "cannot size its copy");
        r = xova_copy_range(in, 0, out, 0, size);
        if (r < 0)
                return xerr_set_errno(e, r, template_path, "cannot copy");
        return 0;
}

int hv_vars_copy(const char *template_path, const char *target, struct xerr *e)
{
        _cleanup_close_ int out = -1;

        /* a new file or nothing: never through a symlink, never over a file */
        out = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0)
                return xerr_set_errno(e, -errno, target, "cannot create");
        return hv_vars_fill(template_path, out, e);
}
