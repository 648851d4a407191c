/* SPDX-License-Identifier: MIT */
/*
 * The host's block-device side: one ublk device per namespace, served in userspace.
 * ublk.c drives /dev/ublk-control and /dev/ublkcN through io_uring uring_cmd (as the kernel's
 * ublk selftests and ublksrv do): one thread per hardware queue, each with its own io_uring
 * and a fixed per-tag I/O buffer. What an I/O does is the backend's business (dn_ublk_ops):
 * in production the NVMe-oF initiator; in tests a memory or file backend.
 *
 * Additions since the first version of this contract (all additive; nothing renamed):
 * - dn_ublk_params.max_discard_sectors / max_write_zeroes_sectors: optional limits (0 = the
 *   library's default: as large as one bio can be); .pin_queues: optional CPU affinity.
 * - dn_ublk_ops.notify and .stop_queue: optional hooks run on the queue thread, so another
 *   thread can wake a queue (dn_ublk_queue_notify) and stop can make a backend release I/O it
 *   holds (e.g. during a reconnect).
 * - dn_ublk_nr_queues(), dn_ublk_queue_depth(), dn_ublk_max_io_bytes(), dn_ublk_queue():
 *   what the kernel actually granted (it caps nr_queues at the number of CPUs; max_io_bytes
 *   is rounded down to a page multiple), readable after dn_ublk_create().
 * - dn_ublk_queue_buf(): tag t's buffer, same address queue_io() gets.
 * - dn_ublk_reap_dead(): delete devices left by a killed disnvme process (for daemon start).
 * Semantics spelled out: holding an I/O (completing it seconds or minutes later) is allowed;
 * nothing in the library times out, and the kernel's ublk driver resets its request timer
 * for a live server.
 */
#ifndef DISNVME_HOST_UBLK_H
#define DISNVME_HOST_UBLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/ublk_cmd.h>

#include "common/uring_event.h"

struct dn_ublk_dev;
struct dn_ublk_queue;

struct dn_ublk_params {
	uint64_t size;	       /* bytes, a multiple of the logical block size */
	uint8_t lbs_shift;     /* logical block size = 1 << lbs_shift, 9..12 */
	uint32_t max_io_bytes; /* from MDTS; rounded down to a page multiple, >= 4096 */
	uint16_t nr_queues;    /* one per NVMe I/O queue; the kernel may grant fewer */
	uint16_t queue_depth;  /* 1..4096 */
	bool read_only, flush, discard, write_zeroes;
	int dev_id; /* -1: the kernel picks */
	/* Optional, 512-byte sectors; 0: default. Used only with discard / write_zeroes. */
	uint32_t max_discard_sectors, max_write_zeroes_sectors;
	/*
	 * Optional: run each queue thread only on the CPUs blk-mq maps to its queue (what
	 * ublksrv does). Off by default: with few CPUs it serializes the submitting
	 * application and the queue thread on one CPU (measured slower in the test VM).
	 */
	bool pin_queues;
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
	 * The library has checked the descriptor (known op, within the device, READ/WRITE no
	 * larger than max_io_bytes); ublk_wire.h's dn_ublk_io_decode() gives it in bytes.
	 */
	void (*queue_io)(struct dn_ublk_queue *q, uint16_t tag, const struct ublksrv_io_desc *iod,
			 void *buf);
	/* Optional. Queue thread, once after each dn_ublk_queue_notify() (calls may merge). */
	void (*notify)(struct dn_ublk_queue *q);
	/*
	 * Optional. Queue thread, once, when dn_ublk_stop_and_delete() begins: complete (with
	 * data or an error) every I/O the backend holds, and new ones promptly from now on;
	 * the kernel waits for all in-flight I/O before it lets the device go.
	 */
	void (*stop_queue)(struct dn_ublk_queue *q);
	/*
	 * Optional. Queue thread, after each pass over the ring's completions, before the
	 * thread submits and waits again: post what this pass's queue_io and events queued
	 * (one doorbell per pass, not one per I/O and no extra trip through the ring).
	 */
	void (*flush)(struct dn_ublk_queue *q);
};

/*
 * ADD_DEV + SET_PARAMS; the device exists (/dev/ublkcN) but has no block device yet.
 * Errors: -EINVAL bad params, -ENOENT/-ENODEV no ublk in the kernel (ublk_drv not loaded),
 * -EPERM/-EACCES not root, -EEXIST dev_id taken, else what the kernel said.
 */
int dn_ublk_create(const struct dn_ublk_params *p, const struct dn_ublk_ops *ops, void *priv,
		   struct dn_ublk_dev **out);
/* Start queue threads and the device; returns once /dev/ublkbN exists. */
int dn_ublk_start(struct dn_ublk_dev *dev);
/* STOP_DEV (waits for in-flight I/O, see stop_queue), join the queues, DEL_DEV, free. */
void dn_ublk_stop_and_delete(struct dn_ublk_dev *dev);
/*
 * Change a started device's capacity in place (bytes: a multiple of the logical block size).
 * -EOPNOTSUPP before Linux 6.16: the caller makes a new device instead. Not concurrent with
 * dn_ublk_stop_and_delete() (both use the device's control ring).
 */
int dn_ublk_update_size(struct dn_ublk_dev *dev, uint64_t bytes);
uint64_t dn_ublk_size(const struct dn_ublk_dev *dev);
int dn_ublk_dev_id(const struct dn_ublk_dev *dev);
void *dn_ublk_priv(const struct dn_ublk_dev *dev);
uint16_t dn_ublk_nr_queues(const struct dn_ublk_dev *dev);
uint16_t dn_ublk_queue_depth(const struct dn_ublk_dev *dev);
uint32_t dn_ublk_max_io_bytes(const struct dn_ublk_dev *dev);
struct dn_ublk_queue *dn_ublk_queue(struct dn_ublk_dev *dev, uint16_t q_id);

/*
 * Delete the devices a dead disnvme process left: a server killed without
 * dn_ublk_stop_and_delete() leaves /dev/ublkcN behind (the driver removes only the block
 * device). Touches only devices created by this library whose creator is gone. Returns how
 * many it deleted, or -errno (-ENOENT: no ublk in the kernel).
 */
int dn_ublk_reap_dead(void);

/* Any thread: have ops->notify run on q's thread soon. Async-signal-safe. */
void dn_ublk_queue_notify(struct dn_ublk_queue *q);

/* Queue-thread helpers for backends */
struct io_uring *dn_ublk_queue_ring(struct dn_ublk_queue *q);
uint16_t dn_ublk_queue_id(const struct dn_ublk_queue *q);
struct dn_ublk_dev *dn_ublk_queue_dev(struct dn_ublk_queue *q);
void *dn_ublk_queue_priv(struct dn_ublk_queue *q);
void dn_ublk_queue_set_priv(struct dn_ublk_queue *q, void *priv);
void *dn_ublk_queue_buf(struct dn_ublk_queue *q, uint16_t tag);
/* res: bytes done (>= 0) or -errno. A READ that returns 0 bytes fails with -EIO. */
void dn_ublk_complete(struct dn_ublk_queue *q, uint16_t tag, int res);

#endif
