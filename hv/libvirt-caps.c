/* SPDX-License-Identifier: MIT */
/*
 * What a libvirt host can run, from its own reports: the capabilities
 * (host arch; per guest arch the emulator, machine types and whether KVM
 * is offered) and the domain capabilities (UEFI firmware autoselection).
 * The host's answer is XML from a daemon we connected to: parsed with
 * libxml2, no network, no entities, and every string is checked before it
 * is used in a domain definition.
 */
#include "config.h"

#include <string.h>

#include <libxml/parser.h>
#include <libxml/uri.h>
#include <libxml/xpath.h>

#include "hv/deploy-internal.h"

const char *hv_lv_error(void)
{
        const char *m = virGetLastErrorMessage();

        return m && *m ? m : "unknown error";
}

void hv_lv_uri_display(const char *uri, char *buf, size_t size)
{
        const char *auth = strstr(uri, "://"), *at, *colon, *slash;

        /* the query (keyfile=, command=, ...) is left out: long, and no
         * part of which host it is */
        snprintf(buf, size, "%.*s", (int) strcspn(uri, "?"), uri);
        if (!auth)
                return;
        auth += 3;
        slash = strchr(auth, '/');
        at = strchr(auth, '@');
        if (!at || (slash && at > slash))
                return;
        colon = memchr(auth, ':', (size_t) (at - auth));
        if (!colon)
                return;
        /* user:password@host -> user@host */
        snprintf(buf, size, "%.*s%.*s", (int) (colon - uri), uri, (int) strcspn(at, "?"), at);
}

/* No server, localhost or a loopback address: this machine, whose KVM
 * probe applies (libvirt offers KVM whenever /dev/kvm exists). */
bool hv_lv_uri_local(const char *uri)
{
        xmlURIPtr u = xmlParseURI(uri);
        bool local;

        if (!u)
                return false;
        local = !u->server || !*u->server || strcmp(u->server, "localhost") == 0 ||
                strncmp(u->server, "127.", 4) == 0 || strcmp(u->server, "[::1]") == 0 ||
                strcmp(u->server, "::1") == 0;
        xmlFreeURI(u);
        return local;
}

static void strv_free(char **v)
{
        if (v)
                for (char **s = v; *s; s++)
                        free(*s);
        free(v);
}

void hv_lv_caps_clear(struct hv_lv_caps *c)
{
        for (size_t i = 0; i < c->n_guests; i++) {
                free(c->guests[i].emulator);
                strv_free(c->guests[i].machines);
        }
        free(c->guests);
        *c = (struct hv_lv_caps) { 0 };
}

static char *xpath_string(xmlXPathContextPtr ctx, const char *expr)
{
        xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
        char *s = NULL;

        if (o && o->nodesetval && o->nodesetval->nodeNr > 0) {
                xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
                if (t)
                        s = strdup((const char *) t);
                xmlFree(t);
        }
        xmlXPathFreeObject(o);
        return s;
}

static int strv_add(char ***v, size_t *n, const char *s)
{
        char **nv = realloc(*v, (*n + 2) * sizeof(**v));

        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strdup(s);
        if (!nv[*n])
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

/* One <guest>: its <arch name=...> with emulator, machines, domain types. */
static int parse_guest(xmlXPathContextPtr ctx, xmlNodePtr guest, struct hv_lv_guest *g)
{
        _cleanup_free_ char *os = NULL, *arch = NULL;
        xmlXPathObjectPtr o;
        size_t n = 0;
        int r = 0;

        ctx->node = guest;
        os = xpath_string(ctx, "os_type");
        arch = xpath_string(ctx, "arch/@name");
        if (!os || strcmp(os, "hvm") != 0 || !arch)
                return 0;               /* not a full-system guest: ignored */
        g->arch = xova_arch_by_name(arch);
        if (!g->arch)
                return 0;
        g->emulator = xpath_string(ctx, "arch/emulator");
        o = xmlXPathEvalExpression(BAD_CAST "arch/machine | arch/machine/@canonical", ctx);
        for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr && r == 0; i++) {
                xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[i]);
                if (t && hv_machine_name_valid((const char *) t))
                        r = strv_add(&g->machines, &n, (const char *) t);
                xmlFree(t);
        }
        xmlXPathFreeObject(o);
        o = xmlXPathEvalExpression(BAD_CAST "arch/domain[@type='kvm']", ctx);
        g->kvm = o && o->nodesetval && o->nodesetval->nodeNr > 0;
        xmlXPathFreeObject(o);
        return r;
}

int hv_lv_caps_parse(const char *xml, const char *host, struct hv_lv_caps *ret, struct xerr *e)
{
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "capabilities.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
        struct hv_lv_caps c = { 0 };
        xmlXPathObjectPtr o = NULL;
        char *arch = NULL;
        int r = 0;

        if (!ctx) {
                r = xerr_set(e, -EPROTO, host, "cannot parse the host's capabilities");
                goto out;
        }
        arch = xpath_string(ctx, "/capabilities/host/cpu/arch");
        snprintf(c.host_arch, sizeof(c.host_arch), "%s", arch ? arch : "unknown");
        c.host = arch ? xova_arch_by_name(arch) : NULL;
        o = xmlXPathEvalExpression(BAD_CAST "/capabilities/guest", ctx);
        if (o && o->nodesetval && o->nodesetval->nodeNr > 0) {
                c.guests = calloc((size_t) o->nodesetval->nodeNr, sizeof(*c.guests));
                if (!c.guests) {
                        r = xerr_set(e, -ENOMEM, host, "out of memory");
                        goto out;
                }
                for (int i = 0; i < o->nodesetval->nodeNr; i++) {
                        struct hv_lv_guest g = { 0 };
                        r = parse_guest(ctx, o->nodesetval->nodeTab[i], &g);
                        if (r < 0 || !g.arch || !g.emulator) {
                                free(g.emulator);
                                strv_free(g.machines);
                                if (r < 0) {
                                        r = xerr_set(e, r, host, "out of memory");
                                        goto out;
                                }
                                continue;
                        }
                        c.guests[c.n_guests++] = g;
                }
        }
        *ret = c;
        c = (struct hv_lv_caps) { 0 };
out:
        free(arch);
        hv_lv_caps_clear(&c);
        xmlXPathFreeObject(o);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return r;
}

void hv_lv_caps_describe(const struct hv_lv_caps *c, char *buf, size_t size)
{
        size_t len = 0;

        buf[0] = 0;
        for (size_t i = 0; i < c->n_guests && len + 1 < size; i++) {
                int k = snprintf(buf + len, size - len, "%s%s (%sqemu)", i ? ", " : "", c->guests[i].arch->name,
                                 c->guests[i].kvm ? "kvm, " : "");
                if (k < 0)
                        break;
                len += (size_t) k;
        }
        if (!buf[0])
                snprintf(buf, size, "nothing xova knows");
}

static const struct hv_lv_guest *caps_guest(const struct hv_lv_caps *c, const struct xova_arch *a)
{
        for (size_t i = 0; i < c->n_guests; i++)
                if (c->guests[i].arch == a)
                        return &c->guests[i];
        return NULL;
}

static bool guest_has_machine(const struct hv_lv_guest *g, const char *m)
{
        for (char **s = g->machines; s && *s; s++)
                if (strcmp(*s, m) == 0)
                        return true;
        return false;
}

/* The VM definition: asked for, or the host's own arch, or the first the
 * host can emulate. */
static int choose_vm(const struct hv_lv_caps *c, const struct ovf_descriptor *d, const char *want_arch,
                     const char *host, const struct ovf_vm **ret_vm, const struct hv_lv_guest **ret_g,
                     struct xerr *e)
{
        char offers[256], have[128] = "";

        hv_lv_caps_describe(c, offers, sizeof(offers));
        for (size_t i = 0; i < d->n_vms; i++)
                if (d->vms[i].arch && strlen(have) + 20 < sizeof(have))
                        snprintf(have + strlen(have), sizeof(have) - strlen(have), "%s%s", have[0] ? ", " : "",
                                 d->vms[i].arch->name);
        if (want_arch) {
                const struct xova_arch *a = xova_arch_by_name(want_arch);
                const struct ovf_vm *vm = a ? ovf_descriptor_vm(d, a->name) : NULL;
                if (!vm)
                        return xerr_set(e, -ENOENT, host, "the bundle has no VM definition for %s (it has: %s)",
                                        XOVA_ESC(want_arch), have);
                if (!caps_guest(c, a))
                        return xerr_set(e, -ENOTSUP, host, "cannot run %s guests (it offers: %s)", a->name, offers);
                *ret_vm = vm;
                *ret_g = caps_guest(c, a);
                return 0;
        }
        if (c->host && caps_guest(c, c->host) && ovf_descriptor_vm(d, c->host->name)) {
                *ret_vm = ovf_descriptor_vm(d, c->host->name);
                *ret_g = caps_guest(c, c->host);
                return 0;
        }
        for (size_t i = 0; i < d->n_vms; i++)
                if (d->vms[i].arch && caps_guest(c, d->vms[i].arch)) {
                        *ret_vm = &d->vms[i];
                        *ret_g = caps_guest(c, d->vms[i].arch);
                        return 0;
                }
        return xerr_set(e, -ENOTSUP, host, "can run none of the bundle's VM definitions (%s); the host (%s) offers: %s",
                        have, c->host_arch, offers);
}

int hv_lv_choose(const struct hv_lv_caps *c, const struct ovf_descriptor *d, const char *want_arch,
                 enum hv_accel want, bool local_kvm_ok, const char *local_kvm_reason, const char *host,
                 struct hv_lv_choice *ret, struct xerr *e)
{
        struct hv_lv_choice ch = { 0 };
        bool native, kvm_ok;
        int r;

        r = choose_vm(c, d, want_arch, host, &ch.vm, &ch.guest, e);
        if (r < 0)
                return r;
        /* the decision hv_vm_firmware() takes for run and --libvirt-xml
         * (whose firmware file is then chosen here; a host picks its own) */
        if (ch.vm->firmware && *ch.vm->firmware && strcmp(ch.vm->firmware, "efi") != 0)
                return xerr_set(e, -ENOTSUP, host, "the %s definition wants firmware '%s'; only efi is supported",
                                ch.vm->arch->name, XOVA_ESC(ch.vm->firmware));
        ch.machine = ch.vm->machine && *ch.vm->machine ? ch.vm->machine : ch.vm->arch->qemu_machine;
        if (!hv_machine_name_valid(ch.machine) || !guest_has_machine(ch.guest, ch.machine))
                return xerr_set(e, -ENOTSUP, host, "its %s emulator offers no machine type '%s'",
                                ch.vm->arch->name, XOVA_ESC(ch.machine));
        native = c->host == ch.vm->arch;
        kvm_ok = native && ch.guest->kvm && local_kvm_ok;
        switch (want) {
        case HV_ACCEL_KVM:
                if (!native || !ch.guest->kvm)
                        return xerr_set(e, -ENOTSUP, host, "--accel kvm: the host (%s) offers no KVM for %s guests",
                                        c->host_arch, ch.vm->arch->name);
                ch.accel = HV_ACCEL_KVM;
                break;
        case HV_ACCEL_TCG:
                ch.accel = HV_ACCEL_TCG;
                break;
        case HV_ACCEL_AUTO:
        default:
                ch.accel = kvm_ok ? HV_ACCEL_KVM : HV_ACCEL_TCG;
                if (native && ch.guest->kvm && !local_kvm_ok)
                        snprintf(ch.note, sizeof(ch.note), "libvirt offers KVM but it does not work here (%s): TCG",
                                 local_kvm_reason && *local_kvm_reason ? local_kvm_reason : "probe failed");
                else if (!native)
                        snprintf(ch.note, sizeof(ch.note), "%s emulated with TCG on a %s host", ch.vm->arch->name,
                                 c->host_arch);
                break;
        }
        *ret = ch;
        return 0;
}

int hv_lv_check_efi(virConnectPtr conn, const struct hv_lv_choice *ch, const char *host, struct xerr *e)
{
        _cleanup_free_ char *xml = NULL;
        xmlDocPtr doc;
        xmlXPathContextPtr ctx;
        xmlXPathObjectPtr o;
        bool efi;

        xml = virConnectGetDomainCapabilities(conn, ch->guest->emulator, ch->guest->arch->libvirt_arch,
                                              ch->machine, ch->accel == HV_ACCEL_KVM ? "kvm" : "qemu", 0);
        if (!xml)
                return xerr_set(e, -EIO, host, "cannot get the domain capabilities for %s %s: %s",
                                ch->vm->arch->name, ch->machine, hv_lv_error());
        doc = xmlReadMemory(xml, (int) strlen(xml), "domcaps.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        ctx = doc ? xmlXPathNewContext(doc) : NULL;
        o = ctx ? xmlXPathEvalExpression(BAD_CAST "/domainCapabilities/os[@supported='yes']"
                                         "/enum[@name='firmware']/value[text()='efi']", ctx) : NULL;
        efi = o && o->nodesetval && o->nodesetval->nodeNr > 0;
        xmlXPathFreeObject(o);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        if (!efi)
                return xerr_set(e, -ENOTSUP, host, "offers no UEFI firmware for %s %s (install its edk2 package)",
                                ch->vm->arch->name, ch->machine);
        return 0;
}
