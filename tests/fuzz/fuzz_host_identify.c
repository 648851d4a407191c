// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for what the host makes of a controller's Identify data (host/ns_dev.c):
 * Identify Namespace, the Namespace Identification Descriptor list, MDTS with CAP, and the
 * ublk parameters that follow. Beyond memory safety it checks their contracts: a namespace is
 * accepted exactly when docs/host.md says it is usable (LBA format in range, 512 B..4 KiB
 * blocks, no extended-LBA metadata, a size whose bytes fit 64 bits), the descriptor walk
 * stays inside its buffer and keeps what Identify Namespace gave, MDTS gives a power-of-two
 * limit of 4 KiB..DN_MAX_IO_BYTES, and the ublk parameters mirror the namespace (and pass
 * the ublk library's check whenever the block size is one ublk can serve).
 *
 * Input: a 22-byte header, then the descriptor list, then Identify Namespace (zero padded
 * or cut to 4096 bytes). Header: NSID (le32), descriptor list length (le16, modulo 4097, cut
 * to what the input holds), MDTS, VWC (bit 0), CAP (le64), ONCS (le16), number of I/O queues
 * (le16), I/O queue size (le16).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/ns_dev.h"
#include "host/ublk_wire.h"

#define HDR_SIZE 22

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (p[n])
			return false;
	return true;
}

/* What docs/host.md promises: usable exactly when all of these hold. */
static bool ns_usable(const struct nvme_id_ns *id)
{
	uint8_t fmt = (id->flbas & NVME_NS_FLBAS_LOWER_MASK) |
		      ((id->flbas & NVME_NS_FLBAS_HIGHER_MASK) >> 5) << 4;
	uint8_t ds = id->lbaf[fmt].ds;
	uint64_t nsze = le64toh(id->nsze);

	if (fmt > id->nlbaf || ds < 9 || ds > 12)
		return false;
	if (le16toh(id->lbaf[fmt].ms) && (id->flbas & NVME_NS_FLBAS_META_EXT))
		return false;
	return nsze && nsze <= (uint64_t)INT64_MAX >> ds;
}

static void check_info(const struct nvme_id_ns *id, uint32_t nsid, struct dn_ns_info *info)
{
	struct dn_err e = {0};
	int ret = dn_ns_info_parse(id, nsid, info, &e);

	if (ret) {
		/* "-EINVAL with e set" */
		if (ret != -EINVAL || e.code != -EINVAL || !e.msg[0] ||
		    !memchr(e.msg, '\0', sizeof(e.msg)))
			abort();
		if (ns_usable(id))
			abort();
		return;
	}
	if (!ns_usable(id))
		abort();
	if (info->nsid != nsid || info->nsze != le64toh(id->nsze) || !info->nsze)
		abort();
	if (info->lbs_shift < 9 || info->lbs_shift > 12)
		abort();
	/* the size in bytes is representable */
	if ((info->nsze << info->lbs_shift) >> info->lbs_shift != info->nsze)
		abort();
	if (info->read_only != (id->nsattr & 1))
		abort();
	if (memcmp(info->nguid, id->nguid, sizeof(info->nguid)) ||
	    memcmp(info->eui64, id->eui64, sizeof(info->eui64)) ||
	    !all_zero(info->uuid, sizeof(info->uuid)))
		abort();
}

static bool found_in(const uint8_t *buf, size_t len, const uint8_t *id, size_t n)
{
	return memmem(buf, len, id, n) != NULL;
}

static void check_descs(const uint8_t *data, size_t len, struct dn_ns_info *info)
{
	/* an exactly sized copy: ASan catches any read past len */
	uint8_t *buf = malloc(len ? len : 1);
	struct dn_ns_info before = *info;
	int ret;

	if (!buf)
		abort();
	memcpy(buf, data, len);
	ret = dn_ns_descs_parse(buf, len, info);
	if (ret && ret != -EPROTO)
		abort();
	/* only the identifiers change; ones Identify Namespace gave are kept */
	if (info->nsid != before.nsid || info->nsze != before.nsze ||
	    info->lbs_shift != before.lbs_shift || info->read_only != before.read_only)
		abort();
	if (!all_zero(before.nguid, sizeof(before.nguid)) &&
	    memcmp(info->nguid, before.nguid, sizeof(before.nguid)))
		abort();
	if (!all_zero(before.eui64, sizeof(before.eui64)) &&
	    memcmp(info->eui64, before.eui64, sizeof(before.eui64)))
		abort();
	/* a new identifier came from the list */
	if (memcmp(info->nguid, before.nguid, sizeof(before.nguid)) &&
	    !found_in(buf, len, info->nguid, sizeof(info->nguid)))
		abort();
	if (memcmp(info->eui64, before.eui64, sizeof(before.eui64)) &&
	    !found_in(buf, len, info->eui64, sizeof(info->eui64)))
		abort();
	if (memcmp(info->uuid, before.uuid, sizeof(before.uuid)) &&
	    !found_in(buf, len, info->uuid, sizeof(info->uuid)))
		abort();
	free(buf);
}

static uint32_t check_mdts(uint8_t mdts, uint64_t cap)
{
	uint32_t bytes = dn_mdts_bytes(mdts, cap);
	unsigned int shift = 12 + NVME_CAP_MPSMIN(cap) + mdts;

	/* MDTS 0 is "no limit"; else 2^MDTS minimum-size pages, capped */
	if (!mdts || shift >= 18) {
		if (bytes != DN_MAX_IO_BYTES)
			abort();
	} else if (bytes != 1u << shift) {
		abort();
	}
	if (bytes < 4096 || bytes > DN_MAX_IO_BYTES || (bytes & (bytes - 1)))
		abort();
	return bytes;
}

static void check_params(const struct dn_ns_info *ns, const struct dn_ctrl_caps *caps)
{
	uint32_t lbs = 1u << ns->lbs_shift;
	struct dn_ublk_params p;

	dn_ns_ublk_params(ns, caps, &p);
	if (p.lbs_shift != ns->lbs_shift || p.size != ns->nsze << ns->lbs_shift ||
	    p.size >> ns->lbs_shift != ns->nsze || !p.size || p.size % lbs)
		abort();
	if (p.max_io_bytes != caps->max_xfer || p.read_only != ns->read_only ||
	    p.flush != caps->vwc || p.dev_id != -1 || !p.nr_queues ||
	    p.queue_depth != caps->queue_size)
		abort();
	/* a write-protected namespace gets nothing that writes */
	if (ns->read_only && (p.discard || p.write_zeroes))
		abort();
	if (p.discard != (!ns->read_only && (caps->oncs & NVME_CTRL_ONCS_DSM)) ||
	    p.write_zeroes != (!ns->read_only && (caps->oncs & NVME_CTRL_ONCS_WRITE_ZEROES)))
		abort();
	/* Write Zeroes: whole blocks, no more than the 16-bit NLB carries */
	if (p.write_zeroes &&
	    (!p.max_write_zeroes_sectors || p.max_write_zeroes_sectors % (lbs >> 9) ||
	     p.max_write_zeroes_sectors / (lbs >> 9) > 65536))
		abort();
	/* a block size ublk serves, with a controller's usual limits: a device ublk takes */
	if (ns->lbs_shift <= 12 && caps->queue_size && caps->queue_size <= UBLK_MAX_QUEUE_DEPTH &&
	    caps->nr_queues <= DN_UBLK_MAX_QUEUES) {
		if (dn_ublk_params_check(&p, 4096) || p.max_io_bytes < lbs)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static struct nvme_id_ns *id;
	struct dn_ns_info info;
	struct dn_ctrl_caps caps;
	size_t dlen, idlen;
	uint32_t nsid;
	struct dn_err e = {0};

	if (len < HDR_SIZE)
		return 0;
	if (!id && !(id = malloc(sizeof(*id))))
		abort();
	nsid = get32(buf);
	dlen = get16(buf + 4) % 4097;
	memset(&caps, 0, sizeof(caps));
	caps.max_xfer = check_mdts(buf[6], get64(buf + 8));
	caps.vwc = buf[7] & 1;
	caps.oncs = get16(buf + 16);
	caps.nr_queues = get16(buf + 18);
	caps.queue_size = get16(buf + 20);
	buf += HDR_SIZE;
	len -= HDR_SIZE;
	if (dlen > len)
		dlen = len;
	idlen = len - dlen < sizeof(*id) ? len - dlen : sizeof(*id);
	memset(id, 0, sizeof(*id));
	memcpy(id, buf + dlen, idlen);

	check_info(id, nsid, &info);
	/* the host reads the descriptors for a namespace it accepted, but take them anyway */
	check_descs(buf, dlen, &info);
	if (!dn_ns_info_parse(id, nsid, &info, &e)) {
		check_descs(buf, dlen, &info);
		check_params(&info, &caps);
	}
	return 0;
}
