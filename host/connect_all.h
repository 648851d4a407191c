/* SPDX-License-Identifier: MIT */
/*
 * disnvme connect-all: for every discovery.conf entry, read the discovery log (following
 * referrals to other discovery controllers), and connect each NVMe subsystem on an RDMA port
 * that is not connected yet; one result line per entry. What to do with a discovery log record
 * and whether a subsystem is already connected are decided by the pure functions below, so a
 * unit test can step them without a fabric.
 */
#ifndef DISNVME_HOST_CONNECT_ALL_H
#define DISNVME_HOST_CONNECT_ALL_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "discovery/disc_log.h"

/* Referral hops followed from one discovery.conf entry, and discovery controllers visited */
#define DN_CA_MAX_DEPTH 8
#define DN_CA_MAX_DISC	64

enum dn_ca_action {
	DN_CA_CONNECT,	       /* an NVM subsystem on RDMA: connect it */
	DN_CA_REFERRAL,	       /* another discovery controller on RDMA: read its log too */
	DN_CA_SELF,	       /* a port of the discovery subsystem being read: nothing new */
	DN_CA_OTHER_TRANSPORT, /* TCP, FC, ...: disnvme cannot connect it */
};

enum dn_ca_action dn_ca_classify(const struct dn_disc_rec *r);

/* A controller as the daemon lists it (or as connect-all just made it) */
struct dn_ca_conn {
	char subnqn[NVME_NQN_LENGTH + 1];
	char traddr[NVMF_TRADDR_SIZE + 1];
	char trsvcid[NVMF_TRSVCID_SIZE + 1];
	char hostnqn[NVME_NQN_LENGTH + 1];
	bool failed; /* the daemon lists it as failed: it holds it, but it serves nothing */
};

struct dn_ca_set {
	struct dn_ca_conn *v;
	size_t nr, alloc;
};

int dn_ca_set_add(struct dn_ca_set *s, const char *subnqn, const char *traddr, const char *trsvcid,
		  const char *hostnqn, bool failed);
/* The controller with this subsystem, port (address compared as an address) and host NQN */
const struct dn_ca_conn *dn_ca_set_find(const struct dn_ca_set *s, const char *subnqn,
					const char *traddr, const char *trsvcid,
					const char *hostnqn);
void dn_ca_set_free(struct dn_ca_set *s);
/*
 * The controllers of the daemon's "list" reply ({"controllers": [{"subsysnqn", "traddr",
 * "trsvcid", "hostnqn", "state", ...}]}), whatever their state: one that is reconnecting is
 * still connected as far as connect-all is concerned, and one the daemon lists as "failed" is
 * not replaced behind its back (it may still hold I/O; the daemon removes it after
 * ctrl-loss-tmo), only reported. -EPROTO when the reply is not such a list.
 */
int dn_ca_set_from_list(struct json_object *reply, struct dn_ca_set *s);

/* `disnvme connect-all [--config-file FILE] [--dry-run] [-v]`; argv[0] is "connect-all" */
int dn_cmd_connect_all(int argc, char **argv);

#endif
