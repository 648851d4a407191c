/* SPDX-License-Identifier: MIT */
/*
 * Configuration helpers shared by config.c and its tests: the checks every NQN, address and
 * identifier string passes, whether it came from the command line or a JSON file. The
 * configuration structures and the load/free API are in target/target.h.
 */
#ifndef DISNVME_TARGET_CONFIG_H
#define DISNVME_TARGET_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "target/target.h"

/* Each returns NULL when the value is good, else a short description of the problem. */
const char *dn_cfg_check_nqn(const char *nqn);
const char *dn_cfg_parse_traddr(const char *traddr, uint8_t *adrfam);
const char *dn_cfg_check_ascii(const char *s, size_t max);
/* "hex digits" (dashes allowed between them) of exactly n bytes */
const char *dn_cfg_parse_hex_id(const char *s, uint8_t *out, size_t n);

/* Parse a configuration held in memory; source names it in messages (the file name). */
int dn_tgt_config_parse_json(struct dn_tgt_config *cfg, const char *source, const char *text,
			     size_t len);

/* Cross-field checks and defaults (serial, model) on a complete configuration. */
int dn_cfg_finish(struct dn_tgt_config *cfg);

#endif
