// SPDX-License-Identifier: MIT
/* libFuzzer target for disnvme-target's JSON configuration parser and checks. */
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "target/config.h"
#include "target/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	struct dn_tgt_config cfg;

	dn_log_max_level = -1; /* every malformed input logs a line: keep the fuzzer quiet */
	if (!dn_tgt_config_parse_json(&cfg, "fuzz.json", (const char *)buf, len))
		dn_tgt_config_free(&cfg);
	return 0;
}
