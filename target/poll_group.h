/* SPDX-License-Identifier: MIT */
/*
 * Poll groups: a thread with one io_uring on which it waits for everything it serves (its
 * queues' completion channels, backend I/O, an eventfd message queue). Queues are spread
 * over the groups; a group can also run on the calling thread (the main loop does, for the
 * rdma_cm channel, signals and the keep-alive tick).
 */
#ifndef DISNVME_TARGET_POLL_GROUP_H
#define DISNVME_TARGET_POLL_GROUP_H

#include <stdbool.h>
#include <liburing.h>

#include "target/core.h"

/* Create a group (ring with DN_PG_RING_FLAGS, eventfd). Returns 0 or -errno. */
int dn_pg_create(unsigned int idx, const char *name, struct dn_poll_group **out);
/* Run the loop on the calling thread until dn_pg_stop(); returns 0 or -errno. */
int dn_pg_run(struct dn_poll_group *pg);
/* Run the loop on a new thread. */
int dn_pg_start(struct dn_poll_group *pg);
/* Any thread: the loop returns after the messages queued before this one ran. */
int dn_pg_stop(struct dn_poll_group *pg);
/* Joins the thread if dn_pg_start() made one, then frees. */
void dn_pg_destroy(struct dn_poll_group *pg);
/* The group whose thread is calling, or NULL. */
struct dn_poll_group *dn_pg_current(void);
const char *dn_pg_name(const struct dn_poll_group *pg);

/* A free SQE on the group's ring, submitting first if the ring is full. Group thread. */
struct io_uring_sqe *dn_pg_get_sqe(struct dn_poll_group *pg);
/* One-shot poll of fd for mask; ev->cb gets the CQE (res = revents or -errno). Group thread. */
int dn_pg_poll_add(struct dn_poll_group *pg, int fd, unsigned int mask, struct dn_event *ev);
/* Cancel a poll added with ev; its CQE still arrives (res -ECANCELED). Group thread. */
int dn_pg_poll_cancel(struct dn_poll_group *pg, struct dn_event *ev);

/* dn_pg_defer() and struct dn_pg_deferred: target/core.h (the core defers work too) */

/* Load accounting, for placing new queues on the least busy group. Any thread. */
void dn_pg_load_get(struct dn_poll_group *pg);
void dn_pg_load_put(struct dn_poll_group *pg);
unsigned int dn_pg_load(const struct dn_poll_group *pg);

#endif
