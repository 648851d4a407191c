// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for discovery/conf.c: any file image parses without crashing, comes back
 * byte for byte when serialized, and every entry it yields survives format -> parse -> format
 * unchanged and can be removed and added back.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const struct dn_conf_entry *e)
{
	char a[DN_CONF_LINE_MAX + 2], b[DN_CONF_LINE_MAX + 2];
	const struct dn_conf_entry *again;
	struct dn_conf *one;
	int n;

	n = dn_conf_entry_format(e, a, sizeof(a));
	if (n < 0)
		return; /* longer than a line may be: add refuses it too */
	if (dn_conf_parse("fuzz", a, (size_t)n, &one))
		return; /* out of memory */
	if (dn_conf_nr_entries(one) != 1)
		abort(); /* a line disnvme writes must read back */
	again = dn_conf_get_entry(one, 0);
	/* the canonical line always names the port */
	if (!dn_conf_entry_same_port(e, again) ||
	    (again->given | DN_CONF_GIVEN(DN_CONF_OPT_TRSVCID)) !=
		    (e->given | DN_CONF_GIVEN(DN_CONF_OPT_TRSVCID)) ||
	    again->ctrl_loss_tmo != e->ctrl_loss_tmo || strcmp(again->hostnqn, e->hostnqn))
		abort();
	if (dn_conf_entry_format(again, b, sizeof(b)) != n || memcmp(a, b, (size_t)n))
		abort();
	dn_conf_free(one);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dn_conf_entry copy;
	struct dn_conf *c;
	size_t i, nr, len;
	char *buf;
	int removed, ret;

	if (dn_conf_parse("fuzz", (const char *)data, size, &c))
		return 0;
	if (dn_conf_serialize(c, &buf, &len) == 0) {
		if (len != size || memcmp(buf, data, size))
			abort(); /* an untouched file must come back byte for byte */
		free(buf);
	}
	nr = dn_conf_nr_entries(c);
	for (i = 0; i < nr; i++)
		check_entry(dn_conf_get_entry(c, i));
	if (nr) {
		/* remove the first entry's port (and whatever shares it), then add it back */
		copy = *dn_conf_get_entry(c, 0);
		removed = dn_conf_remove(c, &copy, NULL, 0);
		if (removed < 1 || dn_conf_nr_entries(c) != nr - (size_t)removed)
			abort();
		ret = dn_conf_add(c, &copy, NULL);
		if (ret && ret != -ENOSPC && ret != -ENOMEM)
			abort();
		if (!ret && dn_conf_nr_entries(c) != nr - (size_t)removed + 1)
			abort();
		if (dn_conf_serialize(c, &buf, &len) == 0)
			free(buf);
	}
	dn_conf_free(c);
	return 0;
}
