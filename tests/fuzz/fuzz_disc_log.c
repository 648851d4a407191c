// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the discovery log page parser the host runs on what a discovery
 * controller sends, and for the target's windowed builder: rebuilding a parsed log in
 * pieces must give the same bytes as building it whole.
 */
#include <stdlib.h>
#include <string.h>

#include "discovery/disc_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static struct dn_disc_rec recs[8];
	static uint8_t whole[DN_DISC_LOG_HDR_SIZE + 8 * DN_DISC_LOG_ENTRY_SIZE];
	static uint8_t piece[sizeof(whole)];
	uint64_t genctr, nr, bad, i, n, off;
	struct dn_disc_log_window w;

	if (dn_disc_log_parse(buf, len, &genctr, recs, 8, &nr, &bad))
		return 0;
	n = nr < 8 ? nr : 8;
	dn_disc_log_window_init(&w, whole, (uint32_t)dn_disc_log_size(n), 0);
	dn_disc_log_put_header(&w, genctr, n);
	for (i = 0; i < n; i++) {
		struct nvmf_disc_log_entry e;

		/* a parsed record is always something the builder can write back */
		if (dn_disc_log_entry_fill(&e, recs[i].trtype, recs[i].adrfam, recs[i].subtype,
					   recs[i].treq, recs[i].portid, recs[i].traddr,
					   recs[i].trsvcid, recs[i].subnqn, &recs[i].tsas) &&
		    strlen(recs[i].subnqn) <= NVMF_NQN_SIZE && strlen(recs[i].traddr) < 256 &&
		    strlen(recs[i].trsvcid) < 32)
			abort();
		dn_disc_log_put_entry(&w, i, &e);
	}
	off = len ? buf[0] * 4u : 0;
	if (off < dn_disc_log_size(n)) {
		uint32_t plen = (uint32_t)(dn_disc_log_size(n) - off);

		dn_disc_log_window_init(&w, piece, plen > 700 ? 700 : plen, off);
		dn_disc_log_put_header(&w, genctr, n);
		for (i = 0; i < n; i++) {
			struct nvmf_disc_log_entry e;

			memcpy(&e, whole + dn_disc_log_size(i), sizeof(e));
			dn_disc_log_put_entry(&w, i, &e);
		}
		if (memcmp(piece, whole + off, w.len))
			abort();
	}
	return 0;
}
