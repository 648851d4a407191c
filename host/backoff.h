/* SPDX-License-Identifier: MIT */
/*
 * When to try reconnecting a lost controller again: capped exponential backoff that starts
 * at reconnect_delay.
 *
 * After every failed attempt the wait doubles, up to DN_BACKOFF_CAP_MS (or reconnect_delay
 * when that is longer), when the target did not answer: its address or route is gone, or
 * nothing came back in time. Retrying a silent network faster gains nothing and, with many
 * hosts, floods it once it returns. When the target answered and refused (rdma_cm reject:
 * nothing listens yet; a Connect refused while it comes up), the wait goes back to
 * reconnect_delay: the machine is up and its service is restarting, each attempt costs one
 * round trip, and backing off would only delay the moment I/O flows again.
 */
#ifndef DISNVME_HOST_BACKOFF_H
#define DISNVME_HOST_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define DN_BACKOFF_CAP_MS 60000

/* Did a failed attempt (its -errno) get an answer from the target? */
bool dn_backoff_answered(int err);
/* The wait after a failed attempt, given the previous wait (0: this was the first attempt). */
int64_t dn_backoff_next(int64_t prev_ms, int64_t base_ms, bool answered);

#endif
