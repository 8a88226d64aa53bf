/* SPDX-License-Identifier: MIT */
/*
 * common-internal.h - what the files of common/ share and nothing else
 * sees: the temp registry (tempreg.c) and the async-signal-safe remover
 * (rmrf.c) under atomic outputs, stale-temp reclaim and work directories.
 */
#ifndef XOVA_COMMON_INTERNAL_H
#define XOVA_COMMON_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* ---- rmrf.c ---- */

/* Removes everything below the directory fd (not the directory itself):
 * raw getdents64, no malloc, no stdio, so usable from a signal handler.
 * Never follows a symlink and never leaves the filesystem it started on. */
void xova_rmrf_fd(int fd);
/* A directory tree (is_dir: contents as xova_rmrf_fd, then rmdir) or one
 * file (unlink). Async-signal-safe. */
void xova_rmrf_path(const char *path, bool is_dir);

/* ---- tempreg.c ---- */

/* Registers path for removal at exit and on SIGINT/SIGTERM/SIGHUP (installs
 * the handlers on first use). lock_fd: for a directory, the fd holding its
 * flock, owned by the registry from here on; -1 for files. -ENOSPC when the
 * fixed registry is full. */
int xova_tempreg_add(const char *path, bool is_dir, int lock_fd);
/* Unregisters path (and closes its lock fd): it was committed or removed. */
void xova_tempreg_remove(const char *path);
/* Creating a temp and registering it happen between these two, with every
 * signal blocked (and the handlers installed first), so a signal never
 * falls between the two and leaves an unregistered temp. */
void xova_tempreg_block(sigset_t *old);
void xova_tempreg_unblock(const sigset_t *old);
/* Creates the named temp tmpl (ending in "XXXXXX", rewritten to the name
 * made), locked and registered: a file (*ret_fd: its O_RDWR fd, which holds
 * the lock) or a directory (*ret_fd: an O_RDONLY fd holding the lock, owned
 * by the registry: do not close it). *ret_full says the error came from a
 * full registry. */
int xova_tempreg_make(char *tmpl, bool is_dir, int *ret_fd, bool *ret_full);
/* ".NAME.xova-XXXXXX" beside target; NULL on OOM. */
char *xova_temp_template(const char *target);
/* The process umask, read without changing it for longer than two calls. */
mode_t xova_current_umask(void);

#endif
