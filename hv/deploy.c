/* SPDX-License-Identifier: MIT */
/*
 * `xova deploy --connect URI...`: one verified bundle onto libvirt hosts,
 * through libvirt's C API, each host in its own thread on its own
 * connection (libvirt connections are thread-safe; virInitialize() first).
 *
 * Order on a host: capabilities -> the VM definition it can run
 * (libvirt-caps.c) -> UEFI autoselection offered? -> pool, existing
 * domain/volumes (refused, or removed with replace) -> each disk of that
 * definition converted and uploaded (deploy-volumes.c; the other arch's
 * root never travels) -> domain defined (deploy-domain.c) -> started
 * paused, console opened, resumed, so no console byte is missed -> marker.
 * Anything failing rolls back what this host got: domain destroyed and
 * undefined with its NVRAM, volumes deleted.
 *
 * The bundle path is never handed to libvirt: verified once, here, before
 * any host is contacted; volumes are converted copies read from the
 * verified fd. So no security driver ever relabels or chowns the bundle.
 *
 * Console: a nonblocking virStream fed by libvirt's default event loop,
 * which runs in a thread of ours while deploy works (it also carries the
 * keepalives); polled with a bound, never a blocking read.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/uri.h>

#include "hv/deploy-internal.h"

/* ---- cancellation ---------------------------------------------------------- */

/* SIGINT/SIGTERM/SIGHUP during deploy: the main thread takes them
 * (sigtimedwait) and sets this; each host stops at its next step, upload
 * chunk or console poll and rolls back. */
static atomic_bool deploy_cancel;

bool hv_lv_cancelled(void)
{
        return atomic_load(&deploy_cancel);
}

/* ---- libvirt's event loop ------------------------------------------------- */

static atomic_bool loop_stop;
static pthread_t loop_thread;
static bool loop_running;
static pthread_once_t lv_once = PTHREAD_ONCE_INIT;
static int lv_init_r;

static void loop_tick(int timer, void *opaque)
{
        (void) timer;
        (void) opaque;
}

/* libvirt prints every error on stderr by default; ours carry them */
static void lv_silent(void *userdata, virErrorPtr err)
{
        (void) userdata;
        (void) err;
}

static void lv_init_once(void)
{
        xmlInitParser();        /* before host threads parse capabilities */
        lv_init_r = virInitialize();
        if (lv_init_r == 0)
                lv_init_r = virEventRegisterDefaultImpl();
        if (lv_init_r == 0)
                virSetErrorFunc(NULL, lv_silent);
        /* wakes the loop up so it sees loop_stop */
        if (lv_init_r == 0 && virEventAddTimeout(200, loop_tick, NULL, NULL) < 0)
                lv_init_r = -1;
}

static void *loop_main(void *p)
{
        (void) p;
        while (!atomic_load(&loop_stop))
                if (virEventRunDefaultImpl() < 0)
                        break;
        return NULL;
}

static int lv_start(struct xerr *e)
{
        pthread_once(&lv_once, lv_init_once);
        if (lv_init_r < 0)
                return xerr_set(e, -EIO, "libvirt", "cannot initialize: %s", hv_lv_error());
        atomic_store(&loop_stop, false);
        if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0)
                return xerr_set(e, -EAGAIN, "libvirt", "cannot start the event loop thread");
        loop_running = true;
        return 0;
}

static void lv_stop(void)
{
        if (!loop_running)
                return;
        atomic_store(&loop_stop, true);
        pthread_join(loop_thread, NULL);
        loop_running = false;
}

static int lv_connect(const char *uri, const char *host, virConnectPtr *ret, struct xerr *e)
{
        virConnectPtr c = virConnectOpenAuth(uri, virConnectAuthPtrDefault, 0);

        if (!c)
                return xerr_set(e, -ECONNREFUSED, host, "cannot connect: %s", hv_lv_error());
        /* dead peers are noticed (needs the event loop, which runs) */
        virConnectSetKeepAlive(c, 5, 6);
        *ret = c;
        return 0;
}

/* ---- removing a domain of ours -------------------------------------------- */

static void dom_stop_undefine(virDomainPtr dom)
{
        if (virDomainIsActive(dom) == 1)
                virDomainDestroy(dom);
        if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                   VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0)
                virDomainUndefine(dom);
}

/* Stops, undefines (with NVRAM) and deletes the volumes the domain's xova
 * metadata names. A domain without it is not ours: refused. */
static int dom_remove(virConnectPtr conn, virDomainPtr dom, const char *host, size_t *ret_n, struct xerr *e)
{
        _cleanup_free_ char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, HV_DEPLOY_NS_URI,
                                                       VIR_DOMAIN_AFFECT_CONFIG);
        char **pools = NULL, **names = NULL;
        size_t n = 0, done = 0;
        int r;

        if (!md)
                return xerr_set(e, -EPERM, host, "domain '%s' was not deployed by xova (no xova metadata): "
                                "not removed", XOVA_ESC(virDomainGetName(dom)));
        r = hv_lv_domain_volumes(md, &pools, &names, &n, e);
        if (r < 0)
                return r;
        dom_stop_undefine(dom);
        for (size_t i = 0; i < n; i++) {
                struct xerr e2 = { 0 };
                if (hv_lv_volume_delete(conn, pools[i], names[i], &e2) < 0 && r == 0) {
                        *e = e2;
                        r = e2.code;
                } else {
                        done++;
                }
                free(pools[i]);
                free(names[i]);
        }
        free(pools);
        free(names);
        if (ret_n)
                *ret_n = done;
        return r;
}

int hv_undeploy(const char *uri, const char *name, size_t *ret_volumes, struct xerr *e)
{
        char host[256];
        virConnectPtr conn = NULL;
        virDomainPtr dom;
        int r;

        hv_lv_uri_display(uri, host, sizeof(host));
        r = lv_start(e);
        if (r == 0)
                r = lv_connect(uri, host, &conn, e);
        if (r == 0) {
                dom = virDomainLookupByName(conn, name);
                if (!dom) {
                        r = xerr_set(e, -ENOENT, host, "no domain '%s'", XOVA_ESC(name));
                } else {
                        r = dom_remove(conn, dom, host, ret_volumes, e);
                        virDomainFree(dom);
                }
                virConnectClose(conn);
        }
        lv_stop();
        return r;
}

/* ---- the console ---------------------------------------------------------- */

/* Last bytes of the console, printable, for a timeout message. */
static void console_tail(const char *win, size_t len, char *out, size_t size)
{
        size_t start = len > 160 ? len - 160 : 0, k = 0;

        for (size_t i = start; i < len && k + 1 < size; i++) {
                unsigned char c = (unsigned char) win[i];
                out[k++] = c == '\n' ? '|' : (c < 0x20 || c > 0x7e) ? ' ' : (char) c;
        }
        out[k] = 0;
}

/* Resumes the paused domain with its console open and reads it until the
 * marker appears (0), the guest ends (-EPIPE) or the time is up. */
static int console_expect(virDomainPtr dom, const char *marker, unsigned timeout_s, const char *host,
                          struct xerr *e)
{
        virStreamPtr st = virStreamNew(virDomainGetConnect(dom), VIR_STREAM_NONBLOCK);
        char win[16384], buf[4096], tail[200];
        size_t len = 0, mlen = strlen(marker);
        uint64_t deadline = hv_now_ms() + (uint64_t) timeout_s * 1000;
        int r = -XOVA_ETIMEOUT;

        if (!st)
                return xerr_set(e, -EIO, host, "cannot create a stream: %s", hv_lv_error());
        if (virDomainOpenConsole(dom, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0) {
                r = xerr_set(e, -EIO, host, "cannot open the console: %s", hv_lv_error());
                virStreamFree(st);
                return r;
        }
        if (virDomainResume(dom) < 0) {
                r = xerr_set(e, -EIO, host, "cannot resume the domain: %s", hv_lv_error());
                goto out;
        }
        while (hv_now_ms() < deadline) {
                int n;
                if (hv_lv_cancelled()) {
                        r = -EINTR;
                        break;
                }
                n = virStreamRecv(st, buf, sizeof(buf));
                if (n == -2) {
                        nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
                        continue;
                }
                if (n <= 0) {
                        r = n == 0 ? -EPIPE : -EIO;
                        break;
                }
                if (len + (size_t) n > sizeof(win)) {
                        size_t keep = sizeof(win) / 2;
                        memmove(win, win + len - keep, keep);
                        len = keep;
                }
                memcpy(win + len, buf, (size_t) n);
                len += (size_t) n;
                if (memmem(win, len, marker, mlen)) {
                        r = 0;
                        break;
                }
        }
        console_tail(win, len, tail, sizeof(tail));
        if (r == -XOVA_ETIMEOUT)
                xerr_set(e, r, host, "marker not seen in %u s; console ends: %s", timeout_s, tail);
        else if (r == -EINTR)
                xerr_set(e, r, host, "interrupted while waiting for the marker");
        else if (r == -EPIPE)
                xerr_set(e, r, host, "the console closed (guest stopped) before the marker; it ends: %s", tail);
        else if (r < 0)
                xerr_set(e, r, host, "reading the console failed: %s", hv_lv_error());
out:
        virStreamAbort(st);
        virStreamFree(st);
        return r;
}

/* ---- one host ------------------------------------------------------------- */

/* The (URI, domain) pairs the hosts of one deploy claimed: two --connect
 * of one URI that end up with one name (say one without --arch picks the
 * arch the other was told) must not both touch it. */
struct claims {
        pthread_mutex_t lock;
        struct job *jobs;
        size_t n;
};

struct job {
        const struct hv_target *t;
        struct claims *claims;
        char claimed[128];              /* the domain name, once claimed */
        const struct hv_remote_opts *o;
        const struct ovf_bundle *b;
        const struct hv_host *local;    /* the local KVM probe's verdict */
        struct hv_target_result *res;
        /* names the host in notes and errors: "URI", then "URI (DOMAIN)"
         * once the name is known (two --connect may share a URI) */
        char label[400];
        pthread_t thread;
        bool started;
};

/* What a host got, for rollback and the domain's metadata. */
struct host_state {
        virConnectPtr conn;
        virStoragePoolPtr pool;
        virDomainPtr dom;
        struct hv_lv_volume *vols;
        virStorageVolPtr *vol_ptrs;
        size_t n_vols;
        struct hv_lv_caps caps;
        struct hv_lv_choice ch;
        struct hv_disk *disks;
};

static void host_state_clear(struct host_state *s, bool rollback)
{
        if (s->dom) {
                if (rollback)
                        dom_stop_undefine(s->dom);
                virDomainFree(s->dom);
        }
        for (size_t i = 0; i < s->n_vols; i++) {
                if (s->vol_ptrs[i]) {
                        if (rollback)
                                virStorageVolDelete(s->vol_ptrs[i], 0);
                        virStorageVolFree(s->vol_ptrs[i]);
                }
                free(s->vols[i].disk);
                free(s->vols[i].name);
                free(s->vols[i].path);
        }
        free(s->vols);
        free(s->vol_ptrs);
        free(s->disks);
        if (s->pool)
                virStoragePoolFree(s->pool);
        hv_lv_caps_clear(&s->caps);
        if (s->conn)
                virConnectClose(s->conn);
}

/* One disk source per disk of vm, read through the verified fds. */
static int vm_disks(const struct ovf_bundle *b, const struct ovf_vm *vm, struct hv_disk **ret, struct xerr *e)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);
        _cleanup_free_ struct hv_disk *disks = calloc(vm->n_disks ? vm->n_disks : 1, sizeof(*disks));
        int r;

        if (!disks)
                return xerr_set(e, -ENOMEM, d->name, "out of memory");
        for (size_t i = 0; i < vm->n_disks; i++) {
                const struct ovf_disk *od;
                if (vm->disks[i] >= d->n_disks)
                        return xerr_set(e, -EINVAL, d->name, "VM %s: disk index %zu out of range", vm->arch->name,
                                        vm->disks[i]);
                od = &d->disks[vm->disks[i]];
                r = ovf_bundle_disk_location(b, vm->disks[i], &disks[i].file, &disks[i].offset, &disks[i].size, e);
                if (r < 0)
                        return r;
                disks[i].id = od->id;
                disks[i].fd = ovf_bundle_disk_fd(b, vm->disks[i]);
                if (disks[i].fd <= STDERR_FILENO)
                        return xerr_set(e, -EBADF, od->id, "no verified open file for the disk");
                disks[i].format = od->format;
                disks[i].capacity = od->capacity;
        }
        *ret = disks;
        disks = NULL;
        return 0;
}

static int claim_name(struct job *j, const char *name, struct xerr *e)
{
        struct claims *c = j->claims;
        int r = 0;

        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < c->n && r == 0; i++)
                if (&c->jobs[i] != j && c->jobs[i].claimed[0] && strcmp(c->jobs[i].claimed, name) == 0 &&
                    strcmp(c->jobs[i].t->uri, j->t->uri) == 0)
                        r = xerr_set(e, -EEXIST, j->label, "another --connect of this URI deploys domain '%s' "
                                     "too: give each its own --name", name);
        if (r == 0)
                snprintf(j->claimed, sizeof(j->claimed), "%s", name);
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* An existing domain of that name: refused, or removed with replace. */
static int check_existing(struct job *j, struct host_state *s, const char *name, struct xerr *e)
{
        virDomainPtr old = virDomainLookupByName(s->conn, name);
        int r = 0;

        if (old) {
                if (!j->o->replace)
                        r = xerr_set(e, -EEXIST, j->label, "domain '%s' already exists (--replace replaces it)",
                                     XOVA_ESC(name));
                else
                        r = dom_remove(s->conn, old, j->label, NULL, e);
                virDomainFree(old);
        }
        return r;
}

static int volume_name(const char *dom, const struct hv_disk *d, size_t i, char **ret)
{
        if (d->id && hv_machine_name_valid(d->id))
                return asprintf(ret, "%s-%s.qcow2", dom, d->id) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "%s-disk%zu.qcow2", dom, i) < 0 ? -ENOMEM : 0;
}

static void summary_add(char *buf, size_t size, const char *s)
{
        size_t len = strlen(buf);

        snprintf(buf + len, size - len, "%s%s", len ? "," : "", s);
}

/* Every disk of the chosen definition into a new volume. */
static int upload_all(struct job *j, struct host_state *s, const char *name, struct xerr *e)
{
        size_t n = s->ch.vm->n_disks;
        int r;

        s->vols = calloc(n ? n : 1, sizeof(*s->vols));
        s->vol_ptrs = calloc(n ? n : 1, sizeof(*s->vol_ptrs));
        if (!s->vols || !s->vol_ptrs)
                return xerr_set(e, -ENOMEM, j->label, "out of memory");
        for (size_t i = 0; i < n; i++) {
                struct hv_lv_volume *v = &s->vols[i];
                virStorageVolPtr old;
                uint64_t bytes = 0;
                if (hv_lv_cancelled())
                        return xerr_set(e, -EINTR, j->label, "interrupted");
                if (volume_name(name, &s->disks[i], i, &v->name) < 0 || !(v->disk = strdup(s->disks[i].id ?: "disk")))
                        return xerr_set(e, -ENOMEM, j->label, "out of memory");
                s->n_vols = i + 1;
                old = virStorageVolLookupByName(s->pool, v->name);
                if (old) {
                        r = j->o->replace ? virStorageVolDelete(old, 0) : -1;
                        virStorageVolFree(old);
                        if (r < 0)
                                return xerr_set(e, -EEXIST, j->label, "volume '%s' already exists in pool '%s'%s",
                                                v->name, virStoragePoolGetName(s->pool),
                                                j->o->replace ? ": cannot delete it" : " (--replace replaces it)");
                }
                r = hv_lv_volume_upload(s->pool, v->name, &s->disks[i], j->label, j->o->note, j->o->userdata,
                                        &s->vol_ptrs[i], &bytes, e);
                if (r < 0)
                        return r;
                v->path = virStorageVolGetPath(s->vol_ptrs[i]);
                if (!v->path)
                        return xerr_set(e, -EIO, j->label, "volume '%s': no path: %s", v->name, hv_lv_error());
                j->res->bytes += bytes;
                summary_add(j->res->volumes, sizeof(j->res->volumes), v->disk);
                xova_note(j->o->note, j->o->userdata, "%s: volume '%s' uploaded (%" PRIu64 " KiB qcow2)",
                          j->label, v->name, bytes >> 10);
        }
        return 0;
}

static bool uri_is_system(const char *uri)
{
        xmlURIPtr u = xmlParseURI(uri);
        bool sys = u && u->path && strcmp(u->path, "/system") == 0;

        xmlFreeURI(u);
        return sys;
}

static bool network_default_active(virConnectPtr conn)
{
        virNetworkPtr n = virNetworkLookupByName(conn, "default");
        bool on = n && virNetworkIsActive(n) == 1;

        if (n)
                virNetworkFree(n);
        return on;
}

/* Choose, check, upload: everything before the domain is defined. */
static int host_prepare(struct job *j, struct host_state *s, char *name, size_t name_size, struct xerr *e)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(j->b);
        const char *pool = j->t->pool ? j->t->pool : "default";
        bool local = hv_lv_uri_local(j->t->uri);
        _cleanup_free_ char *caps = NULL;
        int r;

        r = lv_connect(j->t->uri, j->label, &s->conn, e);
        if (r < 0)
                return r;
        caps = virConnectGetCapabilities(s->conn);
        if (!caps)
                return xerr_set(e, -EIO, j->label, "cannot get the capabilities: %s", hv_lv_error());
        r = hv_lv_caps_parse(caps, j->label, &s->caps, e);
        if (r < 0)
                return r;
        r = hv_lv_choose(&s->caps, d, j->t->arch, j->t->accel, !local || j->local->kvm_usable,
                         j->local->kvm_reason, j->label, &s->ch, e);
        if (r < 0)
                return r;
        j->res->arch = s->ch.vm->arch->name;
        j->res->accel = s->ch.accel;
        if (s->ch.note[0])
                xova_note(j->o->note, j->o->userdata, "%s: %s", j->label, s->ch.note);
        r = hv_lv_check_efi(s->conn, &s->ch, j->label, e);
        if (r < 0)
                return r;
        snprintf(name, name_size, "%s", j->t->name ? j->t->name : "");
        if (!j->t->name)
                snprintf(name, name_size, "%s-%s", d->name, s->ch.vm->arch->name);
        if (!hv_machine_name_valid(name))
                return xerr_set(e, -EINVAL, j->label, "domain name '%s': only A-Z a-z 0-9 . _ - are allowed",
                                XOVA_ESC(name));
        snprintf(j->res->domain, sizeof(j->res->domain), "%s", name);
        snprintf(j->label, sizeof(j->label), "%s (%s)", j->res->host, name);
        r = claim_name(j, name, e);
        if (r < 0)
                return r;
        s->pool = virStoragePoolLookupByName(s->conn, pool);
        if (!s->pool || virStoragePoolIsActive(s->pool) != 1)
                return xerr_set(e, -ENOENT, j->label, "no active storage pool '%s' (--pool)", XOVA_ESC(pool));
        virStoragePoolRefresh(s->pool, 0);
        r = check_existing(j, s, name, e);
        if (r < 0)
                return r;
        r = vm_disks(j->b, s->ch.vm, &s->disks, e);
        if (r < 0)
                return r;
        return upload_all(j, s, name, e);
}

static int host_deploy(struct job *j, struct xerr *e)
{
        struct host_state s = { 0 };
        _cleanup_free_ char *xml = NULL, *log = NULL;
        char name[128];
        int r;

        r = host_prepare(j, &s, name, sizeof(name), e);
        if (r < 0)
                goto out;
        if (uri_is_system(j->t->uri) && asprintf(&log, "/var/log/libvirt/qemu/%s-console.log", name) < 0) {
                log = NULL;
                r = xerr_set(e, -ENOMEM, j->label, "out of memory");
                goto out;
        }
        struct hv_lv_domain x = { .name = name, .d = ovf_bundle_descriptor(j->b), .ch = &s.ch,
                                  .pool = virStoragePoolGetName(s.pool), .vols = s.vols, .n_vols = s.n_vols,
                                  .console_log = log, .network = network_default_active(s.conn) };
        r = hv_lv_domain_xml(&x, &xml, e);
        if (r == 0 && hv_lv_cancelled())
                r = xerr_set(e, -EINTR, j->label, "interrupted");
        if (r < 0)
                goto out;
        s.dom = virDomainDefineXML(s.conn, xml);
        if (!s.dom) {
                r = xerr_set(e, -EIO, j->label, "cannot define domain '%s': %s", name, hv_lv_error());
                goto out;
        }
        if (j->o->start || j->o->expect) {
                if (virDomainCreateWithFlags(s.dom, j->o->expect ? VIR_DOMAIN_START_PAUSED : 0) < 0) {
                        r = xerr_set(e, -EIO, j->label, "cannot start domain '%s': %s", name, hv_lv_error());
                        goto out;
                }
                if (log)
                        xova_note(j->o->note, j->o->userdata, "%s: domain '%s' started, console log %s",
                                  j->label, name, log);
        }
        if (j->o->expect) {
                r = console_expect(s.dom, j->o->expect, j->o->timeout ? j->o->timeout : 300, j->label, e);
                if (r < 0)
                        goto out;
                j->res->marker_seen = true;
        }
out:
        if (r < 0) {
                size_t made = 0;
                for (size_t i = 0; i < s.n_vols; i++)
                        made += s.vol_ptrs[i] != NULL;
                if (made || s.dom)
                        xova_note(j->o->note, j->o->userdata, "%s: rolling back: %s%zu volume(s) deleted",
                                  j->label, s.dom ? "domain and NVRAM undefined, " : "", made);
                j->res->volumes[0] = 0;         /* none of them stays */
        }
        host_state_clear(&s, r < 0);
        return r;
}

static atomic_size_t jobs_done;

static void *job_main(void *p)
{
        struct job *j = p;
        uint64_t t0 = hv_now_ms();

        snprintf(j->label, sizeof(j->label), "%s", j->res->host);
        j->res->code = host_deploy(j, &j->res->err);
        j->res->ms = hv_now_ms() - t0;
        atomic_fetch_add(&jobs_done, 1);
        return NULL;
}

/* Runs the jobs, one thread each, with SIGINT/SIGTERM/SIGHUP blocked in
 * them and taken here: a signal cancels every host (each rolls back).
 * Returns the signal taken, or 0. */
static int run_jobs(struct job *jobs, size_t n)
{
        sigset_t set, old;
        int sig = 0;

        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, &old);
        atomic_store(&jobs_done, 0);
        atomic_store(&deploy_cancel, false);
        for (size_t i = 0; i < n; i++) {
                jobs[i].started = pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]) == 0;
                if (!jobs[i].started)
                        job_main(&jobs[i]);
        }
        while (atomic_load(&jobs_done) < n) {
                int s = sigtimedwait(&set, NULL, &(struct timespec) { .tv_nsec = 200 * 1000 * 1000 });
                if (s > 0) {
                        sig = sig ? sig : s;
                        atomic_store(&deploy_cancel, true);
                }
        }
        for (size_t i = 0; i < n; i++)
                if (jobs[i].started)
                        pthread_join(jobs[i].thread, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return sig;
}

int hv_deploy_remote(const char *bundle, const struct hv_remote_opts *o, const struct hv_target *targets, size_t n,
                     struct hv_target_result *res, struct xerr *e)
{
        struct ovf_open_opts oo = { .ca_file = o->ca_file, .require_signature = o->ca_file != NULL };
        _cleanup_(hv_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_free_ struct job *jobs = calloc(n ? n : 1, sizeof(*jobs));
        struct hv_host local = { 0 };
        bool any_local = false;
        int r, sig;

        if (!jobs)
                return xerr_set(e, -ENOMEM, bundle, "out of memory");
        /* verify first, once, here: a refused bundle reaches no host */
        r = ovf_bundle_open(bundle, &oo, &b, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                res[i] = (struct hv_target_result) { 0 };
                any_local |= hv_lv_uri_local(targets[i].uri) && targets[i].accel == HV_ACCEL_AUTO;
        }
        /* libvirt offers KVM when /dev/kvm exists; the probe knows if it works */
        hv_host_detect(any_local, &local, e);
        r = lv_start(e);
        if (r < 0)
                return r;
        /* from here on each host has its result (host[] set) */
        for (size_t i = 0; i < n; i++)
                hv_lv_uri_display(targets[i].uri, res[i].host, sizeof(res[i].host));
        struct claims claims = { .lock = PTHREAD_MUTEX_INITIALIZER, .jobs = jobs, .n = n };
        for (size_t i = 0; i < n; i++)
                jobs[i] = (struct job) { .t = &targets[i], .claims = &claims, .o = o, .b = b, .local = &local,
                                         .res = &res[i] };
        sig = run_jobs(jobs, n);
        r = 0;
        for (size_t i = 0; i < n; i++) {
                if (sig && res[i].code == -EINTR)
                        xerr_prefix(&res[i].err, "%s: rolled back", strsignal(sig));
                if (res[i].code < 0 && r == 0) {
                        r = res[i].code;
                        *e = res[i].err;
                }
        }
        lv_stop();
        return r;
}
