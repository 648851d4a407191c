/* SPDX-License-Identifier: MIT */
/*
 * A namespace as a ublk block device: what Identify Namespace says about it, the ublk
 * parameters that follow from it and the controller's limits, and the backend that serves the
 * device's ublk queues with NVMe I/O queues (one NVMe/RDMA I/O queue per ublk hardware queue,
 * driven by that queue's thread).
 */
#ifndef DISNVME_HOST_NS_DEV_H
#define DISNVME_HOST_NS_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "common/nvme_wire.h"
#include "host/err.h"
#include "host/ublk.h"

struct dn_ctrl;

struct dn_ns_info {
	uint32_t nsid;
	uint64_t nsze; /* logical blocks */
	uint8_t lbs_shift;
	bool read_only; /* write protected */
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint8_t uuid[16]; /* from the Namespace Identification Descriptor list */
};

/* What the controller allows, from CAP and Identify Controller */
struct dn_ctrl_caps {
	uint32_t max_xfer;  /* bytes; from MDTS, capped */
	uint32_t incapsule; /* in-capsule data bytes per I/O command (IOCCSZ) */
	uint16_t oncs;
	bool vwc;
	uint16_t nr_queues;  /* NVMe I/O queues per device */
	uint16_t queue_size; /* entries per I/O queue */
};

/* The largest I/O the host sends: keeps per-queue buffers (depth * this) reasonable */
#define DN_MAX_IO_BYTES (256u << 10)
/* Writes up to this size go in the capsule when the controller has room for them */
#define DN_INCAPSULE_WRITE_MAX 8192u

/* 0, or -EINVAL with e set when the namespace cannot be a block device */
int dn_ns_info_parse(const struct nvme_id_ns *id, uint32_t nsid, struct dn_ns_info *out,
		     struct dn_err *e);
/*
 * Fill NGUID/EUI-64/UUID (where Identify Namespace left them zero) from a Namespace
 * Identification Descriptor list of len bytes. Untrusted: a descriptor with a wrong length
 * for its type, or running past the buffer, ends the walk with -EPROTO.
 */
int dn_ns_descs_parse(const void *buf, size_t len, struct dn_ns_info *info);
/* MDTS (a power of two of the minimum page size) to a transfer limit in bytes */
uint32_t dn_mdts_bytes(uint8_t mdts, uint64_t cap);
void dn_ns_ublk_params(const struct dn_ns_info *ns, const struct dn_ctrl_caps *caps,
		       struct dn_ublk_params *p);

struct dn_ns_dev {
	struct dn_ctrl *ctrl; /* a controller serving it (the first path) */
	int nr_paths;
	struct dn_ns_info info;
	struct dn_ublk_params params;
	struct dn_ublk_dev *ublk;
	int dev_id;
};

int dn_ns_dev_create(struct dn_ctrl *c, const struct dn_ns_info *ns, struct dn_ns_dev **out,
		     struct dn_err *e);
void dn_ns_dev_destroy(struct dn_ns_dev *d);

/* Multipath: the device this controller's namespace is another path to, or NULL. */
struct dn_ns_dev *dn_ns_dev_find_path(struct dn_ctrl *c, const struct dn_ns_info *ns);
int dn_ns_dev_add_path(struct dn_ns_dev *d, struct dn_ctrl *c, const struct dn_ns_info *ns,
		       struct dn_err *e);
/* Drop c's path (waiting until no queue uses it); true when that was the last path and the
 * device is gone. */
bool dn_ns_dev_remove_path(struct dn_ns_dev *d, struct dn_ctrl *c);
/*
 * Scan thread: the namespace has nsze blocks now; the device follows in place (mounts stay).
 * Fails (-EOPNOTSUPP before Linux 6.16) with the device unchanged: make a new one then.
 */
int dn_ns_dev_resize(struct dn_ns_dev *d, uint64_t nsze, struct dn_err *e);
/* Any thread: the device's size now (params holds what it was created with). */
uint64_t dn_ns_dev_bytes(const struct dn_ns_dev *d);
/* Any thread: have every queue of the device look at its controller's state again. */
void dn_ns_dev_notify(struct dn_ns_dev *d);

#endif
