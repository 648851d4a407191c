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

/* -o/--output-format's value: 0, or -EINVAL when it is neither normal nor json */
int dn_out_fmt_parse(const char *s, enum dn_out_fmt *fmt);
/* cmd: "discover", "connect", "list", "disconnect", "disconnect-all". argv[0] is the command. */
int dn_cli_parse(const char *cmd, int argc, char **argv, struct dn_cli_args *a, struct dn_err *e);

/* disnvme resv-register / resv-acquire / resv-release / resv-report (cli_resv.c) */
#define DN_RESV_REPORT_MAX 4096u
struct dn_resv_args {
	const char *cmd, *device;
	uint8_t opcode;	      /* nvme_cmd_resv_* */
	uint32_t nsid;	      /* -n: 0 when not given (the device says which) */
	uint64_t crkey, key2; /* key2: NRKEY (register) or PRKEY (acquire) */
	uint8_t rtype, action, cptpl;
	bool iekey, eds;
	uint32_t numd; /* report: dwords - 1 */
	enum dn_out_fmt fmt;
};
/* argv[0] is the command; options as nvme-cli spells them; one device, /dev/ublkbN */
int dn_resv_parse(int argc, char **argv, struct dn_resv_args *a, struct dn_err *e);
/* The command's CDW10/CDW11 and data (keys, little-endian; len bytes, or the report's size) */
void dn_resv_cdws(const struct dn_resv_args *a, uint32_t *cdw10, uint32_t *cdw11, uint8_t data[16],
		  uint32_t *len);
/* A Reservation Report (len bytes, extended or not) as nvme-cli prints it; -EPROTO if short */
int dn_resv_report_print(FILE *out, const void *buf, uint32_t len, bool eds, enum dn_out_fmt fmt);
int dn_cmd_resv(int argc, char **argv);

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
