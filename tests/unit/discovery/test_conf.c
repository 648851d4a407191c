// SPDX-License-Identifier: MIT
/* Tests for discovery/conf.c: nvme-cli's discovery.conf spellings, diagnostics, editing, saving. */
#include <dirent.h>
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

#include "discovery/conf.h"

static struct dn_conf *parse(const char *text)
{
	struct dn_conf *c = NULL;

	assert_int_equal(dn_conf_parse("test.conf", text, strlen(text), &c), 0);
	assert_non_null(c);
	if (getenv("TEST_CONF_VERBOSE"))
		dn_conf_diags_print(dn_conf_get_diags(c), "test.conf", stderr);
	return c;
}

/* The n-th diagnostic, printed as the user sees it */
static const char *diag_str(const struct dn_conf *c, size_t n)
{
	static char buf[512];
	const struct dn_conf_diag *g;

	assert_true(n < dn_conf_get_diags(c)->nr);
	g = &dn_conf_get_diags(c)->v[n];
	snprintf(buf, sizeof(buf), "%u: %s: %s", g->line, g->error ? "error" : "warning", g->msg);
	return buf;
}

static char *serialize(const struct dn_conf *c)
{
	char *buf, *s;
	size_t len;

	assert_int_equal(dn_conf_serialize(c, &buf, &len), 0);
	s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, buf, len);
	s[len] = '\0';
	assert_int_equal(strlen(s), len);
	free(buf);
	return s;
}

static void test_long_options_both_spellings(void **state)
{
	struct dn_conf *c = parse("--transport rdma --traddr 10.77.0.1 --trsvcid 4421\n"
				  "--transport=rdma --traddr=10.77.0.2 --trsvcid=4422\n"
				  "--transport rdma --traddr=fe80::1%vt\n");
	const struct dn_conf_entry *e;

	assert_int_equal(dn_conf_nr_entries(c), 3);
	assert_int_equal(dn_conf_get_diags(c)->nr, 0);
	assert_int_equal(dn_conf_nr_errors(c), 0);

	e = dn_conf_get_entry(c, 0);
	assert_string_equal(e->transport, "rdma");
	assert_string_equal(e->traddr, "10.77.0.1");
	assert_string_equal(e->trsvcid, "4421");
	assert_int_equal(e->line, 1);
	assert_int_equal(e->given, DN_CONF_GIVEN(DN_CONF_OPT_TRANSPORT) |
					   DN_CONF_GIVEN(DN_CONF_OPT_TRADDR) |
					   DN_CONF_GIVEN(DN_CONF_OPT_TRSVCID));
	/* defaults: retry forever, the well-known discovery NQN, the host's own identity */
	assert_int_equal(e->ctrl_loss_tmo, -1);
	assert_int_equal(e->fast_io_fail_tmo, -1);
	assert_int_equal(e->reconnect_delay, 10);
	assert_int_equal(e->keep_alive_tmo, 5);
	assert_int_equal(e->queue_size, 128);
	assert_int_equal(e->nr_io_queues, 0);
	assert_string_equal(e->subsysnqn, "nqn.2014-08.org.nvmexpress.discovery");
	assert_string_equal(e->hostnqn, "");
	assert_string_equal(e->hostid, "");

	e = dn_conf_get_entry(c, 1);
	assert_string_equal(e->traddr, "10.77.0.2");
	assert_string_equal(e->trsvcid, "4422");
	assert_int_equal(e->line, 2);

	e = dn_conf_get_entry(c, 2);
	assert_string_equal(e->traddr, "fe80::1%vt");
	assert_string_equal(e->trsvcid, "4420");
	assert_int_equal(e->given & DN_CONF_GIVEN(DN_CONF_OPT_TRSVCID), 0);
	dn_conf_free(c);
}

static void test_short_options(void **state)
{
	struct dn_conf *c =
		parse("-t rdma -a 10.77.0.1 -s 4420 -q nqn.2014-08.org.example:host1 "
		      "-I 1b4e28ba-2fa1-11d2-883f-0016d3cca427 -i 4 -Q 64 -k 7 -c 2 -l 600 -F 30 "
		      "-w 10.77.0.2 -f vt -n nqn.2014-08.org.example:disc -D\n"
		      "-trdma -a10.77.0.3 -s4423\n"
		      "-t=rdma -a=10.77.0.4 -l=-1\n"
		      "\t-t\trdma\t-a\t10.77.0.5  \r\n");
	const struct dn_conf_entry *e;

	assert_int_equal(dn_conf_nr_entries(c), 4);
	assert_int_equal(dn_conf_get_diags(c)->nr, 0);
	e = dn_conf_get_entry(c, 0);
	assert_string_equal(e->hostnqn, "nqn.2014-08.org.example:host1");
	assert_string_equal(e->hostid, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
	assert_int_equal(e->nr_io_queues, 4);
	assert_int_equal(e->queue_size, 64);
	assert_int_equal(e->keep_alive_tmo, 7);
	assert_int_equal(e->reconnect_delay, 2);
	assert_int_equal(e->ctrl_loss_tmo, 600);
	assert_int_equal(e->fast_io_fail_tmo, 30);
	assert_string_equal(e->host_traddr, "10.77.0.2");
	assert_string_equal(e->host_iface, "vt");
	assert_string_equal(e->subsysnqn, "nqn.2014-08.org.example:disc");
	assert_true(e->duplicate_connect);
	assert_int_equal(e->given, (1u << DN_CONF_OPT_NR) - 1);

	e = dn_conf_get_entry(c, 1);
	assert_string_equal(e->traddr, "10.77.0.3");
	assert_string_equal(e->trsvcid, "4423");
	e = dn_conf_get_entry(c, 2);
	assert_string_equal(e->traddr, "10.77.0.4");
	assert_int_equal(e->ctrl_loss_tmo, -1);
	e = dn_conf_get_entry(c, 3);
	assert_string_equal(e->traddr, "10.77.0.5");
	dn_conf_free(c);
}

static void test_name_variants(void **state)
{
	/* '-' and '_' mix in nvme-cli's own names; unique prefixes work as with getopt_long */
	struct dn_conf *c = parse("--trans rdma --traddr 10.0.0.1 --ctrl_loss_tmo 5 "
				  "--fast-io-fail-tmo 2 --keep_alive_tmo 3 --ctrl-loss-tmo=-7\n"
				  "--tr rdma --traddr 10.0.0.2\n");
	const struct dn_conf_entry *e;

	assert_int_equal(dn_conf_nr_entries(c), 1);
	e = dn_conf_get_entry(c, 0);
	assert_int_equal(e->fast_io_fail_tmo, 2);
	assert_int_equal(e->keep_alive_tmo, 3);
	assert_int_equal(e->ctrl_loss_tmo, -1); /* any negative value: forever */
	assert_int_equal(dn_conf_get_diags(c)->nr, 3);
	assert_string_equal(
		diag_str(c, 0),
		"1: warning: option --ctrl-loss-tmo is given twice; the last one is used");
	assert_string_equal(diag_str(c, 1), "2: error: ambiguous option '--tr'");
	assert_string_equal(diag_str(c, 2), "2: error: missing --transport (-t)");
	assert_int_equal(dn_conf_nr_errors(c), 1);
	dn_conf_free(c);
}

static void test_comments_and_blank_lines(void **state)
{
	struct dn_conf *c = parse("# discovery controllers\n"
				  "\n"
				  "   \t \n"
				  "  # indented comment\n"
				  "-t rdma -a 10.0.0.1 # main target\n"
				  "#-t rdma -a 10.0.0.2\n");

	assert_int_equal(dn_conf_nr_entries(c), 1);
	assert_int_equal(dn_conf_get_diags(c)->nr, 0);
	assert_int_equal(dn_conf_get_entry(c, 0)->line, 5);
	dn_conf_free(c);

	c = parse("");
	assert_int_equal(dn_conf_nr_entries(c), 0);
	dn_conf_free(c);
}

static void test_overlong_line(void **state)
{
	static const char head[] = "-t rdma -a 10.0.0.1";
	size_t n = DN_CONF_LINE_MAX + 1, i;
	char *text = malloc(2 * (n + 2) + 64);
	struct dn_conf *c;
	char *p = text;

	assert_non_null(text);
	/* line 1: the longest line accepted; line 2: one byte more; line 3: fine */
	memcpy(p, head, sizeof(head) - 1);
	for (i = sizeof(head) - 1; i < n - 1; i++)
		p[i] = ' ';
	p[n - 1] = '\n';
	p += n;
	memcpy(p, head, sizeof(head) - 1);
	for (i = sizeof(head) - 1; i < n; i++)
		p[i] = ' ';
	p[n] = '\n';
	p += n + 1;
	strcpy(p, "-t rdma -a 10.0.0.3\n");

	c = parse(text);
	assert_int_equal(dn_conf_nr_entries(c), 2);
	assert_int_equal(dn_conf_get_entry(c, 0)->line, 1);
	assert_int_equal(dn_conf_get_entry(c, 1)->line, 3);
	assert_int_equal(dn_conf_get_diags(c)->nr, 1);
	assert_string_equal(diag_str(c, 0), "2: error: line is longer than 4094 characters");
	dn_conf_free(c);
	free(text);
}

static void test_unknown_options_and_missing_values(void **state)
{
	struct dn_conf *c = parse("-t rdma -a 10.0.0.1 --bogus 1\n"
				  "-t rdma -z -a 10.0.0.2\n"
				  "-t rdma -a\n"
				  "--traddr -s 4420 -t rdma\n"
				  "-t rdma --traddr= \n"
				  "-t rdma\n"
				  "-a 10.0.0.7\n"
				  "-t rdma -a 10.0.0.8 extra\n"
				  "-t rdma -a 10.0.0.9 --duplicate-connect=yes\n"
				  "-t rdma -a 10.0.0.10 -l\n"
				  "-t rdma -a 10.0.0.11 -l -s 4420\n"
				  "-t rdma -a 10.0.0.12\n");

	/* every bad line is reported with its reason; the good one is still used */
	assert_int_equal(dn_conf_nr_entries(c), 1);
	assert_int_equal(dn_conf_get_entry(c, 0)->line, 12);
	assert_int_equal(dn_conf_nr_errors(c), 11);
	assert_int_equal(dn_conf_get_diags(c)->nr, 11);
	assert_string_equal(diag_str(c, 0), "1: error: unknown option '--bogus'");
	assert_string_equal(diag_str(c, 1), "2: error: unknown option '-z'");
	assert_string_equal(diag_str(c, 2), "3: error: option -a (--traddr) needs a value");
	assert_string_equal(diag_str(c, 3), "4: error: option --traddr needs a value");
	assert_string_equal(diag_str(c, 4), "5: error: option --traddr needs a value");
	assert_string_equal(diag_str(c, 5), "6: error: missing --traddr (-a)");
	assert_string_equal(diag_str(c, 6), "7: error: missing --transport (-t)");
	assert_string_equal(diag_str(c, 7), "8: error: unexpected argument 'extra'");
	assert_string_equal(diag_str(c, 8), "9: error: option --duplicate-connect takes no value");
	assert_string_equal(diag_str(c, 9), "10: error: option -l (--ctrl-loss-tmo) needs a value");
	assert_string_equal(diag_str(c, 10),
			    "11: error: option -l (--ctrl-loss-tmo) needs a value");
	dn_conf_free(c);
}

static void test_bad_values(void **state)
{
	struct dn_conf *c = parse("-t rdma -a 10.0.0.1 -i four\n"
				  "-t rdma -a 10.0.0.1 -Q 8\n"
				  "-t rdma -a 10.0.0.1 -s 70000\n"
				  "-t rdma -a 10.0.0.300\n"
				  "-t rdma -a target.example\n"
				  "-t tcp -a 10.0.0.1\n"
				  "-t infiniband -a 10.0.0.1\n"
				  "-t rdma -a 10.0.0.1 -q host1\n"
				  "-t rdma -a 10.0.0.1 -I not-a-uuid\n"
				  "-t rdma -a 10.0.0.1 -c 0\n"
				  "-t rdma -a 10.0.0.1 -i 99999999999\n"
				  "-t rdma -a 10.0.0.1 -f eth0/1\n"
				  "-t rdma -a 10.0.0.1 --host-iface=-x\n");

	assert_int_equal(dn_conf_nr_entries(c), 0);
	assert_int_equal(dn_conf_get_diags(c)->nr, 13);
	assert_string_equal(diag_str(c, 0),
			    "1: error: option --nr-io-queues: 'four' is not a number");
	assert_string_equal(diag_str(c, 1),
			    "2: error: option --queue-size: 8 is out of range (16..1024)");
	assert_string_equal(diag_str(c, 2),
			    "3: error: option --trsvcid: '70000' is not a port (1..65535)");
	assert_string_equal(diag_str(c, 3),
			    "4: error: option --traddr: '10.0.0.300' is not a numeric IPv4 or IPv6 "
			    "address");
	assert_string_equal(diag_str(c, 4),
			    "5: error: option --traddr: 'target.example' is not a numeric IPv4 or "
			    "IPv6 address");
	assert_string_equal(diag_str(c, 5),
			    "6: error: transport 'tcp' is not supported: disnvme speaks NVMe/RDMA "
			    "only");
	assert_string_equal(diag_str(c, 6), "7: error: unknown transport 'infiniband'");
	assert_string_equal(diag_str(c, 7),
			    "8: error: option --hostnqn: 'host1' does not start with \"nqn.\"");
	assert_string_equal(diag_str(c, 8), "9: error: option --hostid: 'not-a-uuid' is not a UUID "
					    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
	assert_string_equal(diag_str(c, 9),
			    "10: error: option --reconnect-delay: 0 is out of range (1..3600)");
	assert_string_equal(diag_str(c, 10),
			    "11: error: option --nr-io-queues: '99999999999' is not a number");
	assert_string_equal(diag_str(c, 11),
			    "12: error: option --host-iface: 'eth0/1' is not an interface name");
	/* it would read back as an option when written out */
	assert_string_equal(diag_str(c, 12),
			    "13: error: option --host-iface: '-x' is not an interface name");
	dn_conf_free(c);
}

static void test_ignored_and_refused_options(void **state)
{
	struct dn_conf *c = parse("-t rdma -a 10.0.0.1 --tos 3 -gG -p --quiet\n"
				  "-t rdma -a 10.0.0.2 -S DHHC-1:00:secret=\n"
				  "-t rdma -a 10.0.0.3 --tls\n"
				  "-t rdma -a 10.0.0.4 -F 600 -l 60\n");
	struct dn_conf_diags d = {0};
	struct dn_conf_entry e;
	char *argv[] = {"-t", "rdma", "-a", "10.0.0.1", "--tos", "3"};

	assert_int_equal(dn_conf_nr_entries(c), 2);
	assert_int_equal(dn_conf_get_entry(c, 0)->line, 1);
	assert_int_equal(dn_conf_get_entry(c, 1)->line, 4);
	assert_int_equal(dn_conf_get_diags(c)->nr, 8);
	assert_string_equal(diag_str(c, 0),
			    "1: warning: option --tos is ignored: disnvme does not set a type of "
			    "service");
	assert_string_equal(
		diag_str(c, 1),
		"1: warning: option --hdr-digest is ignored: digests exist on TCP only");
	assert_string_equal(
		diag_str(c, 2),
		"1: warning: option --data-digest is ignored: digests exist on TCP only");
	assert_string_equal(diag_str(c, 3),
			    "1: warning: option --persistent is ignored: connect-all reads the "
			    "discovery log afresh on every run");
	assert_string_equal(diag_str(c, 4),
			    "1: warning: option --quiet is ignored: it only changes nvme-cli's "
			    "messages");
	assert_string_equal(diag_str(c, 5),
			    "2: error: option --dhchap-secret is not supported: disnvme does not "
			    "implement in-band authentication (DH-HMAC-CHAP)");
	assert_string_equal(diag_str(c, 6),
			    "3: error: option --tls is not supported: TLS exists on TCP only");
	assert_string_equal(
		diag_str(c, 7),
		"4: warning: fast_io_fail_tmo 600 is not below ctrl-loss-tmo 60: it has "
		"no effect");
	dn_conf_free(c);

	/* on the command line (config add) an option disnvme would ignore is refused */
	assert_int_equal(dn_conf_entry_parse(6, argv, DN_CONF_PARSE_STRICT, 0, &e, &d), -EINVAL);
	assert_int_equal(d.nr, 1);
	assert_true(d.v[0].error);
	assert_string_equal(
		d.v[0].msg,
		"option --tos is not supported: disnvme does not set a type of service");
	dn_conf_diags_free(&d);
	assert_int_equal(dn_conf_entry_parse(4, argv, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(d.nr, 0);
	dn_conf_diags_free(&d);
}

static void test_nul_byte(void **state)
{
	static const char text[] =
		"-t rdma -a 10.0.0.1\n-t rdma\0 -a 10.0.0.2\n-t rdma -a 10.0.0.3";
	struct dn_conf *c = NULL;

	assert_int_equal(dn_conf_parse("x", text, sizeof(text) - 1, &c), 0);
	assert_int_equal(dn_conf_nr_entries(c), 2);
	assert_string_equal(diag_str(c, 0), "2: error: line contains a NUL byte");
	dn_conf_free(c);
}

static void test_format(void **state)
{
	static const char line[] =
		"--transport rdma --traddr 10.77.0.1 --trsvcid 4420 --host-traddr 10.77.0.2 "
		"--host-iface vt --hostnqn nqn.2014-08.org.example:h "
		"--hostid 1b4e28ba-2fa1-11d2-883f-0016d3cca427 --nqn nqn.2014-08.org.example:d "
		"--nr-io-queues 2 --queue-size 32 --keep-alive-tmo 6 --reconnect-delay 1 "
		"--ctrl-loss-tmo -1 --fast_io_fail_tmo 4 --duplicate-connect";
	char buf[1024];
	struct dn_conf *c = parse(line);
	struct dn_conf *again;
	const struct dn_conf_entry *e = dn_conf_get_entry(c, 0);

	assert_non_null(e);
	assert_int_equal(dn_conf_entry_format(e, buf, sizeof(buf)), strlen(line));
	assert_string_equal(buf, line);
	assert_int_equal(dn_conf_entry_format(e, buf, 20), -ENOSPC);

	/* the short form is written out long; parsing it again gives the same entry */
	dn_conf_free(c);
	c = parse("-t rdma -a 10.0.0.1 -l 30");
	e = dn_conf_get_entry(c, 0);
	assert_int_equal(dn_conf_entry_format(e, buf, sizeof(buf)), 68);
	assert_string_equal(buf, "--transport rdma --traddr 10.0.0.1 --trsvcid 4420 "
				 "--ctrl-loss-tmo 30");
	again = parse(buf);
	assert_int_equal(dn_conf_get_entry(again, 0)->ctrl_loss_tmo, 30);
	assert_true(dn_conf_entry_same_port(e, dn_conf_get_entry(again, 0)));
	dn_conf_free(again);
	dn_conf_free(c);
}

static void test_duplicates(void **state)
{
	struct dn_conf *c = parse("-t rdma -a fe80::1 -s 4420\n"
				  "-t rdma -a FE80:0::1\n"
				  "-t rdma -a fe80::1 -f vt\n"
				  "-t rdma -a 10.0.0.1 -s 4420\n");
	struct dn_conf_diags d = {0};
	struct dn_conf_entry e;
	unsigned int dup = 0;
	char *same[] = {"--transport", "rdma", "--traddr", "10.0.0.1"};
	char *other_port[] = {"-t", "rdma", "-a", "10.0.0.1", "-s", "4421"};
	char *other_iface[] = {"-t", "rdma", "-a", "10.0.0.1", "-f", "vt"};

	assert_int_equal(dn_conf_nr_entries(c), 4);
	assert_int_equal(dn_conf_get_diags(c)->nr, 1);
	assert_string_equal(diag_str(c, 0),
			    "2: warning: same discovery controller as line 1 (both are used)");

	assert_int_equal(dn_conf_entry_parse(4, same, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(dn_conf_add(c, &e, &dup), -EEXIST);
	assert_int_equal(dup, 4);
	assert_int_equal(dn_conf_entry_parse(6, other_port, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(dn_conf_add(c, &e, &dup), 0);
	assert_int_equal(dn_conf_entry_parse(6, other_iface, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(dn_conf_add(c, &e, &dup), 0);
	assert_int_equal(dn_conf_add(c, &e, &dup), -EEXIST);
	assert_int_equal(dup, 6);
	assert_int_equal(dn_conf_nr_entries(c), 6);
	assert_int_equal(d.nr, 0);
	dn_conf_diags_free(&d);
	dn_conf_free(c);
}

/* Everything but the edited lines comes back byte for byte: comments, odd spacing, CRLF,
 * an invalid line, and a last line without its newline */
static const char original[] = "# disnvme discovery controllers\r\n"
			       "\n"
			       "  -t rdma   -a 10.77.0.1 -s 4420    # lab target\n"
			       "--transport=rdma --traddr=10.77.0.9 --bogus\n"
			       "#  -t rdma -a 10.77.0.8\n"
			       "-t rdma -a 10.77.0.2 -f vt\n"
			       "-t rdma -a 10.77.0.2 -f vh\n"
			       "# trailing comment without newline";

static void test_round_trip(void **state)
{
	struct dn_conf *c = parse(original);
	struct dn_conf_diags d = {0};
	struct dn_conf_entry e;
	unsigned int lines[4];
	char *argv[] = {"-t", "rdma", "-a", "10.77.0.3", "-s", "4421", "-l", "120"};
	char *key1[] = {"-t", "rdma", "-a", "10.77.0.1"};
	char *key2[] = {"-t", "rdma", "-a", "10.77.0.2"};
	char *s;

	assert_int_equal(dn_conf_nr_entries(c), 3);
	assert_int_equal(dn_conf_nr_errors(c), 1);
	s = serialize(c);
	assert_string_equal(s, original);
	free(s);

	assert_int_equal(dn_conf_entry_parse(8, argv, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(dn_conf_add(c, &e, NULL), 0);
	s = serialize(c);
	assert_string_equal(s, "# disnvme discovery controllers\r\n"
			       "\n"
			       "  -t rdma   -a 10.77.0.1 -s 4420    # lab target\n"
			       "--transport=rdma --traddr=10.77.0.9 --bogus\n"
			       "#  -t rdma -a 10.77.0.8\n"
			       "-t rdma -a 10.77.0.2 -f vt\n"
			       "-t rdma -a 10.77.0.2 -f vh\n"
			       "# trailing comment without newline\n"
			       "--transport rdma --traddr 10.77.0.3 --trsvcid 4421 "
			       "--ctrl-loss-tmo 120\n");
	free(s);
	assert_int_equal(dn_conf_nr_entries(c), 4);
	assert_int_equal(dn_conf_get_entry(c, 3)->line, 9);

	/* no host iface in the key: both entries of that address go */
	assert_int_equal(dn_conf_entry_parse(4, key2, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(dn_conf_remove(c, &e, lines, 4), 2);
	assert_int_equal(lines[0], 6);
	assert_int_equal(lines[1], 7);
	assert_int_equal(dn_conf_entry_parse(4, key1, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(dn_conf_remove(c, &e, lines, 4), 1);
	assert_int_equal(lines[0], 3);
	assert_int_equal(dn_conf_remove(c, &e, lines, 4), 0);
	s = serialize(c);
	assert_string_equal(s, "# disnvme discovery controllers\r\n"
			       "\n"
			       "--transport=rdma --traddr=10.77.0.9 --bogus\n"
			       "#  -t rdma -a 10.77.0.8\n"
			       "# trailing comment without newline\n"
			       "--transport rdma --traddr 10.77.0.3 --trsvcid 4421 "
			       "--ctrl-loss-tmo 120\n");
	free(s);
	assert_int_equal(dn_conf_nr_entries(c), 1);

	/* removing the added line again leaves the newline it needed, nothing else */
	assert_int_equal(dn_conf_entry_parse(6, argv, DN_CONF_PARSE_STRICT, 0, &e, &d), 0);
	assert_int_equal(dn_conf_remove(c, &e, lines, 4), 1);
	s = serialize(c);
	assert_string_equal(s, "# disnvme discovery controllers\r\n"
			       "\n"
			       "--transport=rdma --traddr=10.77.0.9 --bogus\n"
			       "#  -t rdma -a 10.77.0.8\n"
			       "# trailing comment without newline");
	free(s);
	assert_int_equal(d.nr, 0);
	dn_conf_diags_free(&d);
	dn_conf_free(c);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	strcpy(tmpdir, "/tmp/test_conf.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int remove_tmpdir(void **state)
{
	char cmd[128];

	chmod(tmpdir, 0755);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *read_file(const char *path)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int count_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_save_and_load(void **state)
{
	char path[128], *s;
	struct dn_conf *c;
	struct dn_conf_diags d = {0};
	struct dn_conf_entry e;
	char *argv[] = {"-t", "rdma", "-a", "10.77.0.3"};
	struct stat st;
	int lock;

	snprintf(path, sizeof(path), "%s/nvme/discovery.conf", tmpdir);
	/* a missing file is an empty configuration; the lock makes its directory */
	assert_int_equal(dn_conf_load(path, &c), 0);
	assert_false(dn_conf_exists(c));
	assert_int_equal(dn_conf_nr_entries(c), 0);
	lock = dn_conf_lock(path);
	assert_true(lock >= 0);
	assert_int_equal(dn_conf_entry_parse(4, argv, 0, 0, &e, &d), 0);
	assert_int_equal(dn_conf_add(c, &e, NULL), 0);
	assert_int_equal(dn_conf_save(c, path), 0);
	dn_conf_unlock(lock);
	dn_conf_free(c);
	s = read_file(path);
	assert_string_equal(s, "--transport rdma --traddr 10.77.0.3 --trsvcid 4420\n");
	free(s);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* an existing file keeps its mode; its text comes back byte for byte */
	write_file(path, original, 0600);
	assert_int_equal(dn_conf_load(path, &c), 0);
	assert_true(dn_conf_exists(c));
	assert_int_equal(dn_conf_add(c, &e, NULL), 0);
	assert_int_equal(dn_conf_remove(c, &e, NULL, 0), 1);
	assert_int_equal(dn_conf_save(c, path), 0);
	dn_conf_free(c);
	s = read_file(path);
	assert_string_equal(s, original);
	free(s);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/nvme", tmpdir);
	assert_int_equal(count_dir_entries(path), 1); /* no temporary file left behind */
	dn_conf_diags_free(&d);
}

static void test_failed_save_keeps_old_file(void **state)
{
	char path[256], dir[128], *s;
	struct dn_conf *c;
	struct dn_conf_diags d = {0};
	struct dn_conf_entry e;
	struct rlimit old, small = {.rlim_cur = 16, .rlim_max = RLIM_INFINITY};
	char *argv[] = {"-t", "rdma", "-a", "10.77.0.4"};
	int ret;

	snprintf(dir, sizeof(dir), "%s/fail", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/discovery.conf", dir);
	write_file(path, original, 0644);
	assert_int_equal(dn_conf_load(path, &c), 0);
	assert_int_equal(dn_conf_entry_parse(4, argv, 0, 0, &e, &d), 0);
	assert_int_equal(dn_conf_add(c, &e, NULL), 0);

	/* the write itself fails (file size limit: works for root too) */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	ret = dn_conf_save(c, path);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(ret, -EFBIG);
	s = read_file(path);
	assert_string_equal(s, original);
	free(s);
	assert_int_equal(count_dir_entries(dir), 1);

	/* the directory is not writable (only binds a user without CAP_DAC_OVERRIDE) */
	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, 0555), 0);
		assert_int_equal(dn_conf_save(c, path), -EACCES);
		assert_int_equal(chmod(dir, 0755), 0);
		s = read_file(path);
		assert_string_equal(s, original);
		free(s);
		assert_int_equal(count_dir_entries(dir), 1);
	}

	/* the directory does not exist: nothing is created */
	snprintf(path, sizeof(path), "%s/absent/discovery.conf", tmpdir);
	assert_int_equal(dn_conf_save(c, path), -ENOENT);
	snprintf(path, sizeof(path), "%s/absent", tmpdir);
	assert_int_equal(access(path, F_OK), -1);

	/* a directory in the way is not replaced */
	assert_int_equal(dn_conf_save(c, dir), -EISDIR);
	assert_int_equal(count_dir_entries(dir), 1);

	/* and with the limit lifted the same save works */
	snprintf(path, sizeof(path), "%s/discovery.conf", dir);
	assert_int_equal(dn_conf_save(c, path), 0);
	s = read_file(path);
	assert_int_equal(strncmp(s, original, sizeof(original) - 1), 0);
	assert_string_equal(s + sizeof(original) - 1,
			    "\n--transport rdma --traddr 10.77.0.4 --trsvcid 4420\n");
	free(s);
	dn_conf_diags_free(&d);
	dn_conf_free(c);
}

static void test_symlink_is_followed(void **state)
{
	char link[128], real[128], *s;
	struct dn_conf *c;
	struct stat st;

	snprintf(real, sizeof(real), "%s/real.conf", tmpdir);
	snprintf(link, sizeof(link), "%s/link.conf", tmpdir);
	write_file(real, "# real\n", 0644);
	assert_int_equal(symlink("real.conf", link), 0);
	assert_int_equal(dn_conf_load(link, &c), 0);
	assert_int_equal(dn_conf_save(c, link), 0);
	dn_conf_free(c);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	s = read_file(real);
	assert_string_equal(s, "# real\n");
	free(s);
}

/* The installed example: clean as shipped, and each example line valid once uncommented */
static void test_example_file(void **state)
{
	struct dn_conf *c;
	char *text, *p;
	size_t len;
	int examples = 0;

	assert_int_equal(dn_conf_load(DN_EXAMPLE_CONF, &c), 0);
	assert_true(dn_conf_exists(c));
	assert_int_equal(dn_conf_nr_entries(c), 0);
	assert_int_equal(dn_conf_get_diags(c)->nr, 0);
	assert_int_equal(dn_conf_serialize(c, &text, &len), 0);
	dn_conf_free(c);
	text = realloc(text, len + 1);
	assert_non_null(text);
	text[len] = '\0';
	for (p = text; (p = strstr(p, "\n#-")); p++) {
		p[1] = ' ';
		examples++;
	}
	c = parse(text);
	assert_int_equal(examples, 3);
	assert_int_equal(dn_conf_nr_entries(c), 3);
	assert_int_equal(dn_conf_get_diags(c)->nr, 0);
	assert_int_equal(dn_conf_get_entry(c, 2)->fast_io_fail_tmo, 30);
	dn_conf_free(c);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_options_both_spellings),
		cmocka_unit_test(test_short_options),
		cmocka_unit_test(test_name_variants),
		cmocka_unit_test(test_comments_and_blank_lines),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_unknown_options_and_missing_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_ignored_and_refused_options),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_save_and_load),
		cmocka_unit_test(test_failed_save_keeps_old_file),
		cmocka_unit_test(test_symlink_is_followed),
		cmocka_unit_test(test_example_file),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
