/* SPDX-License-Identifier: MIT */
/*
 * The disnvme command line: option parsing shared by the subcommands (nvme-cli's spellings),
 * the subcommand entry points, the output formatters, and the control-socket client that talks
 * to the daemon.
 */
#ifndef DISNVME_HOST_CLI_H
#define DISNVME_HOST_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "host/err.h"

/* Exit statuses */
#define DN_EXIT_OK    0
#define DN_EXIT_FAIL  1 /* the operation failed; the message says why */
#define DN_EXIT_USAGE 2 /* bad command line */

enum dn_out_fmt { DN_OUT_NORMAL, DN_OUT_JSON };

struct dn_cli_args {
	const char *transport, *traddr, *trsvcid, *subnqn, *hostnqn, *hostid, *device;
	const char *host_traddr;
	int nr_io_queues, queue_size, kato, ctrl_loss_tmo, fast_io_fail_tmo;
	int reconnect_delay_ms; /* -c takes seconds with up to three decimals */
	bool duplicate_connect;
	enum dn_out_fmt fmt;
	int verbose;
};

#define DN_DEF_QUEUE_SIZE	  128
#define DN_DEF_KATO		  5
#define DN_DEF_RECONNECT_DELAY	  10 /* seconds */
#define DN_MIN_RECONNECT_DELAY_MS 10
#define DN_MAX_RECONNECT_DELAY_MS 3600000
#define DN_DEF_CTRL_LOSS_TMO	  600
#define DN_MAX_IO_QUEUES	  64

/* cmd: "discover", "connect", "list", "disconnect", "disconnect-all". argv[0] is the command. */
int dn_cli_parse(const char *cmd, int argc, char **argv, struct dn_cli_args *a, struct dn_err *e);

/* Formatters (pure: testable) */
int dn_disc_log_print(FILE *out, const void *log, uint32_t len, enum dn_out_fmt fmt);
void dn_list_print(FILE *out, struct json_object *reply, enum dn_out_fmt fmt);

/* Control socket */
const char *dn_sock_path(void);
/* One request, one reply. -ENOENT/-ECONNREFUSED when no daemon listens. */
int dn_sock_request(struct json_object *req, struct json_object **reply, int timeout_ms,
		    struct dn_err *e);

/* Subcommands: return the exit status */
int dn_cmd_discover(int argc, char **argv);
int dn_cmd_connect(int argc, char **argv);
int dn_cmd_list(int argc, char **argv);
int dn_cmd_disconnect(int argc, char **argv);
int dn_cmd_disconnect_all(int argc, char **argv);
int dn_cmd_daemon(int argc, char **argv);

#endif
