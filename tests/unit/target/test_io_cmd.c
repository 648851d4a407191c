// SPDX-License-Identifier: MIT
/*
 * Tests for target/io_cmd.c and target/backend_file.c: NVM commands from capsule to backing
 * file through a real io_uring (write/read back, FUA, compare, flush, write zeroes, deallocate)
 * and every refusal with its exact status (opcode, NSID, LBA range, MDTS, SGL, read-only).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define NLBAS (H_NS_BYTES / 512)

static struct h_queue *io;

static int setup(void **state)
{
	struct h_queue *admin;
	uint16_t cntlid;

	h_target_up(NULL, 0);
	admin = h_q();
	cntlid = h_admin_up(admin, H_SUBNQN, H_HOSTNQN);
	io = h_q();
	assert_int_equal(h_io_connect(io, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	return 0;
}

static int teardown(void **state)
{
	h_target_down();
	return 0;
}

static struct nvme_sqe rw_sqe(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	return h_rw_sqe(opcode, nsid, slba, nlb, 9);
}

static void file_read(uint64_t off, void *buf, size_t len)
{
	int fd = open(h_ns_path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void test_write_read_back(void **state)
{
	static uint8_t buf[65536], back[65536];
	struct nvme_sqe sqe;
	struct h_result r;
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	sqe = rw_sqe(nvme_cmd_write, 1, 100, 128);
	r = h_submit(io, &sqe, buf, sizeof(buf));
	assert_int_equal(r.status, 0);
	assert_int_equal(le16toh(r.cqe.cid), 7);
	assert_int_equal(le16toh(r.cqe.sq_id), 1);
	file_read(100 * 512, back, sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));

	sqe = rw_sqe(nvme_cmd_read, 1, 100, 128);
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.data_len, sizeof(buf));
	assert_memory_equal(h_data, buf, sizeof(buf));
}

static void test_write_fua_and_inline(void **state)
{
	static uint8_t buf[4096], back[4096];
	struct nvme_sqe sqe;

	memset(buf, 0x5a, sizeof(buf));
	sqe = rw_sqe(nvme_cmd_write, 1, NLBAS - 8, 8);
	sqe.common.cdw12 |= htole32(1u << 30); /* FUA */
	h_sgl_inline(&sqe, sizeof(buf));
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	file_read((uint64_t)(NLBAS - 8) * 512, back, sizeof(back));
	assert_memory_equal(buf, back, sizeof(back));
}

static void test_compare(void **state)
{
	static uint8_t buf[1024];
	struct nvme_sqe sqe;

	memset(buf, 0xc3, sizeof(buf));
	sqe = rw_sqe(nvme_cmd_write, 1, 10, 2);
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	sqe = rw_sqe(nvme_cmd_compare, 1, 10, 2);
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	buf[1000] ^= 1;
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0x4285); /* media, DNR */
}

static void test_flush(void **state)
{
	struct nvme_sqe sqe = rw_sqe(nvme_cmd_flush, 1, 0, 1);

	nvme_sgl_set_null(&sqe.common.dptr);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
	sqe.common.nsid = htole32(0xffffffff); /* broadcast flush is not offered (VWC) */
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x400b);
}

static void test_write_zeroes(void **state)
{
	static uint8_t buf[8192], back[8192], zero[8192];
	struct nvme_sqe sqe;

	memset(buf, 0xff, sizeof(buf));
	sqe = rw_sqe(nvme_cmd_write, 1, 200, 16);
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	sqe = rw_sqe(nvme_cmd_write_zeroes, 1, 202, 4);
	nvme_sgl_set_null(&sqe.common.dptr);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
	file_read(200 * 512, back, sizeof(back));
	assert_memory_equal(back, buf, 1024);
	assert_memory_equal(back + 1024, zero, 2048);
	assert_memory_equal(back + 3072, buf, sizeof(back) - 3072);
	/* past the end */
	sqe = rw_sqe(nvme_cmd_write_zeroes, 1, NLBAS - 1, 2);
	nvme_sgl_set_null(&sqe.common.dptr);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4080);
}

static void test_dsm_deallocate(void **state)
{
	static uint8_t buf[8192], back[8192], zero[8192];
	struct nvme_dsm_range ranges[2];
	struct nvme_sqe sqe;

	memset(buf, 0xee, sizeof(buf));
	sqe = rw_sqe(nvme_cmd_write, 1, 0, 16);
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	memset(ranges, 0, sizeof(ranges));
	ranges[0].slba = htole64(0);
	ranges[0].nlb = htole32(8); /* 4 KiB: a whole file system block, so the hole is real */
	ranges[1].slba = htole64(12);
	ranges[1].nlb = htole32(0);
	sqe = h_dsm_sqe(1, 2, sizeof(ranges), false);
	assert_int_equal(h_submit(io, &sqe, ranges, sizeof(ranges)).status, 0);
	file_read(0, back, sizeof(back));
	assert_memory_equal(back, zero, 4096);
	assert_memory_equal(back + 4096, buf, 4096);
	/* a range past the end: nothing deallocated, LBA out of range */
	ranges[1].slba = htole64(NLBAS - 1);
	ranges[1].nlb = htole32(2);
	assert_int_equal(h_submit(io, &sqe, ranges, sizeof(ranges)).status, 0x4080);
	/* the SGL must carry at least NR + 1 ranges */
	h_sgl_keyed(&sqe, 16);
	assert_int_equal(h_submit(io, &sqe, ranges, 16).status, 0x400f);
}

static void test_dsm_linux_buffer(void **state)
{
	/* regression: the Linux host sends DSM with a 4 KiB buffer whatever NR says */
	static struct nvme_dsm_range ranges[256];
	static uint8_t buf[4096], back[4096], zero[4096];
	struct nvme_sqe sqe;

	memset(buf, 0x77, sizeof(buf));
	sqe = rw_sqe(nvme_cmd_write, 1, 64, 8);
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	memset(ranges, 0, sizeof(ranges));
	ranges[0].slba = htole64(64);
	ranges[0].nlb = htole32(8);
	/* garbage beyond NR: must be ignored, not range-checked */
	ranges[1].slba = htole64(0xffffffffffull);
	ranges[1].nlb = htole32(5);
	sqe = h_dsm_sqe(1, 1, sizeof(ranges), false); /* NR 1 of the two ranges sent */
	assert_int_equal(h_submit(io, &sqe, ranges, sizeof(ranges)).status, 0);
	file_read(64 * 512, back, sizeof(back));
	assert_memory_equal(back, zero, sizeof(zero));
	/* more than the 4 KiB of 256 ranges is still refused by the data buffer's size */
	h_sgl_keyed(&sqe, DN_TGT_MAX_XFER + 16);
	assert_int_equal(h_submit(io, &sqe, ranges, sizeof(ranges)).status, 0x400f);
}

static void test_bad_opcode(void **state)
{
	struct nvme_sqe sqe = rw_sqe(0x7e, 1, 0, 1);

	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4001);
	sqe = rw_sqe(0x04, 1, 0, 1); /* Write Uncorrectable: not offered */
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4001);
	/* the opcode is judged before the namespace */
	sqe = rw_sqe(0x7e, 99, 0, 1);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4001);
}

static void test_bad_nsid(void **state)
{
	struct nvme_sqe sqe = rw_sqe(nvme_cmd_read, 2, 0, 1);

	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x400b);
	sqe.common.nsid = 0;
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x400b);
	sqe.common.nsid = htole32(0xffffffff);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x400b);
}

static void test_lba_range(void **state)
{
	struct nvme_sqe sqe = rw_sqe(nvme_cmd_read, 1, NLBAS - 1, 2);

	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4080);
	sqe = rw_sqe(nvme_cmd_read, 1, NLBAS, 1);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4080);
	/* SLBA + NLB wrapping around 2^64 */
	sqe = rw_sqe(nvme_cmd_write, 1, 0xffffffffffffffffull, 2);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4080);
	/* the very last block is fine */
	sqe = rw_sqe(nvme_cmd_read, 1, NLBAS - 1, 1);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
}

static void test_mdts(void **state)
{
	/* 257 blocks of 512 bytes: one block over the 128 KiB MDTS */
	struct nvme_sqe sqe = rw_sqe(nvme_cmd_read, 1, 0, 257);

	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4002);
	sqe = rw_sqe(nvme_cmd_read, 1, 0, 256);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
	/* configured max_io_size 8 KiB: 17 blocks are over it, 16 are not */
	dn_tgt.max_xfer = 8192;
	sqe = rw_sqe(nvme_cmd_write, 1, 0, 17);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4002);
	sqe = rw_sqe(nvme_cmd_read, 1, 0, 16);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
	dn_tgt.max_xfer = 0;
}

static void test_sgl(void **state)
{
	struct nvme_sqe sqe = rw_sqe(nvme_cmd_read, 1, 0, 8);

	/* SGL shorter and longer than NLB says */
	h_sgl_keyed(&sqe, 2048);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x400f);
	h_sgl_keyed(&sqe, 8192);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x400f);
	/* in-capsule data for a read */
	sqe = rw_sqe(nvme_cmd_read, 1, 0, 8);
	h_sgl_inline(&sqe, 4096);
	assert_int_equal(h_submit(io, &sqe, (uint8_t[4096]){0}, 4096).status, 0x4011);
	/* a segment descriptor */
	sqe = rw_sqe(nvme_cmd_read, 1, 0, 8);
	sqe.common.dptr.id = NVME_SGL_ID(NVME_SGL_TYPE_LAST_SEGMENT, NVME_SGL_SUBTYPE_ADDRESS);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4011);
	/* in-capsule write claiming more bytes than arrived */
	sqe = rw_sqe(nvme_cmd_write, 1, 0, 8);
	h_sgl_inline(&sqe, 4096);
	assert_int_equal(h_submit(io, &sqe, (uint8_t[2048]){0}, 2048).status, 0x400f);
	/* fused operations are not supported */
	sqe = rw_sqe(nvme_cmd_read, 1, 0, 8);
	sqe.flags |= 1;
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x4002);
}

static void test_smart_counts_io(void **state)
{
	struct nvme_sqe sqe = rw_sqe(nvme_cmd_read, 1, 0, 8);
	struct dn_tgt_ns *ns = dn_tgt_ns_lookup(io->q.ctrl->subsys, 1);

	h_send_from_ret = 0;
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
	/* run through every setup: only a mapped (tmpfs) namespace offers its memory */
	assert_int_equal(h_send_from_calls, ns->mem_map ? 1 : 0);
	assert_int_equal(atomic_load(&ns->read_cmds), 1);
	assert_int_equal(atomic_load(&ns->units_read), 8);
	assert_int_equal(atomic_load(&ns->inflight[0]) + atomic_load(&ns->inflight[1]), 0);
}

/* The same commands on tmpfs: buffered, reads and writes copied inline. */
/*
 * tmpfs: the file is mapped. Someone truncates it under the target: a read past the new end
 * fails with Unrecovered Read Error and a write with Write Fault (the SIGBUS of the mapping is
 * caught), what is left still reads, and the target goes on.
 */
static void test_tmpfs_truncated(void **state)
{
	static uint8_t buf[4096];
	struct nvme_sqe sqe;
	struct h_result r;

	assert_non_null(dn_tgt_ns_lookup(io->q.ctrl->subsys, 1)->mem_map);
	/* cmocka puts its own SIGBUS handler in place around every test */
	dn_file_sigbus_install();
	memset(buf, 0x5a, sizeof(buf));
	sqe = rw_sqe(nvme_cmd_write, 1, 8, 8);
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	assert_int_equal(truncate(h_ns_path, 64 * 512), 0);

	sqe = rw_sqe(nvme_cmd_read, 1, NLBAS - 8, 8);
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
	sqe = rw_sqe(nvme_cmd_write, 1, 1024, 8);
	r = h_submit(io, &sqe, buf, sizeof(buf));
	assert_int_equal(r.status, NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT));
	/* a read across the new end: its first blocks are there, the rest are not */
	sqe = rw_sqe(nvme_cmd_read, 1, 60, 8);
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));

	sqe = rw_sqe(nvme_cmd_read, 1, 8, 8);
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_memory_equal(buf, h_data, sizeof(buf));
}

/*
 * tmpfs: a read is offered to the transport to send straight from the mapping; taken, nothing
 * is copied and the memory offered is the read's blocks; refused (too small, registration
 * failed), the data is copied as before. Writes are never offered.
 */
static void test_tmpfs_read_sent_in_place(void **state)
{
	static uint8_t buf[64 * 1024];
	struct dn_tgt_ns *ns = dn_tgt_ns_lookup(io->q.ctrl->subsys, 1);
	struct nvme_sqe sqe;
	struct h_result r;
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	sqe = rw_sqe(nvme_cmd_write, 1, 32, 128);
	assert_int_equal(h_submit(io, &sqe, buf, sizeof(buf)).status, 0);
	assert_int_equal(h_send_from_calls, 0);

	h_send_from_ret = 0;
	memset(h_data, 0, sizeof(buf));
	sqe = rw_sqe(nvme_cmd_read, 1, 32, 128);
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.data_len, sizeof(buf));
	assert_int_equal(h_send_from_calls, 1);
	assert_ptr_equal(h_sent_from, ns->mem_map + 32 * 512);
	assert_memory_equal(h_sent_from, buf, sizeof(buf));
	for (i = 0; i < sizeof(buf); i++) /* not copied */
		assert_int_equal(h_data[i], 0);
	assert_int_equal(atomic_load(&ns->units_read), 128);

	h_send_from_ret = -EFAULT;
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(h_send_from_calls, 2);
	assert_memory_equal(h_data, buf, sizeof(buf));
}

/* Kilobytes of [addr, ...) mapped in this process (the Rss of its /proc/self/smaps entry). */
static long mapped_kib(const void *addr)
{
	char line[256], want[32];
	long kib = -1;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	assert_non_null(f);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)addr);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && !strncmp(line, want, strlen(want)))
			in = true;
		else if (in && sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/*
 * tmpfs: opening the namespace fills the mapping's page tables for the blocks the file holds
 * (no page fault on the I/O path when they are read) and leaves its holes unallocated.
 */
static void test_tmpfs_prefaulted(void **state)
{
	static uint8_t data[1 << 20];
	struct dn_tgt_ns ns = {.nsid = 1};
	char path[] = "/dev/shm/dn-tgt-test-XXXXXX";
	struct stat st;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	memset(data, 0xa5, sizeof(data));
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	assert_int_equal(pwrite(fd, data, sizeof(data), 1 << 20), (ssize_t)sizeof(data));
	ns.path = path;
	assert_int_equal(dn_tgt_backend_file.open(&ns, path, false), 0);
	assert_non_null(ns.mem_map);
	/* the megabyte of data is mapped, the three of holes are not */
	assert_int_equal(mapped_kib(ns.mem_map), 1024);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks * 512, 1 << 20);
	assert_memory_equal(ns.mem_map + (1 << 20), data, sizeof(data));
	dn_tgt_backend_file.close(&ns);
	close(fd);
	unlink(path);
}

static int setup_tmpfs(void **state)
{
	h_ns_dir = "/dev/shm";
	setup(state);
	h_ns_dir = "/tmp";
	assert_int_equal(dn_tgt_ns_lookup(io->q.ctrl->subsys, 1)->dio_align, 0);
	assert_true(dn_tgt_ns_lookup(io->q.ctrl->subsys, 1)->mem_backed);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fua_and_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsm_deallocate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsm_linux_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_opcode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_nsid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lba_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mdts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_counts_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_back, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_write_fua_and_inline, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_compare, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_dsm_deallocate, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_lba_range, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfs_truncated, setup_tmpfs, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfs_read_sent_in_place, setup_tmpfs,
						teardown),
		cmocka_unit_test(test_tmpfs_prefaulted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
