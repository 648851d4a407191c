// SPDX-License-Identifier: MIT
/*
 * disnvme resv-register / resv-acquire / resv-release / resv-report: NVMe reservations on the
 * namespace behind a disnvme block device, with nvme-cli's options and output. A ublk device
 * has no persistent-reservation operations of its own, so these are how a node of a
 * shared-disk cluster that uses disnvme registers, reserves and fences. The daemon sends each
 * command on an I/O queue of its own to a live controller that serves the device.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/nvme_wire.h"
#include "host/cli.h"

#define RESV_REPLY_TIMEOUT_MS 60000

static const struct {
	const char *cmd;
	uint8_t opcode;
	const char *done; /* what nvme-cli prints on success */
} resv_cmds[] = {
	{"resv-register", nvme_cmd_resv_register, "NVME Reservation Register success"},
	{"resv-acquire", nvme_cmd_resv_acquire, "NVME Reservation Acquire success"},
	{"resv-release", nvme_cmd_resv_release, "NVME Reservation release success"},
	{"resv-report", nvme_cmd_resv_report, NULL},
};

static int parse_num(const char *name, const char *s, uint64_t max, uint64_t *out, struct dn_err *e)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || *out > max)
		return dn_err_set(e, -EINVAL, "--%s: \"%s\" is not a number from 0 to %llu", name,
				  s, (unsigned long long)max);
	return 0;
}

int dn_resv_parse(int argc, char **argv, struct dn_resv_args *a, struct dn_err *e)
{
	static const struct option opts[] = {
		{"namespace-id", required_argument, NULL, 'n'},
		{"crkey", required_argument, NULL, 'c'},
		{"nrkey", required_argument, NULL, 'k'},
		{"prkey", required_argument, NULL, 'p'},
		{"rtype", required_argument, NULL, 't'},
		{"rrega", required_argument, NULL, 'r'},
		{"racqa", required_argument, NULL, 'a'},
		{"rrela", required_argument, NULL, 'A'},
		{"cptpl", required_argument, NULL, 'P'},
		{"iekey", no_argument, NULL, 'i'},
		{"numd", required_argument, NULL, 'd'},
		{"eds", no_argument, NULL, 'e'},
		{"output-format", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	/*
	 * nvme-cli's short options, which differ per command (-p is cptpl to register and prkey
	 * to acquire, -a racqa or rrela), and the option codes each command takes.
	 */
	const char *optstr, *allowed;
	uint64_t v;
	size_t i;
	int c;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < sizeof(resv_cmds) / sizeof(resv_cmds[0]); i++)
		if (!strcmp(argv[0], resv_cmds[i].cmd))
			a->opcode = resv_cmds[i].opcode;
	switch (a->opcode) {
	case nvme_cmd_resv_register:
		optstr = "n:c:k:r:p:i";
		allowed = "nckrPi";
		break;
	case nvme_cmd_resv_acquire:
		optstr = "n:c:p:t:a:i";
		allowed = "ncptai";
		break;
	case nvme_cmd_resv_release:
		optstr = "n:c:t:a:i";
		allowed = "nctAi";
		break;
	case nvme_cmd_resv_report:
		optstr = "n:d:eo:";
		allowed = "ndeo";
		break;
	default:
		return dn_err_set(e, -EINVAL, "%s is not a reservation command", argv[0]);
	}
	a->cmd = argv[0];
	a->numd = 1023; /* 4 KiB, as nvme-cli asks for by default */
	optind = 0; /* 0: glibc starts over (a previous parse may have left permutation state) */
	opterr = 0;
	for (;;) {
		int idx = -1;

		c = getopt_long(argc, argv, optstr, opts, &idx);
		if (c == -1)
			break;
		/* a short letter means what it means to this command; a long option is itself */
		if (idx < 0 && c == 'p' && a->opcode == nvme_cmd_resv_register)
			c = 'P';
		if (idx < 0 && c == 'a' && a->opcode == nvme_cmd_resv_release)
			c = 'A';
		if (c == '?' || !strchr(allowed, c))
			goto bad_opt;
		switch (c) {
		case 'n':
			if (parse_num("namespace-id", optarg, UINT32_MAX, &v, e))
				return -EINVAL;
			a->nsid = (uint32_t)v;
			break;
		case 'c':
			if (parse_num("crkey", optarg, UINT64_MAX, &a->crkey, e))
				return -EINVAL;
			break;
		case 'k':
		case 'p':
			if (parse_num(c == 'k' ? "nrkey" : "prkey", optarg, UINT64_MAX, &a->key2,
				      e))
				return -EINVAL;
			break;
		case 't':
			if (parse_num("rtype", optarg, 0xff, &v, e))
				return -EINVAL;
			a->rtype = (uint8_t)v;
			break;
		case 'r':
		case 'a':
		case 'A':
			if (parse_num(c == 'r'	 ? "rrega"
				      : c == 'a' ? "racqa"
						 : "rrela",
				      optarg, 7, &v, e))
				return -EINVAL;
			a->action = (uint8_t)v;
			break;
		case 'P':
			if (parse_num("cptpl", optarg, 3, &v, e))
				return -EINVAL;
			a->cptpl = (uint8_t)v;
			break;
		case 'i':
			a->iekey = true;
			break;
		case 'd':
			if (parse_num("numd", optarg, UINT32_MAX, &v, e))
				return -EINVAL;
			/* as nvme-cli: 0 or more than 4 KiB asks for 4 KiB */
			a->numd = v && v < DN_RESV_REPORT_MAX / 4 ? (uint32_t)v : 1023;
			break;
		case 'e':
			a->eds = true;
			break;
		case 'o':
			if (dn_out_fmt_parse(optarg, &a->fmt))
				return dn_err_set(e, -EINVAL, "-o: \"%s\" is not normal or json",
						  optarg);
			break;
		}
	}
	if (optind != argc - 1)
		return dn_err_set(e, -EINVAL, "%s takes one device, /dev/ublkbN", a->cmd);
	a->device = argv[optind];
	if (strncmp(a->device, "/dev/ublkb", 10))
		return dn_err_set(e, -EINVAL, "%s is not a disnvme block device (/dev/ublkbN)",
				  a->device);
	return 0;
bad_opt:
	return dn_err_set(e, -EINVAL, "%s: unknown or misplaced option %s", a->cmd,
			  argv[optind - 1]);
}

void dn_resv_cdws(const struct dn_resv_args *a, uint32_t *cdw10, uint32_t *cdw11, uint8_t data[16],
		  uint32_t *len)
{
	uint64_t k1 = htole64(a->crkey), k2 = htole64(a->key2);

	*cdw10 = a->action | (a->iekey ? 1u << 3 : 0);
	*cdw11 = 0;
	*len = 16;
	switch (a->opcode) {
	case nvme_cmd_resv_register:
		*cdw10 |= (uint32_t)a->cptpl << 30;
		break;
	case nvme_cmd_resv_acquire:
		*cdw10 |= (uint32_t)a->rtype << 8;
		break;
	case nvme_cmd_resv_release:
		*cdw10 |= (uint32_t)a->rtype << 8;
		*len = 8;
		break;
	case nvme_cmd_resv_report:
		*cdw10 = a->numd;
		*cdw11 = a->eds ? 1 : 0;
		*len = (a->numd + 1) * 4;
		return;
	}
	memcpy(data, &k1, 8);
	memcpy(data + 8, &k2, 8);
}

int dn_resv_report_print(FILE *out, const void *buf, uint32_t len, bool eds, enum dn_out_fmt fmt)
{
	const struct nvme_resv_status *s = buf;
	unsigned int regctl, room, i;
	struct json_object *o, *arr;

	if (len < (eds ? sizeof(*s) : 24))
		return -EPROTO;
	regctl = s->regctl[0] | s->regctl[1] << 8;
	/* the target says how many there are; only those that fit in the reply are shown */
	room = (len - (eds ? sizeof(*s) : 24)) / (eds ? sizeof(struct nvme_registered_ctrl_ext)
						      : sizeof(struct nvme_registered_ctrl));
	if (room > regctl)
		room = regctl;
	if (fmt == DN_OUT_JSON) {
		o = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(o, "gen", json_object_new_int64(le32toh(s->gen)));
		json_object_object_add(o, "rtype", json_object_new_int(s->rtype));
		json_object_object_add(o, "regctl", json_object_new_int((int)regctl));
		json_object_object_add(o, "ptpls", json_object_new_int(s->ptpls));
		for (i = 0; i < room; i++) {
			struct json_object *r = json_object_new_object();
			char hostid[33];
			unsigned int j;

			if (eds) {
				const struct nvme_registered_ctrl_ext *x = &s->regctl_eds[i];

				for (j = 0; j < 16; j++)
					snprintf(hostid + 2 * j, 3, "%02x", x->hostid[j]);
				json_object_object_add(r, "cntlid",
						       json_object_new_int(le16toh(x->cntlid)));
				json_object_object_add(r, "rcsts", json_object_new_int(x->rcsts));
				json_object_object_add(r, "rkey",
						       json_object_new_uint64(le64toh(x->rkey)));
			} else {
				const struct nvme_registered_ctrl *x = &s->regctl_ds[i];

				snprintf(hostid, sizeof(hostid), "%016llx",
					 (unsigned long long)le64toh(x->hostid));
				json_object_object_add(r, "cntlid",
						       json_object_new_int(le16toh(x->cntlid)));
				json_object_object_add(r, "rcsts", json_object_new_int(x->rcsts));
				json_object_object_add(r, "rkey",
						       json_object_new_uint64(le64toh(x->rkey)));
			}
			json_object_object_add(r, "hostid", json_object_new_string(hostid));
			json_object_array_add(arr, r);
		}
		json_object_object_add(o, eds ? "regctlext" : "regctl_ds", arr);
		fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return 0;
	}
	fprintf(out, "\nNVME Reservation status:\n\n");
	fprintf(out, "gen       : %u\nrtype     : %u\nregctl    : %u\nptpls     : %u\n",
		le32toh(s->gen), s->rtype, regctl, s->ptpls);
	for (i = 0; i < room; i++) {
		unsigned int j;

		fprintf(out, "regctl%s[%u] :\n", eds ? "ext" : "", i);
		if (eds) {
			const struct nvme_registered_ctrl_ext *x = &s->regctl_eds[i];

			fprintf(out, "  cntlid     : %x\n  rcsts      : %x\n  rkey       : %llx\n",
				le16toh(x->cntlid), x->rcsts, (unsigned long long)le64toh(x->rkey));
			fprintf(out, "  hostid     : ");
			for (j = 0; j < 16; j++)
				fprintf(out, "%02x", x->hostid[j]);
			fprintf(out, "\n");
		} else {
			const struct nvme_registered_ctrl *x = &s->regctl_ds[i];

			fprintf(out,
				"  cntlid     : %x\n  rcsts      : %x\n  hostid     : %llx\n"
				"  rkey       : %llx\n",
				le16toh(x->cntlid), x->rcsts,
				(unsigned long long)le64toh(x->hostid),
				(unsigned long long)le64toh(x->rkey));
		}
	}
	fprintf(out, "\n");
	return 0;
}

static int hex_decode(const char *hex, uint8_t *out, uint32_t len)
{
	uint32_t i;

	if (strlen(hex) != 2 * (size_t)len)
		return -EPROTO;
	for (i = 0; i < len; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1)
			return -EPROTO;
	return 0;
}

int dn_cmd_resv(int argc, char **argv)
{
	struct json_object *req, *reply = NULL, *v;
	uint8_t data[DN_RESV_REPORT_MAX];
	uint32_t cdw10, cdw11, len, i;
	struct dn_resv_args a;
	struct dn_err e = {0};
	char hex[33];
	int ret, st;

	if (dn_resv_parse(argc, argv, &a, &e)) {
		fprintf(stderr, "disnvme: %s\n", e.msg);
		return DN_EXIT_USAGE;
	}
	memset(data, 0, sizeof(data));
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("resv"));
	json_object_object_add(req, "device", json_object_new_string(a.device));
	json_object_object_add(req, "opcode", json_object_new_int(a.opcode));
	json_object_object_add(req, "cdw10", json_object_new_int64(cdw10));
	json_object_object_add(req, "cdw11", json_object_new_int64(cdw11));
	if (a.nsid)
		json_object_object_add(req, "nsid", json_object_new_int64(a.nsid));
	if (a.opcode == nvme_cmd_resv_report) {
		json_object_object_add(req, "len", json_object_new_int((int)len));
	} else {
		for (i = 0; i < len; i++)
			snprintf(hex + 2 * i, 3, "%02x", data[i]);
		json_object_object_add(req, "data", json_object_new_string(hex));
	}
	ret = dn_sock_request(req, &reply, RESV_REPLY_TIMEOUT_MS, &e);
	json_object_put(req);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		fprintf(stderr, "disnvme %s: no disnvme daemon is running, so %s is not ours\n",
			a.cmd, a.device);
		return DN_EXIT_FAIL;
	}
	if (ret)
		goto out_fail;
	if (!json_object_object_get_ex(reply, "status", &v)) {
		dn_err_set(&e, -EPROTO, "the disnvme daemon's reply has no status");
		goto out_fail;
	}
	if (json_object_get_int(v)) {
		struct json_object *msg;

		dn_err_set(&e, json_object_get_int(v), "%s",
			   json_object_object_get_ex(reply, "error", &msg)
				   ? json_object_get_string(msg)
				   : strerror(-json_object_get_int(v)));
		goto out_fail;
	}
	st = json_object_object_get_ex(reply, "nvme_status", &v) ? json_object_get_int(v) : -1;
	if (st) {
		fprintf(stderr, "disnvme %s %s: %s (NVMe status 0x%04x)\n", a.cmd, a.device,
			nvme_status_str((nvme_status_t)st), st);
		json_object_put(reply);
		return DN_EXIT_FAIL;
	}
	if (a.opcode != nvme_cmd_resv_report) {
		for (i = 0; i < sizeof(resv_cmds) / sizeof(resv_cmds[0]); i++)
			if (resv_cmds[i].opcode == a.opcode)
				printf("%s\n", resv_cmds[i].done);
		json_object_put(reply);
		return DN_EXIT_OK;
	}
	if (!json_object_object_get_ex(reply, "data", &v) ||
	    hex_decode(json_object_get_string(v), data, len) ||
	    dn_resv_report_print(stdout, data, len, a.eds, a.fmt)) {
		dn_err_set(&e, -EPROTO, "the daemon's reply has no usable report");
		goto out_fail;
	}
	json_object_put(reply);
	return DN_EXIT_OK;
out_fail:
	json_object_put(reply);
	fprintf(stderr, "disnvme %s %s: %s\n", a.cmd, a.device, e.msg);
	return DN_EXIT_FAIL;
}
