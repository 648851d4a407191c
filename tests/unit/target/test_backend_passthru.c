// SPDX-License-Identifier: MIT
/*
 * Tests for target/backend_passthru.c: a namespace of an NVMe drive through its generic
 * character device, against a fake drive at the system-call boundary.
 *   - open: ioctl() is swapped at link time (-Wl,--wrap); the fake answers NVME_IOCTL_ID and
 *     Identify Controller/Namespace for an fd on /dev/null (a character device, so the core
 *     picks this backend for it) and passes every other ioctl through.
 *   - I/O: capsules go through the real core (harness.c) onto a real io_uring with big
 *     entries. io_uring_submit() is swapped: the fake drive runs each NVMe command it finds in
 *     the ring on its own memory and turns the SQE into a NOP, and the NOP's completion reaches
 *     the backend carrying the drive's result (an NVMe status, or a negative errno as the
 *     kernel gives for a failed passthrough).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* the __wrap_ functions below are called only by the linker's redirection: no prototypes */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define DRIVE_NSID  7	/* the drive's namespace id; hosts see nsid 1 */
#define DRIVE_SHIFT 12	/* 4 KiB blocks */
#define DRIVE_NLBAS 256 /* 1 MiB */

/* ---- the fake drive ---- */
static struct fake_drive {
	/* what the next open sees */
	int id_errno;	     /* NVME_IOCTL_ID fails with this */
	uint8_t mdts;	     /* Identify Controller MDTS */
	uint16_t ms;	     /* metadata bytes per block of the current format */
	uint8_t ds;	     /* log2 of the block size of the current format */
	int identify_status; /* > 0: Identify fails with this NVMe status; < 0: ioctl errno */
	unsigned int nr_identify;
	uint32_t identify_nsid[4];
	uint8_t identify_cns[4];
	/* I/O */
	uint8_t media[DRIVE_NLBAS << DRIVE_SHIFT];
	int next_res; /* != 0: the next command's result instead of running it */
	struct {
		uint8_t sqe_opcode;
		uint32_t cmd_op;
		int fd;
		struct nvme_uring_cmd cmd;
	} cmds[16];
	unsigned int nr_cmds;
} drive;

static bool is_drive_fd(int fd)
{
	struct stat st;

	return fd >= 0 && !fstat(fd, &st) && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(1, 3); /* /dev/null */
}

int __real_ioctl(int fd, unsigned long req, ...);

static int fake_admin(struct nvme_passthru_cmd *cmd)
{
	uint8_t cns = (uint8_t)cmd->cdw10;

	assert_int_equal(cmd->opcode, nvme_admin_identify);
	assert_int_equal(cmd->data_len, NVME_IDENTIFY_DATA_SIZE);
	assert_true(drive.nr_identify < 4);
	drive.identify_nsid[drive.nr_identify] = cmd->nsid;
	drive.identify_cns[drive.nr_identify++] = cns;
	if (drive.identify_status < 0) {
		errno = -drive.identify_status;
		return -1;
	}
	if (drive.identify_status > 0)
		return drive.identify_status;
	memset((void *)(uintptr_t)cmd->addr, 0, NVME_IDENTIFY_DATA_SIZE);
	if (cns == NVME_IDENTIFY_CNS_CTRL) {
		struct nvme_id_ctrl *id = (void *)(uintptr_t)cmd->addr;

		id->mdts = drive.mdts;
	} else if (cns == NVME_IDENTIFY_CNS_NS) {
		struct nvme_id_ns *id = (void *)(uintptr_t)cmd->addr;

		id->nsze = htole64(DRIVE_NLBAS);
		id->ncap = id->nsze;
		id->nlbaf = 1;
		id->flbas = 1; /* the second format is in use */
		id->lbaf[0].ds = 9;
		id->lbaf[1].ds = drive.ds;
		id->lbaf[1].ms = htole16(drive.ms);
		id->dlfeat = 0x09; /* deallocated blocks read as zeroes, also by Write Zeroes */
	} else {
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	}
	return 0;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!is_drive_fd(fd))
		return __real_ioctl(fd, req, arg);
	if (req == NVME_IOCTL_ID) {
		if (drive.id_errno) {
			errno = drive.id_errno;
			return -1;
		}
		return DRIVE_NSID;
	}
	if (req == NVME_IOCTL_ADMIN_CMD)
		return fake_admin(arg);
	errno = ENOTTY;
	return -1;
}

/* An NVMe I/O command as the drive runs it: its result, an NVMe status (0: success). */
static int drive_run(const struct nvme_uring_cmd *cmd)
{
	uint64_t slba = (uint64_t)cmd->cdw11 << 32 | cmd->cdw10;
	uint64_t nlb = (cmd->cdw12 & 0xffff) + 1;
	size_t off = (size_t)(slba << DRIVE_SHIFT), len = (size_t)(nlb << DRIVE_SHIFT);

	if (cmd->nsid != DRIVE_NSID)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS);
	switch (cmd->opcode) {
	case nvme_cmd_flush:
	case nvme_cmd_dsm:
		return 0;
	case nvme_cmd_write:
	case nvme_cmd_read:
		if (slba + nlb > DRIVE_NLBAS)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE);
		if (cmd->data_len != len || !cmd->addr)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA);
		if (cmd->opcode == nvme_cmd_write)
			memcpy(drive.media + off, (void *)(uintptr_t)cmd->addr, len);
		else
			memcpy((void *)(uintptr_t)cmd->addr, drive.media + off, len);
		return 0;
	default:
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	}
}

/* The result each event's completion carries back, and the handler it goes to. */
static struct {
	struct dn_event *ev;
	void (*cb)(struct dn_event *ev, const struct io_uring_cqe *cqe);
	int res;
} pending[16];

static void drive_complete(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	/* a CQE32 ring: the backend may read the big CQE's second half */
	_Alignas(struct io_uring_cqe) uint8_t big[2 * sizeof(struct io_uring_cqe)];
	struct io_uring_cqe *c = (struct io_uring_cqe *)big;
	unsigned int i;

	for (i = 0; i < 16; i++)
		if (pending[i].ev == ev)
			break;
	assert_true(i < 16);
	memcpy(big, cqe, sizeof(big));
	c->res = pending[i].res;
	ev->cb = pending[i].cb;
	pending[i].ev = NULL;
	ev->cb(ev, c);
}

static void drive_take(struct io_uring_sqe *sqe)
{
	struct dn_event *ev = (struct dn_event *)(uintptr_t)sqe->user_data;
	const struct nvme_uring_cmd *cmd = (const void *)sqe->cmd;
	unsigned int i;

	assert_true(drive.nr_cmds < 16);
	drive.cmds[drive.nr_cmds].sqe_opcode = sqe->opcode;
	drive.cmds[drive.nr_cmds].cmd_op = sqe->cmd_op;
	drive.cmds[drive.nr_cmds].fd = sqe->fd;
	drive.cmds[drive.nr_cmds++].cmd = *cmd;
	for (i = 0; i < 16; i++)
		if (!pending[i].ev)
			break;
	assert_true(i < 16);
	pending[i].ev = ev;
	pending[i].cb = ev->cb;
	pending[i].res = drive.next_res ? drive.next_res : drive_run(cmd);
	drive.next_res = 0;
	ev->cb = drive_complete;
	/* what the kernel gets: a NOP with the same user data */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = (uint64_t)(uintptr_t)ev;
}

int __real_io_uring_submit(struct io_uring *ring);

int __wrap_io_uring_submit(struct io_uring *ring)
{
	unsigned int mask = *ring->sq.kring_mask, i;

	assert_true(ring->flags & IORING_SETUP_SQE128);
	for (i = ring->sq.sqe_head; i != ring->sq.sqe_tail; i++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[(i & mask) << 1];

		if (sqe->opcode == IORING_OP_URING_CMD && is_drive_fd(sqe->fd))
			drive_take(sqe);
	}
	return __real_io_uring_submit(ring);
}

/* ---- helpers ---- */
static struct h_queue *io;

static void drive_reset(void)
{
	memset(&drive, 0, offsetof(struct fake_drive, media));
	drive.mdts = 5; /* 128 KiB, what hosts are offered */
	drive.ds = DRIVE_SHIFT;
	drive.next_res = 0;
	drive.nr_cmds = 0;
	memset(pending, 0, sizeof(pending));
}

static int setup_io(void **state)
{
	struct h_queue *admin;
	uint16_t cntlid;

	drive_reset();
	h_ns_device = "/dev/null";
	h_target_up(NULL, 0);
	admin = h_q();
	cntlid = h_admin_up(admin, H_SUBNQN, H_HOSTNQN);
	io = h_q();
	assert_int_equal(h_io_connect(io, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	drive.nr_cmds = 0;
	return 0;
}

static int teardown_io(void **state)
{
	h_target_down();
	h_ns_device = NULL;
	return 0;
}

static unsigned int nr_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static struct dn_tgt_ns *the_ns(void)
{
	struct dn_tgt_subsys *s = dn_tgt_subsys_find(H_SUBNQN);

	assert_non_null(s);
	return dn_tgt_ns_lookup(s, 1);
}

static struct nvme_sqe rw_sqe(uint8_t opcode, uint64_t slba, uint32_t nlb)
{
	return h_rw_sqe(opcode, 1, slba, nlb, DRIVE_SHIFT);
}

/* the one command the drive saw: an NVMe I/O command on the namespace's fd, as the host sent */
static const struct nvme_uring_cmd *drive_cmd(uint8_t opcode)
{
	assert_int_equal(drive.nr_cmds, 1);
	assert_int_equal(drive.cmds[0].sqe_opcode, IORING_OP_URING_CMD);
	assert_int_equal(drive.cmds[0].cmd_op, NVME_URING_CMD_IO);
	assert_int_equal(drive.cmds[0].fd, the_ns()->fd);
	assert_int_equal(drive.cmds[0].cmd.opcode, opcode);
	assert_int_equal(drive.cmds[0].cmd.nsid, DRIVE_NSID);
	assert_int_equal(drive.cmds[0].cmd.metadata, 0);
	assert_int_equal(drive.cmds[0].cmd.metadata_len, 0);
	drive.nr_cmds = 0;
	return &drive.cmds[0].cmd;
}

/* ---- open ---- */

static void test_open_geometry(void **state)
{
	struct dn_tgt_ns *ns;

	setup_io(state);
	ns = the_ns();
	assert_non_null(ns);
	assert_ptr_equal(ns->be, &dn_tgt_backend_passthru);
	assert_int_equal(ns->pt_nsid, DRIVE_NSID);
	assert_int_equal(ns->lba_shift, DRIVE_SHIFT);
	assert_int_equal(ns->nlbas, DRIVE_NLBAS);
	assert_int_equal(ns->dlfeat, 0x09);
	assert_true(is_drive_fd(ns->fd));
	/* Identify Controller (for MDTS), then the drive's own namespace */
	assert_int_equal(drive.nr_identify, 2);
	assert_int_equal(drive.identify_cns[0], NVME_IDENTIFY_CNS_CTRL);
	assert_int_equal(drive.identify_nsid[0], 0);
	assert_int_equal(drive.identify_cns[1], NVME_IDENTIFY_CNS_NS);
	assert_int_equal(drive.identify_nsid[1], DRIVE_NSID);
	teardown_io(state);
}

/* A drive that does not fit is refused with the cause's errno, its fd closed. */
static void test_open_refusals(void **state)
{
	static const struct {
		const char *what;
		int id_errno, identify_status;
		uint8_t mdts, ds;
		uint16_t ms;
		int want;
	} cases[] = {
		{"not an NVMe generic device", ENOTTY, 0, 5, 12, 0, -ENOTTY},
		{"MDTS 64 KiB: less than hosts are offered", 0, 0, 4, 12, 0, -EOPNOTSUPP},
		{"blocks with metadata", 0, 0, 5, 12, 8, -EOPNOTSUPP},
		{"block size 256 bytes", 0, 0, 5, 8, 0, -EINVAL},
		{"block size 128 KiB", 0, 0, 5, 17, 0, -EINVAL},
		{"Identify fails with an NVMe status", 0,
		 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INTERNAL), 5, 12, 0, -EIO},
		{"Identify ioctl fails", 0, -EACCES, 5, 12, 0, -EACCES},
	};
	unsigned int i, fds = nr_open_fds();

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dn_tgt_ns ns;

		print_message("%s\n", cases[i].what);
		drive_reset();
		drive.id_errno = cases[i].id_errno;
		drive.identify_status = cases[i].identify_status;
		drive.mdts = cases[i].mdts;
		drive.ds = cases[i].ds;
		drive.ms = cases[i].ms;
		memset(&ns, 0, sizeof(ns));
		assert_int_equal(dn_tgt_backend_passthru.open(&ns, "/dev/null", false),
				 cases[i].want);
		assert_int_equal(ns.fd, -1);
		assert_int_equal(nr_open_fds(), fds);
	}
	/* no limit (MDTS 0) and exactly the offered transfer are fine */
	for (i = 0; i < 2; i++) {
		struct dn_tgt_ns ns;

		drive_reset();
		drive.mdts = i ? 5 : 0;
		memset(&ns, 0, sizeof(ns));
		assert_int_equal(dn_tgt_backend_passthru.open(&ns, "/dev/null", true), 0);
		assert_int_equal(ns.nlbas, DRIVE_NLBAS);
		dn_tgt_backend_passthru.close(&ns);
		assert_int_equal(nr_open_fds(), fds);
	}
}

/* ---- I/O ---- */

/* Read and Write reach the drive as the host sent them, with the drive's nsid and the data. */
static void test_rw_forwarded(void **state)
{
	static uint8_t buf[3 << DRIVE_SHIFT];
	const struct nvme_uring_cmd *c;
	struct nvme_sqe sqe;
	struct h_result r;
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	sqe = rw_sqe(nvme_cmd_write, 4, 3);
	sqe.common.cdw12 |= htole32(1u << 30); /* FUA: the drive's to honour */
	sqe.common.cdw13 = htole32(0x07);      /* DSM hints */
	sqe.common.cdw14 = htole32(0xa1b2c3d4);
	sqe.common.cdw15 = htole32(0xffff0000);
	r = h_submit(io, &sqe, buf, sizeof(buf));
	assert_int_equal(r.status, 0);
	assert_int_equal(le16toh(r.cqe.cid), 7);
	c = drive_cmd(nvme_cmd_write);
	assert_int_equal(c->cdw10, 4);
	assert_int_equal(c->cdw11, 0);
	assert_int_equal(c->cdw12, (1u << 30) | 2);
	assert_int_equal(c->cdw13, 0x07);
	assert_int_equal(c->cdw14, 0xa1b2c3d4);
	assert_int_equal(c->cdw15, 0xffff0000);
	assert_ptr_equal((void *)(uintptr_t)c->addr, h_data);
	assert_int_equal(c->data_len, sizeof(buf));
	assert_memory_equal(drive.media + (4 << DRIVE_SHIFT), buf, sizeof(buf));

	/* an LBA above 32 bits cannot be in range here: the core refuses it, the drive sees none */
	sqe = rw_sqe(nvme_cmd_read, 1ull << 32, 1);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status,
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
	assert_int_equal(drive.nr_cmds, 0);

	sqe = rw_sqe(nvme_cmd_read, 4, 3);
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	c = drive_cmd(nvme_cmd_read);
	assert_int_equal(c->cdw10, 4);
	assert_int_equal(c->cdw12, 2);
	assert_int_equal(c->data_len, sizeof(buf));
	assert_int_equal(r.data_len, sizeof(buf));
	assert_memory_equal(h_data, buf, sizeof(buf));
}

/* Commands without data carry no buffer; a DSM's ranges go to the drive as the host sent them */
static void test_no_data_and_dsm(void **state)
{
	struct nvme_dsm_range ranges[2];
	const struct nvme_uring_cmd *c;
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_flush;
	sqe.common.nsid = htole32(1);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
	c = drive_cmd(nvme_cmd_flush);
	assert_int_equal(c->addr, 0);
	assert_int_equal(c->data_len, 0);

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write_zeroes;
	sqe.common.nsid = htole32(1);
	sqe.common.cdw10 = htole32(8);
	sqe.common.cdw12 = htole32((1u << 25) | 15); /* DEAC, 16 blocks */
	/* the fake drive does not know Write Zeroes: its refusal comes back as it is */
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status,
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
	c = drive_cmd(nvme_cmd_write_zeroes);
	assert_int_equal(c->cdw10, 8);
	assert_int_equal(c->cdw12, (1u << 25) | 15);
	assert_int_equal(c->data_len, 0);

	memset(ranges, 0, sizeof(ranges));
	ranges[0].slba = htole64(10);
	ranges[0].nlb = htole32(4);
	ranges[1].slba = htole64(100);
	ranges[1].nlb = htole32(20);
	sqe = h_dsm_sqe(1, 2, sizeof(ranges), true);
	assert_int_equal(h_submit(io, &sqe, ranges, sizeof(ranges)).status, 0);
	c = drive_cmd(nvme_cmd_dsm);
	assert_int_equal(c->cdw10, 1);
	assert_int_equal(c->cdw11, NVME_DSMGMT_AD);
	assert_int_equal(c->data_len, sizeof(ranges));
	assert_memory_equal((void *)(uintptr_t)c->addr, ranges, sizeof(ranges));
}

/* The drive's own status reaches the host exactly, DNR and More bits included; a failed
 * passthrough (negative errno from the kernel) becomes the matching NVMe status. */
static void test_drive_status_returned(void **state)
{
	static const struct {
		int res;
		nvme_status_t want;
	} cases[] = {
		{NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_READ_ERROR),
		 NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_READ_ERROR)},
		{NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT) | NVME_SC_MORE,
		 NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT) | NVME_SC_MORE},
		{NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY),
		 NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY)},
		{-EOPNOTSUPP, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE)},
		{-ENODATA, NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_READ_ERROR)},
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nvme_sqe sqe = rw_sqe(nvme_cmd_read, 0, 1);
		struct h_result r;

		drive.next_res = cases[i].res;
		r = h_submit(io, &sqe, NULL, 0);
		assert_int_equal(r.status, cases[i].want);
		assert_int_equal(drive.nr_cmds, 1);
		drive.nr_cmds = 0;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_geometry),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test_setup_teardown(test_rw_forwarded, setup_io, teardown_io),
		cmocka_unit_test_setup_teardown(test_no_data_and_dsm, setup_io, teardown_io),
		cmocka_unit_test_setup_teardown(test_drive_status_returned, setup_io, teardown_io),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
