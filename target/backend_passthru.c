// SPDX-License-Identifier: MIT
/*
 * The NVMe passthrough backend: a namespace of a local NVMe drive, opened through its generic
 * character device /dev/ngXnY, with every I/O command forwarded as an io_uring NVMe command
 * (IORING_OP_URING_CMD, NVME_URING_CMD_IO) on the poll group's ring, which is created with
 * big SQEs and CQEs for it (DN_PG_RING_FLAGS). The device's own status comes back to the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "target/core_internal.h"

static int dn_pt_identify(int fd, uint32_t nsid, uint8_t cns, void *buf)
{
	struct nvme_passthru_cmd cmd;
	int ret;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = nvme_admin_identify;
	cmd.nsid = nsid;
	cmd.addr = (uint64_t)(uintptr_t)buf;
	cmd.data_len = NVME_IDENTIFY_DATA_SIZE;
	cmd.cdw10 = cns;
	ret = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
	if (ret < 0)
		return -errno;
	return ret ? -EIO : 0; /* a positive value is the device's NVMe status */
}

/*
 * The device must take every transfer the hosts are allowed (MDTS is one value for the whole
 * subsystem, and a passthrough command is not split). Pages are assumed 4 KiB (CAP.MPSMIN
 * of every known drive; the register is not readable through the generic device).
 */
static int dn_pt_check_mdts(int fd, const char *path, void *buf)
{
	const struct nvme_id_ctrl *id = buf;
	int ret = dn_pt_identify(fd, 0, NVME_IDENTIFY_CNS_CTRL, buf);

	if (ret)
		return ret;
	if (id->mdts && (4096ull << id->mdts) < dn_tgt_max_xfer()) {
		dn_err("%s: the drive takes transfers of %llu bytes at most, hosts are offered %u",
		       path, 4096ull << id->mdts, dn_tgt_max_xfer());
		return -EOPNOTSUPP;
	}
	return 0;
}

static int dn_pt_open(struct dn_tgt_ns *ns, const char *path, bool read_only)
{
	struct nvme_id_ns *id;
	const struct nvme_lbaf *lbaf;
	int nsid, ret;

	ns->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (ns->fd < 0)
		return -errno;
	nsid = ioctl(ns->fd, NVME_IOCTL_ID);
	if (nsid <= 0) {
		ret = nsid < 0 ? -errno : -ENOTTY;
		dn_err("%s: not an NVMe namespace generic device", path);
		goto out_close;
	}
	if (posix_memalign((void **)&id, 4096, sizeof(*id))) {
		ret = -ENOMEM;
		goto out_close;
	}
	ret = dn_pt_check_mdts(ns->fd, path, id);
	if (ret)
		goto out_free_id;
	ret = dn_pt_identify(ns->fd, (uint32_t)nsid, NVME_IDENTIFY_CNS_NS, id);
	if (ret)
		goto out_free_id;
	lbaf = &id->lbaf[id->flbas & 0xf];
	if (le16toh(lbaf->ms)) {
		dn_err("%s: formatted with metadata (%u bytes a block): not supported", path,
		       le16toh(lbaf->ms));
		ret = -EOPNOTSUPP;
		goto out_free_id;
	}
	if (lbaf->ds < 9 || lbaf->ds > 16) {
		ret = -EINVAL;
		goto out_free_id;
	}
	ns->pt_nsid = (uint32_t)nsid;
	ns->lba_shift = lbaf->ds;
	ns->nlbas = le64toh(id->nsze);
	ns->dlfeat = id->dlfeat;
	ns->fd_buffered = ns->fd;
	free(id);
	return 0;
out_free_id:
	free(id);
out_close:
	close(ns->fd);
	ns->fd = -1;
	return ret;
}

static void dn_pt_close(struct dn_tgt_ns *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = ns->fd_buffered = -1;
}

static void dn_pt_cb(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_tgt_req *req = container_of(ev, struct dn_tgt_req, be_ev);

	if (cqe->res > 0) /* the device's status, as SCT/SC with CRD/More/DNR */
		dn_req_complete(req, (nvme_status_t)cqe->res);
	else
		dn_req_complete(req, errno_to_nvme_status(cqe->res));
}

static void dn_pt_submit(struct dn_tgt_req *req)
{
	struct io_uring *ring = dn_pg_ring(req->queue->pg);
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct nvme_uring_cmd *cmd;

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	if (!sqe || !(ring->flags & IORING_SETUP_SQE128) || !(ring->flags & IORING_SETUP_CQE32)) {
		/* a ring without big entries cannot carry an NVMe command (see DN_PG_RING_FLAGS) */
		dn_req_complete(req, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
		return;
	}
	/* a 128-byte SQE: clear both halves, the command lives in the second */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = req->ns->fd;
	sqe->cmd_op = NVME_URING_CMD_IO;
	cmd = (struct nvme_uring_cmd *)sqe->cmd;
	cmd->opcode = req->sqe->opcode;
	cmd->nsid = req->ns->pt_nsid;
	if (req->data_len) {
		cmd->addr = (uint64_t)(uintptr_t)req->data;
		cmd->data_len = req->data_len;
	}
	cmd->cdw10 = dn_sqe_cdw(req->sqe, 10);
	cmd->cdw11 = dn_sqe_cdw(req->sqe, 11);
	cmd->cdw12 = dn_sqe_cdw(req->sqe, 12);
	cmd->cdw13 = dn_sqe_cdw(req->sqe, 13);
	cmd->cdw14 = dn_sqe_cdw(req->sqe, 14);
	cmd->cdw15 = dn_sqe_cdw(req->sqe, 15);
	req->be_ev.cb = dn_pt_cb;
	dn_event_set(sqe, &req->be_ev);
}

const struct dn_tgt_backend_ops dn_tgt_backend_passthru = {
	.name = "nvme-passthru",
	.open = dn_pt_open,
	.close = dn_pt_close,
	.submit = dn_pt_submit,
};
