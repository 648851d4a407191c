// SPDX-License-Identifier: MIT
/* disnvme: the host command. Dispatches to the subcommands (cli_*.c, daemon.c). */
#include <stdio.h>
#include <string.h>

#include "host/cli.h"
#if __has_include("host/config_cmd.h")
#include "host/config_cmd.h"
#define HAVE_CONFIG_CMD 1
#endif
#if __has_include("host/connect_all.h")
#include "host/connect_all.h"
#define HAVE_CONNECT_ALL 1
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{"discover", dn_cmd_discover,
	 "-t rdma -a ADDR [-s PORT] [-q HOSTNQN] [-I HOSTID] [-o normal|json]"},
	{"connect", dn_cmd_connect,
	 "-t rdma -a ADDR [-s 4420] -n SUBNQN [-q HOSTNQN] [-I HOSTID] [-i NR_IO_QUEUES] "
	 "[-Q QUEUE_SIZE] [-k KATO] [-c RECONNECT_DELAY] [-l CTRL_LOSS_TMO]"},
	{"list", dn_cmd_list, "[-o normal|json]"},
	{"disconnect", dn_cmd_disconnect, "-n SUBNQN | -d /dev/ublkbN"},
	{"disconnect-all", dn_cmd_disconnect_all, ""},
	{"resv-register", dn_cmd_resv,
	 "/dev/ublkbN [-c CRKEY] [-k NRKEY] [-r RREGA] [-p CPTPL] [-i]  (as nvme-cli)"},
	{"resv-acquire", dn_cmd_resv, "/dev/ublkbN -c CRKEY [-p PRKEY] -t RTYPE [-a RACQA] [-i]"},
	{"resv-release", dn_cmd_resv, "/dev/ublkbN -c CRKEY -t RTYPE [-a RRELA] [-i]"},
	{"resv-report", dn_cmd_resv, "/dev/ublkbN [-d NUMD] [-e] [-o normal|json]"},
	{"daemon", dn_cmd_daemon,
	 "[--auto-exit] [-v]   (serves the devices; normally started "
	 "by connect or systemd)"},
#ifdef HAVE_CONFIG_CMD
	{"config", dn_cmd_config, "add|remove|list ...  (edits discovery.conf)"},
#endif
#ifdef HAVE_CONNECT_ALL
	{"connect-all", dn_cmd_connect_all,
	 "[--config-file FILE | -t rdma -a ADDR [-s PORT] ...] [--dry-run] [-v]  (connects what "
	 "discovery.conf or the discovery controller given lists)"},
#endif
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: disnvme COMMAND [OPTIONS]\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  disnvme %s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return DN_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return DN_EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "disnvme: unknown command \"%s\" (disnvme --help lists them)\n", argv[1]);
	return DN_EXIT_USAGE;
}
