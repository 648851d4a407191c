// SPDX-License-Identifier: MIT
/* Host NQN and host ID resolution (see hostid.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nvme/fabrics.h>

#include "host/hostid.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int dn_uuid_parse(const char *s, uint8_t out[16])
{
	int i, n = 0;

	for (i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = hexval(s[i]);
		lo = hi >= 0 ? hexval(s[i + 1]) : -1;
		if (lo < 0)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[36] == '\0' ? 0 : -EINVAL;
}

void dn_uuid_format(const uint8_t id[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10],
		 id[11], id[12], id[13], id[14], id[15]);
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

int dn_host_identity_resolve(const char *nqn_opt, const char *id_opt, char *nqn_file, char *id_file,
			     struct dn_host_identity *h, struct dn_err *e)
{
	char *nqn = NULL, *id = NULL, *p;
	int ret = 0;

	memset(h, 0, sizeof(*h));
	nqn = nqn_opt ? strdup(nqn_opt) : nqn_file ? strdup(nqn_file) : nvmf_hostnqn_generate();
	if (!nqn)
		return dn_err_set(e, -ENOENT,
				  "no host NQN: pass -q or write one to "
				  "/etc/nvme/hostnqn");
	trim(nqn);
	if (!nqn[0] || strlen(nqn) >= sizeof(h->nqn)) {
		ret = dn_err_set(e, -EINVAL,
				 "the host NQN \"%s\" is empty or longer than 255 bytes", nqn);
		goto out;
	}
	strcpy(h->nqn, nqn);

	id = id_opt ? strdup(id_opt) : id_file ? strdup(id_file) : NULL;
	if (id) {
		trim(id);
		if (dn_uuid_parse(id, h->id)) {
			ret = dn_err_set(e, -EINVAL, "the host ID \"%s\" is not a UUID", id);
			goto out;
		}
	} else if ((p = strstr(nqn, "uuid:")) && !dn_uuid_parse(p + 5, h->id)) {
		/* as nvme-cli: a UUID-based host NQN gives the host ID */
	} else {
		/* no ID anywhere: derive a stable one from the NQN (FNV-1a over two seeds) */
		uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
		const char *s;

		for (s = nqn; *s; s++) {
			a = (a ^ (uint8_t)*s) * 0x100000001b3ull;
			b = (b ^ (uint8_t)*s) * 0x100000001b3ull;
		}
		memcpy(h->id, &a, 8);
		memcpy(h->id + 8, &b, 8);
		h->id[6] = (h->id[6] & 0x0f) | 0x50; /* a name-based UUID, version 5 layout */
		h->id[8] = (h->id[8] & 0x3f) | 0x80;
	}
	dn_uuid_format(h->id, h->id_str);
out:
	free(nqn);
	free(id);
	return ret;
}

int dn_host_identity_get(const char *nqn_opt, const char *id_opt, struct dn_host_identity *h,
			 struct dn_err *e)
{
	char *nqn_file = nqn_opt ? NULL : nvmf_hostnqn_from_file();
	char *id_file = id_opt ? NULL : nvmf_hostid_from_file();
	int ret;

	ret = dn_host_identity_resolve(nqn_opt, id_opt, nqn_file, id_file, h, e);
	free(nqn_file);
	free(id_file);
	return ret;
}
