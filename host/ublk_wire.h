/* SPDX-License-Identifier: MIT */
/*
 * The ublk driver's userspace ABI as disnvme uses it, kept free of system calls so unit tests
 * can check it byte for byte: opcodes the build's (Linux 6.1) <linux/ublk_cmd.h> lacks,
 * parameter checking, ADD_DEV/SET_PARAMS payloads, uring_cmd SQEs, and I/O descriptor decoding.
 */
#ifndef DISNVME_HOST_UBLK_WIRE_H
#define DISNVME_HOST_UBLK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <linux/ublk_cmd.h>
#include <liburing.h>

#include "host/ublk.h"

/*
 * ioctl-encoded opcodes (Linux 6.3+ headers). Kernels built without
 * CONFIG_BLKDEV_UBLK_LEGACY_OPCODES accept only these; every kernel that knows them also
 * accepts them when it has the legacy ones.
 */
#ifndef UBLK_U_CMD_ADD_DEV
#define UBLK_U_CMD_ADD_DEV	_IOWR('u', UBLK_CMD_ADD_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV	_IOWR('u', UBLK_CMD_DEL_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV	_IOWR('u', UBLK_CMD_START_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV	_IOWR('u', UBLK_CMD_STOP_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS	_IOWR('u', UBLK_CMD_SET_PARAMS, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_DEV_INFO _IOR('u', UBLK_CMD_GET_DEV_INFO, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_GET_QUEUE_AFFINITY \
	_IOR('u', UBLK_CMD_GET_QUEUE_AFFINITY, struct ublksrv_ctrl_cmd)
#endif
/* Linux 6.9+: DEL_DEV without waiting for the device's last reference (ublk.c del_dev) */
#ifndef UBLK_U_CMD_DEL_DEV_ASYNC
#define UBLK_U_CMD_DEL_DEV_ASYNC _IOR('u', 0x14, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_UPDATE_SIZE /* Linux 6.16: data[0] is the new size in 512-byte sectors */
#define UBLK_U_CMD_UPDATE_SIZE _IOWR('u', 0x15, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_IO_FETCH_REQ
#define UBLK_U_IO_FETCH_REQ _IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ \
	_IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
#endif

#define DN_UBLK_MAX_QUEUES    4096	      /* the driver's UBLK_MAX_NR_QUEUES */
#define DN_UBLK_MAX_IO_BYTES  (32u << 20)     /* keeps depth * max_io_bytes sane */
#define DN_UBLK_MAX_DEV_ID    ((1 << 20) - 1) /* minors */
#define DN_UBLK_CTRL_SQE_SIZE 128	      /* control commands need IORING_SETUP_SQE128 */

/* 0, or -EINVAL when p cannot describe a ublk device. */
int dn_ublk_params_check(const struct dn_ublk_params *p, long page_size);
/* max_io_bytes as the kernel will keep it: rounded down to page_size. */
uint32_t dn_ublk_effective_max_io(uint32_t max_io_bytes, long page_size);

/* Marks devices disnvme created (ublksrv_flags is the server's, unused by the driver). */
#define DN_UBLK_SRV_MAGIC 0x656d766e73696444ull /* "Ddisnvme" */

/* ADD_DEV payload; dev_id -1 becomes the driver's "any" (U32_MAX); pid: the creator. */
void dn_ublk_build_dev_info(const struct dn_ublk_params *p, uint32_t max_io_bytes, int32_t pid,
			    struct ublksrv_ctrl_dev_info *info);
/*
 * GET_DEV_INFO says a device is a disnvme orphan: ours, not live, and its creator gone
 * (alive(pid) is false) or the driver already stopped it (pid -1, its server exited).
 */
bool dn_ublk_is_reapable(const struct ublksrv_ctrl_dev_info *info, bool (*alive)(int32_t pid));
/* SET_PARAMS payload (basic, plus discard when discard or write zeroes). */
void dn_ublk_build_params(const struct dn_ublk_params *p, uint32_t max_io_bytes,
			  struct ublk_params *out);

/* sqe must be a 128-byte SQE of an IORING_SETUP_SQE128 ring. user_data is left 0. */
void dn_ublk_prep_ctrl_cmd(struct io_uring_sqe *sqe, int ctrl_fd, uint32_t cmd_op,
			   const struct ublksrv_ctrl_cmd *cmd);
/* FETCH_REQ / COMMIT_AND_FETCH_REQ in a 64-byte SQE. user_data is left 0. */
void dn_ublk_prep_io_cmd(struct io_uring_sqe *sqe, int cdev_fd, uint32_t cmd_op, uint16_t q_id,
			 uint16_t tag, int32_t result, uint64_t buf_addr);

/* Per-queue descriptor area of /dev/ublkcN: mmap offset and length. */
off_t dn_ublk_desc_offset(uint16_t q_id, long page_size);
size_t dn_ublk_desc_len(uint16_t queue_depth, long page_size);

/* One I/O descriptor, decoded into bytes. */
struct dn_ublk_io {
	uint8_t op;	 /* UBLK_IO_OP_* */
	uint32_t flags;	 /* UBLK_IO_F_* (they are op_flags bits, not shifted) */
	uint64_t offset; /* bytes */
	uint64_t len;	 /* bytes; 0 for FLUSH */
};

/*
 * Decode iod (copied out of shared memory first, so the kernel cannot change it under us).
 * -EOPNOTSUPP unknown op; -EINVAL empty READ/WRITE/DISCARD/WRITE_ZEROES or READ/WRITE above
 * max_io_bytes; -ERANGE past dev_bytes.
 */
int dn_ublk_io_decode(const struct ublksrv_io_desc *iod, uint64_t dev_bytes, uint32_t max_io_bytes,
		      struct dn_ublk_io *out);

#endif
