// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the file a namespace keeps its reservations in (ptpl_file), read back
 * when disnvme-target starts: whatever the file holds, the load either fails and leaves no
 * reservation, or leaves a state the reservation code can rely on (at most 64 registrants, no
 * host twice, a holder that exists when the type needs one).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "target/core_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static struct dn_tgt_subsys subsys = {.nqn = "nqn.2024-01.io.disnvme:fuzz"};
	static struct dn_tgt_ns ns = {.subsys = &subsys, .nsid = 1};
	unsigned int i, j;
	uint8_t rtype;

	dn_log_max_level = -1; /* every bad file logs a line: keep the fuzzer quiet */
	dn_tgt_pr_init(&ns.pr);
	if (dn_tgt_pr_load_text(&ns, "fuzz.json", (const char *)buf, len)) {
		if (atomic_load(&ns.pr.rtype) || ns.pr.nr_regs)
			abort(); /* a failed load left something behind */
	} else {
		rtype = atomic_load(&ns.pr.rtype);
		if (ns.pr.nr_regs > DN_TGT_PR_MAX_REGS || rtype > NVME_RESERVATION_RTYPE_EAAR)
			abort();
		if (rtype && rtype != NVME_RESERVATION_RTYPE_WEAR &&
		    rtype != NVME_RESERVATION_RTYPE_EAAR &&
		    (ns.pr.holder < 0 || ns.pr.holder >= (int)ns.pr.nr_regs))
			abort();
		for (i = 0; i < ns.pr.nr_regs; i++)
			for (j = 0; j < i; j++)
				if (!memcmp(ns.pr.regs[i].hostid, ns.pr.regs[j].hostid, 16))
					abort();
	}
	dn_tgt_pr_destroy(&ns.pr);
	return 0;
}
