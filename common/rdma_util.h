/* SPDX-License-Identifier: MIT */
/*
 * librdmacm and libibverbs behind one error convention. librdmacm returns -1 and sets errno,
 * libibverbs returns a positive errno (posting, notification) or NULL with errno set
 * (object creation); these wrappers return 0 or a negative errno so that the target and the
 * host never look at errno after an RDMA call. Plus the address helpers both sides need.
 */
#ifndef DISNVME_COMMON_RDMA_UTIL_H
#define DISNVME_COMMON_RDMA_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

/* ---- librdmacm ---- */
int dn_rdma_create_event_channel(struct rdma_event_channel **out);
int dn_rdma_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **out, void *ctx);
int dn_rdma_bind_addr(struct rdma_cm_id *id, const struct sockaddr *sa);
int dn_rdma_listen(struct rdma_cm_id *id, int backlog);
int dn_rdma_resolve_addr(struct rdma_cm_id *id, const struct sockaddr *src,
			 const struct sockaddr *dst, int timeout_ms);
int dn_rdma_resolve_route(struct rdma_cm_id *id, int timeout_ms);
int dn_rdma_connect(struct rdma_cm_id *id, struct rdma_conn_param *param);
int dn_rdma_accept(struct rdma_cm_id *id, struct rdma_conn_param *param);
int dn_rdma_reject(struct rdma_cm_id *id, const void *priv, uint8_t priv_len);
int dn_rdma_disconnect(struct rdma_cm_id *id);
int dn_rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_qp_init_attr *attr);
int dn_rdma_destroy_id(struct rdma_cm_id *id);
/* Non-blocking when the channel's fd is (dn_fd_set_nonblock): -EAGAIN when nothing is queued. */
int dn_rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **out);
int dn_rdma_ack_cm_event(struct rdma_cm_event *ev);
/*
 * librdmacm keeps a verbs context open on every device it has seen (listing them opens one on
 * each), and notices that a device went away only when it next lists them. The kernel removes
 * a device only once every process has closed its context (rxe cannot take it from them).
 * This makes librdmacm list the devices: a gone device's context is closed at once if no id
 * is on it, else when its last id is destroyed. So every verbs object (PD, MR, CQ, completion
 * channel) on a device must be destroyed before the last rdma_cm id on that device.
 */
void dn_rdma_forget_removed_devices(void);

/* ---- libibverbs ---- */
int dn_ibv_alloc_pd(struct ibv_context *ctx, struct ibv_pd **out);
int dn_ibv_dealloc_pd(struct ibv_pd *pd);
int dn_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access, struct ibv_mr **out);
int dn_ibv_dereg_mr(struct ibv_mr *mr);
int dn_ibv_create_comp_channel(struct ibv_context *ctx, struct ibv_comp_channel **out);
int dn_ibv_destroy_comp_channel(struct ibv_comp_channel *ch);
int dn_ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_ctx, struct ibv_comp_channel *ch,
		     struct ibv_cq **out);
int dn_ibv_destroy_cq(struct ibv_cq *cq);
int dn_ibv_query_device(struct ibv_context *ctx, struct ibv_device_attr *attr);
/* -EAGAIN when the channel is non-blocking and has no event. */
int dn_ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq);

static inline int dn_ibv_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
				   struct ibv_send_wr **bad)
{
	return -ibv_post_send(qp, wr, bad);
}

static inline int dn_ibv_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
				   struct ibv_recv_wr **bad)
{
	return -ibv_post_recv(qp, wr, bad);
}

static inline int dn_ibv_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	return -ibv_req_notify_cq(cq, solicited_only);
}

/* Returns the number of completions (>= 0) or -errno. */
static inline int dn_ibv_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	int ret = ibv_poll_cq(cq, n, wc);

	return ret >= 0 ? ret : -EIO; /* the provider gives no reason */
}

/* ---- addresses and descriptors ---- */
/* NULL when trsvcid is a port number 1..65535 in decimal; else why not. */
const char *dn_trsvcid_check(const char *trsvcid);
/*
 * traddr/trsvcid (as in NVMe-oF port configuration and nvme-cli) to a socket address.
 * adrfam is AF_INET, AF_INET6 or AF_UNSPEC; trsvcid NULL: port 0 (a source to bind).
 * Returns 0, -EINVAL or -EADDRNOTAVAIL.
 */
int dn_sockaddr_parse(const char *traddr, const char *trsvcid, int adrfam,
		      struct sockaddr_storage *out);
/* "10.77.0.2:4420" / "[fe80::1]:4420" into buf; returns buf. */
char *dn_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);
int dn_fd_set_nonblock(int fd);

#endif
