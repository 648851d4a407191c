// SPDX-License-Identifier: MIT
/* Tests for host/daemon.c: connect requests from the socket (untrusted) and list entries. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "host/daemon.h"

static const char good[] =
	"{\"cmd\":\"connect\",\"traddr\":\"10.77.0.1\",\"trsvcid\":\"4420\",\"subnqn\":\"nqn.s\","
	"\"hostnqn\":\"nqn.h\",\"hostid\":\"00112233-4455-6677-8899-AABBCCDDEEFF\","
	"\"nr_io_queues\":2,\"queue_size\":64,\"kato\":5,\"reconnect_delay_ms\":1000,"
	"\"ctrl_loss_tmo\":-1}";

static int parse(const char *json, struct dn_ctrl_opts *o, struct dn_err *e)
{
	struct json_object *req = json_tokener_parse(json);
	int ret;

	assert_non_null(req);
	memset(o, 0, sizeof(*o));
	dn_err_clear(e);
	ret = dn_daemon_connect_opts(o, req, e);
	json_object_put(req);
	return ret;
}

static void test_connect_opts(void **state)
{
	struct dn_ctrl_opts o;
	struct dn_err e;

	assert_int_equal(parse(good, &o, &e), 0);
	assert_string_equal(o.traddr, "10.77.0.1");
	assert_string_equal(o.trsvcid, "4420");
	assert_string_equal(o.subnqn, "nqn.s");
	assert_string_equal(o.hostnqn, "nqn.h");
	assert_string_equal(o.hostid_str, "00112233-4455-6677-8899-aabbccddeeff");
	assert_int_equal(o.hostid[0], 0x00);
	assert_int_equal(o.hostid[15], 0xff);
	assert_int_equal(o.nr_io_queues, 2);
	assert_int_equal(o.queue_size, 64);
	assert_int_equal(o.kato, 5);
	assert_int_equal(o.reconnect_delay_ms, 1000);
	assert_int_equal(o.ctrl_loss_tmo, -1);
	assert_int_equal(o.fast_io_fail_tmo, -1); /* off unless asked for */
	assert_string_equal(o.host_traddr, "");
}

static void test_connect_opts_optional(void **state)
{
	struct dn_ctrl_opts o;
	struct dn_err e;
	char json[1024];

	snprintf(json, sizeof(json), "%.*s,\"fast_io_fail_tmo\":4,\"host_traddr\":\"10.77.0.2\"}",
		 (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), 0);
	assert_int_equal(o.fast_io_fail_tmo, 4);
	assert_string_equal(o.host_traddr, "10.77.0.2");
	snprintf(json, sizeof(json), "%.*s,\"fast_io_fail_tmo\":-2}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"reconnect_delay_ms\":3600001}", (int)strlen(good) - 1,
		 good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"host_traddr\":\"%0300d\"}", (int)strlen(good) - 1,
		 good, 1);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too long"));
}

static void test_connect_rejects(void **state)
{
	struct dn_ctrl_opts o;
	struct dn_err e;
	char big[400], json[1024];

	/* missing field, field of the wrong type */
	assert_int_equal(parse("{\"traddr\":\"1\",\"trsvcid\":\"1\",\"subnqn\":\"s\","
			       "\"hostnqn\":\"h\"}",
			       &o, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "lacks a field"));
	assert_int_equal(
		parse("{\"traddr\":{},\"trsvcid\":\"1\",\"subnqn\":\"s\",\"hostnqn\":\"h\","
		      "\"hostid\":\"00112233-4455-6677-8899-aabbccddeeff\"}",
		      &o, &e),
		-EINVAL);
	/* numbers out of range or not numbers */
	snprintf(json, sizeof(json), "%.*s,\"queue_size\":1}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"reconnect_delay_ms\":0}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"ctrl_loss_tmo\":-2}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"nr_io_queues\":\"2\"}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	/* a host ID that is not a UUID */
	snprintf(json, sizeof(json), "%.*s,\"hostid\":\"nope\"}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a UUID"));
	/* an NQN longer than its field */
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(json, sizeof(json), "%.*s,\"subnqn\":\"%s\"}", (int)strlen(good) - 1, good, big);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too long"));
}

static void test_ctrl_json(void **state)
{
	static struct dn_ctrl c;
	struct dn_ns_dev ns = {
		.info = {.nsid = 3, .nsze = 1024, .lbs_shift = 12, .read_only = true},
		.params = {.size = 1024ull << 12},
		.dev_id = 5,
		.nr_paths = 2,
	};
	struct json_object *j, *v, *n;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	c.instance = 7;
	c.cntlid = 9;
	c.state = DN_CTRL_RESETTING;
	strcpy(c.o.traddr, "10.77.0.1");
	strcpy(c.o.trsvcid, "4421");
	strcpy(c.o.subnqn, "nqn.s");
	strcpy(c.o.hostnqn, "nqn.h");
	c.ns_devs[0] = &ns;
	c.nr_ns_devs = 1;
	j = dn_daemon_ctrl_json(&c);
#define STR(o, k, want)                                               \
	do {                                                          \
		assert_true(json_object_object_get_ex(o, k, &v));     \
		assert_string_equal(json_object_get_string(v), want); \
	} while (0)
	STR(j, "name", "ctrl7");
	STR(j, "transport", "rdma");
	STR(j, "traddr", "10.77.0.1");
	STR(j, "trsvcid", "4421");
	STR(j, "subsysnqn", "nqn.s");
	STR(j, "state", "resetting");
	STR(j, "cntlid", "9");
	assert_true(json_object_object_get_ex(j, "namespaces", &v));
	assert_int_equal(json_object_array_length(v), 1);
	n = json_object_array_get_idx(v, 0);
	STR(n, "device", "/dev/ublkb5");
	STR(n, "nsid", "3");
	STR(n, "size", "4194304");
	STR(n, "lba_size", "4096");
	STR(n, "read_only", "true");
	STR(n, "paths", "2");
	json_object_put(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_opts),
		cmocka_unit_test(test_connect_opts_optional),
		cmocka_unit_test(test_connect_rejects),
		cmocka_unit_test(test_ctrl_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
