// SPDX-License-Identifier: MIT
/*
 * Tests for target/config.c: a full JSON configuration, the quick-start arguments, and
 * malformed input refused with the field named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/log.h"
#include "target/config.h"
#include "target/core_internal.h"

static int parse(struct dn_tgt_config *cfg, const char *json)
{
	return dn_tgt_config_parse_json(cfg, "test.json", json, strlen(json));
}

static void test_full(void **state)
{
	static const char json[] =
		"{ \"ports\": [ { \"portid\": 7, \"trtype\": \"rdma\", \"adrfam\": \"ipv4\","
		"  \"traddr\": \"10.77.0.1\", \"trsvcid\": 4421 },"
		"  { \"traddr\": \"fd00::1\" } ],"
		"  \"subsystems\": [ { \"nqn\": \"nqn.2024-01.io.disnvme:a\", \"serial\": \"SER1\","
		"    \"model\": \"Model A\", \"hosts\": [ \"nqn.2014-08.org.nvmexpress:uuid:1\" ],"
		"    \"namespaces\": [ { \"path\": \"/tmp/a\" },"
		"      { \"nsid\": 9, \"path\": \"/tmp/b\", \"read_only\": true,"
		"        \"ptpl_file\": \"/var/lib/disnvme/b.resv\","
		"        \"nguid\": \"00112233-4455-6677-8899-aabbccddeeff\","
		"        \"uuid\": \"8d0b6f2c-0000-4000-8000-000000000001\","
		"        \"eui64\": \"0011223344556677\" } ] },"
		"    { \"nqn\": \"nqn.2024-01.io.disnvme:b\", \"allow_any_host\": true,"
		"      \"namespaces\": [ { \"path\": \"/tmp/c\" } ] } ] }";
	struct dn_tgt_config cfg;
	const struct dn_tgt_subsys_config *s;

	assert_int_equal(parse(&cfg, json), 0);
	assert_int_equal(cfg.nr_ports, 2);
	assert_int_equal(cfg.ports[0].portid, 7);
	assert_string_equal(cfg.ports[0].trsvcid, "4421");
	assert_int_equal(cfg.ports[0].adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_int_equal(cfg.ports[1].portid, 2);
	assert_int_equal(cfg.ports[1].adrfam, NVMF_ADDR_FAMILY_IP6);
	assert_string_equal(cfg.ports[1].trsvcid, "4420");
	assert_int_equal(cfg.nr_subsys, 2);
	s = &cfg.subsys[0];
	assert_string_equal(s->serial, "SER1");
	assert_string_equal(s->model, "Model A");
	assert_false(s->allow_any_host);
	assert_int_equal(s->nr_hosts, 1);
	assert_int_equal(s->nr_ns, 2);
	assert_int_equal(s->ns[0].nsid, 1);
	assert_false(s->ns[0].has_nguid);
	assert_null(s->ns[0].ptpl_file);
	assert_string_equal(s->ns[1].ptpl_file, "/var/lib/disnvme/b.resv");
	assert_int_equal(s->ns[1].nsid, 9);
	assert_true(s->ns[1].read_only);
	assert_true(s->ns[1].has_nguid);
	assert_int_equal(s->ns[1].nguid[0], 0x00);
	assert_int_equal(s->ns[1].nguid[15], 0xff);
	assert_int_equal(s->ns[1].uuid[0], 0x8d);
	assert_int_equal(s->ns[1].eui64[7], 0x77);
	s = &cfg.subsys[1];
	assert_true(s->allow_any_host);
	assert_string_equal(s->model, "disnvme");
	assert_int_equal(strlen(s->serial), 16); /* derived from the NQN */
	dn_tgt_config_free(&cfg);
}

static void expect_bad(const char *json)
{
	struct dn_tgt_config cfg;

	assert_int_equal(parse(&cfg, json), -EINVAL);
	assert_int_equal(cfg.nr_ports, 0);
	assert_null(cfg.subsys);
}

#define PORT "\"ports\": [ { \"traddr\": \"10.0.0.1\" } ]"
#define NS   "\"namespaces\": [ { \"path\": \"/tmp/x\" } ]"

static void test_malformed(void **state)
{
	expect_bad("");
	expect_bad("{ ");
	expect_bad("[]");
	expect_bad("{} trailing");
	expect_bad("{ \"subsystems\": [] }");
	expect_bad("{ " PORT " }");
	expect_bad("{ " PORT ", \"subsystems\": [], \"extra\": 1 }");
	expect_bad("{ \"ports\": [ { \"traddr\": \"not-an-ip\" } ], \"subsystems\": "
		   "[ { \"nqn\": \"nqn.a\", " NS " } ] }");
	expect_bad("{ \"ports\": [ { \"traddr\": \"10.0.0.1\", \"trtype\": \"tcp\" } ], "
		   "\"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " } ] }");
	expect_bad("{ \"ports\": [ { \"traddr\": \"10.0.0.1\", \"adrfam\": \"ipv6\" } ], "
		   "\"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " } ] }");
	expect_bad("{ \"ports\": [ { \"traddr\": \"10.0.0.1\", \"trsvcid\": 70000 } ], "
		   "\"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " } ] }");
	expect_bad("{ \"ports\": [ { \"traddr\": \"10.0.0.1\" }, { \"traddr\": \"10.0.0.1\" } ], "
		   "\"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"no-prefix\", " NS " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"" NVME_DISC_SUBSYS_NAME "\", " NS
		   " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " }, "
		   "{ \"nqn\": \"nqn.a\", " NS " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", "
		   "\"serial\": \"123456789012345678901\", " NS " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", "
		   "\"allow_any_host\": false, " NS " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"allow_any_host\": true, "
		   "\"hosts\": [ \"nqn.h\" ], " NS " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"hosts\": [ 5 ], " NS
		   " } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": [] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"nsid\": 0 } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"nsid\": 1025 } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\" }, { \"path\": \"/y\", \"nsid\": 1 } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"\" } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"nguid\": \"0011\" } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"eui64\": \"0000000000000000\" } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"read_only\": \"yes\" } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"bogus\": 1 } ] } ] }");
	/* reservations kept: an absolute path, one namespace's alone */
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"ptpl_file\": \"x.resv\" } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"ptpl_file\": 5 } ] } ] }");
	expect_bad("{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", \"namespaces\": "
		   "[ { \"path\": \"/x\", \"ptpl_file\": \"/r\" } ] }, "
		   "{ \"nqn\": \"nqn.b\", \"namespaces\": "
		   "[ { \"path\": \"/y\", \"ptpl_file\": \"/r\" } ] } ] }");
}

static void test_data_buffers_mib(void **state)
{
	struct dn_tgt_config cfg;

	assert_int_equal(parse(&cfg, "{ \"data_buffers_mib\": 64, " PORT ", \"subsystems\": [ "
				     "{ \"nqn\": \"nqn.a\", " NS " } ] }"),
			 0);
	assert_int_equal(cfg.data_buffers_mib, 64);
	dn_tgt_config_free(&cfg);
	/* absent: 0, the transport's default */
	assert_int_equal(
		parse(&cfg, "{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " } ] }"), 0);
	assert_int_equal(cfg.data_buffers_mib, 0);
	dn_tgt_config_free(&cfg);
	assert_int_equal(parse(&cfg, "{ \"data_buffers_mib\": 8192, " PORT ", \"subsystems\": "
				     "[ { \"nqn\": \"nqn.a\", " NS " } ] }"),
			 0);
	assert_int_equal(cfg.data_buffers_mib, DN_TGT_DATA_BUFFERS_MIB_MAX);
	dn_tgt_config_free(&cfg);
	expect_bad("{ \"data_buffers_mib\": 0, " PORT ", \"subsystems\": [ { \"nqn\": "
		   "\"nqn.a\", " NS " } ] }");
	expect_bad("{ \"data_buffers_mib\": 8193, " PORT ", \"subsystems\": [ { \"nqn\": "
		   "\"nqn.a\", " NS " } ] }");
	expect_bad("{ \"data_buffers_mib\": \"32\", " PORT ", \"subsystems\": [ { \"nqn\": "
		   "\"nqn.a\", " NS " } ] }");
	expect_bad("{ \"data_buffers_mib\": 1.5, " PORT ", \"subsystems\": [ { \"nqn\": "
		   "\"nqn.a\", " NS " } ] }");
}

/* A configuration with one top-level FIELD ("\"name\": value") besides a port and a subsystem */
#define WITH_TOP(field) \
	"{ " field ", " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " } ] }"

/* max_io_size and max_queue_depth: SPDK's transport options, smaller limits than the largest */
static void test_limits(void **state)
{
	struct dn_tgt_config cfg;

	assert_int_equal(parse(&cfg, WITH_TOP("\"max_io_size\": 32768, \"max_queue_depth\": 16")),
			 0);
	assert_int_equal(cfg.max_io_size, 32768);
	assert_int_equal(cfg.max_queue_depth, 16);
	dn_tgt_config_free(&cfg);
	/* absent: 0, the largest */
	assert_int_equal(
		parse(&cfg, "{ " PORT ", \"subsystems\": [ { \"nqn\": \"nqn.a\", " NS " } ] }"), 0);
	assert_int_equal(cfg.max_io_size, 0);
	assert_int_equal(cfg.max_queue_depth, 0);
	dn_tgt_config_free(&cfg);
	assert_int_equal(parse(&cfg, WITH_TOP("\"max_io_size\": 8192, \"max_queue_depth\": 2")), 0);
	assert_int_equal(cfg.max_io_size, 8192);
	assert_int_equal(cfg.max_queue_depth, 2);
	dn_tgt_config_free(&cfg);
	/* one page is MDTS 0, which means no limit */
	expect_bad(WITH_TOP("\"max_io_size\": 4096"));
	expect_bad(WITH_TOP("\"max_io_size\": 262144"));
	expect_bad(WITH_TOP("\"max_io_size\": 12288"));
	expect_bad(WITH_TOP("\"max_io_size\": \"64k\""));
	expect_bad(WITH_TOP("\"max_queue_depth\": 1"));
	expect_bad(WITH_TOP("\"max_queue_depth\": 129"));
	expect_bad(WITH_TOP("\"max_queue_depth\": true"));
}

static void test_quick_start(void **state)
{
	const char *ns[2] = {"/tmp/a", "/dev/ng0n1"};
	const char *hosts[1] = {"nqn.2014-08.org.nvmexpress:uuid:1"};
	const char *bad_hosts[1] = {"host1"};
	struct dn_tgt_config cfg;

	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", NULL,
						 "nqn.2024-01.io.disnvme:q", ns, 2, NULL, 0),
			 0);
	assert_string_equal(cfg.ports[0].trsvcid, "4420");
	assert_true(cfg.subsys[0].allow_any_host);
	assert_int_equal(cfg.subsys[0].nr_ns, 2);
	assert_int_equal(cfg.subsys[0].ns[1].nsid, 2);
	dn_tgt_config_free(&cfg);
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", "4421",
						 "nqn.2024-01.io.disnvme:q", ns, 1, hosts, 1),
			 0);
	assert_false(cfg.subsys[0].allow_any_host);
	assert_string_equal(cfg.subsys[0].hosts[0], hosts[0]);
	dn_tgt_config_free(&cfg);
	assert_int_equal(dn_tgt_config_from_args(&cfg, "tcp", "10.77.0.1", NULL,
						 "nqn.2024-01.io.disnvme:q", ns, 1, NULL, 0),
			 -EINVAL);
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", "0",
						 "nqn.2024-01.io.disnvme:q", ns, 1, NULL, 0),
			 -EINVAL);
	assert_int_equal(
		dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", NULL, "bad", ns, 1, NULL, 0),
		-EINVAL);
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", NULL,
						 "nqn.2024-01.io.disnvme:q", ns, 0, NULL, 0),
			 -EINVAL);
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", NULL,
						 "nqn.2024-01.io.disnvme:q", ns, 1, bad_hosts, 1),
			 -EINVAL);
}

static void test_setup_fails_cleanly(void **state)
{
	const char *ns[2] = {"/tmp", "/nonexistent/dn-target-test"};
	struct dn_tgt_config cfg;

	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", NULL,
						 "nqn.2024-01.io.disnvme:q", ns + 1, 1, NULL, 0),
			 0);
	cfg.max_io_size = 16384;
	cfg.max_queue_depth = 8;
	assert_int_equal(dn_tgt_setup(&cfg), -ENOENT);
	assert_int_equal(dn_tgt_nr_ports(), 0);
	/* nor are its limits left in force */
	assert_int_equal(dn_tgt_max_xfer(), DN_TGT_MAX_XFER);
	assert_int_equal(dn_tgt_max_queue_size(), DN_TGT_MAX_QUEUE_SIZE);
	dn_tgt_config_free(&cfg);
	/* a directory cannot back a namespace */
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.77.0.1", NULL,
						 "nqn.2024-01.io.disnvme:q", ns, 1, NULL, 0),
			 0);
	assert_int_equal(dn_tgt_setup(&cfg), -EISDIR);
	dn_tgt_config_free(&cfg);
}

static void test_example_file(void **state)
{
	struct dn_tgt_config cfg;

	/* the example shipped in etc/ must stay valid */
	assert_int_equal(dn_tgt_config_load(&cfg, DN_EXAMPLE_TARGET_JSON), 0);
	assert_int_equal(cfg.nr_subsys, 2);
	assert_int_equal(cfg.subsys[0].nr_ns, 3);
	assert_true(cfg.subsys[0].ns[2].read_only);
	dn_tgt_config_free(&cfg);
	assert_int_equal(dn_tgt_config_load(&cfg, "/nonexistent/dn.json"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),	     cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_quick_start),  cmocka_unit_test(test_setup_fails_cleanly),
		cmocka_unit_test(test_example_file), cmocka_unit_test(test_data_buffers_mib),
		cmocka_unit_test(test_limits),
	};

	dn_log_init("test", -10);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
