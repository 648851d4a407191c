// SPDX-License-Identifier: MIT
/* SGL descriptor encoding and the bounds-checked decoding of a command's data pointer. */
#include <endian.h>
#include <string.h>

#include "common/nvme_wire.h"

void nvme_sgl_set_keyed(struct nvme_sgl_desc *d, uint64_t addr, uint32_t len, uint32_t key,
			bool invalidate)
{
	d->addr = htole64(addr);
	d->keyed.length[0] = len & 0xff;
	d->keyed.length[1] = (len >> 8) & 0xff;
	d->keyed.length[2] = (len >> 16) & 0xff;
	d->keyed.key = htole32(key);
	d->id = NVME_SGL_ID(NVME_SGL_TYPE_KEYED_DATA_BLOCK,
			    invalidate ? NVME_SGL_SUBTYPE_INVALIDATE_KEY
				       : NVME_SGL_SUBTYPE_ADDRESS);
}

void nvme_sgl_set_inline(struct nvme_sgl_desc *d, uint32_t offset, uint32_t len)
{
	memset(d, 0, sizeof(*d));
	d->addr = htole64(offset);
	d->unkeyed.length = htole32(len);
	d->id = NVME_SGL_ID(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET);
}

void nvme_sgl_set_null(struct nvme_sgl_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->id = NVME_SGL_ID(NVME_SGL_TYPE_KEYED_DATA_BLOCK, NVME_SGL_SUBTYPE_ADDRESS);
}

uint32_t nvme_sgl_keyed_len(const struct nvme_sgl_desc *d)
{
	return d->keyed.length[0] | (uint32_t)d->keyed.length[1] << 8 |
	       (uint32_t)d->keyed.length[2] << 16;
}

nvme_status_t nvme_sgl_parse(const struct nvme_sqe *sqe, uint32_t incapsule_len, uint32_t max_len,
			     struct nvme_sgl_info *out)
{
	const struct nvme_sgl_desc *d = &sqe->common.dptr;
	uint8_t type = nvme_sgl_type(d), sub = nvme_sgl_subtype(d);

	memset(out, 0, sizeof(*out));
	if ((sqe->flags & NVME_CMD_PSDT_MASK) == 0)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC,
				       NVME_SC_INVALID_FIELD); /* PRPs on fabrics */

	switch (type) {
	case NVME_SGL_TYPE_KEYED_DATA_BLOCK:
		if (sub != NVME_SGL_SUBTYPE_ADDRESS && sub != NVME_SGL_SUBTYPE_INVALIDATE_KEY)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE);
		out->length = nvme_sgl_keyed_len(d);
		if (out->length > max_len)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA);
		out->kind = out->length ? NVME_SGL_KIND_KEYED : NVME_SGL_KIND_NONE;
		out->addr = le64toh(d->addr);
		out->key = le32toh(d->keyed.key);
		out->invalidate = sub == NVME_SGL_SUBTYPE_INVALIDATE_KEY;
		return 0;
	case NVME_SGL_TYPE_DATA_BLOCK: {
		uint64_t off = le64toh(d->addr);

		if (sub != NVME_SGL_SUBTYPE_OFFSET)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE);
		out->length = le32toh(d->unkeyed.length);
		if (off > incapsule_len)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_OFFSET);
		if (out->length > incapsule_len - off || out->length > max_len)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA);
		out->kind = out->length ? NVME_SGL_KIND_INLINE : NVME_SGL_KIND_NONE;
		out->offset = (uint32_t)off;
		return 0;
	}
	default:
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE);
	}
}

bool nvme_wire_str_ok(const char *field, size_t n)
{
	return memchr(field, '\0', n) != NULL;
}
