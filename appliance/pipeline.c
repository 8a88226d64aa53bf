/* SPDX-License-Identifier: MIT */
/*
 * The disk pipeline: one thread writes the disks' contents in order (file
 * systems with libext2fs, the boot partition) while the caller's thread
 * converts the disks already whole (ovf/ compressing grains on all cores).
 * Before it, the build was two serial phases: every file system first, with
 * one core idle, then the compression (bench/build.sh, docs/PERFORMANCE.md).
 *
 * The producer never runs ahead of what it is asked: it writes every disk,
 * once, in order; the consumer waits for disk i (appliance_pipe_wait) before
 * it reads a byte of it. What each disk holds does not depend on the
 * interleaving, so outputs stay byte-identical (tests/cli/golden.sh,
 * reproducible.sh).
 *
 * Once every disk is written, the producer drops the images the consumer
 * released (appliance_pipe_release: converted, never read again), while
 * the export goes on: deleting a root's 1 GiB scratch image evicts its
 * page cache, 0.1 s of CPU that was the build's serial tail.
 *
 * Signals: the producer runs with every signal blocked, so the handlers of
 * common/tempreg.c (remove the temps, re-raise) run on another thread; a
 * child the producer spawns starts with an empty mask (xova_spawn).
 * Progress: both threads report through one mutex, in whole calls.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appliance/appliance-internal.h"

struct appliance_pipe {
        pthread_mutex_t lock;
        pthread_cond_t changed;         /* n_ready grew, or the producer failed */
        size_t n, n_ready;              /* disks; disks whole so far */
        bool failed, cancel;
        int r;                          /* the producer's error, when failed */
        struct xerr err;
        appliance_pipe_make_fn make;
        appliance_pipe_drop_fn drop;
        void *ctx;
        bool *released, *dropped;       /* n each */
        struct xova_progress user, locked;
        pthread_mutex_t progress_lock;
        pthread_t tid;
        bool started;
};

static void progress_locked(void *userdata, const char *phase, uint64_t done, uint64_t total)
{
        struct appliance_pipe *p = userdata;

        pthread_mutex_lock(&p->progress_lock);
        xova_progress_report(&p->user, phase, done, total);
        pthread_mutex_unlock(&p->progress_lock);
}

static void *producer(void *arg)
{
        struct appliance_pipe *p = arg;
        struct xerr e = { 0 };

        for (size_t i = 0; i < p->n; i++) {
                bool cancel;
                int r;

                pthread_mutex_lock(&p->lock);
                cancel = p->cancel;
                pthread_mutex_unlock(&p->lock);
                if (cancel)
                        break;
                r = p->make(p->ctx, i, &p->locked, &e);
                pthread_mutex_lock(&p->lock);
                if (r < 0) {
                        p->failed = true;
                        p->r = r;
                        p->err = e;
                } else {
                        p->n_ready = i + 1;
                        xova_debug("pipeline: disk %zu of %zu written", i + 1, p->n);
                }
                pthread_cond_broadcast(&p->changed);
                pthread_mutex_unlock(&p->lock);
                if (r < 0)
                        return NULL;
        }
        /* drop what the consumer released, until all is or it stops us */
        pthread_mutex_lock(&p->lock);
        for (size_t left = p->n; left > 0 && !p->cancel && p->drop;) {
                size_t i;
                for (i = 0; i < p->n && !(p->released[i] && !p->dropped[i]); i++)
                        ;
                if (i == p->n) {
                        pthread_cond_wait(&p->changed, &p->lock);
                        continue;
                }
                p->dropped[i] = true;
                left--;
                pthread_mutex_unlock(&p->lock);
                p->drop(p->ctx, i);
                pthread_mutex_lock(&p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int appliance_pipe_start(size_t n, appliance_pipe_make_fn make, appliance_pipe_drop_fn drop, void *ctx,
                         const struct xova_progress *progress, struct appliance_pipe **ret, struct xerr *e)
{
        struct appliance_pipe *p = calloc(1, sizeof(*p));
        sigset_t all, old;
        int r;

        if (p) {
                p->released = calloc(n ? n : 1, sizeof(bool));
                p->dropped = calloc(n ? n : 1, sizeof(bool));
        }
        if (!p || !p->released || !p->dropped) {
                if (p) {
                        free(p->released);
                        free(p->dropped);
                }
                free(p);
                return xerr_set(e, -ENOMEM, NULL, "out of memory");
        }
        pthread_mutex_init(&p->lock, NULL);
        pthread_mutex_init(&p->progress_lock, NULL);
        pthread_cond_init(&p->changed, NULL);
        p->n = n;
        p->make = make;
        p->drop = drop;
        p->ctx = ctx;
        if (progress)
                p->user = *progress;
        p->locked = (struct xova_progress) { .fn = p->user.fn ? progress_locked : NULL, .userdata = p };
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&p->tid, NULL, producer, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0) {
                appliance_pipe_stop(p);
                return xerr_set_errno(e, r, NULL, "cannot start the disk writer thread");
        }
        p->started = true;
        *ret = p;
        return 0;
}

const struct xova_progress *appliance_pipe_progress(const struct appliance_pipe *p)
{
        return &p->locked;
}

int appliance_pipe_wait(struct appliance_pipe *p, size_t i, struct xerr *e)
{
        int r = 0;

        pthread_mutex_lock(&p->lock);
        if (p->n_ready <= i && !p->failed) {
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                while (p->n_ready <= i && !p->failed)
                        pthread_cond_wait(&p->changed, &p->lock);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                /* the converter idle: what the overlap did not hide */
                xova_debug("pipeline: waited %.3f s for disk %zu", (double) (t1.tv_sec - t0.tv_sec) +
                           (double) (t1.tv_nsec - t0.tv_nsec) / 1e9, i + 1);
        }
        if (p->n_ready <= i) {
                *e = p->err;
                r = p->r;
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}

void appliance_pipe_release(struct appliance_pipe *p, size_t i)
{
        pthread_mutex_lock(&p->lock);
        if (i < p->n)
                p->released[i] = true;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
}

void appliance_pipe_stop(struct appliance_pipe *p)
{
        if (!p)
                return;
        if (p->started) {
                /* the disk being written is finished, no further one begun,
                 * no further image dropped (the caller removes the rest) */
                pthread_mutex_lock(&p->lock);
                p->cancel = true;
                pthread_cond_broadcast(&p->changed);
                pthread_mutex_unlock(&p->lock);
                pthread_join(p->tid, NULL);
        }
        free(p->released);
        free(p->dropped);
        pthread_cond_destroy(&p->changed);
        pthread_mutex_destroy(&p->progress_lock);
        pthread_mutex_destroy(&p->lock);
        free(p);
}
