/* SPDX-License-Identifier: MIT */
/*
 * The host's block-device side: one ublk device per namespace, served in userspace.
 * ublk.c drives /dev/ublk-control and /dev/ublkcN through io_uring uring_cmd (as the kernel's
 * ublk selftests and ublksrv do): one thread per hardware queue, each with its own io_uring
 * and a fixed per-tag I/O buffer. What an I/O does is the backend's business (dn_ublk_ops):
 * in production the NVMe-oF initiator; in tests a memory or file backend.
 */
#ifndef DISNVME_HOST_UBLK_H
#define DISNVME_HOST_UBLK_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/ublk_cmd.h>

#include "common/uring_event.h"

struct dn_ublk_dev;
struct dn_ublk_queue;

struct dn_ublk_params {
	uint64_t size;		/* bytes */
	uint8_t lbs_shift;	/* logical block size = 1 << lbs_shift */
	uint32_t max_io_bytes;	/* from MDTS */
	uint16_t nr_queues;	/* one per NVMe I/O queue */
	uint16_t queue_depth;
	bool read_only, flush, discard, write_zeroes;
	int dev_id;		/* -1: the kernel picks */
};

struct dn_ublk_ops {
	/*
	 * Optional. Queue thread, before the queue fetches I/O. bufs is the queue's I/O buffer
	 * area (queue_depth * max_io_bytes, tag t at bufs + t * max_io_bytes): register it once
	 * (e.g. an RDMA MR) and add the backend's own fds to the queue's io_uring.
	 */
	int (*init_queue)(struct dn_ublk_queue *q, void *bufs, size_t len);
	/* Optional. Queue thread, after the last I/O completed. */
	void (*exit_queue)(struct dn_ublk_queue *q);
	/*
	 * Required. Queue thread. Start one I/O (iod: op, flags, start_sector, nr_sectors) whose
	 * data is at buf; finish it with dn_ublk_complete() on the same thread, now or later.
	 */
	void (*queue_io)(struct dn_ublk_queue *q, uint16_t tag, const struct ublksrv_io_desc *iod,
			 void *buf);
};

int dn_ublk_create(const struct dn_ublk_params *p, const struct dn_ublk_ops *ops, void *priv,
		   struct dn_ublk_dev **out);
/* Start queue threads and the device; returns once /dev/ublkbN exists. */
int dn_ublk_start(struct dn_ublk_dev *dev);
void dn_ublk_stop_and_delete(struct dn_ublk_dev *dev);
int dn_ublk_dev_id(const struct dn_ublk_dev *dev);
void *dn_ublk_priv(const struct dn_ublk_dev *dev);

/* Queue-thread helpers for backends */
struct io_uring *dn_ublk_queue_ring(struct dn_ublk_queue *q);
uint16_t dn_ublk_queue_id(const struct dn_ublk_queue *q);
struct dn_ublk_dev *dn_ublk_queue_dev(struct dn_ublk_queue *q);
void *dn_ublk_queue_priv(struct dn_ublk_queue *q);
void dn_ublk_queue_set_priv(struct dn_ublk_queue *q, void *priv);
/* res: bytes done (>= 0) or -errno */
void dn_ublk_complete(struct dn_ublk_queue *q, uint16_t tag, int res);

#endif
