/* SPDX-License-Identifier: MIT */
/*
 * workdir.c - private scratch directories ("xova-work.XXXXXX"): made
 * locked and registered (tempreg.c), so they go at exit, on signals, and
 * after SIGKILL by the next run's reclaim (reclaim.c).
 */
#include "config.h"

#include <stdio.h>

#include "common.h"
#include "common-internal.h"

int xova_workdir_new(const char *parent, char **ret_path, struct xerr *e)
{
        char *p = NULL;
        bool full;
        int r, lock_fd;

        if (parent) {
                /* an output's directory (a build's scratch lives beside its
                 * output): clean up after killed runs there. $TMPDIR is shared
                 * with everyone and has its own cleaner: not scanned. */
                (void) xova_reclaim_stale_temps(parent, NULL, NULL);
        } else {
                parent = getenv("TMPDIR");
                if (!parent || !*parent)
                        parent = "/tmp";
        }
        if (asprintf(&p, "%s/xova-work.XXXXXX", parent) < 0)
                return xerr_oom(e, parent);
        r = xova_tempreg_make(p, true, &lock_fd, &full);
        if (r < 0) {
                if (full)
                        r = xerr_set(e, r, parent, "too many temporary directories");
                else
                        r = xerr_set_errno(e, r, parent, "cannot create a work directory");
                free(p);
                return r;
        }
        *ret_path = p;
        return 0;
}

int xova_workdir_remove(const char *path)
{
        if (!path)
                return 0;
        xova_rmrf_path(path, true);
        xova_tempreg_remove(path);
        return 0;
}
