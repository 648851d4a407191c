/* SPDX-License-Identifier: MIT */
/*
 * A fake of the poll group's deferred work (dn_pg_defer) for the RDMA transport's unit tests:
 * work is queued once however often it is deferred, and runs when the test says, as the
 * group's loop would run it at the end of an iteration.
 */
#ifndef DISNVME_TESTS_UNIT_TARGET_FAKE_PG_DEFER_H
#define DISNVME_TESTS_UNIT_TARGET_FAKE_PG_DEFER_H

#include <stdbool.h>

#include "target/poll_group.h"

/* Run the deferred work, including work deferred while it runs; returns how much ran. */
unsigned int fake_pg_run_deferred(void);
/* One iteration of the group's loop: run what is queued now; what it defers again waits. */
unsigned int fake_pg_run_deferred_once(void);
bool fake_pg_deferred_pending(void);
/* Forget queued work (a test's setup: what the last test left is not run). */
void fake_pg_deferred_reset(void);

#endif
