// SPDX-License-Identifier: MIT
/*
 * Tests for target/pr.c: Reservation Register, Acquire, Release and Report from three hosts
 * (three host identifiers, each with its own controller), the reservation check Read- and
 * Write-group commands pass through in target/io_cmd.c, the Reservation Notification log page
 * with its asynchronous event, the two reservation features and what Identify reports.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake_pg_defer.h"
#include "harness.h"

#define NLBAS	   (H_NS_BYTES / 512)
#define H_HOSTNQN3 "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000003"
#define CONFLICT   NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_RESERVATION_CONFLICT)
#define INVALID	   NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define INVALID_NS NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)
#define NO_ROOM	   NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL)
#define IEKEY	   (1u << 3)
#define RAE	   true
#define ROOM	   ((4096 - 64) / 64) /* registrant entries a 4 KiB report has room for */

/* the reservation types, as short as the NVMe tables name them */
#define WE   NVME_RESERVATION_RTYPE_WE
#define EA   NVME_RESERVATION_RTYPE_EA
#define WERO NVME_RESERVATION_RTYPE_WERO
#define EARO NVME_RESERVATION_RTYPE_EARO
#define WEAR NVME_RESERVATION_RTYPE_WEAR
#define EAAR NVME_RESERVATION_RTYPE_EAAR

#define REGISTER   NVME_RESERVATION_RREGA_REGISTER_KEY
#define UNREGISTER NVME_RESERVATION_RREGA_UNREGISTER_KEY
#define REPLACE	   NVME_RESERVATION_RREGA_REPLACE_KEY
#define ACQUIRE	   NVME_RESERVATION_RACQA_ACQUIRE
#define PREEMPT	   NVME_RESERVATION_RACQA_PREEMPT
#define PREEMPT_AB NVME_RESERVATION_RACQA_PREEMPT_AND_ABORT
#define RELEASE	   NVME_RESERVATION_RRELA_RELEASE
#define CLEAR	   NVME_RESERVATION_RRELA_CLEAR

/* the asynchronous event of a reservation notification: NVM command set specific, log 80h */
#define PR_AEN (NVME_AER_CSS | NVME_AER_CSS_NVM_RESERVATION << 8 | NVME_LOG_LID_RESERVATION << 16)

struct host {
	const char *nqn;
	uint8_t id[16];
	uint64_t key;
	struct h_queue *admin, *io;
};

static struct host hosts[3];
static struct host *const A = &hosts[0], *const B = &hosts[1], *const C = &hosts[2];
static const uint8_t zero_block[512];

/* Connect h's admin and I/O queues (on the queues given, which may be reused). */
static void host_connect(struct host *h, struct h_queue *admin, struct h_queue *io)
{
	uint16_t cntlid;

	h->admin = admin;
	h->io = io;
	h_hostid = h->id;
	cntlid = h_admin_up(admin, H_SUBNQN, h->nqn);
	assert_int_equal(h_io_connect(io, 1, cntlid, H_SUBNQN, h->nqn).status, 0);
	h_hostid = NULL;
}

/* The transport loses both queues: the controller goes, the host's registrations stay. */
static void host_disconnect(struct host *h)
{
	dn_tgt_queue_destroyed(&h->io->q);
	dn_tgt_queue_destroyed(&h->admin->q);
	h_pump_msgs();
}

static int setup(void **state)
{
	static const char *const nqns[] = {H_HOSTNQN, H_HOSTNQN2, H_HOSTNQN3};
	unsigned int i, j;

	h_target_up(NULL, 0);
	fake_pg_deferred_reset();
	for (i = 0; i < 3; i++) {
		struct host *h = &hosts[i];

		h->nqn = nqns[i];
		for (j = 0; j < 16; j++)
			h->id[j] = (uint8_t)(0xa0 + 0x10 * i + j);
		/* all 64 bits, so a truncated or byte-swapped key cannot pass */
		h->key = 0x0102030405060700ull * (i + 1) + 0xa0 + i;
		host_connect(h, h_q(), h_q());
	}
	return 0;
}

static int teardown(void **state)
{
	h_target_down();
	return 0;
}

/* ---- persistence through power loss: the namespace keeps its reservations in a file ---- */

static char ptpl_path[64];

static int setup_ptpl(void **state)
{
	snprintf(ptpl_path, sizeof(ptpl_path), "/tmp/dn-test-ptpl-%d.json", (int)getpid());
	unlink(ptpl_path);
	h_ns_ptpl_file = ptpl_path;
	return setup(state);
}

static int teardown_ptpl(void **state)
{
	h_target_down();
	h_ns_ptpl_file = NULL;
	h_setup_may_fail = false;
	unlink(ptpl_path);
	return 0;
}

/* The target goes and comes back with the same configuration; the hosts connect again. */
static void restart(void)
{
	unsigned int i;

	h_target_down();
	h_target_up(NULL, 0);
	for (i = 0; i < 3; i++)
		host_connect(&hosts[i], h_q(), h_q());
}

/* ---- commands ---- */

static struct nvme_sqe pr_sqe(uint8_t opcode, uint32_t cdw10, uint32_t len)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = opcode;
	sqe.cid = htole16(7);
	sqe.common.nsid = htole32(1);
	sqe.common.cdw10 = htole32(cdw10);
	h_sgl_keyed(&sqe, len);
	return sqe;
}

/* Register, Acquire (16 bytes: CRKEY and NRKEY or PRKEY) or Release (8 bytes: CRKEY). */
static nvme_status_t pr_cmd(struct host *h, uint8_t opcode, uint32_t cdw10, uint64_t key1,
			    uint64_t key2)
{
	uint64_t data[2] = {htole64(key1), htole64(key2)};
	uint32_t len = opcode == nvme_cmd_resv_release ? 8 : 16;
	struct nvme_sqe sqe = pr_sqe(opcode, cdw10, len);

	return h_submit(h->io, &sqe, data, len).status;
}

static nvme_status_t reg(struct host *h, uint32_t cdw10, uint64_t crkey, uint64_t nrkey)
{
	return pr_cmd(h, nvme_cmd_resv_register, cdw10, crkey, nrkey);
}

static nvme_status_t acq(struct host *h, uint32_t racqa, uint32_t rtype, uint64_t crkey,
			 uint64_t prkey)
{
	return pr_cmd(h, nvme_cmd_resv_acquire, racqa | rtype << 8, crkey, prkey);
}

static nvme_status_t rel(struct host *h, uint32_t rrela, uint32_t rtype, uint64_t crkey)
{
	return pr_cmd(h, nvme_cmd_resv_release, rrela | rtype << 8, crkey, 0);
}

/* h registers its own key. */
static void reg_ok(struct host *h)
{
	assert_int_equal(reg(h, REGISTER, 0, h->key), 0);
}

/* h acquires a reservation of type rtype with its own key. */
static void acq_ok(struct host *h, uint32_t rtype)
{
	assert_int_equal(acq(h, ACQUIRE, rtype, h->key, 0), 0);
}

/* Reservation Report of len bytes; the status lands in h_data. */
static struct h_result report(struct host *h, uint32_t len, bool eds)
{
	struct nvme_sqe sqe = pr_sqe(nvme_cmd_resv_report, len / 4 - 1, len);

	sqe.common.cdw11 = htole32(eds ? 1 : 0);
	return h_submit(h->io, &sqe, NULL, 0);
}

static const struct nvme_resv_status *rs(void)
{
	return (const struct nvme_resv_status *)h_data;
}

static unsigned int rs_regctl(void)
{
	return rs()->regctl[0] | rs()->regctl[1] << 8;
}

/* A report with room for every registrant; the reservation type held, 0 for none. */
static uint8_t held_rtype(void)
{
	assert_int_equal(report(A, 4096, true).status, 0);
	return rs()->rtype;
}

static unsigned int nr_registrants(void)
{
	assert_int_equal(report(A, 4096, true).status, 0);
	return rs_regctl();
}

static uint32_t generation(void)
{
	assert_int_equal(report(A, 4096, true).status, 0);
	return le32toh(rs()->gen);
}

/* h's entry in the report in h_data (with room for `room` entries), or NULL. */
static const struct nvme_registered_ctrl_ext *rs_entry(const struct host *h, unsigned int room)
{
	unsigned int i, n = rs_regctl() < room ? rs_regctl() : room;

	for (i = 0; i < n; i++)
		if (!memcmp(rs()->regctl_eds[i].hostid, h->id, 16))
			return &rs()->regctl_eds[i];
	return NULL;
}

/* The entry a report must carry for host h, byte for byte. */
static void expect_entry(const struct host *h, unsigned int room, bool holder, uint64_t key)
{
	const struct nvme_registered_ctrl_ext *e = rs_entry(h, room);
	struct nvme_registered_ctrl_ext want;

	assert_non_null(e);
	memset(&want, 0, sizeof(want));
	want.cntlid = htole16(0xffff);
	want.rcsts = holder ? 1 : 0;
	want.rkey = htole64(key);
	memcpy(want.hostid, h->id, 16);
	assert_memory_equal(e, &want, sizeof(want));
}

/* One command of a reservation command group on block 0: zeroes written, zeroes compared. */
static nvme_status_t io_cmd(struct host *h, uint8_t opcode)
{
	struct nvme_dsm_range range;
	struct nvme_sqe sqe = h_rw_sqe(opcode, 1, 0, 1, 9);

	switch (opcode) {
	case nvme_cmd_read:
		return h_submit(h->io, &sqe, NULL, 0).status;
	case nvme_cmd_flush:
	case nvme_cmd_write_zeroes:
		nvme_sgl_set_null(&sqe.common.dptr);
		return h_submit(h->io, &sqe, NULL, 0).status;
	case nvme_cmd_dsm:
		memset(&range, 0, sizeof(range));
		range.nlb = htole32(1);
		sqe = h_dsm_sqe(1, 1, sizeof(range), false);
		return h_submit(h->io, &sqe, &range, sizeof(range)).status;
	}
	return h_submit(h->io, &sqe, zero_block, sizeof(zero_block)).status;
}

static void expect_io(struct host *h, uint8_t opcode, nvme_status_t want)
{
	nvme_status_t st = io_cmd(h, opcode);

	if (st != want)
		fail_msg("host %02x.. opcode 0x%02x: status 0x%04x, expected 0x%04x", h->id[0],
			 opcode, st, want);
}

/* Every command of the Read group gets `read`, every one of the Write group `write`. */
static void expect_access(struct host *h, nvme_status_t read, nvme_status_t write)
{
	expect_io(h, nvme_cmd_read, read);
	expect_io(h, nvme_cmd_compare, read);
	expect_io(h, nvme_cmd_write, write);
	expect_io(h, nvme_cmd_flush, write);
	expect_io(h, nvme_cmd_write_zeroes, write);
	expect_io(h, nvme_cmd_dsm, write);
}

/* ---- admin commands ---- */

static struct h_result feature(struct host *h, bool set, uint8_t fid, uint32_t nsid, uint32_t cdw11)
{
	struct nvme_sqe sqe = h_admin_sqe(set ? nvme_admin_set_features : nvme_admin_get_features,
					  nsid, fid, cdw11, 0);

	return h_submit(h->admin, &sqe, NULL, 0);
}

/* An Asynchronous Event Request the controller holds until something happens. */
static void aer(struct host *h)
{
	struct nvme_sqe sqe = h_admin_sqe(nvme_admin_async_event, 0, 0, 0, 0);

	assert_false(h_submit(h->admin, &sqe, NULL, 0).done);
}

/* Get Log Page 80h, the whole 64 bytes, into h_data. */
static struct h_result pr_log(struct host *h, bool rae)
{
	struct nvme_sqe sqe = h_admin_sqe(
		nvme_admin_get_log_page, 0xffffffff,
		NVME_LOG_LID_RESERVATION | (rae ? 1u << 15 : 0) | (64u / 4 - 1) << 16, 0, 64);

	return h_submit(h->admin, &sqe, NULL, 0);
}

/* The oldest notification h's controller has: count, type and how many more wait. */
static void expect_log(struct host *h, bool rae, uint64_t lpc, uint8_t rnlpt, uint8_t nalp)
{
	const struct nvme_resv_notification_log *l;
	struct nvme_resv_notification_log want;

	/* h_data is the buffer of the request slot just used: a held AER takes one */
	assert_int_equal(pr_log(h, rae).status, 0);
	l = (const void *)h_data;
	memset(&want, 0, sizeof(want));
	want.lpc = htole64(lpc);
	want.rnlpt = rnlpt;
	want.nalp = nalp;
	want.nsid = htole32(lpc ? 1 : 0);
	if (memcmp(l, &want, sizeof(want)))
		fail_msg("host %02x.. log: lpc %llu rnlpt %u nalp %u nsid %u, expected lpc %llu "
			 "rnlpt %u nalp %u",
			 h->id[0], (unsigned long long)le64toh(l->lpc), l->rnlpt, l->nalp,
			 le32toh(l->nsid), (unsigned long long)lpc, rnlpt, nalp);
}

static void expect_no_log(struct host *h)
{
	expect_log(h, false, 0, NVME_RESV_NOTIFY_RNLPT_EMPTY, 0);
}

/* ---- Register ---- */

static void test_register(void **state)
{
	const uint64_t ka = A->key, k2 = 0x1122334455667788ull, k3 = 0x8877665544332211ull;

	assert_int_equal(reg(A, REGISTER, 0, ka), 0);
	/* the same key again is fine, another one is not */
	assert_int_equal(reg(A, REGISTER, 0, ka), 0);
	assert_int_equal(reg(A, REGISTER, 0, k2), CONFLICT);
	/* unregister: CRKEY must be the host's key, unless IEKEY */
	assert_int_equal(reg(A, UNREGISTER, k2, 0), CONFLICT);
	assert_int_equal(nr_registrants(), 1);
	assert_int_equal(reg(A, UNREGISTER | IEKEY, k2, 0), 0);
	assert_int_equal(nr_registrants(), 0);
	/* a host that is not registered has nothing to unregister or replace, IEKEY or not */
	assert_int_equal(reg(A, UNREGISTER, ka, 0), CONFLICT);
	assert_int_equal(reg(A, UNREGISTER | IEKEY, ka, 0), CONFLICT);
	assert_int_equal(reg(A, REPLACE, ka, k2), CONFLICT);
	assert_int_equal(reg(A, REPLACE | IEKEY, ka, k2), CONFLICT);
	assert_int_equal(nr_registrants(), 0);
	/* replace: with the right CRKEY, or any with IEKEY */
	assert_int_equal(reg(A, REGISTER, 0, ka), 0);
	assert_int_equal(reg(A, REPLACE, k3, k2), CONFLICT);
	assert_int_equal(reg(A, REPLACE, ka, k2), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(A, ROOM, false, k2);
	assert_int_equal(reg(A, REPLACE | IEKEY, 0, k3), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(A, ROOM, false, k3);
	/* the new key is what counts now */
	assert_int_equal(acq(A, ACQUIRE, WE, k2, 0), CONFLICT);
	assert_int_equal(acq(A, ACQUIRE, WE, k3, 0), 0);
	/* the holder replacing its key still holds it */
	assert_int_equal(reg(A, REPLACE, k3, k2), 0);
	assert_int_equal(reg(A, REPLACE, k2, k3), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(A, ROOM, true, k3);
	/*
	 * CPTPL: 01b reserved. 11b (persist through power loss, not offered) is what the Linux
	 * host's block-layer register always sends: taken, and PTPLS stays 0.
	 */
	assert_int_equal(reg(B, REGISTER | 1u << 30, 0, B->key), INVALID);
	assert_int_equal(nr_registrants(), 1);
	assert_int_equal(reg(B, REGISTER | 3u << 30, 0, B->key), 0);
	assert_int_equal(reg(B, REGISTER | 2u << 30, 0, B->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(((struct nvme_resv_status *)h_data)->ptpls, 0);
	/* a reserved action */
	assert_int_equal(reg(B, 3, B->key, B->key), INVALID);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs_regctl(), 2);
	expect_entry(A, ROOM, true, k3);
	expect_entry(B, ROOM, false, B->key);
}

static void test_register_in_capsule(void **state)
{
	/* the Linux host sends the 16 bytes in the capsule when the transport takes them */
	uint64_t data[2] = {0, htole64(C->key)};
	struct nvme_sqe sqe = pr_sqe(nvme_cmd_resv_register, REGISTER, 16);

	h_sgl_inline(&sqe, sizeof(data));
	assert_int_equal(h_submit(C->io, &sqe, data, sizeof(data)).status, 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(C, ROOM, false, C->key);
	/* a data block shorter than the command's data */
	sqe = pr_sqe(nvme_cmd_resv_register, REGISTER, 8);
	assert_int_equal(h_submit(C->io, &sqe, data, 8).status,
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA));
	/* a namespace that does not exist */
	sqe = pr_sqe(nvme_cmd_resv_register, REGISTER, 16);
	sqe.common.nsid = htole32(2);
	assert_int_equal(h_submit(C->io, &sqe, data, sizeof(data)).status, INVALID_NS);
}

static void test_registration_belongs_to_host(void **state)
{
	struct host a2 = *A;

	reg_ok(A);
	acq_ok(A, EA);
	/* a second controller of host A: the same registrant, the same holder */
	host_connect(&a2, h_q(), h_q());
	expect_access(&a2, 0, 0);
	expect_access(B, CONFLICT, CONFLICT);
	assert_int_equal(reg(&a2, REGISTER, 0, A->key), 0);
	assert_int_equal(nr_registrants(), 1);
	/* the controllers go; the registration and the reservation stay with the host */
	host_disconnect(&a2);
	host_disconnect(A);
	assert_int_equal(report(B, 4096, true).status, 0);
	assert_int_equal(rs_regctl(), 1);
	assert_int_equal(rs()->rtype, EA);
	expect_entry(A, ROOM, true, A->key);
	expect_access(B, CONFLICT, CONFLICT);
	host_connect(A, h_q(), h_q());
	expect_access(A, 0, 0);
	assert_int_equal(rel(A, RELEASE, EA, A->key), 0);
	expect_access(B, 0, 0);
}

static void test_register_limit(void **state)
{
	struct h_queue *admin = h_q(), *io = h_q();
	struct host h = {.nqn = H_HOSTNQN};
	unsigned int i;

	/* DN_TGT_PR_MAX_REGS hosts and one more, one after the other on the same two queues */
	for (i = 0; i <= DN_TGT_PR_MAX_REGS; i++) {
		memset(h.id, 0x5a, sizeof(h.id));
		h.id[15] = (uint8_t)i;
		host_connect(&h, admin, io);
		assert_int_equal(reg(&h, REGISTER, 0, 0x1000 + i),
				 i < DN_TGT_PR_MAX_REGS ? 0 : NO_ROOM);
		host_disconnect(&h);
	}
	assert_int_equal(reg(A, REGISTER, 0, A->key), NO_ROOM);
	assert_int_equal(nr_registrants(), DN_TGT_PR_MAX_REGS);
	/* one registered host registering its key again needs no room */
	h.id[15] = 7;
	host_connect(&h, admin, io);
	assert_int_equal(reg(&h, REGISTER, 0, 0x1007), 0);
	/* one leaves: room for A */
	assert_int_equal(reg(&h, UNREGISTER, 0x1007, 0), 0);
	reg_ok(A);
	assert_int_equal(report(B, 64 + 64 * DN_TGT_PR_MAX_REGS, true).status, 0);
	assert_int_equal(rs_regctl(), DN_TGT_PR_MAX_REGS);
	expect_entry(A, DN_TGT_PR_MAX_REGS, false, A->key);
	assert_null(rs_entry(&h, DN_TGT_PR_MAX_REGS));
}

/* ---- Acquire ---- */

static void test_acquire(void **state)
{
	reg_ok(A);
	reg_ok(B);
	/* not a registrant, or not its key */
	assert_int_equal(acq(C, ACQUIRE, WE, C->key, 0), CONFLICT);
	assert_int_equal(acq(A, ACQUIRE, WE, B->key, 0), CONFLICT);
	/* IEKEY is reserved in Acquire (RESCAP.IEK_13); types 0 and 7 and action 3 are reserved */
	assert_int_equal(acq(A, ACQUIRE | IEKEY, WE, A->key, 0), INVALID);
	assert_int_equal(acq(A, ACQUIRE, 0, A->key, 0), INVALID);
	assert_int_equal(acq(A, ACQUIRE, 7, A->key, 0), INVALID);
	assert_int_equal(acq(A, 3, WE, A->key, 0), INVALID);
	assert_int_equal(held_rtype(), 0);
	/* free: taken; the holder again with the same type: fine; with another: conflict */
	acq_ok(A, WE);
	acq_ok(A, WE);
	assert_int_equal(acq(A, ACQUIRE, EA, A->key, 0), CONFLICT);
	/* another registrant cannot take what is held, whatever the type */
	assert_int_equal(acq(B, ACQUIRE, WE, B->key, 0), CONFLICT);
	assert_int_equal(acq(B, ACQUIRE, EA, B->key, 0), CONFLICT);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WE);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, false, B->key);
	assert_int_equal(rel(A, RELEASE, WE, A->key), 0);
	/* All Registrants: every registrant holds it, so acquiring the same type succeeds */
	acq_ok(A, WEAR);
	acq_ok(B, WEAR);
	assert_int_equal(acq(B, ACQUIRE, EAAR, B->key, 0), CONFLICT);
	assert_int_equal(acq(C, ACQUIRE, WEAR, C->key, 0), CONFLICT);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WEAR);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, true, B->key);
	assert_int_equal(rel(B, RELEASE, WEAR, B->key), 0);
	acq_ok(B, EAAR);
	acq_ok(A, EAAR);
	assert_int_equal(acq(A, ACQUIRE, WEAR, A->key, 0), CONFLICT);
}

/* ---- the access check on I/O ---- */

static void test_access_by_type(void **state)
{
	/* the holder may do anything; the NVMe table for a registrant and a non-registrant */
	static const struct {
		uint8_t rtype;
		nvme_status_t reg_read, reg_write, other_read, other_write;
	} t[] = {
		{WE, 0, CONFLICT, 0, CONFLICT}, {EA, CONFLICT, CONFLICT, CONFLICT, CONFLICT},
		{WERO, 0, 0, 0, CONFLICT},	{EARO, 0, 0, CONFLICT, CONFLICT},
		{WEAR, 0, 0, 0, CONFLICT},	{EAAR, 0, 0, CONFLICT, CONFLICT},
	};
	unsigned int i;

	reg_ok(A);
	reg_ok(B);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		acq_ok(A, t[i].rtype);
		expect_access(A, 0, 0);
		expect_access(B, t[i].reg_read, t[i].reg_write);
		expect_access(C, t[i].other_read, t[i].other_write);
		assert_int_equal(rel(A, RELEASE, t[i].rtype, A->key), 0);
		expect_access(C, 0, 0);
	}
	/* and with nothing held at all, registrants or not */
	expect_access(A, 0, 0);
	expect_access(B, 0, 0);
}

static void test_conflict_before_own_checks(void **state)
{
	struct nvme_sqe past_end = h_rw_sqe(nvme_cmd_read, 1, NLBAS, 1, 9);
	struct nvme_sqe too_long = h_rw_sqe(nvme_cmd_write, 1, 0, 257, 9);
	struct nvme_sqe no_ns = h_rw_sqe(nvme_cmd_read, 2, 0, 1, 9);

	reg_ok(A);
	acq_ok(A, EA);
	/* a fenced host hears about the reservation, not about its LBA or length */
	assert_int_equal(h_submit(C->io, &past_end, NULL, 0).status, CONFLICT);
	assert_int_equal(h_submit(C->io, &too_long, zero_block, 512).status, CONFLICT);
	/* the holder's own mistakes are its own */
	assert_int_equal(h_submit(A->io, &past_end, NULL, 0).status,
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
	assert_int_equal(h_submit(A->io, &too_long, zero_block, 512).status, INVALID);
	/* no namespace, no reservation to be in conflict with */
	assert_int_equal(h_submit(C->io, &no_ns, NULL, 0).status, INVALID_NS);
	/* the Reservation commands are not fenced off */
	assert_int_equal(report(C, 4096, true).status, 0);
	reg_ok(C);
	assert_int_equal(acq(C, ACQUIRE, EA, C->key, 0), CONFLICT);
	expect_access(C, CONFLICT, CONFLICT);
}

/* ---- Release ---- */

/* A Release whose data is len bytes, CRKEY first. */
static nvme_status_t release16(struct host *h, uint32_t cdw10, uint32_t len)
{
	uint64_t data[3] = {htole64(h->key), 0, 0};
	struct nvme_sqe sqe = pr_sqe(nvme_cmd_resv_release, cdw10, len);

	return h_submit(h->io, &sqe, data, len).status;
}

static void test_release(void **state)
{
	reg_ok(A);
	reg_ok(B);
	acq_ok(A, WE);
	/* the wrong key, or no registration */
	assert_int_equal(rel(A, RELEASE, WE, B->key), CONFLICT);
	assert_int_equal(rel(C, RELEASE, WE, C->key), CONFLICT);
	/* a registrant that does not hold it: success, nothing happens (whatever the type) */
	assert_int_equal(rel(B, RELEASE, WE, B->key), 0);
	assert_int_equal(rel(B, RELEASE, EA, B->key), 0);
	assert_int_equal(held_rtype(), WE);
	expect_access(B, 0, CONFLICT);
	/* the holder naming another type; IEKEY (reserved); a reserved action */
	assert_int_equal(rel(A, RELEASE, EA, A->key), INVALID);
	assert_int_equal(rel(A, RELEASE | IEKEY, WE, A->key), INVALID);
	assert_int_equal(rel(A, 2, WE, A->key), INVALID);
	assert_int_equal(held_rtype(), WE);
	/* the holder: free for everybody again, registrations kept */
	assert_int_equal(rel(A, RELEASE, WE, A->key), 0);
	assert_int_equal(held_rtype(), 0);
	assert_int_equal(nr_registrants(), 2);
	expect_access(B, 0, 0);
	expect_access(C, 0, 0);
	/* nothing held: still fine */
	assert_int_equal(rel(A, RELEASE, WE, A->key), 0);
	/* the Linux host's block-layer release sends 16 bytes (CRKEY, an unused key): taken */
	acq_ok(A, WE);
	assert_int_equal(release16(A, RELEASE | WE << 8, 16), 0);
	assert_int_equal(held_rtype(), 0);
	assert_int_equal(release16(A, RELEASE | WE << 8, 24),
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA));
	/* All Registrants: any registrant's release ends it for all */
	acq_ok(A, EAAR);
	expect_access(C, CONFLICT, CONFLICT);
	assert_int_equal(rel(B, RELEASE, EAAR, B->key), 0);
	assert_int_equal(held_rtype(), 0);
	expect_access(C, 0, 0);
}

static void test_clear(void **state)
{
	reg_ok(A);
	reg_ok(B);
	acq_ok(A, WERO);
	assert_int_equal(rel(C, CLEAR, 0, C->key), CONFLICT);
	assert_int_equal(rel(B, CLEAR, 0, A->key), CONFLICT);
	assert_int_equal(nr_registrants(), 2);
	/* any registrant may clear: nobody registered, nothing held */
	assert_int_equal(rel(B, CLEAR, 0, B->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, 0);
	assert_int_equal(rs_regctl(), 0);
	expect_access(C, 0, 0);
	assert_int_equal(acq(A, ACQUIRE, WERO, A->key, 0), CONFLICT);
	assert_int_equal(acq(B, ACQUIRE, WERO, B->key, 0), CONFLICT);
}

static void test_generation(void **state)
{
	uint32_t g = generation();

	assert_int_equal(g, 0);
	/* every successful Register counts, even one that changes nothing */
	reg_ok(A);
	assert_int_equal(generation(), ++g);
	reg_ok(A);
	assert_int_equal(generation(), ++g);
	assert_int_equal(reg(A, REGISTER, 0, 1), CONFLICT);
	assert_int_equal(generation(), g);
	reg_ok(B);
	assert_int_equal(generation(), ++g);
	/* acquiring and releasing change no registration */
	acq_ok(A, WE);
	acq_ok(A, WE);
	assert_int_equal(acq(B, ACQUIRE, WE, B->key, 0), CONFLICT);
	assert_int_equal(rel(A, RELEASE, WE, A->key), 0);
	assert_int_equal(generation(), g);
	/* replace */
	A->key ^= 0xff;
	assert_int_equal(reg(A, REPLACE, A->key ^ 0xff, A->key), 0);
	assert_int_equal(generation(), ++g);
	/* preempt, and preempt and abort; a failed one does not count */
	acq_ok(A, WE);
	assert_int_equal(acq(B, PREEMPT, WE, B->key, A->key), 0);
	assert_int_equal(generation(), ++g);
	reg_ok(A);
	reg_ok(C);
	g += 2;
	assert_int_equal(acq(A, PREEMPT, WE, A->key, 0x4242), CONFLICT);
	assert_int_equal(generation(), g);
	assert_int_equal(acq(A, PREEMPT_AB, EA, A->key, C->key), 0);
	assert_int_equal(generation(), ++g);
	/* unregister */
	assert_int_equal(reg(B, UNREGISTER, B->key, 0), 0);
	assert_int_equal(generation(), ++g);
	/* clear */
	reg_ok(C);
	assert_int_equal(generation(), ++g);
	assert_int_equal(rel(C, CLEAR, 0, C->key), 0);
	assert_int_equal(generation(), ++g);
}

/* ---- Preempt ---- */

static void test_preempt_no_reservation(void **state)
{
	reg_ok(A);
	reg_ok(B);
	reg_ok(C);
	/* nothing held: PRKEY only unregisters, nobody acquires anything */
	assert_int_equal(acq(A, PREEMPT, WE, A->key, B->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, 0);
	assert_int_equal(rs_regctl(), 2);
	assert_null(rs_entry(B, ROOM));
	assert_int_equal(acq(A, PREEMPT, WE, A->key, 0x4242), CONFLICT);
	assert_int_equal(nr_registrants(), 2);
	/* B is a non-registrant under the next reservation, C a registrant */
	acq_ok(A, WERO);
	expect_access(C, 0, 0);
	expect_access(B, 0, CONFLICT);
	/* B hears that it lost its registration, nobody else hears anything */
	expect_log(B, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	expect_no_log(A);
	expect_no_log(C);
}

static void test_preempt_holder(void **state)
{
	/* C registers with A's key: keys need not be unique */
	reg_ok(A);
	reg_ok(B);
	assert_int_equal(reg(C, REGISTER, 0, A->key), 0);
	acq_ok(A, WE);
	/* B preempts the holder's key: holder of the new type; every host with that key goes */
	assert_int_equal(acq(B, PREEMPT, EA, B->key, A->key), 0);
	assert_int_equal(report(B, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, EA);
	assert_int_equal(rs_regctl(), 1);
	expect_entry(B, ROOM, true, B->key);
	expect_access(B, 0, 0);
	expect_access(A, CONFLICT, CONFLICT);
	expect_access(C, CONFLICT, CONFLICT);
	assert_int_equal(acq(A, ACQUIRE, EA, A->key, 0), CONFLICT);
	expect_log(A, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	expect_log(C, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	expect_no_log(B);
	/* PRKEY 0 does not name the holder's key: invalid */
	reg_ok(A);
	reg_ok(C);
	assert_int_equal(acq(A, PREEMPT, WE, A->key, 0), INVALID);
	/* a key of registrants that do not hold it: they go, the reservation stays */
	assert_int_equal(acq(A, PREEMPT, WE, A->key, C->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, EA);
	assert_int_equal(rs_regctl(), 2);
	expect_entry(B, ROOM, true, B->key);
	expect_entry(A, ROOM, false, A->key);
	/* Preempt and Abort does the same */
	assert_int_equal(acq(A, PREEMPT_AB, WERO, A->key, B->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WERO);
	assert_int_equal(rs_regctl(), 1);
	expect_entry(A, ROOM, true, A->key);
	expect_access(B, 0, CONFLICT);
	/* a caller that has the holder's key itself keeps its registration */
	assert_int_equal(reg(B, REGISTER, 0, A->key), 0);
	assert_int_equal(acq(B, PREEMPT, WE, A->key, A->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WE);
	assert_int_equal(rs_regctl(), 1);
	expect_entry(B, ROOM, true, A->key);
}

/*
 * Regression: the holder preempting another registrant's key (how a cluster fences a node off)
 * only changed the reservation's type; the fenced host stayed registered and kept writing
 * under Registrants Only.
 */
static void test_holder_preempts_another_registrant(void **state)
{
	reg_ok(A);
	reg_ok(B);
	acq_ok(A, WERO);
	expect_access(B, 0, 0);
	assert_int_equal(acq(A, PREEMPT, WERO, A->key, B->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WERO);
	assert_int_equal(rs_regctl(), 1);
	expect_entry(A, ROOM, true, A->key);
	expect_access(B, 0, CONFLICT);
	expect_log(B, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	/* a key nobody has; key 0, which is not the holder's */
	assert_int_equal(acq(A, PREEMPT, WERO, A->key, B->key), CONFLICT);
	assert_int_equal(acq(A, PREEMPT, WERO, A->key, 0), INVALID);
	/* its own key: the holder changes the type and stays registered */
	assert_int_equal(acq(A, PREEMPT, EA, A->key, A->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, EA);
	expect_entry(A, ROOM, true, A->key);
	expect_access(B, CONFLICT, CONFLICT);
}

static void test_preempt_all_registrants(void **state)
{
	reg_ok(A);
	reg_ok(B);
	reg_ok(C);
	acq_ok(A, WEAR);
	/* a key: those registrants go, the reservation stays with the others */
	assert_int_equal(acq(B, PREEMPT, EA, B->key, C->key), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WEAR);
	assert_int_equal(rs_regctl(), 2);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, true, B->key);
	expect_access(C, 0, CONFLICT);
	assert_int_equal(acq(B, PREEMPT, EA, B->key, 0x4242), CONFLICT);
	/* key 0: the caller is left the only registrant, holding the new type */
	reg_ok(C);
	assert_int_equal(acq(B, PREEMPT, WE, B->key, 0), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WE);
	assert_int_equal(rs_regctl(), 1);
	expect_entry(B, ROOM, true, B->key);
	expect_access(B, 0, 0);
	expect_access(A, 0, CONFLICT);
	expect_access(C, 0, CONFLICT);
	expect_log(A, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	expect_log(C, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 1);
	expect_log(C, false, 2, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	expect_no_log(B);
}

/* ---- Unregister of a holder ---- */

static void test_unregister_holder(void **state)
{
	static const uint8_t types[] = {WE, EA, WERO, EARO};
	unsigned int i, n = 0;

	reg_ok(B);
	for (i = 0; i < sizeof(types); i++) {
		reg_ok(A);
		acq_ok(A, types[i]);
		assert_int_equal(reg(A, UNREGISTER, A->key, 0), 0);
		assert_int_equal(held_rtype(), 0);
		expect_access(B, 0, 0);
		expect_access(C, 0, 0);
		/* the other registrants hear it for the Registrants Only types */
		if (types[i] == WERO || types[i] == EARO)
			expect_log(B, false, ++n, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED, 0);
		expect_no_log(B);
		expect_no_log(C);
	}
	/* All Registrants: it ends with the last of them */
	reg_ok(A);
	acq_ok(A, WEAR);
	assert_int_equal(reg(A, UNREGISTER, A->key, 0), 0);
	assert_int_equal(report(A, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, WEAR);
	expect_entry(B, ROOM, true, B->key);
	expect_access(B, 0, 0);
	expect_access(A, 0, CONFLICT);
	assert_int_equal(reg(B, UNREGISTER, B->key, 0), 0);
	assert_int_equal(held_rtype(), 0);
	expect_access(A, 0, 0);
	expect_no_log(B);
}

/* ---- Report ---- */

static void test_report(void **state)
{
	struct h_result r;

	/* host identifiers are 128 bits: only the extended data structure */
	assert_int_equal(report(A, 4096, false).status,
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_HOSTID_FORMAT));
	/* less than the 64-byte header; more than MDTS */
	assert_int_equal(report(A, 60, true).status, INVALID);
	assert_int_equal(report(A, 4, true).status, INVALID);
	assert_int_equal(report(A, dn_tgt_max_xfer() + 4, true).status, INVALID);
	/* nobody registered */
	r = report(A, 64, true);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.data_len, 64);
	{
		static const uint8_t zero[64];

		assert_memory_equal(h_data, zero, 64);
	}
	reg_ok(A);
	reg_ok(B);
	acq_ok(A, WE);
	r = report(C, 4096, true);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.data_len, 4096);
	assert_int_equal(le32toh(rs()->gen), 2);
	assert_int_equal(rs()->rtype, WE);
	assert_int_equal(rs()->regctl[0], 2);
	assert_int_equal(rs()->regctl[1], 0);
	assert_int_equal(rs()->ptpls, 0);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, false, B->key);
	{
		static const uint8_t zero[64];

		assert_memory_equal(&rs()->regctl_eds[2], zero, 64);
	}
	/* room for one entry, or none: the count is still all of them */
	assert_int_equal(report(C, 128, true).status, 0);
	assert_int_equal(rs_regctl(), 2);
	assert_true(rs_entry(A, 1) || rs_entry(B, 1));
	assert_int_equal(report(C, 64, true).status, 0);
	assert_int_equal(rs_regctl(), 2);
	assert_int_equal(rs()->rtype, WE);
	/* All Registrants: every registrant holds it */
	assert_int_equal(rel(A, RELEASE, WE, A->key), 0);
	acq_ok(B, EAAR);
	assert_int_equal(report(C, 4096, true).status, 0);
	assert_int_equal(rs()->rtype, EAAR);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, true, B->key);
}

/* ---- notifications ---- */

/* B registers and A preempts B's key (nothing held): one Registration Preempted for B. */
static void preempt_b(void)
{
	reg_ok(B);
	assert_int_equal(acq(A, PREEMPT, WE, A->key, B->key), 0);
}

static void test_notification_aen_and_log(void **state)
{
	struct nvme_sqe sqe = h_admin_sqe(nvme_admin_async_event, 0, 0, 0, 0);
	struct h_result r;
	unsigned int i;

	reg_ok(A);
	reg_ok(B);
	acq_ok(B, WE);
	aer(B);
	assert_int_equal(acq(A, PREEMPT, WE, A->key, B->key), 0);
	assert_int_equal(h_pump_msgs(), 1);
	assert_int_equal(h_nr_async, 1);
	assert_int_equal(h_async[0].status, 0);
	assert_int_equal(le32toh(h_async[0].cqe.result.u32), PR_AEN);
	assert_int_equal(le32toh(h_async[0].cqe.result.u32), 0x00800006);
	/* the log page: read once, then empty */
	expect_log(B, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	expect_no_log(B);
	expect_no_log(A);
	assert_int_equal(rel(A, RELEASE, WE, A->key), 0);
	/* two more: one event (the next waits until the host has read the log), kept under RAE */
	preempt_b();
	preempt_b();
	r = h_submit(B->admin, &sqe, NULL, 0);
	assert_true(r.done);
	assert_int_equal(le32toh(r.cqe.result.u32), PR_AEN);
	aer(B);
	assert_int_equal(h_pump_msgs(), 0);
	expect_log(B, RAE, 2, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 1);
	expect_log(B, RAE, 2, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 1);
	expect_log(B, false, 2, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 1);
	expect_log(B, false, 3, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	expect_no_log(B);
	/* read to the end: the next notification raises the event again */
	preempt_b();
	assert_int_equal(h_pump_msgs(), 1);
	assert_int_equal(h_nr_async, 2);
	assert_int_equal(le32toh(h_async[1].cqe.result.u32), PR_AEN);
	expect_log(B, false, 4, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
	/* more than the controller keeps: the lost ones show as a gap in the count */
	for (i = 0; i < DN_TGT_PR_LOG_SLOTS + 1; i++)
		preempt_b();
	for (i = 0; i < DN_TGT_PR_LOG_SLOTS; i++)
		expect_log(B, false, 5 + i, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED,
			   (uint8_t)(DN_TGT_PR_LOG_SLOTS - 1 - i));
	expect_no_log(B);
	preempt_b();
	expect_log(B, false, 5 + DN_TGT_PR_LOG_SLOTS + 1,
		   NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
}

static void test_notification_released_and_preempted(void **state)
{
	reg_ok(A);
	reg_ok(B);
	/* release of a Registrants Only reservation: the other registrants hear it */
	acq_ok(A, WERO);
	assert_int_equal(rel(A, RELEASE, WERO, A->key), 0);
	expect_log(B, false, 1, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED, 0);
	expect_no_log(A);
	expect_no_log(C); /* not a registrant */
	/* of Write Exclusive: nobody */
	acq_ok(A, WE);
	assert_int_equal(rel(A, RELEASE, WE, A->key), 0);
	expect_no_log(B);
	/* of All Registrants, by B: A hears it */
	acq_ok(A, EAAR);
	assert_int_equal(rel(B, RELEASE, EAAR, B->key), 0);
	expect_log(A, false, 1, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED, 0);
	expect_no_log(B);
	/* Clear: every other registrant hears "reservation preempted" */
	reg_ok(C);
	acq_ok(A, WE);
	assert_int_equal(rel(B, CLEAR, 0, B->key), 0);
	expect_log(A, false, 2, NVME_RESV_NOTIFY_RNLPT_RESERVATION_PREEMPTED, 0);
	expect_log(C, false, 1, NVME_RESV_NOTIFY_RNLPT_RESERVATION_PREEMPTED, 0);
	expect_no_log(B);
}

static void test_notification_mask(void **state)
{
	struct h_result r;

	/* the mask has bits 1 (registration preempted), 2 (released), 3 (preempted) */
	assert_int_equal(feature(B, true, NVME_FEAT_FID_RESV_MASK, 1, 1).status, INVALID);
	assert_int_equal(feature(B, true, NVME_FEAT_FID_RESV_MASK, 1, 1u << 4).status, INVALID);
	assert_int_equal(feature(B, true, NVME_FEAT_FID_RESV_MASK, 2, 0).status, INVALID_NS);
	assert_int_equal(feature(B, true, NVME_FEAT_FID_RESV_MASK, 0, 0).status, INVALID_NS);
	assert_int_equal(feature(B, false, NVME_FEAT_FID_RESV_MASK, 2, 0).status, INVALID_NS);
	r = feature(B, false, NVME_FEAT_FID_RESV_MASK, 1, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 0);
	/* every namespace at once */
	assert_int_equal(feature(B, true, NVME_FEAT_FID_RESV_MASK, 0xffffffff, 0xe).status, 0);
	r = feature(B, false, NVME_FEAT_FID_RESV_MASK, 1, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 0xe);
	/* registration preempted, masked: no log entry, no event */
	r = feature(B, true, NVME_FEAT_FID_RESV_MASK, 1, NVME_FEAT_RESV_NOTIFY_REGPRE);
	assert_int_equal(r.status, 0);
	r = feature(B, false, NVME_FEAT_FID_RESV_MASK, 1, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), NVME_FEAT_RESV_NOTIFY_REGPRE);
	reg_ok(A);
	aer(B);
	preempt_b();
	assert_int_equal(h_pump_msgs(), 0);
	assert_int_equal(h_nr_async, 0);
	expect_no_log(B);
	/* released, masked; preempted (Clear), masked */
	assert_int_equal(feature(B, true, NVME_FEAT_FID_RESV_MASK, 1,
				 NVME_FEAT_RESV_NOTIFY_RESREL | NVME_FEAT_RESV_NOTIFY_RESPRE)
				 .status,
			 0);
	reg_ok(B);
	acq_ok(A, WERO);
	assert_int_equal(rel(A, RELEASE, WERO, A->key), 0);
	assert_int_equal(rel(A, CLEAR, 0, A->key), 0);
	assert_int_equal(h_pump_msgs(), 0);
	expect_no_log(B);
	/* unmasked: heard again */
	assert_int_equal(feature(B, true, NVME_FEAT_FID_RESV_MASK, 1, 0).status, 0);
	reg_ok(A);
	preempt_b();
	assert_int_equal(h_pump_msgs(), 1);
	assert_int_equal(h_nr_async, 1);
	assert_int_equal(le32toh(h_async[0].cqe.result.u32), PR_AEN);
	expect_log(B, false, 1, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED, 0);
}

/* ---- features, Identify ---- */

/* ---- Preempt and Abort ---- */

static struct dn_tgt_ns *ns1(void)
{
	return dn_tgt_ns_lookup(dn_tgt_subsys_find(H_SUBNQN), 1);
}

/* A command the namespace admitted and has not finished (the backend still has it). */
static unsigned int old_cmd_start(void)
{
	unsigned int slot = atomic_load(&ns1()->inflight_epoch) & 1;

	atomic_fetch_add(&ns1()->inflight[slot], 1);
	return slot;
}

static void old_cmd_end(unsigned int slot)
{
	atomic_fetch_sub(&ns1()->inflight[slot], 1);
}

/* h preempts with abort; the acquire is held while older commands are in flight. */
static void preempt_abort_held(struct host *h, uint32_t rtype, uint64_t prkey)
{
	uint64_t data[2] = {htole64(h->key), htole64(prkey)};
	struct nvme_sqe sqe = pr_sqe(nvme_cmd_resv_acquire, PREEMPT_AB | rtype << 8, 16);

	assert_false(h_submit(h->io, &sqe, data, sizeof(data)).done);
}

static void test_preempt_abort_waits_for_older_commands(void **state)
{
	unsigned int slot;

	reg_ok(A);
	reg_ok(B);
	acq_ok(A, WE);
	/* nothing older in flight: it completes at once */
	assert_int_equal(acq(B, PREEMPT_AB, WE, B->key, A->key), 0);
	assert_false(fake_pg_deferred_pending());
	reg_ok(A);
	assert_int_equal(acq(A, PREEMPT_AB, WE, A->key, B->key), 0);
	reg_ok(B);

	/* one of A's writes admitted before B fences A */
	slot = old_cmd_start();
	h_nr_async = 0;
	preempt_abort_held(B, EA, A->key);
	/* the reservation changed at once: A is refused, B works, while the acquire waits */
	expect_access(A, CONFLICT, CONFLICT);
	expect_access(B, 0, 0);
	assert_int_equal(held_rtype(), EA);
	assert_int_equal(fake_pg_run_deferred_once(), 1);
	assert_int_equal(fake_pg_run_deferred_once(), 1);
	assert_int_equal(h_nr_async, 0);
	/* A's old write completes: so does the acquire, with success */
	old_cmd_end(slot);
	assert_int_equal(fake_pg_run_deferred_once(), 1);
	assert_int_equal(h_nr_async, 1);
	assert_int_equal(h_async[0].status, 0);
	assert_false(fake_pg_deferred_pending());
	assert_int_equal(atomic_load(&ns1()->inflight[0]) + atomic_load(&ns1()->inflight[1]), 0);
}

static void test_preempt_abort_one_drain_at_a_time(void **state)
{
	unsigned int x, y;

	reg_ok(A);
	reg_ok(B);
	reg_ok(C);
	acq_ok(A, WE);
	x = old_cmd_start();
	h_nr_async = 0;
	preempt_abort_held(B, WE, A->key);
	/* a command admitted under B's reservation, before C fences B: C's drain waits for it */
	y = old_cmd_start();
	assert_int_not_equal(x, y);
	preempt_abort_held(C, WERO, B->key);
	/* C's drain has not moved the epoch on yet: new commands do not delay B's drain */
	assert_int_equal(old_cmd_start(), y);
	old_cmd_end(y);
	assert_int_equal(held_rtype(), WERO);
	expect_access(B, 0, CONFLICT);
	fake_pg_run_deferred_once();
	assert_int_equal(h_nr_async, 0);
	/* the first drain ends; the second only starts now, and waits for y */
	old_cmd_end(x);
	fake_pg_run_deferred_once();
	fake_pg_run_deferred_once();
	assert_int_equal(h_nr_async, 1);
	assert_int_equal(h_async[0].status, 0);
	assert_true(fake_pg_deferred_pending());
	fake_pg_run_deferred_once();
	assert_int_equal(h_nr_async, 1);
	old_cmd_end(y);
	fake_pg_run_deferred_once();
	assert_int_equal(h_nr_async, 2);
	assert_int_equal(h_async[1].status, 0);
	assert_false(fake_pg_deferred_pending());
}

static void test_persistence_feature(void **state)
{
	struct h_result r = feature(A, false, NVME_FEAT_FID_RESV_PERSIST, 1, 0);

	/* PTPL is not offered: 0, and it cannot be turned on */
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 0);
	assert_int_equal(feature(A, true, NVME_FEAT_FID_RESV_PERSIST, 1, 1).status, INVALID);
	assert_int_equal(feature(A, true, NVME_FEAT_FID_RESV_PERSIST, 1, 0).status, 0);
	assert_int_equal(feature(A, false, NVME_FEAT_FID_RESV_PERSIST, 2, 0).status, INVALID_NS);
	assert_int_equal(feature(A, true, NVME_FEAT_FID_RESV_PERSIST, 2, 0).status, INVALID_NS);
}

static uint8_t ptpls(void)
{
	assert_int_equal(report(A, 4096, true).status, 0);
	return rs()->ptpls;
}

static uint8_t rescap(void)
{
	struct nvme_sqe sqe = h_admin_sqe(nvme_admin_identify, 1, NVME_IDENTIFY_CNS_NS, 0, 4096);

	assert_int_equal(h_submit(A->admin, &sqe, NULL, 0).status, 0);
	return ((const struct nvme_id_ns *)h_data)->rescap;
}

static void test_ptpl_restart(void **state)
{
	uint32_t gen;

	assert_int_equal(rescap(), 0xff); /* PTPL offered */
	assert_int_equal(ptpls(), 0);
	/* CPTPL 11b: on; every change is in the file before it is answered */
	assert_int_equal(reg(A, REGISTER | 3u << 30, 0, A->key), 0);
	assert_int_equal(ptpls(), 1);
	reg_ok(B);
	acq_ok(A, WE);
	gen = generation();
	restart();
	assert_int_equal(held_rtype(), WE);
	assert_int_equal(nr_registrants(), 2);
	assert_int_equal(generation(), gen);
	assert_int_equal(ptpls(), 1);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, false, B->key);
	/* fenced from the first command after the restart */
	expect_access(B, 0, CONFLICT);
	expect_access(C, 0, CONFLICT);
	expect_access(A, 0, 0);
	assert_int_equal(acq(B, PREEMPT, EA, B->key, A->key), 0);
	restart();
	assert_int_equal(held_rtype(), EA);
	assert_int_equal(nr_registrants(), 1);
	expect_access(A, CONFLICT, CONFLICT);

	/* Set Features 83h reads it and turns it off: the next restart starts empty */
	assert_int_equal(
		le32toh(feature(A, false, NVME_FEAT_FID_RESV_PERSIST, 1, 0).cqe.result.u32), 1);
	assert_int_equal(feature(A, true, NVME_FEAT_FID_RESV_PERSIST, 1, 0).status, 0);
	assert_int_equal(
		le32toh(feature(A, false, NVME_FEAT_FID_RESV_PERSIST, 1, 0).cqe.result.u32), 0);
	restart();
	assert_int_equal(held_rtype(), 0);
	assert_int_equal(nr_registrants(), 0);
	/* and on again; CPTPL 10b of a later Register turns it off */
	assert_int_equal(feature(A, true, NVME_FEAT_FID_RESV_PERSIST, 1, 1).status, 0);
	reg_ok(A);
	restart();
	assert_int_equal(nr_registrants(), 1);
	assert_int_equal(reg(B, REGISTER | 2u << 30, 0, B->key), 0);
	assert_int_equal(ptpls(), 0);
	restart();
	assert_int_equal(nr_registrants(), 0);
}

/* An All Registrants reservation whose last-listed registrant left is kept, and loads again */
static void test_ptpl_all_registrants(void **state)
{
	assert_int_equal(reg(A, REGISTER | 3u << 30, 0, A->key), 0);
	reg_ok(B);
	reg_ok(C);
	assert_int_equal(acq(C, ACQUIRE, WEAR, C->key, 0), 0);
	assert_int_equal(reg(C, UNREGISTER, C->key, 0), 0);
	assert_int_equal(held_rtype(), WEAR);
	restart();
	assert_int_equal(held_rtype(), WEAR);
	assert_int_equal(nr_registrants(), 2);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, true, B->key);
	expect_access(C, 0, CONFLICT);
	expect_access(B, 0, 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_ptpl_bad_file(void **state)
{
	static const char *const bad[] = {
		"not json",
		"[]",
		"{\"gen\": 1}",
		"{\"ptpl\": 1}",
		"{\"ptpl\": true, \"gen\": 1, \"rtype\": 7, \"holder\": -1, \"registrants\": []}",
		"{\"ptpl\": true, \"gen\": 1, \"rtype\": 1, \"holder\": 0, \"registrants\": []}",
		"{\"ptpl\": true, \"gen\": 1, \"rtype\": 1, \"holder\": -1, \"registrants\": "
		"[{\"hostid\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\", \"rkey\": "
		"\"00000000000000a0\"}]}",
		"{\"ptpl\": true, \"gen\": -1, \"rtype\": 0, \"holder\": -1, \"registrants\": []}",
		"{\"ptpl\": true, \"gen\": 1, \"rtype\": 0, \"holder\": -1, \"registrants\": "
		"[{\"hostid\": \"a0a1\", \"rkey\": \"00000000000000a0\"}]}",
		"{\"ptpl\": true, \"gen\": 1, \"rtype\": 0, \"holder\": -1, \"registrants\": "
		"[{\"hostid\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\", \"rkey\": \"zz\"}]}",
		"{\"ptpl\": true, \"gen\": 1, \"rtype\": 0, \"holder\": -1, \"registrants\": "
		"[{\"hostid\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\", \"rkey\": "
		"\"0000000000000001\"},"
		" {\"hostid\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\", \"rkey\": "
		"\"0000000000000002\"}]}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h_target_down();
		write_file(ptpl_path, bad[i]);
		h_setup_may_fail = true;
		h_target_up(NULL, 0);
		if (!h_setup_result)
			fail_msg("the target started with reservations file %s", bad[i]);
	}
	/* a good one: A holds Write Exclusive with key a0 */
	h_target_down();
	write_file(ptpl_path,
		   "{\"ptpl\": true, \"gen\": 9, \"rtype\": 1, \"holder\": 0, \"registrants\": "
		   "[{\"hostid\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\", \"rkey\": "
		   "\"1122334455667788\"}]}");
	h_setup_may_fail = false;
	restart();
	assert_int_equal(held_rtype(), WE);
	assert_int_equal(generation(), 9);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(A, ROOM, true, 0x1122334455667788ull);
	expect_access(B, 0, CONFLICT);
	/* persistence was off when it was written: nothing of it is loaded */
	h_target_down();
	write_file(ptpl_path, "{\"ptpl\": false, \"gen\": 9, \"rtype\": 1, \"holder\": 0}");
	restart();
	assert_int_equal(held_rtype(), 0);
	assert_int_equal(nr_registrants(), 0);
}

static void test_ptpl_cannot_keep(void **state)
{
	/* a file that cannot be written: the change does not happen */
	h_target_down();
	h_ns_ptpl_file = "/nonexistent-dn-dir/resv.json";
	restart();
	assert_int_equal(reg(A, REGISTER | 3u << 30, 0, A->key), NO_ROOM);
	assert_int_equal(nr_registrants(), 0);
	assert_int_equal(ptpls(), 0);
	assert_int_equal(feature(A, true, NVME_FEAT_FID_RESV_PERSIST, 1, 1).status, NO_ROOM);
	assert_int_equal(
		le32toh(feature(A, false, NVME_FEAT_FID_RESV_PERSIST, 1, 0).cqe.result.u32), 0);
}

/* ---- a namespace re-created by a configuration reload ---- */

#define NOT_READY NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY)

/*
 * Reload with namespace 1 on path, its EUI-64 set to eui bytes (a new identity: the reload
 * re-creates it) and ptpl_file ptpl (or none); returns the namespace published now.
 */
static struct dn_tgt_ns *reload_ns(const char *path, uint8_t eui, const char *ptpl)
{
	struct dn_tgt_config cfg;

	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, H_SUBNQN, &path, 1,
						 NULL, 0),
			 0);
	cfg.subsys[0].ns[0].has_eui64 = true;
	memset(cfg.subsys[0].ns[0].eui64, eui, sizeof(cfg.subsys[0].ns[0].eui64));
	if (ptpl)
		assert_non_null(cfg.subsys[0].ns[0].ptpl_file = strdup(ptpl));
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	return dn_tgt_ns_lookup(dn_tgt_subsys_find(H_SUBNQN), 1);
}

/*
 * A command of h's as if it had looked the namespace up before the reload: it reaches `old`.
 * op: an I/O opcode, or Reservation Register / Report. The current namespace is back in its
 * slot before the caller checks the status.
 */
static nvme_status_t cmd_on(struct dn_tgt_ns *old, struct host *h, uint8_t op)
{
	struct dn_tgt_subsys *s = dn_tgt_subsys_find(H_SUBNQN);
	struct dn_tgt_ns *cur = dn_tgt_ns_lookup(s, 1);
	nvme_status_t st;

	atomic_store(&s->ns[1], old);
	if (op == nvme_cmd_resv_register)
		st = reg(h, REGISTER, 0, h->key);
	else if (op == nvme_cmd_resv_report)
		st = report(h, 4096, true).status;
	else
		st = io_cmd(h, op);
	atomic_store(&s->ns[1], cur);
	return st;
}

static nvme_status_t reg_on(struct dn_tgt_ns *old, struct host *h)
{
	return cmd_on(old, h, nvme_cmd_resv_register);
}

static void test_reload_keeps_reservations(void **state)
{
	char other[64] = "/tmp/dn-test-pr-other-XXXXXX";
	struct dn_tgt_ns *old = dn_tgt_ns_lookup(dn_tgt_subsys_find(H_SUBNQN), 1), *ns;
	uint32_t gen;
	int fd;

	/* with no reservation held (the I/O check's lock-free case) a late command is refused */
	reg_ok(A);
	ns = reload_ns(h_ns_path, 0x10, NULL);
	assert_int_equal(cmd_on(old, B, nvme_cmd_read), NOT_READY);
	expect_access(B, 0, 0);
	old = ns;

	reg_ok(B);
	acq_ok(A, WE);
	gen = generation();
	assert_int_equal(
		feature(B, true, NVME_FEAT_FID_RESV_MASK, 1, NVME_FEAT_RESV_NOTIFY_REGPRE).status,
		0);

	/* same backing, new identity: a new namespace object, the fence stays up */
	ns = reload_ns(h_ns_path, 0x11, NULL);
	assert_ptr_not_equal(ns, old);
	assert_int_equal(held_rtype(), WE);
	assert_int_equal(nr_registrants(), 2);
	assert_int_equal(generation(), gen);
	assert_int_equal(report(A, 4096, true).status, 0);
	expect_entry(A, ROOM, true, A->key);
	expect_entry(B, ROOM, false, B->key);
	expect_access(B, 0, CONFLICT);
	expect_access(C, 0, CONFLICT);
	expect_access(A, 0, 0);
	assert_int_equal(le32toh(feature(B, false, NVME_FEAT_FID_RESV_MASK, 1, 0).cqe.result.u32),
			 NVME_FEAT_RESV_NOTIFY_REGPRE);

	/* a Register that reached the namespace it replaced changes nothing; retrying works */
	assert_int_equal(reg_on(old, C), NOT_READY);
	assert_int_equal(nr_registrants(), 2);
	/* so are an I/O command (its check would see the old registrations) and a Report */
	assert_int_equal(cmd_on(old, A, nvme_cmd_read), NOT_READY);
	assert_int_equal(cmd_on(old, A, nvme_cmd_write), NOT_READY);
	assert_int_equal(cmd_on(old, A, nvme_cmd_resv_report), NOT_READY);
	expect_access(A, 0, 0);
	reg_ok(C);
	assert_int_equal(nr_registrants(), 3);
	assert_int_equal(generation(), gen + 1);

	/* other backing (no ptpl_file to say otherwise): another medium, nothing carried over */
	fd = mkstemp(other);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, H_NS_BYTES), 0);
	close(fd);
	reload_ns(other, 0x11, NULL);
	unlink(other);
	assert_int_equal(held_rtype(), 0);
	assert_int_equal(nr_registrants(), 0);
	expect_access(B, 0, 0);
}

/* A Preempt and Abort on the new object also waits for what the replaced one admitted */
static void test_reload_preempt_abort_waits_for_replaced(void **state)
{
	struct dn_tgt_ns *old = ns1(), *ns;
	unsigned int slot;

	reg_ok(A);
	reg_ok(B);
	acq_ok(A, WE);
	slot = old_cmd_start(); /* one of A's writes, admitted before the reload */
	ns = reload_ns(h_ns_path, 0x33, NULL);
	assert_ptr_not_equal(ns, old);
	assert_ptr_equal(ns->pr.pred, old);
	h_nr_async = 0;
	preempt_abort_held(B, EA, A->key);
	expect_access(A, CONFLICT, CONFLICT);
	assert_int_equal(fake_pg_run_deferred_once(), 1);
	assert_int_equal(fake_pg_run_deferred_once(), 1);
	assert_int_equal(h_nr_async, 0);
	atomic_fetch_sub(&old->inflight[slot], 1);
	assert_int_equal(fake_pg_run_deferred_once(), 1);
	assert_int_equal(h_nr_async, 1);
	assert_int_equal(h_async[0].status, 0);
	assert_false(fake_pg_deferred_pending());
	/* freed once idle: its successor no longer points at it */
	assert_ptr_equal(dn_tgt.retired_ns, old);
	old->retired_ms -= 10000;
	dn_tgt_reap_retired(false);
	assert_null(dn_tgt.retired_ns);
	assert_null(ns->pr.pred);
	assert_int_equal(acq(A, PREEMPT_AB, WE, A->key, B->key),
			 CONFLICT); /* A is not registered */
	reg_ok(A);
	assert_int_equal(acq(A, PREEMPT_AB, WE, A->key, B->key), 0);
}

/* Read ptpl_path whole into buf (NUL-terminated). */
static void read_ptpl(char *buf, size_t size)
{
	FILE *f = fopen(ptpl_path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	fclose(f);
}

static void test_ptpl_reload(void **state)
{
	struct dn_tgt_ns *old = dn_tgt_ns_lookup(dn_tgt_subsys_find(H_SUBNQN), 1), *ns;
	char before[4096], after[4096], moved[96];

	assert_int_equal(reg(A, REGISTER | 3u << 30, 0, A->key), 0);
	acq_ok(A, WE);
	ns = reload_ns(h_ns_path, 0x22, ptpl_path);
	assert_ptr_not_equal(ns, old);
	assert_int_equal(held_rtype(), WE);
	assert_int_equal(ptpls(), 1);
	/* the namespace it replaced no longer writes the file */
	read_ptpl(before, sizeof(before));
	assert_int_equal(reg_on(old, B), NOT_READY);
	read_ptpl(after, sizeof(after));
	assert_string_equal(before, after);
	/* the new one does, and a restart finds both */
	reg_ok(B);
	restart();
	assert_int_equal(held_rtype(), WE);
	assert_int_equal(nr_registrants(), 2);
	assert_int_equal(ptpls(), 1);
	expect_access(B, 0, CONFLICT);

	/* another ptpl_file: the reservations are the ones that file holds (none yet) */
	snprintf(moved, sizeof(moved), "%s.moved", ptpl_path);
	unlink(moved);
	reload_ns(h_ns_path, 0x22, moved);
	assert_int_equal(held_rtype(), 0);
	assert_int_equal(nr_registrants(), 0);
	unlink(moved);
}

static void test_identify(void **state)
{
	const struct nvme_id_ctrl *ctrl;
	const struct nvme_id_ns *ns;
	const struct nvme_cmd_effects_log *eff;
	struct nvme_sqe sqe;

	sqe = h_admin_sqe(nvme_admin_identify, 0, NVME_IDENTIFY_CNS_CTRL, 0, 4096);
	assert_int_equal(h_submit(A->admin, &sqe, NULL, 0).status, 0);
	ctrl = (const void *)h_data;
	assert_true(le16toh(ctrl->oncs) & NVME_CTRL_ONCS_RESERVATIONS);
	assert_int_equal(le16toh(ctrl->oncs) & (1u << 5), 1u << 5);
	sqe = h_admin_sqe(nvme_admin_identify, 1, NVME_IDENTIFY_CNS_NS, 0, 4096);
	assert_int_equal(h_submit(A->admin, &sqe, NULL, 0).status, 0);
	ns = (const void *)h_data;
	/* the six types and IEKEY as NVMe 1.3 defines it; no persistence through power loss */
	assert_int_equal(ns->rescap, 0xfe);
	sqe = h_admin_sqe(nvme_admin_get_log_page, 0,
			  NVME_LOG_LID_CMD_EFFECTS | (4096u / 4 - 1) << 16, 0, 4096);
	assert_int_equal(h_submit(A->admin, &sqe, NULL, 0).status, 0);
	eff = (const void *)h_data;
	assert_int_equal(le32toh(eff->iocs[nvme_cmd_resv_register]), NVME_CMD_EFFECTS_CSUPP);
	assert_int_equal(le32toh(eff->iocs[nvme_cmd_resv_report]), NVME_CMD_EFFECTS_CSUPP);
	assert_int_equal(le32toh(eff->iocs[nvme_cmd_resv_acquire]), NVME_CMD_EFFECTS_CSUPP);
	assert_int_equal(le32toh(eff->iocs[nvme_cmd_resv_release]), NVME_CMD_EFFECTS_CSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_in_capsule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registration_belongs_to_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acquire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_by_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_before_own_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt_no_reservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_preempts_another_registrant, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_preempt_all_registrants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregister_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notification_aen_and_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notification_released_and_preempted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_notification_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preempt_abort_waits_for_older_commands, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_preempt_abort_one_drain_at_a_time, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_persistence_feature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptpl_restart, setup_ptpl, teardown_ptpl),
		cmocka_unit_test_setup_teardown(test_ptpl_bad_file, setup_ptpl, teardown_ptpl),
		cmocka_unit_test_setup_teardown(test_ptpl_all_registrants, setup_ptpl,
						teardown_ptpl),
		cmocka_unit_test_setup_teardown(test_ptpl_cannot_keep, setup_ptpl, teardown_ptpl),
		cmocka_unit_test_setup_teardown(test_reload_keeps_reservations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_preempt_abort_waits_for_replaced, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ptpl_reload, setup_ptpl, teardown_ptpl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
