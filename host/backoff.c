// SPDX-License-Identifier: MIT
/* Reconnect backoff: see backoff.h. */
#include <errno.h>

#include "host/backoff.h"

bool dn_backoff_answered(int err)
{
	switch (err) {
	case -ECONNREFUSED: /* rdma_cm reject: no listener, or the target refused the queue */
	case -EACCES:	    /* Connect: host not allowed */
	case -ENOENT:	    /* Connect: no such subsystem (yet) */
	case -EBUSY:	    /* Connect: controller busy */
		return true;
	default:
		return false;
	}
}

int64_t dn_backoff_next(int64_t prev_ms, int64_t base_ms, bool answered)
{
	int64_t cap = base_ms > DN_BACKOFF_CAP_MS ? base_ms : DN_BACKOFF_CAP_MS;

	if (base_ms < 1)
		base_ms = 1;
	if (answered || prev_ms < base_ms)
		return base_ms;
	return prev_ms > cap / 2 ? cap : prev_ms * 2;
}
