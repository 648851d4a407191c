// SPDX-License-Identifier: MIT
/*
 * dn-cm-probe: send one NVMe/RDMA CM connect request with crafted private data and print what
 * the target answers: "rejected: status N (reason)" from its NVMe/RDMA reject private data,
 * "rejected by the CM: reason N" for a reject that carries none (nobody listening),
 * or "accepted: crqsize N" (then it disconnects). Exit 0 when an answer came, 1 otherwise.
 * A test tool: the request fields are whatever the options say, valid or not.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/nvme_wire.h"
#include "common/rdma_util.h"

/* the IB CM's reject reason for a reject sent by the peer's consumer (rdma_reject) */
#define IB_CM_REJ_CONSUMER_DEFINED 28

static void usage(FILE *out)
{
	fprintf(out,
		"usage: dn-cm-probe [options] ADDR PORT\n"
		"  --recfmt N     record format (default 0)\n"
		"  --qid N        queue ID (default 0)\n"
		"  --hsqsize N    host send queue size, 0's based (default 31)\n"
		"  --hrqsize N    host receive queue size (default 32)\n"
		"  --len N        private data bytes sent, 0..%zu (default %zu); over IB/RoCE the "
		"CM\n"
		"                 pads it with zeros to its fixed size\n"
		"  --timeout S    seconds to wait for each CM event (default 30)\n"
		"  --time         also print on stderr how long the target took to answer\n",
		sizeof(struct nvme_rdma_cm_req), sizeof(struct nvme_rdma_cm_req));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse_u16(const char *s, const char *what, uint16_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > 0xffff) {
		fprintf(stderr, "dn-cm-probe: %s: %s is not a 16-bit number\n", what, s);
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

/* Wait for the next event on ch; *ev must be acked by the caller. */
static int next_event(struct rdma_event_channel *ch, int timeout_s, struct rdma_cm_event **ev)
{
	struct pollfd pfd = {.fd = ch->fd, .events = POLLIN};
	int ret;

	ret = poll(&pfd, 1, timeout_s * 1000);
	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	return dn_rdma_get_cm_event(ch, ev);
}

/* Wait for the event `want`; anything else is printed as the outcome and ends the probe. */
static int expect_event(struct rdma_event_channel *ch, int timeout_s, enum rdma_cm_event_type want,
			const char *step)
{
	struct rdma_cm_event *ev;
	int ret;

	ret = next_event(ch, timeout_s, &ev);
	if (ret) {
		printf("error: %s: %s\n", step, strerror(-ret));
		return ret;
	}
	if (ev->event != want) {
		printf("error: %s: %s (status %d)\n", step, rdma_event_str(ev->event), ev->status);
		dn_rdma_ack_cm_event(ev);
		return -EPROTO;
	}
	dn_rdma_ack_cm_event(ev);
	return 0;
}

/* The answer to rdma_connect(): print it; 0 when it was an accept or a reject. */
static int report_answer(struct rdma_cm_id *id, struct rdma_event_channel *ch, int timeout_s,
			 double t0, bool timed)
{
	struct rdma_cm_event *ev;
	int ret;

	ret = next_event(ch, timeout_s, &ev);
	if (ret) {
		printf("error: waiting for the answer: %s\n", strerror(-ret));
		return ret;
	}
	if (timed)
		fprintf(stderr, "answered in %.1f ms\n", now_ms() - t0);
	switch (ev->event) {
	case RDMA_CM_EVENT_ESTABLISHED: {
		struct nvme_rdma_cm_rep rep = {0};
		size_t len = ev->param.conn.private_data_len;

		if (ev->param.conn.private_data)
			memcpy(&rep, ev->param.conn.private_data,
			       len < sizeof(rep) ? len : sizeof(rep));
		printf("accepted: crqsize %u\n", le16toh(rep.crqsize));
		dn_rdma_ack_cm_event(ev);
		ret = dn_rdma_disconnect(id);
		if (ret) {
			printf("error: rdma_disconnect: %s\n", strerror(-ret));
			return ret;
		}
		return expect_event(ch, timeout_s, RDMA_CM_EVENT_DISCONNECTED, "disconnecting");
	}
	case RDMA_CM_EVENT_REJECTED: {
		struct nvme_rdma_cm_rej rej = {0};
		size_t len = ev->param.conn.private_data_len;

		if (ev->status != IB_CM_REJ_CONSUMER_DEFINED || !ev->param.conn.private_data ||
		    len < sizeof(rej)) {
			printf("rejected by the CM: reason %d\n", ev->status);
		} else {
			uint16_t sts;

			memcpy(&rej, ev->param.conn.private_data, sizeof(rej));
			sts = le16toh(rej.sts);
			printf("rejected: status %u (%s)\n", sts, nvme_rdma_cm_status_str(sts));
		}
		dn_rdma_ack_cm_event(ev);
		return 0;
	}
	default:
		printf("error: connecting: %s (status %d)\n", rdma_event_str(ev->event),
		       ev->status);
		dn_rdma_ack_cm_event(ev);
		return -EPROTO;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"recfmt", required_argument, NULL, 'r'},
		{"qid", required_argument, NULL, 'q'},
		{"hsqsize", required_argument, NULL, 's'},
		{"hrqsize", required_argument, NULL, 'R'},
		{"len", required_argument, NULL, 'l'},
		{"timeout", required_argument, NULL, 't'},
		{"time", no_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct nvme_rdma_cm_req req = {0};
	uint16_t recfmt = NVME_RDMA_CM_FMT_1_0, qid = 0, hsqsize = 31, hrqsize = 32;
	uint16_t len = sizeof(req), timeout_s = 30;
	struct rdma_conn_param param = {0};
	struct ibv_qp_init_attr qp_attr = {0};
	struct rdma_event_channel *ch;
	struct sockaddr_storage ss;
	struct rdma_cm_id *id;
	bool timed = false;
	double t0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ret = parse_u16(optarg, "--recfmt", &recfmt);
			break;
		case 'q':
			ret = parse_u16(optarg, "--qid", &qid);
			break;
		case 's':
			ret = parse_u16(optarg, "--hsqsize", &hsqsize);
			break;
		case 'R':
			ret = parse_u16(optarg, "--hrqsize", &hrqsize);
			break;
		case 'l':
			ret = parse_u16(optarg, "--len", &len);
			if (!ret && len > sizeof(req)) {
				fprintf(stderr, "dn-cm-probe: --len: at most %zu\n", sizeof(req));
				ret = -EINVAL;
			}
			break;
		case 't':
			ret = parse_u16(optarg, "--timeout", &timeout_s);
			break;
		case 'T':
			timed = true;
			ret = 0;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (ret)
			return 2;
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	ret = dn_sockaddr_parse(argv[optind], argv[optind + 1], AF_UNSPEC, &ss);
	if (ret) {
		fprintf(stderr, "dn-cm-probe: bad address %s port %s\n", argv[optind],
			argv[optind + 1]);
		return 2;
	}
	req.recfmt = htole16(recfmt);
	req.qid = htole16(qid);
	req.hrqsize = htole16(hrqsize);
	req.hsqsize = htole16(hsqsize);

	ret = dn_rdma_create_event_channel(&ch);
	if (ret) {
		printf("error: rdma_create_event_channel: %s\n", strerror(-ret));
		return 1;
	}
	ret = dn_rdma_create_id(ch, &id, NULL);
	if (ret) {
		printf("error: rdma_create_id: %s\n", strerror(-ret));
		goto out_destroy_ch;
	}
	ret = dn_rdma_resolve_addr(id, NULL, (struct sockaddr *)&ss, 5000);
	if (!ret)
		ret = expect_event(ch, timeout_s, RDMA_CM_EVENT_ADDR_RESOLVED, "resolving address");
	if (!ret)
		ret = dn_rdma_resolve_route(id, 5000);
	if (!ret)
		ret = expect_event(ch, timeout_s, RDMA_CM_EVENT_ROUTE_RESOLVED, "resolving route");
	if (ret) {
		printf("error: cannot reach %s port %s: %s\n", argv[optind], argv[optind + 1],
		       strerror(-ret));
		goto out_destroy_id;
	}
	/* a real QP, as a host has: the target's accept moves it to RTS */
	qp_attr.qp_type = IBV_QPT_RC;
	qp_attr.cap.max_send_wr = 1;
	qp_attr.cap.max_recv_wr = 1;
	qp_attr.cap.max_send_sge = 1;
	qp_attr.cap.max_recv_sge = 1;
	ret = dn_rdma_create_qp(id, NULL, &qp_attr);
	if (ret) {
		printf("error: rdma_create_qp: %s\n", strerror(-ret));
		goto out_destroy_id;
	}
	param.private_data = len ? &req : NULL;
	param.private_data_len = (uint8_t)len;
	/* the target RDMA READs host data: offer it responder resources, as the Linux host does */
	param.responder_resources = 16;
	param.initiator_depth = 16;
	param.flow_control = 1;
	param.retry_count = 7;
	param.rnr_retry_count = 7;
	t0 = now_ms();
	ret = dn_rdma_connect(id, &param);
	if (ret) {
		printf("error: rdma_connect: %s\n", strerror(-ret));
		goto out_destroy_qp;
	}
	ret = report_answer(id, ch, timeout_s, t0, timed);

out_destroy_qp:
	rdma_destroy_qp(id);
out_destroy_id:
	dn_rdma_destroy_id(id);
out_destroy_ch:
	rdma_destroy_event_channel(ch);
	return ret ? 1 : 0;
}
