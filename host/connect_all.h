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

#include "discovery/conf.h"
#include "discovery/disc_log.h"
#include "host/err.h"

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
	bool failed; /* given up on by the daemon, not removed yet: it serves nothing */
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
 * "trsvcid", "hostnqn", "state", ...}]}). One that is reconnecting ("resetting") is still
 * connected as far as connect-all is concerned: connecting it again would duplicate it. One the
 * daemon has given up on ("dead", past ctrl-loss-tmo; "failed" in earlier daemons) is marked
 * failed: it serves nothing, and the daemon refuses a second connect while it is listed.
 * -EPROTO when the reply is not such a list.
 */
int dn_ca_set_from_list(struct json_object *reply, struct dn_ca_set *s);

/*
 * What the walk over one entry does through the fabric and the daemon: the command plugs in
 * discovery in this process and `disnvme connect`; a unit test plugs in a fake fabric.
 */
struct dn_ca_ops {
	/*
	 * Required. The discovery log of the controller at traddr:trsvcid (subsystem subnqn), as
	 * validated records in *recs (malloc'd, the caller frees) and their number in *nr.
	 * 0, or -errno with the sentence in e.
	 */
	int (*read_log)(void *priv, const char *traddr, const char *trsvcid, const char *subnqn,
			struct dn_disc_rec **recs, size_t *nr, struct dn_err *e);
	/*
	 * Required. Connect the subsystem of record r: 0 with its devices (space separated) in
	 * devs, or -1 with the reason in why.
	 */
	int (*connect)(void *priv, const struct dn_disc_rec *r, char *devs, size_t devs_len,
		       char *why, size_t why_len);
};

/* What happened to one discovery.conf entry: its result line */
struct dn_ca_result {
	unsigned int discs;	 /* discovery logs read */
	unsigned int subsystems; /* distinct NVM subsystem ports on RDMA found */
	unsigned int connected, already, failed, other_transport;
	char text[1024]; /* failures, new devices, notes: "; "-separated */
	size_t used;
};

/*
 * Read the entry's discovery controller and, breadth first, every discovery controller its
 * referrals lead to (each once, DN_CA_MAX_DEPTH hops, DN_CA_MAX_DISC controllers), and connect
 * each subsystem port not in connected for hostnqn (adding what it connects). 0 when all went
 * well, -1 when a discovery controller or a subsystem failed; the others are still done.
 */
int dn_ca_walk(const struct dn_ca_ops *ops, void *priv, const struct dn_conf_entry *ce,
	       const char *hostnqn, struct dn_ca_set *connected, struct dn_ca_result *res);

/* `disnvme connect-all [--config-file FILE] [--dry-run] [-v]`; argv[0] is "connect-all" */
int dn_cmd_connect_all(int argc, char **argv);

#endif
