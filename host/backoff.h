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
 * round trip, and backing off would only delay the moment I/O flows again. When the attempt
 * could not leave this machine (no route to the address, the host address not configured, no
 * RDMA device here that reaches it: an interface or address going away, a driver reload or a
 * NIC reset, not there yet at boot), it sent nothing at all: the wait is reconnect_delay too,
 * so that I/O flows soon after the route or the device is back.
 */
#ifndef DISNVME_HOST_BACKOFF_H
#define DISNVME_HOST_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define DN_BACKOFF_CAP_MS 60000

/* What a failed attempt (its -errno) says, which decides the next wait */
enum dn_backoff_cause {
	DN_BACKOFF_SILENT,   /* no answer: back off */
	DN_BACKOFF_ANSWERED, /* the target answered and refused: reconnect_delay */
	DN_BACKOFF_LOCAL,    /* nothing sent: no route or RDMA device here: reconnect_delay */
};

enum dn_backoff_cause dn_backoff_cause(int err);
const char *dn_backoff_cause_str(enum dn_backoff_cause cause);
/* The wait after a failed attempt, given the previous wait (0: this was the first attempt). */
int64_t dn_backoff_next(int64_t prev_ms, int64_t base_ms, enum dn_backoff_cause cause);

#endif
