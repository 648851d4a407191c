// SPDX-License-Identifier: MIT
/*
 * Shared data buffers of the NVMe/RDMA transport: one pool per (device, poll group), allocated
 * and registered once when the device is first seen, from which requests with keyed SGL data
 * take a DN_TGT_MAX_XFER buffer and give it back when they end. Queues then register only their
 * receive buffers and CQEs at connect time. Every user of a pool runs on its group's thread:
 * no locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rdma_util.h"
#include "target/rdma.h"
#include "target/target.h"

_Static_assert((uint64_t)DN_TGT_DATA_BUFFERS_MIB_MAX * 1024 * 1024 / DN_TGT_MAX_XFER <=
		       DN_RDMA_POOL_MAX_BUFS,
	       "the largest configurable pool fits");

unsigned int dn_rdma_pool_bufs_for_mib(unsigned int mib)
{
	uint64_t n = (uint64_t)mib * 1024 * 1024 / DN_TGT_MAX_XFER;

	/* at least one buffer, or a keyed request could wait forever */
	if (n < 1)
		n = 1;
	if (n > DN_RDMA_POOL_MAX_BUFS)
		n = DN_RDMA_POOL_MAX_BUFS;
	return (unsigned int)n;
}

int dn_rdma_pool_init(struct dn_rdma_pool *p, void *mem, unsigned int nr_bufs, uint32_t lkey)
{
	unsigned int i;

	p->free = calloc(nr_bufs, sizeof(*p->free));
	if (!p->free)
		return -ENOMEM;
	p->mem = mem;
	p->len = (size_t)nr_bufs * DN_TGT_MAX_XFER;
	p->lkey = lkey;
	p->nr_bufs = nr_bufs;
	/* a stack: the buffer given back last, still warm in the cache, goes out first */
	for (i = 0; i < nr_bufs; i++)
		p->free[i] = p->mem + (size_t)(nr_bufs - 1 - i) * DN_TGT_MAX_XFER;
	p->nr_free = nr_bufs;
	p->wait_head = NULL;
	p->wait_tail = &p->wait_head;
	return 0;
}

void dn_rdma_pool_release(struct dn_rdma_pool *p)
{
	free(p->free);
	p->free = NULL;
	p->nr_free = 0;
	p->nr_bufs = 0;
}

int dn_rdma_pool_create(struct ibv_pd *pd, unsigned int nr_bufs, struct dn_rdma_pool **out)
{
	struct dn_rdma_pool *p;
	size_t len = (size_t)nr_bufs * DN_TGT_MAX_XFER;
	void *mem;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ret = posix_memalign(&mem, 4096, len);
	if (ret) {
		ret = -ret;
		goto out_free_pool;
	}
	/* touch every page now: registration pins them, and the I/O path must not fault them in */
	memset(mem, 0, len);
	ret = dn_ibv_reg_mr(pd, mem, len, IBV_ACCESS_LOCAL_WRITE, &p->mr);
	if (ret)
		goto out_free_mem;
	ret = dn_rdma_pool_init(p, mem, nr_bufs, p->mr->lkey);
	if (ret)
		goto out_dereg_mr;
	*out = p;
	return 0;

out_dereg_mr:
	dn_ibv_dereg_mr(p->mr);
out_free_mem:
	free(mem);
out_free_pool:
	free(p);
	return ret;
}

void dn_rdma_pool_destroy(struct dn_rdma_pool *p)
{
	int ret;

	if (!p)
		return;
	if (p->nr_free != p->nr_bufs)
		dn_warn("rdma: data buffer pool destroyed with %u of %u buffers out",
			p->nr_bufs - p->nr_free, p->nr_bufs);
	ret = dn_ibv_dereg_mr(p->mr);
	if (ret)
		dn_warn("rdma: deregistering the data buffer pool: %s", strerror(-ret));
	free(p->mem);
	dn_rdma_pool_release(p);
	free(p);
}

/* The caller keeps FIFO order: it asks only when nobody waits (dn_rdma_pool_has_waiters). */
uint8_t *dn_rdma_pool_get(struct dn_rdma_pool *p)
{
	if (!p->nr_free)
		return NULL;
	return p->free[--p->nr_free];
}

void dn_rdma_pool_put(struct dn_rdma_pool *p, uint8_t *buf)
{
	p->free[p->nr_free++] = buf;
}

bool dn_rdma_pool_owns(const struct dn_rdma_pool *p, const void *ptr, size_t len)
{
	const uint8_t *b = ptr;

	return b >= p->mem && len <= p->len && b - p->mem <= (ptrdiff_t)(p->len - len);
}
