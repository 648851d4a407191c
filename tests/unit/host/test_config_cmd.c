// SPDX-License-Identifier: MIT
/* Tests for host/config_cmd.c: `disnvme config add|remove|list` end to end on real files. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"
#include <json-c/json.h>

#include "host/config_cmd.h"

static char tmpdir[64];
static char conf[128];
static char *out, *err; /* what the last run() printed */

/* Run `disnvme config ARGS... --config-file conf`, capturing stdout and stderr */
static int run(const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	const char *a;
	va_list ap;

	argv[argc++] = "config";
	va_start(ap, first);
	for (a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc++] = "--config-file";
	argv[argc++] = conf;
	argv[argc] = NULL;

	return capture_run(dn_cmd_config, argc, argv, &out, &err);
}

static char *read_conf(void)
{
	int fd = open(conf, O_RDONLY);
	char *s;

	assert_true(fd >= 0);
	s = capture_slurp(fd);
	close(fd);
	return s;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/test_config_cmd.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(conf, sizeof(conf), "%s/nvme/discovery.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int fresh(void **state)
{
	unlink(conf);
	return 0;
}

static char *expect_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *expect_printf(const char *fmt, ...)
{
	static char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static void test_add_creates_file(void **state)
{
	char *s;

	assert_int_equal(run("add", "-t", "rdma", "-a", "10.77.0.1", NULL), 0);
	assert_string_equal(out, expect_printf("%s:1: added rdma 10.77.0.1:4420\n", conf));
	assert_string_equal(err, "");
	assert_int_equal(run("add", "--transport=rdma", "--traddr=fe80::1", "--trsvcid=4421", "-l",
			     "-1", "-q", "nqn.2014-08.org.example:h1", "-f", "vt", NULL),
			 0);
	assert_string_equal(out, expect_printf("%s:2: added rdma [fe80::1]:4421 from vt\n", conf));
	s = read_conf();
	assert_string_equal(s, "--transport rdma --traddr 10.77.0.1 --trsvcid 4420\n"
			       "--transport rdma --traddr fe80::1 --trsvcid 4421 --host-iface vt "
			       "--hostnqn nqn.2014-08.org.example:h1 --ctrl-loss-tmo -1\n");
	free(s);
}

static void test_add_refuses_duplicate(void **state)
{
	static const char text[] = "# lab\n-t rdma -a 10.77.0.1 -s 4420 -l 30\n";
	char *s;

	write_conf(text);
	/* same port with other connect options is still the same discovery controller */
	assert_int_equal(run("add", "-t", "rdma", "-a", "10.77.0.1", "-l", "60", NULL), 1);
	assert_string_equal(out, "");
	assert_string_equal(err, expect_printf("disnvme config add: %s:2 already has the "
					       "discovery controller rdma 10.77.0.1:4420; "
					       "nothing added (remove it first to change its "
					       "options)\n",
					       conf));
	s = read_conf();
	assert_string_equal(s, text);
	free(s);
	/* another host interface is another path */
	assert_int_equal(run("add", "-t", "rdma", "-a", "10.77.0.1", "-f", "vt", NULL), 0);
}

static void test_add_bad_command_line(void **state)
{
	assert_int_equal(run("add", "-t", "rdma", "-a", "10.77.0.1", "--bogus", NULL), 2);
	assert_string_equal(err, "disnvme config add: error: unknown option '--bogus'\n");
	assert_int_equal(run("add", "-t", "rdma", NULL), 2);
	assert_string_equal(err, "disnvme config add: error: missing --traddr (-a)\n");
	/* what a discovery.conf line may carry for nvme-cli's sake is not written by disnvme */
	assert_int_equal(run("add", "-t", "rdma", "-a", "10.77.0.1", "-T", "4", NULL), 2);
	assert_string_equal(err, "disnvme config add: error: option --tos is not supported: "
				 "disnvme does not set a type of service\n");
	assert_int_equal(access(conf, F_OK), -1);
	assert_int_equal(run("add", "-t", "rdma", "-a", "10.77.0.1", "--config-file", NULL), 2);
}

static void test_remove(void **state)
{
	static const char text[] = "# disnvme discovery controllers\n"
				   "-t rdma -a 10.77.0.1 -s 4420\n"
				   "\n"
				   "  # second port\n"
				   "-t rdma -a 10.77.0.2 -f vt\n"
				   "-t rdma -a 10.77.0.2 -s 4421\n"
				   "--transport=rdma --traddr=10.77.0.3 -f vt\n";
	char *s;

	write_conf(text);
	assert_int_equal(run("remove", "-t", "rdma", "-a", "10.77.0.2", NULL), 0);
	assert_string_equal(out, expect_printf("%s:5: removed rdma 10.77.0.2:4420\n", conf));
	s = read_conf();
	assert_string_equal(s, "# disnvme discovery controllers\n"
			       "-t rdma -a 10.77.0.1 -s 4420\n"
			       "\n"
			       "  # second port\n"
			       "-t rdma -a 10.77.0.2 -s 4421\n"
			       "--transport=rdma --traddr=10.77.0.3 -f vt\n");
	free(s);

	assert_int_equal(run("remove", "-t", "rdma", "-a", "10.77.0.3", "-f", "vh", NULL), 1);
	assert_string_equal(err, expect_printf("disnvme config remove: %s has no entry for rdma "
					       "10.77.0.3:4420 from vh; nothing removed\n",
					       conf));
	assert_int_equal(run("remove", "-t", "rdma", "-a", "10.77.0.3", "-l", "5", NULL), 2);
	assert_int_equal(
		run("remove", "-a", "10.77.0.3", "-s", "4420", "-t", "rdma", "-f", "vt", NULL), 0);
	assert_int_equal(run("remove", "-t", "rdma", "-a", "10.77.0.2", "-s", "4421", NULL), 0);
	assert_int_equal(run("remove", "-t", "rdma", "-a", "10.77.0.1", NULL), 0);
	s = read_conf();
	assert_string_equal(s, "# disnvme discovery controllers\n"
			       "\n"
			       "  # second port\n");
	free(s);
}

static void test_list_json(void **state)
{
	struct json_object *root, *v, *entries, *problems, *e;

	write_conf("# comment\n"
		   "-t rdma -a 10.77.0.1 -q nqn.2014-08.org.example:h1 -i 2 -F 5\n"
		   "-t rdma -a 10.77.0.2 --bogus\n"
		   "-t rdma -a 10.77.0.3 -s 4430 -l 30 -c 2 --tos 1\n");
	/* one line is not used: listed as a problem, and the exit status says so */
	assert_int_equal(run("list", "-o", "json", NULL), 1);
	assert_string_equal(err, expect_printf("%s:3: error: unknown option '--bogus'\n"
					       "%s:4: warning: option --tos is ignored: disnvme "
					       "does not set a type of service\n",
					       conf, conf));
	root = json_tokener_parse(out);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "file", &v));
	assert_string_equal(json_object_get_string(v), conf);
	assert_true(json_object_object_get_ex(root, "exists", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(root, "entries", &entries));
	assert_int_equal(json_object_array_length(entries), 2);

	e = json_object_array_get_idx(entries, 0);
	assert_true(json_object_object_get_ex(e, "line", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(e, "transport", &v));
	assert_string_equal(json_object_get_string(v), "rdma");
	assert_true(json_object_object_get_ex(e, "traddr", &v));
	assert_string_equal(json_object_get_string(v), "10.77.0.1");
	assert_true(json_object_object_get_ex(e, "trsvcid", &v));
	assert_string_equal(json_object_get_string(v), "4420");
	assert_true(json_object_object_get_ex(e, "hostnqn", &v));
	assert_string_equal(json_object_get_string(v), "nqn.2014-08.org.example:h1");
	assert_true(json_object_object_get_ex(e, "subsysnqn", &v));
	assert_string_equal(json_object_get_string(v), "nqn.2014-08.org.nvmexpress.discovery");
	assert_true(json_object_object_get_ex(e, "nr_io_queues", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(e, "ctrl_loss_tmo", &v));
	assert_int_equal(json_object_get_int(v), -1);
	assert_true(json_object_object_get_ex(e, "fast_io_fail_tmo", &v));
	assert_int_equal(json_object_get_int(v), 5);

	e = json_object_array_get_idx(entries, 1);
	assert_true(json_object_object_get_ex(e, "line", &v));
	assert_int_equal(json_object_get_int(v), 4);
	assert_true(json_object_object_get_ex(e, "trsvcid", &v));
	assert_string_equal(json_object_get_string(v), "4430");
	assert_true(json_object_object_get_ex(e, "ctrl_loss_tmo", &v));
	assert_int_equal(json_object_get_int(v), 30);
	assert_true(json_object_object_get_ex(e, "reconnect_delay", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(e, "host_iface", &v));
	assert_string_equal(json_object_get_string(v), "");

	assert_true(json_object_object_get_ex(root, "problems", &problems));
	assert_int_equal(json_object_array_length(problems), 2);
	e = json_object_array_get_idx(problems, 0);
	assert_true(json_object_object_get_ex(e, "line", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(e, "severity", &v));
	assert_string_equal(json_object_get_string(v), "error");
	assert_true(json_object_object_get_ex(e, "message", &v));
	assert_string_equal(json_object_get_string(v), "unknown option '--bogus'");
	e = json_object_array_get_idx(problems, 1);
	assert_true(json_object_object_get_ex(e, "severity", &v));
	assert_string_equal(json_object_get_string(v), "warning");
	json_object_put(root);

	/* a missing file is an empty list, not a failure */
	unlink(conf);
	assert_int_equal(run("list", "--output-format=json", NULL), 0);
	root = json_tokener_parse(out);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "exists", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(root, "entries", &entries));
	assert_int_equal(json_object_array_length(entries), 0);
	json_object_put(root);
}

static void test_list_normal(void **state)
{
	write_conf("-t rdma -a 10.77.0.1\n"
		   "# off for now: -t rdma -a 10.77.0.9\n"
		   "-trdma -a10.77.0.2 -s4421 -l 0 -F 0 -i 3\n");
	assert_int_equal(run("list", NULL), 0);
	assert_string_equal(err, expect_printf("%s:3: warning: fast_io_fail_tmo 0 is not below "
					       "ctrl-loss-tmo 0: it has no effect\n",
					       conf));
	assert_string_equal(
		out, expect_printf(
			     "%s: 2 discovery controllers\n"
			     "  line 1: --transport rdma --traddr 10.77.0.1 --trsvcid 4420\n"
			     "    connects with: nr-io-queues one per CPU, queue-size 128, "
			     "keep-alive-tmo 5, reconnect-delay 10, ctrl-loss-tmo forever, "
			     "fast_io_fail_tmo off\n"
			     "  line 3: --transport rdma --traddr 10.77.0.2 --trsvcid 4421 "
			     "--nr-io-queues 3 --ctrl-loss-tmo 0 --fast_io_fail_tmo 0\n"
			     "    connects with: nr-io-queues 3, queue-size 128, keep-alive-tmo 5, "
			     "reconnect-delay 10, ctrl-loss-tmo 0, fast_io_fail_tmo 0\n",
			     conf));
	assert_int_equal(run("list", "-o", "yaml", NULL), 2);
	assert_string_equal(err, "disnvme config list: unknown output format 'yaml' (takes -o "
				 "normal|json)\n");
}

static void test_failed_write_leaves_file(void **state)
{
	/* bigger than the file size limit below; the messages are not */
	struct rlimit old, small = {.rlim_cur = 2048};
	char text[4096], *s;
	int rc;

	memset(text, '#', sizeof(text));
	strcpy(text + 3000, "\n-t rdma -a 10.77.0.1\n");
	write_conf(text);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = run("add", "-t", "rdma", "-a", "10.77.0.2", NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, 1);
	assert_string_equal(out, "");
	assert_string_equal(err, expect_printf("disnvme config: cannot write %s (left as it was): "
					       "%s\n",
					       conf, strerror(EFBIG)));
	s = read_conf();
	assert_string_equal(s, text);
	free(s);
}

static void test_usage(void **state)
{
	char *argv[] = {"config", NULL};

	assert_int_equal(run("frobnicate", NULL), 2);
	assert_string_equal(out, "");
	assert_true(strncmp(err, "disnvme config: unknown action 'frobnicate'\nusage:", 50) == 0);
	assert_int_equal(run("help", NULL), 0);
	assert_true(strncmp(out, "usage: disnvme config add", 25) == 0);
	/* no action at all */
	fflush(stderr);
	assert_int_equal(dn_cmd_config(1, argv), 2);
}

/* --config-file before the action works as after it */
static void test_config_file_first(void **state)
{
	char *argv[] = {"config", "--config-file", conf, "add", "-t", "rdma",
			"-a",	  "10.77.0.5",	   NULL};
	char *s;

	assert_int_equal(dn_cmd_config(8, argv), 0);
	s = read_conf();
	assert_string_equal(s, "--transport rdma --traddr 10.77.0.5 --trsvcid 4420\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_add_creates_file, fresh),
		cmocka_unit_test_setup(test_add_refuses_duplicate, fresh),
		cmocka_unit_test_setup(test_add_bad_command_line, fresh),
		cmocka_unit_test_setup(test_remove, fresh),
		cmocka_unit_test_setup(test_list_json, fresh),
		cmocka_unit_test_setup(test_list_normal, fresh),
		cmocka_unit_test_setup(test_failed_write_leaves_file, fresh),
		cmocka_unit_test_setup(test_usage, fresh),
		cmocka_unit_test_setup(test_config_file_first, fresh),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
