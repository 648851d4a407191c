// SPDX-License-Identifier: MIT
/*
 * libdn-pre69-ublk.so: makes the running kernel's ublk driver look like one before Linux 6.9
 * to the process it is preloaded into (LD_PRELOAD), for the host-del-dev-fallback scenario.
 * Such a kernel does not know UBLK_U_CMD_DEL_DEV_ASYNC and answers it -EOPNOTSUPP; this
 * rewrites that control command, as io_uring_submit() sends it, into an opcode of a foreign
 * ioctl type, which the driver refuses the same way, and appends one line per refusal to the
 * file named by DN_PRE69_LOG. Every other command goes to the kernel as it is, so the synchronous
 * DEL_DEV the daemon falls back to runs on the real driver. A test tool, not installed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <liburing.h>

#include "host/ublk_wire.h"

/* what a pre-6.9 driver answers DEL_DEV_ASYNC with, reached by an unknown ioctl type */
#define FOREIGN_OP _IOR(0x99, 0x14, struct ublksrv_ctrl_cmd)

static void note(uint32_t dev_id)
{
	const char *path = getenv("DN_PRE69_LOG");
	char line[64];
	int fd, n;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "DEL_DEV_ASYNC refused: dev %u\n", dev_id);
	/* a line the test misses fails the test: nothing to do about it here */
	if (write(fd, line, (size_t)n) < 0)
		perror("dn-pre69-ublk: DN_PRE69_LOG");
	close(fd);
}

static int (*real_submit)(struct io_uring *);

/* looked up once, before any thread of the process can submit */
__attribute__((constructor)) static void find_real_submit(void)
{
	real_submit = (int (*)(struct io_uring *))dlsym(RTLD_NEXT, "io_uring_submit");
}

int io_uring_submit(struct io_uring *ring)
{
	unsigned int shift = (ring->flags & IORING_SETUP_SQE128) ? 1 : 0;
	unsigned int i;

	if (!real_submit)
		return -ENOSYS;
	/* the SQEs prepared since the last submission */
	for (i = ring->sq.sqe_head; i != ring->sq.sqe_tail; i++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[(i & ring->sq.ring_mask) << shift];
		const struct ublksrv_ctrl_cmd *c = (const void *)sqe->cmd;

		if (sqe->opcode == IORING_OP_URING_CMD && sqe->cmd_op == UBLK_U_CMD_DEL_DEV_ASYNC) {
			sqe->cmd_op = FOREIGN_OP;
			note(c->dev_id);
		}
	}
	return real_submit(ring);
}
