// SPDX-License-Identifier: MIT
/* Command-line option parsing for the disnvme subcommands, with nvme-cli's option names. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rdma_util.h"
#include "host/cli.h"

static const struct option long_opts[] = {
	{"transport", required_argument, NULL, 't'},
	{"traddr", required_argument, NULL, 'a'},
	{"trsvcid", required_argument, NULL, 's'},
	{"nqn", required_argument, NULL, 'n'},
	{"hostnqn", required_argument, NULL, 'q'},
	{"hostid", required_argument, NULL, 'I'},
	{"nr-io-queues", required_argument, NULL, 'i'},
	{"queue-size", required_argument, NULL, 'Q'},
	{"keep-alive-tmo", required_argument, NULL, 'k'},
	{"reconnect-delay", required_argument, NULL, 'c'},
	{"ctrl-loss-tmo", required_argument, NULL, 'l'},
	{"fast_io_fail_tmo", required_argument, NULL, 'F'},
	{"fast-io-fail-tmo", required_argument, NULL, 'F'},
	{"host-traddr", required_argument, NULL, 'w'},
	{"host-iface", required_argument, NULL, 'f'},
	{"duplicate-connect", no_argument, NULL, 'D'},
	{"output-format", required_argument, NULL, 'o'},
	{"device", required_argument, NULL, 'd'},
	{"verbose", no_argument, NULL, 'v'},
	{NULL, 0, NULL, 0},
};

/* which options each subcommand takes */
static const struct {
	const char *cmd;
	const char *opts;
} cmd_opts[] = {
	{"discover", "t:a:s:q:I:o:v"},
	{"connect", "t:a:s:n:q:I:i:Q:k:c:l:F:w:f:Dv"},
	{"list", "o:v"},
	{"disconnect", "n:d:v"},
	{"disconnect-all", "v"},
};

static int parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Seconds with up to three decimals ("0.25", "10") to milliseconds in [min_ms, max_ms] */
static int parse_secs_ms(const char *s, int min_ms, int max_ms, int *out)
{
	long long ms = 0;
	int frac_digits = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		ms = ms * 10 + (*p - '0');
		if (ms > max_ms)
			return -EINVAL;
	}
	ms *= 1000;
	if (*p == '.') {
		int scale = 100;

		for (p++; *p >= '0' && *p <= '9'; p++, frac_digits++) {
			if (frac_digits >= 3)
				return -EINVAL;
			ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (!frac_digits)
			return -EINVAL;
	}
	if (*p || ms < min_ms || ms > max_ms)
		return -EINVAL;
	*out = (int)ms;
	return 0;
}

static long nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > DN_MAX_IO_QUEUES ? DN_MAX_IO_QUEUES : n;
}

int dn_out_fmt_parse(const char *s, enum dn_out_fmt *fmt)
{
	if (!strcmp(s, "json"))
		*fmt = DN_OUT_JSON;
	else if (!strcmp(s, "normal"))
		*fmt = DN_OUT_NORMAL;
	else
		return -EINVAL;
	return 0;
}

int dn_cli_parse(const char *cmd, int argc, char **argv, struct dn_cli_args *a, struct dn_err *e)
{
	const char *optstr = NULL, *why;
	size_t i;
	int c;

	memset(a, 0, sizeof(*a));
	a->nr_io_queues = (int)nr_cpus();
	a->queue_size = DN_DEF_QUEUE_SIZE;
	a->kato = DN_DEF_KATO;
	a->reconnect_delay_ms = DN_DEF_RECONNECT_DELAY * 1000;
	a->ctrl_loss_tmo = DN_DEF_CTRL_LOSS_TMO;
	a->fast_io_fail_tmo = -1;
	for (i = 0; i < sizeof(cmd_opts) / sizeof(cmd_opts[0]); i++)
		if (!strcmp(cmd, cmd_opts[i].cmd))
			optstr = cmd_opts[i].opts;
	if (!optstr)
		return dn_err_set(e, -EINVAL, "unknown command \"%s\"", cmd);

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstr, long_opts, NULL)) != -1) {
		const char *bad = NULL;

		switch (c) {
		case 't':
			a->transport = optarg;
			break;
		case 'a':
			a->traddr = optarg;
			break;
		case 's':
			a->trsvcid = optarg;
			break;
		case 'n':
			a->subnqn = optarg;
			break;
		case 'q':
			a->hostnqn = optarg;
			break;
		case 'I':
			a->hostid = optarg;
			break;
		case 'd':
			a->device = optarg;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'i':
			if (parse_int(optarg, 1, DN_MAX_IO_QUEUES, &a->nr_io_queues))
				bad = "--nr-io-queues must be 1..64";
			break;
		case 'Q':
			if (parse_int(optarg, 2, 1024, &a->queue_size))
				bad = "--queue-size must be 2..1024";
			break;
		case 'k':
			if (parse_int(optarg, 0, 65535, &a->kato))
				bad = "--keep-alive-tmo must be 0..65535 seconds";
			break;
		case 'c':
			if (parse_secs_ms(optarg, DN_MIN_RECONNECT_DELAY_MS,
					  DN_MAX_RECONNECT_DELAY_MS, &a->reconnect_delay_ms))
				bad = "--reconnect-delay must be 0.01..3600 seconds "
				      "(at most three decimals)";
			break;
		case 'l':
			if (parse_int(optarg, -1, INT_MAX, &a->ctrl_loss_tmo))
				bad = "--ctrl-loss-tmo must be -1 (forever) or a number of seconds";
			break;
		case 'F':
			if (parse_int(optarg, -1, INT_MAX, &a->fast_io_fail_tmo))
				bad = "--fast_io_fail_tmo must be -1 (off) or a number of seconds";
			break;
		case 'w':
			a->host_traddr = optarg;
			break;
		case 'f':
			/* as the Linux host: a TCP option, refused for RDMA */
			bad = "--host-iface applies to TCP only; "
			      "use --host-traddr to pick the RDMA source address";
			break;
		case 'D':
			a->duplicate_connect = true;
			break;
		case 'o':
			if (dn_out_fmt_parse(optarg, &a->fmt))
				bad = "--output-format must be normal or json";
			break;
		default:
			return dn_err_set(e, -EINVAL, "%s: unknown or incomplete option \"%s\"",
					  cmd, argv[optind - 1]);
		}
		if (bad)
			return dn_err_set(e, -EINVAL, "%s: %s (got \"%s\")", cmd, bad, optarg);
	}
	if (optind < argc)
		return dn_err_set(e, -EINVAL, "%s: unexpected argument \"%s\"", cmd, argv[optind]);

	if (!strcmp(cmd, "discover") || !strcmp(cmd, "connect")) {
		if (!a->transport)
			return dn_err_set(e, -EINVAL, "%s: -t rdma is required", cmd);
		if (strcmp(a->transport, "rdma"))
			return dn_err_set(e, -EINVAL,
					  "%s: transport \"%s\" is not supported "
					  "(only rdma)",
					  cmd, a->transport);
		if (!a->traddr)
			return dn_err_set(e, -EINVAL, "%s: -a ADDRESS is required", cmd);
		if (!a->trsvcid)
			a->trsvcid = "4420";
		if ((why = dn_trsvcid_check(a->trsvcid)))
			return dn_err_set(e, -EINVAL, "%s: --trsvcid: %s (got \"%s\")", cmd, why,
					  a->trsvcid);
	}
	if (!strcmp(cmd, "connect") && !a->subnqn)
		return dn_err_set(e, -EINVAL, "connect: -n SUBSYSTEM_NQN is required");
	if (!strcmp(cmd, "disconnect") && !!a->subnqn == !!a->device)
		return dn_err_set(e, -EINVAL,
				  "disconnect: give either -n SUBSYSTEM_NQN or "
				  "-d /dev/ublkbN");
	return 0;
}
