// SPDX-License-Identifier: MIT
/* libFuzzer target for disnvme-target's JSON configuration parser and checks. */
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "target/config.h"
#include "target/core.h"

/* The core library comes along for its identifier derivation; no poll group is ever used. */
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

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	struct dn_tgt_config cfg;

	dn_log_max_level = -1; /* every malformed input logs a line: keep the fuzzer quiet */
	if (!dn_tgt_config_parse_json(&cfg, "fuzz.json", (const char *)buf, len))
		dn_tgt_config_free(&cfg);
	return 0;
}
