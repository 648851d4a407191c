// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for `disnvme discover`'s printing of a discovery log page a discovery
 * controller sent (dn_disc_log_print, host/cli_discover.c), in both output formats. Beyond
 * memory safety: both formats accept or refuse the same logs, a refused log prints nothing,
 * JSON output always parses (whatever bytes the log's string fields held) and carries every
 * record with the strings the parser validated, and the normal output has exactly its fixed
 * lines (a record's strings cannot add lines of their own).
 *
 * Input: the log page itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "discovery/disc_log.h"
#include "host/cli.h"

static FILE *devnull;

/* Print into memory; returns dn_disc_log_print's result, *out the text (free it). */
static int print_mem(const uint8_t *buf, uint32_t len, enum dn_out_fmt fmt, char **out, size_t *n)
{
	FILE *f;
	int ret;

	*out = NULL;
	*n = 0;
	f = open_memstream(out, n);
	if (!f)
		abort();
	ret = dn_disc_log_print(f, buf, len, fmt);
	if (fclose(f))
		abort();
	return ret;
}

static void check_str(struct json_object *r, const char *key, const char *want)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r, key, &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), want))
		abort();
}

static void check_json(const char *out, size_t n, uint64_t genctr, const struct dn_disc_rec *recs,
		       uint64_t nr)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root, *v, *arr;
	size_t end, i;

	if (!tok || n > INT32_MAX)
		abort();
	root = json_tokener_parse_ex(tok, out, (int)n);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		abort();
	/* one JSON value, then only the newline */
	end = json_tokener_get_parse_end(tok);
	for (i = end; i < n; i++)
		if (out[i] != '\n' && out[i] != ' ')
			abort();
	json_tokener_free(tok);

	if (!json_object_object_get_ex(root, "genctr", &v) || json_object_get_uint64(v) != genctr)
		abort();
	if (!json_object_object_get_ex(root, "records", &arr) ||
	    !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) != nr)
		abort();
	for (i = 0; i < nr; i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);

		check_str(r, "subnqn", recs[i].subnqn);
		check_str(r, "traddr", recs[i].traddr);
		check_str(r, "trsvcid", recs[i].trsvcid);
		if (!json_object_object_get_ex(r, "portid", &v) ||
		    json_object_get_int(v) != recs[i].portid)
			abort();
	}
	json_object_put(root);
}

static void check_normal(const char *out, size_t n, const struct dn_disc_rec *recs, uint64_t nr)
{
	size_t lines = 0, want = 2, i;

	for (i = 0; i < n; i++)
		lines += out[i] == '\n';
	for (i = 0; i < nr; i++)
		want += recs[i].trtype == NVMF_TRTYPE_RDMA ? 14 : 10;
	if (strlen(out) != n || lines != want)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	struct dn_disc_rec *recs = NULL;
	uint64_t genctr = 0, nr = 0, bad;
	uint32_t len32;
	int rn, rj, ref;
	char *out;
	size_t n;

	if (len > UINT32_MAX)
		return 0;
	len32 = (uint32_t)len;
	rn = dn_disc_log_print(devnull, buf, len32, DN_OUT_NORMAL);
	rj = dn_disc_log_print(devnull, buf, len32, DN_OUT_JSON);
	if (rn != rj || rn > 0)
		abort();

	/* what the printer must have shown: the parser's view of the same bytes */
	if (len >= DN_DISC_LOG_HDR_SIZE) {
		recs = calloc((len - DN_DISC_LOG_HDR_SIZE) / DN_DISC_LOG_ENTRY_SIZE + 1,
			      sizeof(*recs));
		if (!recs)
			abort();
	}
	ref = recs ? dn_disc_log_parse(buf, len, &genctr, recs,
				       (len - DN_DISC_LOG_HDR_SIZE) / DN_DISC_LOG_ENTRY_SIZE + 1,
				       &nr, &bad)
		   : -1;
	if (!rn != !ref)
		abort();

	rj = print_mem(buf, len32, DN_OUT_JSON, &out, &n);
	if (rj != rn || (rj && n))
		abort();
	if (!rj)
		check_json(out, n, genctr, recs, nr);
	free(out);

	rn = print_mem(buf, len32, DN_OUT_NORMAL, &out, &n);
	if (rn != rj || (rn && n))
		abort();
	if (!rn)
		check_normal(out, n, recs, nr);
	free(out);
	free(recs);
	return 0;
}
