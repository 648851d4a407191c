// SPDX-License-Identifier: MIT
/* Tests for host/connect_all.c: record decisions, the connected set, the plan and failures. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"
#include <json-c/json.h>

#include "host/connect_all.h"

static char tmpdir[64], conf[128];
static char *out, *err;

static struct dn_disc_rec rec(uint8_t trtype, uint8_t subtype)
{
	struct dn_disc_rec r;

	memset(&r, 0, sizeof(r));
	r.trtype = trtype;
	r.subtype = subtype;
	strcpy(r.traddr, "10.77.0.1");
	strcpy(r.trsvcid, "4420");
	strcpy(r.subnqn, "nqn.2014-08.org.example:s1");
	return r;
}

static void test_classify(void **state)
{
	struct dn_disc_rec r;

	r = rec(NVMF_TRTYPE_RDMA, NVME_NQN_NVME);
	assert_int_equal(dn_ca_classify(&r), DN_CA_CONNECT);
	r = rec(NVMF_TRTYPE_RDMA, NVME_NQN_DISC);
	assert_int_equal(dn_ca_classify(&r), DN_CA_REFERRAL);
	r = rec(NVMF_TRTYPE_RDMA, NVME_NQN_CURR);
	assert_int_equal(dn_ca_classify(&r), DN_CA_SELF);
	r = rec(NVMF_TRTYPE_TCP, NVME_NQN_NVME);
	assert_int_equal(dn_ca_classify(&r), DN_CA_OTHER_TRANSPORT);
	r = rec(NVMF_TRTYPE_TCP, NVME_NQN_DISC);
	assert_int_equal(dn_ca_classify(&r), DN_CA_OTHER_TRANSPORT);
}

static void test_connected_set(void **state)
{
	static const char reply[] =
		"{\"status\":0,\"controllers\":["
		"{\"name\":\"ctrl0\",\"subsysnqn\":\"nqn.2014-08.org.example:s1\","
		"\"transport\":\"rdma\",\"traddr\":\"fe80::1\",\"trsvcid\":\"4420\","
		"\"hostnqn\":\"nqn.2014-08.org.example:h1\",\"state\":\"reconnecting\"},"
		"{\"name\":\"ctrl1\",\"subsysnqn\":\"nqn.2014-08.org.example:s2\","
		"\"transport\":\"rdma\",\"traddr\":\"10.77.0.1\",\"trsvcid\":\"4421\","
		"\"hostnqn\":\"nqn.2014-08.org.example:h1\",\"state\":\"live\"},"
		"{\"name\":\"ctrl2\",\"subsysnqn\":\"nqn.2014-08.org.example:s4\","
		"\"transport\":\"rdma\",\"traddr\":\"10.77.0.4\",\"trsvcid\":\"4420\","
		"\"hostnqn\":\"nqn.2014-08.org.example:h1\",\"state\":\"dead\"},"
		"{\"name\":\"ctrl3\",\"subsysnqn\":\"nqn.2014-08.org.example:s5\","
		"\"transport\":\"rdma\",\"traddr\":\"10.77.0.5\",\"trsvcid\":\"4420\","
		"\"hostnqn\":\"nqn.2014-08.org.example:h1\",\"state\":\"resetting\"}]}";
	static const char h1[] = "nqn.2014-08.org.example:h1", h2[] = "nqn.2014-08.org.example:h2";
	struct json_object *j = json_tokener_parse(reply);
	struct dn_ca_set s = {0};
	const struct dn_ca_conn *c;

	assert_non_null(j);
	assert_int_equal(dn_ca_set_from_list(j, &s), 0);
	json_object_put(j);
	assert_int_equal(s.nr, 4);
	/* a controller that is reconnecting counts: connecting it again would duplicate it */
	c = dn_ca_set_find(&s, "nqn.2014-08.org.example:s1", "FE80:0::1", "4420", h1);
	assert_non_null(c);
	assert_false(c->failed);
	assert_non_null(dn_ca_set_find(&s, "nqn.2014-08.org.example:s2", "10.77.0.1", "4421", h1));
	assert_null(dn_ca_set_find(&s, "nqn.2014-08.org.example:s2", "10.77.0.1", "4420", h1));
	assert_null(dn_ca_set_find(&s, "nqn.2014-08.org.example:s2", "10.77.0.2", "4421", h1));
	/* another host NQN is another controller */
	assert_null(dn_ca_set_find(&s, "nqn.2014-08.org.example:s2", "10.77.0.1", "4421", h2));
	/* reconnecting: connected; given up on: marked, reported instead of counted */
	c = dn_ca_set_find(&s, "nqn.2014-08.org.example:s5", "10.77.0.5", "4420", h1);
	assert_non_null(c);
	assert_false(c->failed);
	c = dn_ca_set_find(&s, "nqn.2014-08.org.example:s4", "10.77.0.4", "4420", h1);
	assert_non_null(c);
	assert_true(c->failed);
	assert_int_equal(
		dn_ca_set_add(&s, "nqn.2014-08.org.example:s3", "10.77.0.3", "4420", h2, false), 0);
	assert_non_null(dn_ca_set_find(&s, "nqn.2014-08.org.example:s3", "10.77.0.3", "4420", h2));
	dn_ca_set_free(&s);

	/* no daemon reply fields: nothing connected; a malformed one is an error */
	j = json_tokener_parse("{\"status\":0}");
	assert_int_equal(dn_ca_set_from_list(j, &s), 0);
	assert_int_equal(s.nr, 0);
	json_object_put(j);
	j = json_tokener_parse("{\"controllers\":[{\"subsysnqn\":\"x\"}]}");
	assert_int_equal(dn_ca_set_from_list(j, &s), -EPROTO);
	json_object_put(j);
	j = json_tokener_parse("{\"controllers\":7}");
	assert_int_equal(dn_ca_set_from_list(j, &s), -EPROTO);
	json_object_put(j);
	dn_ca_set_free(&s);
}

/* ---- the walk over one entry, on a fake fabric ---- */

struct fake_disc {
	const char *addr;
	int nr;
	struct dn_disc_rec recs[8];
};

struct fabric {
	struct fake_disc *discs;
	size_t nr_discs;
	char reads[16][32]; /* addr:port of each log read, in order */
	int nr_reads, nr_connects;
	const char *refuse_nqn; /* connect fails for this subsystem */
};

static struct dn_disc_rec mkrec(uint8_t trtype, uint8_t subtype, const char *addr, const char *nqn)
{
	struct dn_disc_rec r = rec(trtype, subtype);

	snprintf(r.traddr, sizeof(r.traddr), "%s", addr);
	snprintf(r.subnqn, sizeof(r.subnqn), "%s", nqn);
	return r;
}

static int fake_read_log(void *priv, const char *traddr, const char *trsvcid, const char *subnqn,
			 struct dn_disc_rec **recs, size_t *nr, struct dn_err *e)
{
	struct fabric *f = priv;
	size_t i;

	assert_true(f->nr_reads < 16);
	snprintf(f->reads[f->nr_reads++], sizeof(f->reads[0]), "%s:%s", traddr, trsvcid);
	for (i = 0; i < f->nr_discs; i++) {
		if (strcmp(f->discs[i].addr, traddr) || strcmp(trsvcid, "4420"))
			continue;
		*recs = calloc(8, sizeof(**recs));
		assert_non_null(*recs);
		memcpy(*recs, f->discs[i].recs, sizeof(f->discs[i].recs));
		*nr = (size_t)f->discs[i].nr;
		return 0;
	}
	return dn_err_set(e, -ECONNREFUSED, "%s:%s refused", traddr, trsvcid);
}

static int fake_connect(void *priv, const struct dn_disc_rec *r, char *devs, size_t devs_len,
			char *why, size_t why_len)
{
	struct fabric *f = priv;

	if (f->refuse_nqn && !strcmp(r->subnqn, f->refuse_nqn)) {
		snprintf(why, why_len, "host not allowed");
		return -1;
	}
	snprintf(devs, devs_len, "/dev/ublkb%d", f->nr_connects++);
	return 0;
}

static const struct dn_ca_ops fake_ops = {
	.read_log = fake_read_log,
	.connect = fake_connect,
};

static struct dn_conf_entry entry_for(const char *addr)
{
	struct dn_conf_entry ce;

	dn_conf_entry_init(&ce);
	strcpy(ce.transport, "rdma");
	snprintf(ce.traddr, sizeof(ce.traddr), "%s", addr);
	return ce;
}

#define S(n) "nqn.2014-08.org.example:" n
#define H1   S("h1")

/* Referral loop, a subsystem offered twice, one already connected, one on TCP: each
 * discovery controller read once, each subsystem port handled once; a second walk connects
 * nothing. */
static void test_walk_referrals(void **state)
{
	struct fake_disc discs[3] = {
		{"10.0.0.1",
		 3,
		 {mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_NVME, "10.0.0.1", S("s1")),
		  mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_DISC, "10.0.0.2", S("d")),
		  mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_CURR, "10.0.0.1", S("d"))}},
		{"10.0.0.2",
		 5,
		 {mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_DISC, "10.0.0.1", S("d")),
		  mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_DISC, "10.0.0.3", S("d")),
		  mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_NVME, "10.0.0.1", S("s1")),
		  mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_NVME, "10.0.0.2", S("s2")),
		  mkrec(NVMF_TRTYPE_TCP, NVME_NQN_NVME, "10.0.0.2", S("s9"))}},
		{"10.0.0.3", 1, {mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_NVME, "10.0.0.3", S("s3"))}},
	};
	struct fabric f = {.discs = discs, .nr_discs = 3};
	struct dn_conf_entry ce = entry_for("10.0.0.1");
	struct dn_ca_result res = {0};
	struct dn_ca_set connected = {0};

	assert_int_equal(dn_ca_set_add(&connected, S("s2"), "10.0.0.2", "4420", H1, false), 0);
	assert_int_equal(dn_ca_walk(&fake_ops, &f, &ce, H1, &connected, &res), 0);
	assert_int_equal(f.nr_reads, 3);
	assert_string_equal(f.reads[0], "10.0.0.1:4420");
	assert_string_equal(f.reads[1], "10.0.0.2:4420");
	assert_string_equal(f.reads[2], "10.0.0.3:4420");
	assert_int_equal(res.discs, 3);
	assert_int_equal(res.subsystems, 3);
	assert_int_equal(res.connected, 2);
	assert_int_equal(res.already, 1);
	assert_int_equal(res.failed, 0);
	assert_int_equal(res.other_transport, 1);
	assert_int_equal(f.nr_connects, 2);
	assert_string_equal(
		res.text,
		"connected " S("s1") " at 10.0.0.1:4420 (/dev/ublkb0); "
				     "connected " S("s3") " at 10.0.0.3:4420 (/dev/ublkb1)");

	/* idempotent: the second walk finds everything connected */
	memset(&res, 0, sizeof(res));
	f.nr_reads = 0;
	assert_int_equal(dn_ca_walk(&fake_ops, &f, &ce, H1, &connected, &res), 0);
	assert_int_equal(res.connected, 0);
	assert_int_equal(res.already, 3);
	assert_int_equal(f.nr_connects, 2);
	assert_string_equal(res.text, "");
	dn_ca_set_free(&connected);
}

/* An unreachable referral and a refused subsystem fail the entry; the rest still connects */
static void test_walk_failures(void **state)
{
	struct fake_disc discs[1] = {
		{"10.0.0.1",
		 3,
		 {mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_DISC, "10.0.0.9", S("d")),
		  mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_NVME, "10.0.0.1", S("s1")),
		  mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_NVME, "10.0.0.1", S("s2"))}},
	};
	struct fabric f = {.discs = discs, .nr_discs = 1, .refuse_nqn = S("s2")};
	struct dn_conf_entry ce = entry_for("10.0.0.1");
	struct dn_ca_result res = {0};
	struct dn_ca_set connected = {0};

	assert_int_equal(dn_ca_walk(&fake_ops, &f, &ce, H1, &connected, &res), -1);
	assert_int_equal(f.nr_reads, 2);
	assert_int_equal(res.discs, 1);
	assert_int_equal(res.subsystems, 2);
	assert_int_equal(res.connected, 1);
	assert_int_equal(res.failed, 1);
	assert_string_equal(
		res.text, "connected " S("s1") " at 10.0.0.1:4420 (/dev/ublkb0); " S(
				  "s2") " at 10.0.0.1:4420 FAILED: host not allowed; "
					"referral discovery at 10.0.0.9:4420 FAILED: 10.0.0.9:4420 "
					"refused");
	dn_ca_set_free(&connected);

	/* the entry's own discovery controller unreachable */
	memset(&res, 0, sizeof(res));
	ce = entry_for("10.0.0.7");
	assert_int_equal(dn_ca_walk(&fake_ops, &f, &ce, H1, &connected, &res), -1);
	assert_int_equal(res.discs, 0);
	assert_string_equal(res.text, "discovery at 10.0.0.7:4420 FAILED: 10.0.0.7:4420 refused");

	/* a controller the daemon has given up on is reported, not counted as connected */
	memset(&res, 0, sizeof(res));
	ce = entry_for("10.0.0.1");
	f.refuse_nqn = NULL;
	f.nr_connects = 0;
	f.discs[0].recs[0] = mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_CURR, "10.0.0.1", S("d"));
	assert_int_equal(dn_ca_set_add(&connected, S("s1"), "10.0.0.1", "4420", H1, true), 0);
	assert_int_equal(dn_ca_walk(&fake_ops, &f, &ce, H1, &connected, &res), -1);
	assert_int_equal(res.failed, 1);
	assert_int_equal(res.connected, 1);
	assert_int_equal(f.nr_connects, 1);
	assert_string_equal(res.text, S("s1") " at 10.0.0.1:4420 FAILED: the daemon has given "
					      "its controller up and not removed it yet; the "
					      "next run connects it again; connected " S(
						      "s2") " at 10.0.0.1:4420 (/dev/ublkb0)");
	dn_ca_set_free(&connected);
}

/* A chain of referrals longer than DN_CA_MAX_DEPTH stops there, and says so */
static void test_walk_depth(void **state)
{
	static char addrs[12][16];
	struct fake_disc discs[12];
	struct fabric f = {.discs = discs, .nr_discs = 12};
	struct dn_conf_entry ce;
	struct dn_ca_result res = {0};
	struct dn_ca_set connected = {0};
	int i;

	memset(discs, 0, sizeof(discs));
	for (i = 0; i < 12; i++)
		snprintf(addrs[i], sizeof(addrs[i]), "10.0.1.%d", i);
	for (i = 0; i < 12; i++) {
		discs[i].addr = addrs[i];
		discs[i].nr = i < 11 ? 1 : 0;
		if (i < 11)
			discs[i].recs[0] =
				mkrec(NVMF_TRTYPE_RDMA, NVME_NQN_DISC, addrs[i + 1], S("d"));
	}
	ce = entry_for(addrs[0]);
	assert_int_equal(dn_ca_walk(&fake_ops, &f, &ce, H1, &connected, &res), 0);
	assert_int_equal(f.nr_reads, DN_CA_MAX_DEPTH + 1);
	assert_int_equal(res.discs, DN_CA_MAX_DEPTH + 1);
	assert_string_equal(res.text, "referral to 10.0.1.9:4420 not followed (more than 8 hops or "
				      "64 discovery controllers)");
	dn_ca_set_free(&connected);
}

/* `disnvme connect-all --config-file conf ARGS...`, stdout and stderr captured */
static int run(const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	const char *a;
	va_list ap;

	argv[argc++] = "connect-all";
	argv[argc++] = "--config-file";
	argv[argc++] = conf;
	va_start(ap, first);
	for (a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < (int)(sizeof(argv) / sizeof(argv[0])) - 1);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	return capture_run(dn_cmd_connect_all, argc, argv, &out, &err);
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static char *expect(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *expect(const char *fmt, ...)
{
	static char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static void test_dry_run(void **state)
{
	write_conf("# lab\n"
		   "-t rdma -a 10.77.0.1\n"
		   "-t rdma -a 10.77.0.2 --bogus\n"
		   "--transport=rdma --traddr=fd00::2 -s 4421 -q nqn.2014-08.org.example:h1 -i 2 "
		   "-l 30 -F 5 -f eth0 -D\n");
	/* the unusable line counts as a failed entry; the others are still planned */
	assert_int_equal(run("--dry-run", NULL), 1);
	assert_string_equal(
		out,
		expect("%s:2 rdma 10.77.0.1:4420: would read the discovery log of "
		       "nqn.2014-08.org.nvmexpress.discovery as this host's NQN, follow its "
		       "referrals "
		       "and connect each subsystem not connected yet with nr-io-queues one per "
		       "CPU, "
		       "queue-size 128, keep-alive-tmo 5, reconnect-delay 10, ctrl-loss-tmo "
		       "forever, "
		       "fast_io_fail_tmo off\n"
		       "%s:4 rdma [fd00::2]:4421: would read the discovery log of "
		       "nqn.2014-08.org.nvmexpress.discovery as nqn.2014-08.org.example:h1, follow "
		       "its "
		       "referrals and connect each subsystem not connected yet with nr-io-queues "
		       "2, "
		       "queue-size 128, keep-alive-tmo 5, reconnect-delay 10, ctrl-loss-tmo 30, "
		       "fast_io_fail_tmo 5\n",
		       conf, conf));
	assert_string_equal(err, expect("%s:3: error: unknown option '--bogus'\n"
					"%s:4: warning: --host-iface is not applied: it applies to "
					"TCP only (use --host-traddr for RDMA)\n"
					"%s:4: warning: --duplicate-connect is not applied: "
					"connect-all stays idempotent (every timer run would add a "
					"controller)\n"
					"disnvme connect-all: 1 of 3 configured entries failed\n",
					conf, conf, conf));

	write_conf("-t rdma -a 10.77.0.1 -s 4420\n");
	assert_int_equal(run("--dry-run", NULL), 0);
	assert_string_equal(err, "");
}

static void test_usage_and_missing_file(void **state)
{
	unlink(conf);
	assert_int_equal(run("--dry-run", NULL), 1);
	assert_string_equal(err, expect("disnvme connect-all: %s does not exist: no discovery "
					"controllers are configured\n",
					conf));
	assert_int_equal(run("--frob", NULL), 2);
	assert_string_equal(err,
			    "disnvme connect-all: error: unknown option '--frob'\n"
			    "disnvme connect-all: error: missing --transport (-t)\n"
			    "disnvme connect-all: error: missing --traddr (-a)\n"
			    "usage: disnvme connect-all [--config-file FILE] [--dry-run] [-v]\n"
			    "       disnvme connect-all -t rdma -a ADDR [-s PORT] [-q HOSTNQN] "
			    "[-I HOSTID] [connect options] [--dry-run] [-v]\n");
}

/*
 * As with nvme-cli, a discovery controller on the command line is used instead of the file,
 * with the options of a discovery.conf line and `disnvme connect`'s ctrl_loss_tmo default.
 */
static void test_command_line(void **state)
{
	static const char plan[] =
		"rdma 10.77.0.9:%s: would read the discovery log of "
		"nqn.2014-08.org.nvmexpress.discovery as %s, follow its referrals and connect each "
		"subsystem not connected yet with nr-io-queues %s, queue-size 128, keep-alive-tmo "
		"5, reconnect-delay 10, ctrl-loss-tmo %s, fast_io_fail_tmo off\n";
	char sock[160];

	/* the file's entries are not used */
	write_conf("-t rdma -a 10.77.0.1\n-t rdma -a 10.77.0.2\n");
	assert_int_equal(run("-t", "rdma", "-a", "10.77.0.9", "--dry-run", NULL), 0);
	assert_string_equal(out, expect(plan, "4420", "this host's NQN", "one per CPU", "600"));
	assert_string_equal(err, "");
	assert_int_equal(run("--transport=rdma", "--traddr", "10.77.0.9", "-s", "4421", "-i", "2",
			     "-l", "-1", "-q", "nqn.2014-08.org.example:h1", "-D", "--dry-run",
			     NULL),
			 0);
	assert_string_equal(out,
			    expect(plan, "4421", "nqn.2014-08.org.example:h1", "2", "forever"));
	assert_string_equal(err, "disnvme connect-all: warning: --duplicate-connect is not "
				 "applied: connect-all stays idempotent (every timer run would add "
				 "a controller)\n");

	/* a bad discovery controller is a usage error, said before anything is tried */
	assert_int_equal(run("-t", "rdma", "-a", "10.77.0.9", "-s", "70000", NULL), 2);
	assert_non_null(strstr(err, "disnvme connect-all: error: "));
	assert_non_null(strstr(err, "usage: disnvme connect-all"));
	assert_string_equal(out, "");
	assert_int_equal(run("-a", "10.77.0.9", NULL), 2);
	assert_non_null(strstr(err, "disnvme connect-all: error: missing --transport (-t)\n"));

	/* unreachable (127.0.0.1 has no RDMA device): its line says why, and the exit status */
	snprintf(sock, sizeof(sock), "%s/no-daemon.sock", tmpdir);
	setenv("DISNVME_SOCKET", sock, 1);
	assert_int_equal(run("-t", "rdma", "-a", "127.0.0.1", "-s", "9", "-q",
			     "nqn.2014-08.org.example:h1", "-I",
			     "1b4e28ba-2fa1-11d2-883f-0016d3cca427", NULL),
			 1);
	assert_non_null(strstr(out, "rdma 127.0.0.1:9: discovery at 127.0.0.1:9 FAILED: "));
	assert_null(strstr(out, "10.77.0.1"));
	assert_null(strstr(err, "configured entries"));
	unsetenv("DISNVME_SOCKET");
}

/*
 * An entry whose discovery controller cannot be reached fails with its reason on its own line
 * and makes the exit status 1, and the entries after it are still tried. 127.0.0.1 has no RDMA
 * device, so nothing leaves this machine.
 */
static void test_unreachable_entries(void **state)
{
	char sock[160];

	snprintf(sock, sizeof(sock), "%s/no-daemon.sock", tmpdir);
	setenv("DISNVME_SOCKET", sock, 1);
	write_conf("-t rdma -a 127.0.0.1 -s 9 -q nqn.2014-08.org.example:h1 "
		   "-I 1b4e28ba-2fa1-11d2-883f-0016d3cca427\n"
		   "-t rdma -a 127.0.0.1 -s 10 -q nqn.2014-08.org.example:h1 "
		   "-I 1b4e28ba-2fa1-11d2-883f-0016d3cca427\n");
	assert_int_equal(run(NULL), 1);
	assert_non_null(strstr(out, expect("%s:1 rdma 127.0.0.1:9: discovery at 127.0.0.1:9 "
					   "FAILED: ",
					   conf)));
	assert_non_null(strstr(out, expect("\n%s:2 rdma 127.0.0.1:10: discovery at "
					   "127.0.0.1:10 FAILED: ",
					   conf)));
	assert_non_null(strstr(err, "disnvme connect-all: 2 of 2 configured entries failed\n"));
	unsetenv("DISNVME_SOCKET");
}

/* Two runs on one file do not overlap: the second waits for the first */
static void test_one_run_at_a_time(void **state)
{
	char sock[160], c;
	int ready[2], status;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/no-daemon.sock", tmpdir);
	setenv("DISNVME_SOCKET", sock, 1);
	write_conf("-t rdma -a 127.0.0.1 -s 9 -q nqn.2014-08.org.example:h1 "
		   "-I 1b4e28ba-2fa1-11d2-883f-0016d3cca427\n");
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* stands for a run in progress */
		int fd = open(conf, O_RDONLY);

		if (fd < 0 || flock(fd, LOCK_EX))
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		usleep(300000);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(run(NULL), 1);
	assert_non_null(
		strstr(err, expect("disnvme connect-all: waiting for another connect-all on "
				   "%s\n",
				   conf)));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(ready[1]);
	/* alone, it does not wait */
	assert_int_equal(run(NULL), 1);
	assert_null(strstr(err, "waiting"));
	unsetenv("DISNVME_SOCKET");
}

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/test_connect_all.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(conf, sizeof(conf), "%s/discovery.conf", tmpdir);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_connected_set),
		cmocka_unit_test(test_walk_referrals),
		cmocka_unit_test(test_walk_failures),
		cmocka_unit_test(test_walk_depth),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_command_line),
		cmocka_unit_test(test_usage_and_missing_file),
		cmocka_unit_test(test_unreachable_entries),
		cmocka_unit_test(test_one_run_at_a_time),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
