// SPDX-License-Identifier: MIT
/* Reconnect backoff: see backoff.h. */
#include <errno.h>

#include "host/backoff.h"

enum dn_backoff_cause dn_backoff_cause(int err)
{
	switch (err) {
	case -ECONNREFUSED: /* rdma_cm reject: no listener, or the target refused the queue */
	case -EACCES:	    /* Connect: host not allowed */
	case -ENOENT:	    /* Connect: no such subsystem (yet) */
	case -EBUSY:	    /* Connect: controller busy */
		return DN_BACKOFF_ANSWERED;
	case -ENODEV:	     /* address resolution: no RDMA device here for the route */
	case -ENETUNREACH:   /* address resolution: no route from here */
	case -EADDRNOTAVAIL: /* the host address (host_traddr) is not configured here */
		return DN_BACKOFF_LOCAL;
	default:
		return DN_BACKOFF_SILENT;
	}
}

const char *dn_backoff_cause_str(enum dn_backoff_cause cause)
{
	switch (cause) {
	case DN_BACKOFF_ANSWERED:
		return "the target answered";
	case DN_BACKOFF_LOCAL:
		return "not sent: no route or RDMA device here yet";
	case DN_BACKOFF_SILENT:
		break;
	}
	return "no answer: backing off";
}

int64_t dn_backoff_next(int64_t prev_ms, int64_t base_ms, enum dn_backoff_cause cause)
{
	int64_t cap = base_ms > DN_BACKOFF_CAP_MS ? base_ms : DN_BACKOFF_CAP_MS;

	if (base_ms < 1)
		base_ms = 1;
	if (cause != DN_BACKOFF_SILENT || prev_ms < base_ms)
		return base_ms;
	return prev_ms > cap / 2 ? cap : prev_ms * 2;
}
