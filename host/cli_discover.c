// SPDX-License-Identifier: MIT
/*
 * disnvme discover: connect to a discovery controller, read its log, print it as nvme-cli
 * does (normal or JSON). Runs in the command's own process: no daemon, no device.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <nvme/types.h>

#include "common/log.h"
#include "discovery/disc_log.h"
#include "host/cli.h"
#include "host/ctrl.h"
#include "host/hostid.h"

static const char *trtype_str(uint8_t t)
{
	switch (t) {
	case NVMF_TRTYPE_RDMA:
		return "rdma";
	case NVMF_TRTYPE_FC:
		return "fc";
	case NVMF_TRTYPE_TCP:
		return "tcp";
	case NVMF_TRTYPE_LOOP:
		return "loop";
	}
	return "unrecognized";
}

static const char *adrfam_str(uint8_t a)
{
	switch (a) {
	case NVMF_ADDR_FAMILY_IP4:
		return "ipv4";
	case NVMF_ADDR_FAMILY_IP6:
		return "ipv6";
	case NVMF_ADDR_FAMILY_IB:
		return "infiniband";
	case NVMF_ADDR_FAMILY_FC:
		return "fibre-channel";
	case NVMF_ADDR_FAMILY_LOOP:
		return "loop";
	}
	return "unrecognized";
}

static const char *subtype_str(uint8_t s)
{
	switch (s) {
	case NVME_NQN_DISC:
		return "discovery subsystem referral";
	case NVME_NQN_NVME:
		return "nvme subsystem";
	case NVME_NQN_CURR:
		return "current discovery subsystem";
	}
	return "unrecognized";
}

static const char *treq_str(uint8_t t)
{
	switch (t & 0x3) {
	case NVMF_TREQ_NOT_SPECIFIED:
		return t & NVMF_TREQ_DISABLE_SQFLOW
			       ? "not specified, sq flow control disable supported"
			       : "not specified";
	case NVMF_TREQ_REQUIRED:
		return t & NVMF_TREQ_DISABLE_SQFLOW ? "required, sq flow control disable supported"
						    : "required";
	case NVMF_TREQ_NOT_REQUIRED:
		return t & NVMF_TREQ_DISABLE_SQFLOW
			       ? "not required, sq flow control disable supported"
			       : "not required";
	}
	return "unrecognized";
}

static const char *prtype_str(uint8_t p)
{
	switch (p) {
	case NVMF_RDMA_PRTYPE_NOT_SPECIFIED:
		return "not specified";
	case NVMF_RDMA_PRTYPE_IB:
		return "infiniband";
	case NVMF_RDMA_PRTYPE_ROCE:
		return "roce";
	case NVMF_RDMA_PRTYPE_ROCEV2:
		return "roce-v2";
	case NVMF_RDMA_PRTYPE_IWARP:
		return "iwarp";
	}
	return "unrecognized";
}

static const char *qptype_str(uint8_t q)
{
	switch (q) {
	case NVMF_RDMA_QPTYPE_CONNECTED:
		return "connected";
	case NVMF_RDMA_QPTYPE_DATAGRAM:
		return "datagram";
	}
	return "unrecognized";
}

static const char *eflags_str(uint16_t f)
{
	switch (f & (NVMF_DISC_EFLAGS_DUPRETINFO | NVMF_DISC_EFLAGS_EPCSD)) {
	case NVMF_DISC_EFLAGS_DUPRETINFO:
		return "duplicate discovery information";
	case NVMF_DISC_EFLAGS_EPCSD:
		return "explicit discovery connections";
	case NVMF_DISC_EFLAGS_BOTH:
		return "explicit discovery connections, duplicate discovery information";
	}
	return "none";
}

static void rec_json(struct json_object *recs, const struct dn_disc_rec *e)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "trtype", json_object_new_string(trtype_str(e->trtype)));
	json_object_object_add(r, "adrfam", json_object_new_string(adrfam_str(e->adrfam)));
	json_object_object_add(r, "subtype", json_object_new_string(subtype_str(e->subtype)));
	json_object_object_add(r, "treq", json_object_new_string(treq_str(e->treq)));
	json_object_object_add(r, "portid", json_object_new_int(e->portid));
	json_object_object_add(r, "trsvcid", json_object_new_string(e->trsvcid));
	json_object_object_add(r, "subnqn", json_object_new_string(e->subnqn));
	json_object_object_add(r, "traddr", json_object_new_string(e->traddr));
	json_object_object_add(r, "eflags", json_object_new_string(eflags_str(e->eflags)));
	if (e->trtype == NVMF_TRTYPE_RDMA) {
		json_object_object_add(r, "rdma_prtype",
				       json_object_new_string(prtype_str(e->tsas.rdma.prtype)));
		json_object_object_add(r, "rdma_qptype",
				       json_object_new_string(qptype_str(e->tsas.rdma.qptype)));
		json_object_object_add(
			r, "rdma_cms",
			json_object_new_string(e->tsas.rdma.cms == NVMF_RDMA_CMS_RDMA_CM
						       ? "rdma-cm"
						       : "unrecognized"));
		json_object_object_add(r, "rdma_pkey",
				       json_object_new_int(le16toh(e->tsas.rdma.pkey)));
	}
	json_object_array_add(recs, r);
}

static void rec_print(FILE *out, uint64_t i, const struct dn_disc_rec *e)
{
	fprintf(out, "=====Discovery Log Entry %llu======\n", (unsigned long long)i);
	fprintf(out, "trtype:  %s\n", trtype_str(e->trtype));
	fprintf(out, "adrfam:  %s\n", adrfam_str(e->adrfam));
	fprintf(out, "subtype: %s\n", subtype_str(e->subtype));
	fprintf(out, "treq:    %s\n", treq_str(e->treq));
	fprintf(out, "portid:  %u\n", e->portid);
	fprintf(out, "trsvcid: %s\n", e->trsvcid);
	fprintf(out, "subnqn:  %s\n", e->subnqn);
	fprintf(out, "traddr:  %s\n", e->traddr);
	fprintf(out, "eflags:  %s\n", eflags_str(e->eflags));
	if (e->trtype == NVMF_TRTYPE_RDMA) {
		fprintf(out, "rdma_prtype: %s\n", prtype_str(e->tsas.rdma.prtype));
		fprintf(out, "rdma_qptype: %s\n", qptype_str(e->tsas.rdma.qptype));
		fprintf(out, "rdma_cms:    %s\n",
			e->tsas.rdma.cms == NVMF_RDMA_CMS_RDMA_CM ? "rdma-cm" : "unrecognized");
		fprintf(out, "rdma_pkey: 0x%04x\n", le16toh(e->tsas.rdma.pkey));
	}
}

int dn_disc_log_print(FILE *out, const void *buf, uint32_t len, enum dn_out_fmt fmt)
{
	struct json_object *root, *recs;
	uint64_t genctr, numrec, nr, bad, i;
	struct dn_disc_rec *r;
	int ret;

	/* untrusted: the parser validates every record before anything is printed */
	ret = dn_disc_log_parse_header(buf, len, &genctr, &numrec);
	if (ret)
		return ret;
	if (numrec > (len - DN_DISC_LOG_HDR_SIZE) / DN_DISC_LOG_ENTRY_SIZE)
		return -EMSGSIZE;
	r = calloc(numrec ? numrec : 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = dn_disc_log_parse(buf, len, &genctr, r, numrec, &nr, &bad);
	if (ret)
		goto out_free;
	if (fmt == DN_OUT_JSON) {
		root = json_object_new_object();
		recs = json_object_new_array();
		json_object_object_add(root, "genctr", json_object_new_uint64(genctr));
		json_object_object_add(root, "records", recs);
		for (i = 0; i < nr; i++)
			rec_json(recs, &r[i]);
		fprintf(out, "%s\n",
			json_object_to_json_string_ext(
				root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else {
		fprintf(out, "\nDiscovery Log Number of Records %llu, Generation counter %llu\n",
			(unsigned long long)nr, (unsigned long long)genctr);
		for (i = 0; i < nr; i++)
			rec_print(out, i, &r[i]);
	}
out_free:
	free(r);
	return ret;
}

int dn_cmd_discover(int argc, char **argv)
{
	struct dn_host_identity h;
	struct dn_cli_args a;
	struct dn_err e = {0};
	struct dn_ctrl *c;
	void *log;
	uint32_t len;
	int ret;

	if (dn_cli_parse("discover", argc, argv, &a, &e)) {
		fprintf(stderr, "disnvme: %s\n", e.msg);
		return DN_EXIT_USAGE;
	}
	dn_log_init("disnvme", a.verbose - 1);
	/* the command prints one sentence on failure; the log lines only with -v */
	if (!a.verbose)
		dn_log_max_level = 0;
	if (dn_host_identity_get(a.hostnqn, a.hostid, &h, &e))
		goto out_fail;
	c = calloc(1, sizeof(*c));
	if (!c) {
		dn_err_set(&e, -ENOMEM, "out of memory");
		goto out_fail;
	}
	snprintf(c->o.traddr, sizeof(c->o.traddr), "%s", a.traddr);
	snprintf(c->o.trsvcid, sizeof(c->o.trsvcid), "%s", a.trsvcid);
	snprintf(c->o.subnqn, sizeof(c->o.subnqn), "%s", NVME_DISC_SUBSYS_NAME);
	snprintf(c->o.hostnqn, sizeof(c->o.hostnqn), "%s", h.nqn);
	memcpy(c->o.hostid, h.id, sizeof(h.id));
	c->o.kato = 0;
	c->o.queue_size = 32;
	c->o.nr_io_queues = 1;
	ret = dn_ctrl_connect(c, &e);
	if (ret) {
		free(c);
		goto out_fail;
	}
	ret = dn_ctrl_get_discovery_log(c, &log, &len, &e);
	dn_ctrl_disconnect(c);
	free(c);
	if (ret)
		goto out_fail;
	ret = dn_disc_log_print(stdout, log, len, a.fmt);
	free(log);
	if (ret) {
		dn_err_set(&e, ret, "%s:%s returned a malformed discovery log", a.traddr,
			   a.trsvcid);
		goto out_fail;
	}
	return DN_EXIT_OK;

out_fail:
	fprintf(stderr, "disnvme discover: %s\n", e.msg);
	return DN_EXIT_FAIL;
}
