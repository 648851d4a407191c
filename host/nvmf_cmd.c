// SPDX-License-Identifier: MIT
/* Byte-exact encoders for the commands the host sends (see nvmf_cmd.h). */
#include <errno.h>
#include <string.h>

#include "host/nvmf_cmd.h"

static void cmd_init(struct nvme_sqe *c, uint8_t opcode)
{
	memset(c, 0, sizeof(*c));
	c->opcode = opcode;
	/* fabrics commands always describe data with SGLs */
	c->flags = NVME_CMD_PSDT_SGL_MPTR_CONTIG;
}

void dn_sqe_connect(struct nvme_sqe *c, uint16_t qid, uint16_t qsize, uint32_t kato_ms)
{
	cmd_init(c, NVME_FABRICS_OPCODE);
	c->connect.fctype = nvme_fabrics_type_connect;
	c->connect.recfmt = 0;
	c->connect.qid = htole16(qid);
	c->connect.sqsize = htole16((uint16_t)(qsize - 1));
	c->connect.kato = htole32(kato_ms);
}

int dn_connect_data_init(struct nvmf_connect_data *d, const uint8_t hostid[16], uint16_t cntlid,
			 const char *subnqn, const char *hostnqn)
{
	if (strlen(subnqn) >= sizeof(d->subsysnqn) || strlen(hostnqn) >= sizeof(d->hostnqn))
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	memcpy(d->hostid, hostid, sizeof(d->hostid));
	d->cntlid = htole16(cntlid);
	strcpy(d->subsysnqn, subnqn);
	strcpy(d->hostnqn, hostnqn);
	return 0;
}

void dn_sqe_prop_get(struct nvme_sqe *c, uint32_t offset, bool eight_bytes)
{
	cmd_init(c, NVME_FABRICS_OPCODE);
	c->prop.fctype = nvme_fabrics_type_property_get;
	c->prop.attrib = eight_bytes ? 1 : 0;
	c->prop.offset = htole32(offset);
}

void dn_sqe_prop_set(struct nvme_sqe *c, uint32_t offset, uint32_t value)
{
	cmd_init(c, NVME_FABRICS_OPCODE);
	c->prop.fctype = nvme_fabrics_type_property_set;
	c->prop.attrib = 0;
	c->prop.offset = htole32(offset);
	c->prop.value = htole64(value);
}

void dn_sqe_identify(struct nvme_sqe *c, uint8_t cns, uint32_t nsid)
{
	cmd_init(c, nvme_admin_identify);
	c->common.nsid = htole32(nsid);
	c->common.cdw10 = htole32(cns);
}

void dn_sqe_get_log(struct nvme_sqe *c, uint8_t lid, uint32_t nsid, uint64_t offset, uint32_t len)
{
	uint32_t numd = len / 4 - 1;

	cmd_init(c, nvme_admin_get_log_page);
	c->common.nsid = htole32(nsid);
	c->common.cdw10 = htole32(lid | (numd & 0xffff) << 16);
	c->common.cdw11 = htole32(numd >> 16);
	c->common.cdw12 = htole32((uint32_t)offset);
	c->common.cdw13 = htole32((uint32_t)(offset >> 32));
}

void dn_sqe_set_features(struct nvme_sqe *c, uint8_t fid, uint32_t cdw11)
{
	cmd_init(c, nvme_admin_set_features);
	c->common.cdw10 = htole32(fid);
	c->common.cdw11 = htole32(cdw11);
}

void dn_sqe_keep_alive(struct nvme_sqe *c)
{
	cmd_init(c, nvme_admin_keep_alive);
}

void dn_sqe_async_event(struct nvme_sqe *c)
{
	cmd_init(c, nvme_admin_async_event);
}

void dn_sqe_rw(struct nvme_sqe *c, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	cmd_init(c, write ? nvme_cmd_write : nvme_cmd_read);
	c->common.nsid = htole32(nsid);
	c->common.cdw10 = htole32((uint32_t)slba);
	c->common.cdw11 = htole32((uint32_t)(slba >> 32));
	c->common.cdw12 = htole32((nlb - 1) & 0xffff);
}

void dn_sqe_flush(struct nvme_sqe *c, uint32_t nsid)
{
	cmd_init(c, nvme_cmd_flush);
	c->common.nsid = htole32(nsid);
}

void dn_sqe_write_zeroes(struct nvme_sqe *c, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	cmd_init(c, nvme_cmd_write_zeroes);
	c->common.nsid = htole32(nsid);
	c->common.cdw10 = htole32((uint32_t)slba);
	c->common.cdw11 = htole32((uint32_t)(slba >> 32));
	c->common.cdw12 = htole32((nlb - 1) & 0xffff);
}

void dn_sqe_dsm_deallocate(struct nvme_sqe *c, uint32_t nsid, uint32_t nr)
{
	cmd_init(c, nvme_cmd_dsm);
	c->common.nsid = htole32(nsid);
	c->common.cdw10 = htole32((nr - 1) & 0xff);
	c->common.cdw11 = htole32(NVME_DSMGMT_AD);
}

void dn_sqe_resv(struct nvme_sqe *c, uint8_t opcode, uint32_t nsid, uint32_t cdw10, uint32_t cdw11)
{
	cmd_init(c, opcode);
	c->common.nsid = htole32(nsid);
	c->common.cdw10 = htole32(cdw10);
	c->common.cdw11 = htole32(cdw11);
}

void dn_dsm_range_set(struct nvme_dsm_range *r, uint64_t slba, uint32_t nlb)
{
	memset(r, 0, sizeof(*r));
	r->nlb = htole32(nlb);
	r->slba = htole64(slba);
}

uint32_t dn_num_queues_cdw11(uint16_t n)
{
	/* both counts 0's based: NSQR in bits 15:0, NCQR in bits 31:16 */
	return (uint32_t)(n - 1) | (uint32_t)(n - 1) << 16;
}

uint16_t dn_num_queues_granted(uint32_t result)
{
	uint32_t nsq = (result & 0xffff) + 1, ncq = (result >> 16) + 1;

	return (uint16_t)(nsq < ncq ? nsq : ncq);
}
