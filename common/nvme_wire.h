/* SPDX-License-Identifier: MIT */
/*
 * NVMe and NVMe-oF wire formats that libnvme's <nvme/types.h> does not define: the 64-byte
 * submission queue entry, the 16-byte completion, SGL descriptors, the fabrics command layouts
 * (Connect, Property Get/Set, Disconnect) and the NVMe/RDMA rdma_cm private data. All fields
 * are little endian on the wire; the structures are packed to their spec sizes and checked
 * with static asserts.
 */
#ifndef DISNVME_COMMON_NVME_WIRE_H
#define DISNVME_COMMON_NVME_WIRE_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nvme/types.h>

/* Status as the code handles it: (SCT << 8) | SC, plus NVME_SC_DNR/NVME_SC_MORE.
 * On the wire the CQE status field is this value shifted left by one (bit 0 is the phase). */
typedef uint16_t nvme_status_t;
#define NVME_STATUS(sct, sc)	 ((nvme_status_t)(((sct) << NVME_SCT_SHIFT) | (sc)))
#define NVME_STATUS_DNR(sct, sc) ((nvme_status_t)(NVME_STATUS(sct, sc) | NVME_SC_DNR))
#define NVME_STATUS_SCT(st)	 (((st) >> NVME_SCT_SHIFT) & NVME_SCT_MASK)
#define NVME_STATUS_SC(st)	 ((st)&NVME_SC_MASK)

/* SQE flags byte: PSDT in bits 7:6 */
#define NVME_CMD_PSDT_SHIFT	      6
#define NVME_CMD_PSDT_MASK	      0xc0
#define NVME_CMD_PSDT_SGL_MPTR_CONTIG 0x40 /* SGLs, metadata pointer is a buffer */
#define NVME_CMD_FUSE_MASK	      0x03

/* SGL descriptor types (bits 7:4 of the identifier byte) and subtypes (bits 3:0) */
enum nvme_sgl_type {
	NVME_SGL_TYPE_DATA_BLOCK = 0x0,
	NVME_SGL_TYPE_BIT_BUCKET = 0x1,
	NVME_SGL_TYPE_SEGMENT = 0x2,
	NVME_SGL_TYPE_LAST_SEGMENT = 0x3,
	NVME_SGL_TYPE_KEYED_DATA_BLOCK = 0x4,
	NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK = 0x5,
};

enum nvme_sgl_subtype {
	NVME_SGL_SUBTYPE_ADDRESS = 0x0,
	NVME_SGL_SUBTYPE_OFFSET = 0x1,
	NVME_SGL_SUBTYPE_TRANSPORT = 0xa,
	NVME_SGL_SUBTYPE_INVALIDATE_KEY = 0xf,
};

#define NVME_SGL_ID(type, subtype) ((uint8_t)(((type) << 4) | (subtype)))

/* One 16-byte SGL descriptor. Keyed data blocks carry a 24-bit length and a 32-bit key. */
struct nvme_sgl_desc {
	uint64_t addr;
	union {
		struct {
			uint32_t length;
			uint8_t rsvd[3];
		} __attribute__((packed)) unkeyed;
		struct {
			uint8_t length[3];
			uint32_t key;
		} __attribute__((packed)) keyed;
	};
	uint8_t id;
} __attribute__((packed));

/* The common 64-byte submission queue entry, with the fabrics views over it. */
struct nvme_sqe {
	uint8_t opcode;
	uint8_t flags;
	uint16_t cid;
	union {
		struct {
			uint32_t nsid;
			uint32_t cdw2;
			uint32_t cdw3;
			uint64_t mptr;
			struct nvme_sgl_desc dptr;
			uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
		} __attribute__((packed)) common;
		/* opcode 0x7f: fabrics commands */
		struct {
			uint8_t fctype;
			uint8_t rsvd5[19];
			struct nvme_sgl_desc dptr;
			uint8_t specific[24];
		} __attribute__((packed)) fabrics;
		struct {
			uint8_t fctype;
			uint8_t rsvd5[19];
			struct nvme_sgl_desc dptr;
			uint16_t recfmt;
			uint16_t qid;
			uint16_t sqsize; /* 0's based */
			uint8_t cattr;
			uint8_t rsvd47;
			uint32_t kato; /* milliseconds */
			uint8_t rsvd52[12];
		} __attribute__((packed)) connect;
		struct {
			uint8_t fctype;
			uint8_t rsvd5[35];
			uint8_t attrib; /* bits 2:0: 0 = 4 bytes, 1 = 8 bytes */
			uint8_t rsvd41[3];
			uint32_t offset;
			uint64_t value; /* Property Set only */
			uint8_t rsvd56[8];
		} __attribute__((packed)) prop;
	};
} __attribute__((packed));

/* Completion queue entry */
struct nvme_cqe {
	union {
		uint64_t u64;
		uint32_t u32;
		uint16_t u16;
	} result;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status; /* (nvme_status_t << 1) | phase */
} __attribute__((packed));

#define NVME_FABRICS_OPCODE    0x7f
#define NVME_CONNECT_DATA_SIZE 1024

/* Connect Invalid Parameters: where the offending field is (CQE DW0) */
#define NVMF_IPO_IATTR_SQE(field) ((uint32_t)offsetof(struct nvme_sqe, connect.field))
#define NVMF_IPO_IATTR_DATA(field) \
	((uint32_t)((1u << 16) | offsetof(struct nvmf_connect_data, field)))

/* Controller properties (register offsets) */
enum nvmf_property {
	NVMF_PROP_CAP = 0x00,
	NVMF_PROP_VS = 0x08,
	NVMF_PROP_CC = 0x14,
	NVMF_PROP_CSTS = 0x1c,
	NVMF_PROP_NSSR = 0x20,
};

/* NVMe/RDMA transport binding: rdma_cm private data */
#define NVME_RDMA_CM_FMT_1_0 0x0000

struct nvme_rdma_cm_req {
	uint16_t recfmt;
	uint16_t qid;
	uint16_t hrqsize; /* host receive queue size: entries */
	uint16_t hsqsize; /* host send queue size: 0's based */
	uint16_t cntlid;
	uint8_t rsvd[22];
} __attribute__((packed));

struct nvme_rdma_cm_rep {
	uint16_t recfmt;
	uint16_t crqsize; /* controller receive queue size */
	uint8_t rsvd[28];
} __attribute__((packed));

struct nvme_rdma_cm_rej {
	uint16_t recfmt;
	uint16_t sts;
} __attribute__((packed));

enum nvme_rdma_cm_status {
	NVME_RDMA_CM_INVALID_LEN = 0x01,
	NVME_RDMA_CM_INVALID_RECFMT = 0x02,
	NVME_RDMA_CM_INVALID_QID = 0x03,
	NVME_RDMA_CM_INVALID_HSQSIZE = 0x04,
	NVME_RDMA_CM_INVALID_HRQSIZE = 0x05,
	NVME_RDMA_CM_NO_RSC = 0x06,
	NVME_RDMA_CM_INVALID_IRD = 0x07,
	NVME_RDMA_CM_INVALID_ORD = 0x08,
};

#define NVME_AQ_DEPTH_MAX 32 /* admin queue entries the target accepts (as nvmet) */

_Static_assert(sizeof(struct nvme_sgl_desc) == 16, "SGL descriptor is 16 bytes");
_Static_assert(sizeof(struct nvme_sqe) == 64, "SQE is 64 bytes");
_Static_assert(sizeof(struct nvme_cqe) == 16, "CQE is 16 bytes");
_Static_assert(sizeof(struct nvmf_connect_data) == NVME_CONNECT_DATA_SIZE, "connect data");
_Static_assert(sizeof(struct nvme_rdma_cm_req) == 32, "RDMA CM request is 32 bytes");
_Static_assert(sizeof(struct nvme_rdma_cm_rep) == 32, "RDMA CM accept is 32 bytes");
_Static_assert(offsetof(struct nvme_sqe, connect.kato) == 48, "connect KATO at byte 48");
_Static_assert(offsetof(struct nvme_sqe, prop.offset) == 44, "property offset at byte 44");
_Static_assert(offsetof(struct nvme_sqe, common.dptr) == 24, "DPTR at byte 24");

/* SGL descriptor helpers (sgl.c) */
void nvme_sgl_set_keyed(struct nvme_sgl_desc *d, uint64_t addr, uint32_t len, uint32_t key,
			bool invalidate);
void nvme_sgl_set_inline(struct nvme_sgl_desc *d, uint32_t offset, uint32_t len);
void nvme_sgl_set_null(struct nvme_sgl_desc *d);
static inline uint8_t nvme_sgl_type(const struct nvme_sgl_desc *d)
{
	return d->id >> 4;
}
static inline uint8_t nvme_sgl_subtype(const struct nvme_sgl_desc *d)
{
	return d->id & 0xf;
}
uint32_t nvme_sgl_keyed_len(const struct nvme_sgl_desc *d);

/*
 * What a data pointer asks the transport to do, decoded and bounds-checked.
 * nvme_sgl_parse() returns 0 or the NVMe status to complete the command with.
 */
enum nvme_sgl_kind {
	NVME_SGL_KIND_NONE,   /* no data (length 0) */
	NVME_SGL_KIND_INLINE, /* data in the capsule at offset, length */
	NVME_SGL_KIND_KEYED,  /* remote memory: addr, length, key */
};

struct nvme_sgl_info {
	enum nvme_sgl_kind kind;
	bool invalidate;
	uint64_t addr;
	uint32_t length;
	uint32_t key;
	uint32_t offset;
};

nvme_status_t nvme_sgl_parse(const struct nvme_sqe *sqe, uint32_t incapsule_len, uint32_t max_len,
			     struct nvme_sgl_info *out);

/* Status helpers (status.c) */
nvme_status_t errno_to_nvme_status(int err);
int nvme_status_to_errno(nvme_status_t st);
const char *nvme_status_str(nvme_status_t st);
/* NVMe/RDMA CM reject reason (enum nvme_rdma_cm_status) for log lines */
const char *nvme_rdma_cm_status_str(uint16_t sts);

static inline void nvme_cqe_set_status(struct nvme_cqe *c, nvme_status_t st)
{
	c->status = htole16((uint16_t)(st << 1));
}

static inline nvme_status_t nvme_cqe_status(const struct nvme_cqe *c)
{
	return (nvme_status_t)(le16toh(c->status) >> 1);
}

/* Bounded string copy from a fixed-size wire field: fails unless NUL-terminated within n */
bool nvme_wire_str_ok(const char *field, size_t n);

#endif
