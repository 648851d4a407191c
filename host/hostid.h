/* SPDX-License-Identifier: MIT */
/*
 * Who this host is on the fabric: the host NQN and host ID, from the command line, else
 * /etc/nvme/hostnqn and /etc/nvme/hostid, else the fallbacks libnvme (and so nvme-cli) uses.
 */
#ifndef DISNVME_HOST_HOSTID_H
#define DISNVME_HOST_HOSTID_H

#include <stdint.h>

#include "host/err.h"

struct dn_host_identity {
	char nqn[256];
	uint8_t id[16];
	char id_str[37];
};

/* 0 or -EINVAL: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, either case) */
int dn_uuid_parse(const char *s, uint8_t out[16]);
void dn_uuid_format(const uint8_t id[16], char out[37]);

/*
 * The precedence, testable: option, else the file's content (NULL when there is no file),
 * else libnvme's generated NQN; the ID, failing all that, from a UUID-based NQN, else a
 * stable name-based UUID of the NQN.
 */
int dn_host_identity_resolve(const char *nqn_opt, const char *id_opt, char *nqn_file, char *id_file,
			     struct dn_host_identity *h, struct dn_err *e);
/* nqn_opt / id_opt: the -q / -I values, or NULL */
int dn_host_identity_get(const char *nqn_opt, const char *id_opt, struct dn_host_identity *h,
			 struct dn_err *e);

#endif
