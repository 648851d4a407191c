/* SPDX-License-Identifier: MIT */
/*
 * A ublk backend serving a regular file, inline when the data needs no waiting and otherwise
 * through each queue's own io_uring: the test and benchmark backend for the ublk library
 * (dn-ublk-file), and a model for real backends.
 * It can hold I/O on request, as the NVMe-oF backend does while it reconnects: while paused,
 * new requests wait unstarted and finished ones wait uncompleted; resuming releases both.
 */
#ifndef DISNVME_HOST_UBLK_FILE_H
#define DISNVME_HOST_UBLK_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/ublk.h"

struct dn_ublk_file {
	int fd;
	uint64_t size; /* bytes, rounded down to the logical block size */
	bool read_only;
	bool in_memory;	 /* tmpfs/ramfs: copy in the queue thread, nothing blocks */
	bool uring_only; /* every read/write through the ring, no inline copy */
	atomic_bool paused;
	struct dn_ublk_dev *dev; /* set by the caller after dn_ublk_create() */
};

/* priv of dn_ublk_create() is the struct dn_ublk_file */
extern const struct dn_ublk_ops dn_ublk_file_ops;

/* Open path (read-only or read-write); size rounded down to 1 << lbs_shift. */
int dn_ublk_file_open(struct dn_ublk_file *f, const char *path, bool read_only, uint8_t lbs_shift);
void dn_ublk_file_close(struct dn_ublk_file *f);
/* Any thread (not a signal handler): hold or release I/O on every queue of f->dev. */
void dn_ublk_file_set_paused(struct dn_ublk_file *f, bool paused);

#endif
