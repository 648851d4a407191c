// SPDX-License-Identifier: MIT
/* The one place where errno values and NVMe status codes are converted into each other. */
#include <errno.h>

#include "common/nvme_wire.h"

nvme_status_t errno_to_nvme_status(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return 0;
	case ENOSPC:
		return NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CAP_EXCEEDED);
	case EREMOTEIO:
	case ENODATA:
		return NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_READ_ERROR);
	case EROFS:
	case EACCES:
	case EPERM:
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED);
	case EOPNOTSUPP:
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	case EINVAL:
	case EFAULT:
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	case ERANGE:
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE);
	case EILSEQ:
		return NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED);
	case EIO:
		return NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT);
	default:
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	}
}

int nvme_status_to_errno(nvme_status_t st)
{
	if (!st)
		return 0;
	switch (NVME_STATUS_SCT(st)) {
	case NVME_SCT_GENERIC:
		switch (NVME_STATUS_SC(st)) {
		case NVME_SC_INVALID_OPCODE:
			return -EOPNOTSUPP;
		case NVME_SC_INVALID_FIELD:
		case NVME_SC_INVALID_NS:
			return -EINVAL;
		case NVME_SC_NS_WRITE_PROTECTED:
			return -EROFS;
		case NVME_SC_LBA_RANGE:
			return -ERANGE;
		case NVME_SC_RESERVATION_CONFLICT:
			/* as the Linux host: the block layer's reservation conflict */
			return -EBADE;
		case NVME_SC_CMD_INTERRUPTED:
		case NVME_SC_TRAN_TPORT_ERROR:
		case NVME_SC_ABORT_REQ:
			return -EAGAIN;
		}
		break;
	case NVME_SCT_CMD_SPECIFIC:
		switch (NVME_STATUS_SC(st)) {
		case NVME_SC_CAP_EXCEEDED:
			return -ENOSPC;
		case NVME_SC_CONNECT_INVALID_HOST:
			return -EACCES;
		}
		break;
	case NVME_SCT_MEDIA:
		if (NVME_STATUS_SC(st) == NVME_SC_COMPARE_FAILED)
			return -EILSEQ;
		return -EIO;
	case NVME_SCT_PATH:
		return -EAGAIN;
	}
	return -EIO;
}

const char *nvme_status_str(nvme_status_t st)
{
	switch (st & ~(NVME_SC_DNR | NVME_SC_MORE | NVME_SC_CRD)) {
	case 0:
		return "success";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE):
		return "invalid opcode";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD):
		return "invalid field";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR):
		return "data transfer error";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL):
		return "internal error";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ):
		return "abort requested";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_NS):
		return "invalid namespace";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR):
		return "command sequence error";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA):
		return "SGL data length invalid";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE):
		return "SGL type invalid";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_OFFSET):
		return "SGL offset invalid";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED):
		return "namespace write protected";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR):
		return "transient transport error";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_RESERVATION_CONFLICT):
		return "reservation conflict";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_HOSTID_FORMAT):
		return "host identifier inconsistent format";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE):
		return "LBA out of range";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED):
		return "capacity exceeded";
	case NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY):
		return "namespace not ready";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_QID_INVALID):
		return "invalid queue identifier";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_QUEUE_SIZE):
		return "invalid queue size";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE):
		return "invalid log page";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_CHANGEABLE):
		return "feature not changeable";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_FORMAT):
		return "connect: incompatible format";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY):
		return "connect: controller busy";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM):
		return "connect: invalid parameters";
	case NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST):
		return "connect: host not allowed";
	case NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT):
		return "write fault";
	case NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_READ_ERROR):
		return "unrecovered read error";
	case NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED):
		return "compare failure";
	}
	return "other NVMe error";
}

const char *nvme_rdma_cm_status_str(uint16_t sts)
{
	switch (sts) {
	case NVME_RDMA_CM_INVALID_LEN:
		return "invalid private data length";
	case NVME_RDMA_CM_INVALID_RECFMT:
		return "invalid record format";
	case NVME_RDMA_CM_INVALID_QID:
		return "invalid queue ID";
	case NVME_RDMA_CM_INVALID_HSQSIZE:
		return "invalid host send queue size";
	case NVME_RDMA_CM_INVALID_HRQSIZE:
		return "invalid host receive queue size";
	case NVME_RDMA_CM_NO_RSC:
		return "no resources";
	case NVME_RDMA_CM_INVALID_IRD:
		return "invalid IRD";
	case NVME_RDMA_CM_INVALID_ORD:
		return "invalid ORD";
	}
	return "unknown reason";
}
