// SPDX-License-Identifier: MIT
/* Command-line option parsing for the disnvme subcommands, with nvme-cli's option names. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	{"connect", "t:a:s:n:q:I:i:Q:k:c:l:v"},
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

static long nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > DN_MAX_IO_QUEUES ? DN_MAX_IO_QUEUES : n;
}

int dn_cli_parse(const char *cmd, int argc, char **argv, struct dn_cli_args *a, struct dn_err *e)
{
	const char *optstr = NULL;
	size_t i;
	int c;

	memset(a, 0, sizeof(*a));
	a->nr_io_queues = (int)nr_cpus();
	a->queue_size = DN_DEF_QUEUE_SIZE;
	a->kato = DN_DEF_KATO;
	a->reconnect_delay = DN_DEF_RECONNECT_DELAY;
	a->ctrl_loss_tmo = DN_DEF_CTRL_LOSS_TMO;
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
			if (parse_int(optarg, 1, 3600, &a->reconnect_delay))
				bad = "--reconnect-delay must be 1..3600 seconds";
			break;
		case 'l':
			if (parse_int(optarg, -1, INT_MAX, &a->ctrl_loss_tmo))
				bad = "--ctrl-loss-tmo must be -1 (forever) or a number of seconds";
			break;
		case 'o':
			if (!strcmp(optarg, "json"))
				a->fmt = DN_OUT_JSON;
			else if (!strcmp(optarg, "normal"))
				a->fmt = DN_OUT_NORMAL;
			else
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
	}
	if (!strcmp(cmd, "connect") && !a->subnqn)
		return dn_err_set(e, -EINVAL, "connect: -n SUBSYSTEM_NQN is required");
	if (!strcmp(cmd, "disconnect") && !!a->subnqn == !!a->device)
		return dn_err_set(e, -EINVAL,
				  "disconnect: give either -n SUBSYSTEM_NQN or "
				  "-d /dev/ublkbN");
	return 0;
}
