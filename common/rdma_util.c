// SPDX-License-Identifier: MIT
/*
 * The one place that knows librdmacm's -1 + errno and libibverbs' NULL + errno / positive
 * errno conventions; everything returns 0 or -errno from here on.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rdma_util.h"

/* errno after a failed call, never 0: some providers fail without setting it */
static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

#define CM_CALL(expr) ((expr) ? neg_errno() : 0)

int dn_rdma_create_event_channel(struct rdma_event_channel **out)
{
	errno = 0;
	*out = rdma_create_event_channel();
	return *out ? 0 : neg_errno();
}

int dn_rdma_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **out, void *ctx)
{
	return CM_CALL(rdma_create_id(ch, out, ctx, RDMA_PS_TCP));
}

int dn_rdma_bind_addr(struct rdma_cm_id *id, const struct sockaddr *sa)
{
	return CM_CALL(rdma_bind_addr(id, (struct sockaddr *)sa));
}

int dn_rdma_listen(struct rdma_cm_id *id, int backlog)
{
	return CM_CALL(rdma_listen(id, backlog));
}

int dn_rdma_resolve_addr(struct rdma_cm_id *id, const struct sockaddr *src,
			 const struct sockaddr *dst, int timeout_ms)
{
	return CM_CALL(
		rdma_resolve_addr(id, (struct sockaddr *)src, (struct sockaddr *)dst, timeout_ms));
}

int dn_rdma_resolve_route(struct rdma_cm_id *id, int timeout_ms)
{
	return CM_CALL(rdma_resolve_route(id, timeout_ms));
}

int dn_rdma_connect(struct rdma_cm_id *id, struct rdma_conn_param *param)
{
	return CM_CALL(rdma_connect(id, param));
}

int dn_rdma_accept(struct rdma_cm_id *id, struct rdma_conn_param *param)
{
	return CM_CALL(rdma_accept(id, param));
}

int dn_rdma_reject(struct rdma_cm_id *id, const void *priv, uint8_t priv_len)
{
	return CM_CALL(rdma_reject(id, priv, priv_len));
}

int dn_rdma_disconnect(struct rdma_cm_id *id)
{
	return CM_CALL(rdma_disconnect(id));
}

int dn_rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	return CM_CALL(rdma_create_qp(id, pd, attr));
}

int dn_rdma_destroy_id(struct rdma_cm_id *id)
{
	return CM_CALL(rdma_destroy_id(id));
}

int dn_rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **out)
{
	return CM_CALL(rdma_get_cm_event(ch, out));
}

void dn_rdma_forget_removed_devices(void)
{
	struct ibv_context **devs = rdma_get_devices(NULL);

	if (devs)
		rdma_free_devices(devs);
}

int dn_rdma_ack_cm_event(struct rdma_cm_event *ev)
{
	return CM_CALL(rdma_ack_cm_event(ev));
}

int dn_ibv_alloc_pd(struct ibv_context *ctx, struct ibv_pd **out)
{
	errno = 0;
	*out = ibv_alloc_pd(ctx);
	return *out ? 0 : neg_errno();
}

int dn_ibv_dealloc_pd(struct ibv_pd *pd)
{
	return -ibv_dealloc_pd(pd);
}

int dn_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access, struct ibv_mr **out)
{
	errno = 0;
	*out = ibv_reg_mr(pd, addr, len, access);
	return *out ? 0 : neg_errno();
}

int dn_ibv_dereg_mr(struct ibv_mr *mr)
{
	return -ibv_dereg_mr(mr);
}

int dn_ibv_create_comp_channel(struct ibv_context *ctx, struct ibv_comp_channel **out)
{
	errno = 0;
	*out = ibv_create_comp_channel(ctx);
	return *out ? 0 : neg_errno();
}

int dn_ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	/* returns -1 + errno, unlike the other destroy calls */
	return ibv_destroy_comp_channel(ch) ? neg_errno() : 0;
}

int dn_ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_ctx, struct ibv_comp_channel *ch,
		     struct ibv_cq **out)
{
	errno = 0;
	*out = ibv_create_cq(ctx, cqe, cq_ctx, ch, 0);
	return *out ? 0 : neg_errno();
}

int dn_ibv_destroy_cq(struct ibv_cq *cq)
{
	return -ibv_destroy_cq(cq);
}

int dn_ibv_query_device(struct ibv_context *ctx, struct ibv_device_attr *attr)
{
	return -ibv_query_device(ctx, attr);
}

int dn_ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq)
{
	void *ctx;

	return ibv_get_cq_event(ch, cq, &ctx) ? neg_errno() : 0;
}

const char *dn_trsvcid_check(const char *trsvcid)
{
	unsigned long port;
	char *end;

	/* NVMF_TRSVCID_SIZE (32) is far more than five digits */
	if (!*trsvcid || strlen(trsvcid) > 5)
		return "not a port number 1..65535";
	errno = 0;
	port = strtoul(trsvcid, &end, 10);
	/* strtoul takes blanks, signs and 0x; getaddrinfo takes any number and keeps 16 bits */
	if (errno || *end || !isdigit((unsigned char)trsvcid[0]) || port == 0 || port > 65535)
		return "not a port number 1..65535";
	return NULL;
}

int dn_sockaddr_parse(const char *traddr, const char *trsvcid, int adrfam,
		      struct sockaddr_storage *out)
{
	struct addrinfo hints = {.ai_family = adrfam, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res;
	int ret;

	if (!traddr || !*traddr || (trsvcid && dn_trsvcid_check(trsvcid)))
		return -EINVAL;
	ret = getaddrinfo(traddr, trsvcid, &hints, &res);
	if (ret)
		return ret == EAI_NONAME || ret == EAI_SERVICE ? -EINVAL : -EADDRNOTAVAIL;
	if (res->ai_addrlen > sizeof(*out)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

char *dn_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (!sa) {
		snprintf(buf, len, "?");
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "family-%u", sa->sa_family);
	}
	return buf;
}

int dn_fd_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}
