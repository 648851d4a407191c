// SPDX-License-Identifier: MIT
/* ublk ABI helpers without system calls: parameter checks, payloads, SQEs, descriptors. */
#include <errno.h>
#include <string.h>

#include "host/ublk_wire.h"

uint32_t dn_ublk_effective_max_io(uint32_t max_io_bytes, long page_size)
{
	return max_io_bytes - max_io_bytes % (uint32_t)page_size;
}

int dn_ublk_params_check(const struct dn_ublk_params *p, long page_size)
{
	uint32_t lbs, max_io;

	if (p->lbs_shift < 9 || p->lbs_shift > 12 || (1L << p->lbs_shift) > page_size)
		return -EINVAL;
	lbs = 1u << p->lbs_shift;
	if (!p->size || p->size % lbs)
		return -EINVAL;
	max_io = dn_ublk_effective_max_io(p->max_io_bytes, page_size);
	if (!max_io || max_io > DN_UBLK_MAX_IO_BYTES)
		return -EINVAL;
	if (!p->nr_queues || p->nr_queues > DN_UBLK_MAX_QUEUES)
		return -EINVAL;
	if (!p->queue_depth || p->queue_depth > UBLK_MAX_QUEUE_DEPTH)
		return -EINVAL;
	if (p->dev_id < -1 || p->dev_id > DN_UBLK_MAX_DEV_ID)
		return -EINVAL;
	/* limits must keep whole logical blocks, or the block layer splits mid-block */
	if (p->max_discard_sectors % (lbs >> 9) || p->max_write_zeroes_sectors % (lbs >> 9))
		return -EINVAL;
	return 0;
}

void dn_ublk_build_dev_info(const struct dn_ublk_params *p, uint32_t max_io_bytes, int32_t pid,
			    struct ublksrv_ctrl_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	info->nr_hw_queues = p->nr_queues;
	info->queue_depth = p->queue_depth;
	info->max_io_buf_bytes = max_io_bytes;
	info->dev_id = p->dev_id < 0 ? UINT32_MAX : (uint32_t)p->dev_id;
	/*
	 * The driver keeps both as given until START_DEV (pid) and forever (ublksrv_flags is
	 * the server's own), so dn_ublk_reap_dead() can tell our orphans from others' devices.
	 */
	info->ublksrv_pid = pid;
	info->ublksrv_flags = DN_UBLK_SRV_MAGIC;
	/*
	 * No feature flags: data is copied by the driver into our fixed buffers (no USER_COPY,
	 * no NEED_GET_DATA), and no USER_RECOVERY since the server outlives reconnects itself.
	 */
	info->flags = 0;
}

/* The largest whole-block sector count one bio (32-bit byte size) can carry. */
static uint32_t max_bio_sectors(uint8_t lbs_shift)
{
	uint32_t lbs_sectors = 1u << (lbs_shift - 9);

	return (UINT32_MAX >> 9) & ~(lbs_sectors - 1);
}

void dn_ublk_build_params(const struct dn_ublk_params *p, uint32_t max_io_bytes,
			  struct ublk_params *out)
{
	struct ublk_param_basic *b = &out->basic;

	memset(out, 0, sizeof(*out));
	out->len = sizeof(*out);
	out->types = UBLK_PARAM_TYPE_BASIC;

	if (p->read_only)
		b->attrs |= UBLK_ATTR_READ_ONLY;
	/* flush support means a volatile cache the kernel must flush; FUA comes with it */
	if (p->flush)
		b->attrs |= UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	b->logical_bs_shift = p->lbs_shift;
	b->physical_bs_shift = p->lbs_shift;
	b->io_min_shift = p->lbs_shift;
	b->io_opt_shift = p->lbs_shift;
	b->max_sectors = max_io_bytes >> 9;
	b->dev_sectors = p->size >> 9;

	if (!p->discard && !p->write_zeroes)
		return;
	/* write zeroes limits live in the discard parameters, which need a granularity */
	out->types |= UBLK_PARAM_TYPE_DISCARD;
	out->discard.discard_granularity = 1u << p->lbs_shift;
	if (p->discard) {
		out->discard.max_discard_sectors = p->max_discard_sectors
							   ? p->max_discard_sectors
							   : max_bio_sectors(p->lbs_shift);
		out->discard.max_discard_segments = 1; /* the driver takes single-range discards */
	}
	if (p->write_zeroes)
		out->discard.max_write_zeroes_sectors = p->max_write_zeroes_sectors
								? p->max_write_zeroes_sectors
								: max_bio_sectors(p->lbs_shift);
}

void dn_ublk_prep_ctrl_cmd(struct io_uring_sqe *sqe, int ctrl_fd, uint32_t cmd_op,
			   const struct ublksrv_ctrl_cmd *cmd)
{
	memset(sqe, 0, DN_UBLK_CTRL_SQE_SIZE);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = ctrl_fd;
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, cmd, sizeof(*cmd));
}

void dn_ublk_prep_io_cmd(struct io_uring_sqe *sqe, int cdev_fd, uint32_t cmd_op, uint16_t q_id,
			 uint16_t tag, int32_t result, uint64_t buf_addr)
{
	struct ublksrv_io_cmd c = {.q_id = q_id, .tag = tag, .result = result, .addr = buf_addr};

	_Static_assert(sizeof(c) <=
			       sizeof(struct io_uring_sqe) - offsetof(struct io_uring_sqe, cmd),
		       "ublksrv_io_cmd must fit a 64-byte SQE");
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = cdev_fd;
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, &c, sizeof(c));
}

/* The driver spaces queues by the descriptor area of the largest possible queue. */
off_t dn_ublk_desc_offset(uint16_t q_id, long page_size)
{
	size_t max = dn_ublk_desc_len(UBLK_MAX_QUEUE_DEPTH, page_size);

	return (off_t)(UBLKSRV_CMD_BUF_OFFSET + (size_t)q_id * max);
}

size_t dn_ublk_desc_len(uint16_t queue_depth, long page_size)
{
	size_t len = (size_t)queue_depth * sizeof(struct ublksrv_io_desc);

	return (len + (size_t)page_size - 1) / (size_t)page_size * (size_t)page_size;
}

int dn_ublk_io_decode(const struct ublksrv_io_desc *iod, uint64_t dev_bytes, uint32_t max_io_bytes,
		      struct dn_ublk_io *out)
{
	uint8_t op = ublksrv_get_op(iod);
	uint64_t off = iod->start_sector << 9, len = (uint64_t)iod->nr_sectors << 9;

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (!len || len > max_io_bytes)
			return -EINVAL;
		break;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		if (!len)
			return -EINVAL;
		break;
	case UBLK_IO_OP_FLUSH:
		off = len = 0; /* no range, whatever the descriptor says */
		goto out;
	default:
		return -EOPNOTSUPP;
	}
	if (iod->start_sector > dev_bytes >> 9 || off > dev_bytes || len > dev_bytes - off)
		return -ERANGE;
out:
	out->op = op;
	out->flags = iod->op_flags & ~0xffu;
	out->offset = off;
	out->len = len;
	return 0;
}

bool dn_ublk_is_reapable(const struct ublksrv_ctrl_dev_info *info, bool (*alive)(int32_t pid))
{
	if (info->ublksrv_flags != DN_UBLK_SRV_MAGIC || info->state != UBLK_S_DEV_DEAD)
		return false;
	/* -1: the driver stopped it (its server died or stopped it); else the creator's pid */
	return info->ublksrv_pid <= 0 || !alive(info->ublksrv_pid);
}
