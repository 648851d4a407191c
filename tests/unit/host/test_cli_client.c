// SPDX-License-Identifier: MIT
/* Tests for host/cli_client.c: `disnvme list` output from a daemon reply, normal and JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host/cli.h"

static const char reply[] =
	"{\"status\":0,\"controllers\":[{\"name\":\"ctrl0\",\"transport\":\"rdma\","
	"\"traddr\":\"10.77.0.1\",\"trsvcid\":\"4420\",\"subsysnqn\":\"nqn.s\","
	"\"hostnqn\":\"nqn.h\",\"hostid\":\"00112233-4455-6677-8899-aabbccddeeff\","
	"\"cntlid\":1,\"state\":\"live\",\"namespaces\":[{\"nsid\":1,\"device\":\"/dev/ublkb0\","
	"\"size\":268435456,\"lba_size\":4096,\"read_only\":false}]}]}";

static char *print(struct json_object *r, enum dn_out_fmt fmt)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	dn_list_print(f, r, fmt);
	fclose(f);
	return out;
}

static void test_normal(void **state)
{
	struct json_object *r = json_tokener_parse(reply);
	char *out = print(r, DN_OUT_NORMAL);

	assert_string_equal(out, "ctrl0: nqn.s rdma traddr=10.77.0.1,trsvcid=4420 cntlid 1 live\n"
				 "  hostnqn nqn.h hostid 00112233-4455-6677-8899-aabbccddeeff\n"
				 "  /dev/ublkb0  nsid 1  268435456 bytes  4096-byte blocks\n");
	free(out);
	json_object_put(r);
}

static void test_json(void **state)
{
	struct json_object *r = json_tokener_parse(reply), *j, *c, *v;
	char *out = print(r, DN_OUT_JSON);

	j = json_tokener_parse(out);
	assert_non_null(j);
	/* the daemon's status does not leak into the user's document */
	assert_false(json_object_object_get_ex(j, "status", &v));
	assert_true(json_object_object_get_ex(j, "controllers", &c));
	assert_int_equal(json_object_array_length(c), 1);
	c = json_object_array_get_idx(c, 0);
	assert_true(json_object_object_get_ex(c, "namespaces", &v));
	v = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(v, "device", &v));
	assert_string_equal(json_object_get_string(v), "/dev/ublkb0");
	json_object_put(j);
	free(out);
	json_object_put(r);
}

static void test_empty(void **state)
{
	struct json_object *r = json_object_new_object();
	char *out = print(r, DN_OUT_JSON), *out2;
	struct json_object *j = json_tokener_parse(out), *c;

	assert_true(json_object_object_get_ex(j, "controllers", &c));
	assert_int_equal(json_object_array_length(c), 0);
	out2 = print(r, DN_OUT_NORMAL);
	assert_string_equal(out2, "");
	json_object_put(j);
	free(out);
	free(out2);
	json_object_put(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
