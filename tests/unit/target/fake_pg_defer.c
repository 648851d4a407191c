// SPDX-License-Identifier: MIT
/* The fake deferred work of a poll group, shared by the RDMA transport's unit tests. */
#include <stddef.h>

#include "fake_pg_defer.h"

static struct dn_pg_deferred *deferred;

void dn_pg_defer(struct dn_poll_group *pg, struct dn_pg_deferred *d)
{
	(void)pg;
	if (d->queued)
		return;
	d->queued = true;
	d->next = deferred;
	deferred = d;
}

unsigned int fake_pg_run_deferred(void)
{
	unsigned int n = 0;

	while (deferred) {
		struct dn_pg_deferred *d = deferred;

		deferred = d->next;
		d->queued = false;
		d->fn(d);
		n++;
	}
	return n;
}

unsigned int fake_pg_run_deferred_once(void)
{
	struct dn_pg_deferred *d = deferred;
	unsigned int n = 0;

	deferred = NULL;
	while (d) {
		struct dn_pg_deferred *next = d->next;

		d->queued = false;
		d->fn(d);
		n++;
		d = next;
	}
	return n;
}

bool fake_pg_deferred_pending(void)
{
	return deferred != NULL;
}

void fake_pg_deferred_reset(void)
{
	deferred = NULL;
}
