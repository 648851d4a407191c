// SPDX-License-Identifier: MIT
/* Tests for host/cli_opts.c: nvme-cli's option spellings, defaults and every rejection. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "host/cli.h"

#define ARGV(...)	      ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...)	      ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PARSE(cmd, a, e, ...) dn_cli_parse(cmd, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), a, e)

static void test_connect_short(void **state)
{
	struct dn_cli_args a;
	struct dn_err e = {0};

	assert_int_equal(PARSE("connect", &a, &e, "connect", "-t", "rdma", "-a", "10.0.0.1", "-s",
			       "4421", "-n", "nqn.s", "-q", "nqn.h", "-I",
			       "00112233-4455-6677-8899-aabbccddeeff", "-i", "3", "-Q", "64", "-k",
			       "7", "-c", "2", "-l", "-1", "-F", "3", "-w", "10.0.0.9", "-D"),
			 0);
	assert_string_equal(a.transport, "rdma");
	assert_string_equal(a.traddr, "10.0.0.1");
	assert_string_equal(a.trsvcid, "4421");
	assert_string_equal(a.subnqn, "nqn.s");
	assert_string_equal(a.hostnqn, "nqn.h");
	assert_string_equal(a.hostid, "00112233-4455-6677-8899-aabbccddeeff");
	assert_int_equal(a.nr_io_queues, 3);
	assert_int_equal(a.queue_size, 64);
	assert_int_equal(a.kato, 7);
	assert_int_equal(a.reconnect_delay_ms, 2000);
	assert_int_equal(a.ctrl_loss_tmo, -1);
	assert_int_equal(a.fast_io_fail_tmo, 3);
	assert_string_equal(a.host_traddr, "10.0.0.9");
	assert_true(a.duplicate_connect);
}

static void test_connect_long_and_defaults(void **state)
{
	struct dn_cli_args a;
	struct dn_err e = {0};

	assert_int_equal(PARSE("connect", &a, &e, "connect", "--transport=rdma", "--traddr",
			       "10.0.0.1", "--nqn=nqn.s", "--queue-size=32", "--keep-alive-tmo",
			       "0"),
			 0);
	assert_string_equal(a.trsvcid, "4420");
	assert_null(a.hostnqn);
	assert_int_equal(a.queue_size, 32);
	assert_int_equal(a.kato, 0);
	assert_int_equal(a.reconnect_delay_ms, DN_DEF_RECONNECT_DELAY * 1000);
	assert_int_equal(a.ctrl_loss_tmo, DN_DEF_CTRL_LOSS_TMO);
	assert_int_equal(a.fast_io_fail_tmo, -1);
	assert_null(a.host_traddr);
	assert_false(a.duplicate_connect);
	assert_true(a.nr_io_queues >= 1 && a.nr_io_queues <= DN_MAX_IO_QUEUES);

	/* nvme-cli's long spellings, and a reconnect delay below a second */
	assert_int_equal(PARSE("connect", &a, &e, "connect", "-t", "rdma", "-a", "10.0.0.1", "-n",
			       "nqn.s", "--reconnect-delay=0.25", "--fast_io_fail_tmo=0",
			       "--host-traddr=10.0.0.2", "--duplicate-connect"),
			 0);
	assert_int_equal(a.reconnect_delay_ms, 250);
	assert_int_equal(a.fast_io_fail_tmo, 0);
	assert_string_equal(a.host_traddr, "10.0.0.2");
	assert_true(a.duplicate_connect);
	assert_int_equal(PARSE("connect", &a, &e, "connect", "-t", "rdma", "-a", "1", "-n", "x",
			       "-c", "3600", "--fast-io-fail-tmo", "-1", "-c", "0.01"),
			 0);
	assert_int_equal(a.reconnect_delay_ms, 10);
	assert_int_equal(a.fast_io_fail_tmo, -1);
}

static void test_rejections(void **state)
{
	struct dn_cli_args a;
	struct dn_err e = {0};

#define REJECT(pat, cmd, ...)                                                    \
	do {                                                                     \
		dn_err_clear(&e);                                                \
		assert_int_equal(PARSE(cmd, &a, &e, cmd, __VA_ARGS__), -EINVAL); \
		if (!strstr(e.msg, pat))                                         \
			fail_msg("\"%s\" lacks \"%s\"", e.msg, pat);             \
	} while (0)

	REJECT("-n SUBSYSTEM_NQN is required", "connect", "-t", "rdma", "-a", "1.2.3.4");
	REJECT("-a ADDRESS is required", "connect", "-t", "rdma", "-n", "x");
	REJECT("-t rdma is required", "discover", "-a", "1.2.3.4");
	REJECT("transport \"tcp\" is not supported", "discover", "-t", "tcp", "-a", "1.2.3.4");
	REJECT("--queue-size must be 2..1024", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-Q",
	       "1");
	REJECT("--queue-size", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-Q", "12x");
	REJECT("--nr-io-queues must be 1..64", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-i",
	       "0");
	REJECT("--ctrl-loss-tmo", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-l", "-2");
	REJECT("--fast_io_fail_tmo must be -1", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-F",
	       "-2");
	REJECT("--fast_io_fail_tmo", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-F", "1s");
	REJECT("--host-iface applies to TCP only", "connect", "-t", "rdma", "-a", "1", "-n", "x",
	       "-f", "eth0");
	/* the reconnect delay: 0.01..3600 s, at most three decimals, nothing else */
	REJECT("--reconnect-delay must be 0.01..3600", "connect", "-t", "rdma", "-a", "1", "-n",
	       "x", "-c", "0");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c", "0.001");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c", "3600.5");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c", "1.2345");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c", "1.");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c", ".5");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c", "-1");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c",
	       "99999999999999999999");
	REJECT("--reconnect-delay", "connect", "-t", "rdma", "-a", "1", "-n", "x", "-c", "1e3");
	/* a port number, not anything getaddrinfo takes (it keeps 16 bits of 70000) */
	REJECT("--trsvcid: not a port number 1..65535 (got \"70000\")", "connect", "-t", "rdma",
	       "-a", "1", "-n", "x", "-s", "70000");
	REJECT("--trsvcid: not a port number", "discover", "-t", "rdma", "-a", "1", "-s", "0");
	REJECT("--trsvcid: not a port number", "discover", "-t", "rdma", "-a", "1", "-s", "abc");
	REJECT("--trsvcid: not a port number", "discover", "-t", "rdma", "-a", "1", "-s", " 4420");
	REJECT("--trsvcid: not a port number", "discover", "-t", "rdma", "-a", "1", "-s", "+4420");
	REJECT("--trsvcid: not a port number", "discover", "-t", "rdma", "-a", "1", "-s", "0x10");
	REJECT("--trsvcid: not a port number", "discover", "-t", "rdma", "-a", "1", "-s", "");
	REJECT("--trsvcid: not a port number", "discover", "-t", "rdma", "-a", "1", "-s",
	       "000004420");
	REJECT("--output-format must be normal or json", "list", "-o", "xml");
	REJECT("unknown or incomplete option", "list", "--frob");
	REJECT("unknown or incomplete option", "list", "-n", "x"); /* list takes no -n */
	REJECT("unexpected argument \"extra\"", "list", "extra");
	REJECT("either -n SUBSYSTEM_NQN or -d", "disconnect", "-n", "x", "-d", "/dev/ublkb0");
	REJECT("either -n SUBSYSTEM_NQN or -d", "disconnect", "-v");
	dn_err_clear(&e);
	assert_int_equal(dn_cli_parse("frob", 1, ARGV("frob"), &a, &e), -EINVAL);
}

static void test_output_and_disconnect(void **state)
{
	struct dn_cli_args a;
	struct dn_err e = {0};

	assert_int_equal(PARSE("list", &a, &e, "list", "-o", "json"), 0);
	assert_int_equal(a.fmt, DN_OUT_JSON);
	assert_int_equal(PARSE("list", &a, &e, "list", "--output-format=normal"), 0);
	assert_int_equal(a.fmt, DN_OUT_NORMAL);
	assert_int_equal(PARSE("disconnect", &a, &e, "disconnect", "-d", "/dev/ublkb3"), 0);
	assert_string_equal(a.device, "/dev/ublkb3");
	assert_int_equal(PARSE("disconnect", &a, &e, "disconnect", "--nqn", "nqn.s"), 0);
	assert_string_equal(a.subnqn, "nqn.s");
	assert_int_equal(PARSE("disconnect-all", &a, &e, "disconnect-all"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_short),
		cmocka_unit_test(test_connect_long_and_defaults),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_output_and_disconnect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
