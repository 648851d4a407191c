// SPDX-License-Identifier: MIT
/*
 * For the fuzz targets that take the target core library for one of its parsers: the poll
 * groups it calls into are never used there, and calling them is a bug.
 */
#include <stdlib.h>

#include "target/core.h"

struct io_uring *dn_pg_ring(struct dn_poll_group *pg)
{
	(void)pg;
	abort();
}

int dn_pg_send_msg(struct dn_poll_group *pg, void (*fn)(void *arg), void *arg)
{
	(void)pg;
	(void)fn;
	(void)arg;
	abort();
}

void dn_pg_defer(struct dn_poll_group *pg, struct dn_pg_deferred *d)
{
	(void)pg;
	(void)d;
	abort();
}
