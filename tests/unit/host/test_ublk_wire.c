// SPDX-License-Identifier: MIT
/* Tests for host/ublk_wire.c: parameter checks, ADD_DEV/SET_PARAMS payloads, SQEs, iods. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "host/ublk_wire.h"

#define PAGE 4096

static struct dn_ublk_params base(void)
{
	return (struct dn_ublk_params){
		.size = 256ull << 20,
		.lbs_shift = 9,
		.max_io_bytes = 512 << 10,
		.nr_queues = 2,
		.queue_depth = 64,
		.flush = true,
		.discard = true,
		.write_zeroes = true,
		.dev_id = -1,
	};
}

static void test_params_check(void **state)
{
	struct dn_ublk_params p = base();

	assert_int_equal(dn_ublk_params_check(&p, PAGE), 0);
#define BAD(field, val)                                                    \
	do {                                                               \
		p = base();                                                \
		p.field = val;                                             \
		assert_int_equal(dn_ublk_params_check(&p, PAGE), -EINVAL); \
	} while (0)
	BAD(lbs_shift, 8);
	BAD(lbs_shift, 13);
	BAD(size, 0);
	BAD(size, (256ull << 20) + 256);
	BAD(max_io_bytes, 4095); /* rounds down to nothing */
	BAD(max_io_bytes, (32u << 20) + 4096);
	BAD(nr_queues, 0);
	BAD(nr_queues, 4097);
	BAD(queue_depth, 0);
	BAD(queue_depth, 4097);
	BAD(dev_id, -2);
	BAD(dev_id, 1 << 20);
#undef BAD
	/* a 4k-block device needs whole-block limits */
	p = base();
	p.lbs_shift = 12;
	p.max_write_zeroes_sectors = 12;
	assert_int_equal(dn_ublk_params_check(&p, PAGE), -EINVAL);
	p.max_write_zeroes_sectors = 16;
	assert_int_equal(dn_ublk_params_check(&p, PAGE), 0);
	/* 4k blocks on a 4k-page machine, not beyond the page */
	assert_int_equal(dn_ublk_params_check(&p, 2048), -EINVAL);
	p = base();
	p.max_io_bytes = 4097;
	p.dev_id = (1 << 20) - 1;
	assert_int_equal(dn_ublk_params_check(&p, PAGE), 0);
	assert_int_equal(dn_ublk_effective_max_io(4097, PAGE), 4096);
	assert_int_equal(dn_ublk_effective_max_io(131072, PAGE), 131072);
}

static void test_dev_info(void **state)
{
	static const uint8_t want[64] = {
		0x02, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, /* queues, depth, state, pad */
		0x00, 0x00, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff, /* max_io_buf_bytes, dev_id any */
		0x39, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* creator pid 12345, pad */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* no feature flags */
		'D',  'd',  'i',  's',	'n',  'v',  'm',  'e',	/* ublksrv_flags: ours */
	};
	struct dn_ublk_params p = base();
	struct ublksrv_ctrl_dev_info info;

	assert_int_equal(sizeof(info), 64);
	memset(&info, 0xa5, sizeof(info));
	dn_ublk_build_dev_info(&p, 512 << 10, 12345, &info);
	assert_memory_equal(&info, want, sizeof(want));

	p.dev_id = 7;
	dn_ublk_build_dev_info(&p, 512 << 10, 12345, &info);
	assert_int_equal(info.dev_id, 7);
}

static int32_t live_pid = 100;

static bool alive(int32_t pid)
{
	return pid == live_pid;
}

static void test_reapable(void **state)
{
	struct dn_ublk_params p = base();
	struct ublksrv_ctrl_dev_info info;

	/* created by pid 200, which is gone, never started */
	dn_ublk_build_dev_info(&p, 512 << 10, 200, &info);
	assert_true(dn_ublk_is_reapable(&info, alive));
	/* its creator still runs (maybe between ADD_DEV and START_DEV) */
	info.ublksrv_pid = live_pid;
	assert_false(dn_ublk_is_reapable(&info, alive));
	/* live: a running server's device, whatever its pid */
	info.state = UBLK_S_DEV_LIVE;
	info.ublksrv_pid = 200;
	assert_false(dn_ublk_is_reapable(&info, alive));
	/* quiesced (another server's user recovery) is not ours to judge */
	info.state = UBLK_S_DEV_QUIESCED;
	assert_false(dn_ublk_is_reapable(&info, alive));
	/* stopped by the driver after its server died: pid -1 */
	info.state = UBLK_S_DEV_DEAD;
	info.ublksrv_pid = -1;
	assert_true(dn_ublk_is_reapable(&info, alive));
	/* someone else's device (ublksrv, kublk): never */
	info.ublksrv_flags = 0;
	assert_false(dn_ublk_is_reapable(&info, alive));
}

static void test_params_full(void **state)
{
	static const uint8_t want[64] = {
		0x40, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, /* len 64, basic + discard */
		0x0c, 0x00, 0x00, 0x00, 0x09, 0x09, 0x09, 0x09, /* volatile cache + FUA, shifts */
		0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* max_sectors 1024, chunk 0 */
		0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, /* dev_sectors 524288 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* virt_boundary_mask */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, /* alignment, granularity 512 */
		0xff, 0xff, 0x7f, 0x00, 0xff, 0xff, 0x7f, 0x00, /* max discard, max write zeroes */
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* one segment, padding */
	};
	struct dn_ublk_params p = base();
	struct ublk_params out;

	assert_int_equal(sizeof(out), 64);
	memset(&out, 0xa5, sizeof(out));
	dn_ublk_build_params(&p, 512 << 10, &out);
	assert_memory_equal(&out, want, sizeof(want));
}

static void test_params_ro_4k_write_zeroes_only(void **state)
{
	static const uint8_t want[64] = {
		0x40, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, /* write zeroes needs discard */
		0x01, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x0c, 0x0c, /* read-only, 4k */
		0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* max_sectors 256 */
		0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, /* dev_sectors 65536 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, /* granularity 4096 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, /* no discard, wz 2048 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* no discard segments */
	};
	struct dn_ublk_params p = base();
	struct ublk_params out;

	p.size = 32 << 20;
	p.lbs_shift = 12;
	p.read_only = true;
	p.flush = false;
	p.discard = false;
	p.max_write_zeroes_sectors = 2048;
	dn_ublk_build_params(&p, 128 << 10, &out);
	assert_memory_equal(&out, want, sizeof(want));

	/* neither discard nor write zeroes: basic only, discard block zeroed */
	p.write_zeroes = false;
	dn_ublk_build_params(&p, 128 << 10, &out);
	assert_int_equal(out.types, UBLK_PARAM_TYPE_BASIC);
	assert_int_equal(out.discard.discard_granularity, 0);
	assert_int_equal(out.discard.max_write_zeroes_sectors, 0);
	assert_int_equal(out.len, 64);
}

static void test_opcodes(void **state)
{
	/* the ioctl encodings the 6.3+ uapi header defines */
	assert_int_equal(UBLK_U_CMD_ADD_DEV, 0xc0207504);
	assert_int_equal(UBLK_U_CMD_DEL_DEV, 0xc0207505);
	assert_int_equal(UBLK_U_CMD_START_DEV, 0xc0207506);
	assert_int_equal(UBLK_U_CMD_STOP_DEV, 0xc0207507);
	assert_int_equal(UBLK_U_CMD_SET_PARAMS, 0xc0207508);
	assert_int_equal(UBLK_U_IO_FETCH_REQ, 0xc0107520);
	assert_int_equal(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0xc0107521);
}

static void test_ctrl_sqe(void **state)
{
	uint8_t sqe[128], want[128];
	struct ublksrv_ctrl_cmd c = {
		.dev_id = 3,
		.queue_id = 0xffff,
		.len = 64,
		.addr = 0x1122334455667788ull,
		.data = {0x1234},
	};

	memset(sqe, 0xa5, sizeof(sqe));
	dn_ublk_prep_ctrl_cmd((struct io_uring_sqe *)sqe, 9, UBLK_U_CMD_SET_PARAMS, &c);
	memset(want, 0, sizeof(want));
	want[0] = 46; /* IORING_OP_URING_CMD */
	want[4] = 9;  /* fd */
	want[8] = 0x08;
	want[9] = 0x75;
	want[10] = 0x20;
	want[11] = 0xc0; /* cmd_op */
	want[48] = 3;	 /* dev_id */
	want[52] = 0xff;
	want[53] = 0xff; /* queue_id */
	want[54] = 64;	 /* len */
	memcpy(&want[56], (const uint8_t[]){0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, 8);
	want[64] = 0x34;
	want[65] = 0x12; /* data[0] */
	assert_memory_equal(sqe, want, sizeof(want));
}

static void test_io_sqe(void **state)
{
	uint8_t sqe[64], want[64];

	memset(sqe, 0xa5, sizeof(sqe));
	dn_ublk_prep_io_cmd((struct io_uring_sqe *)sqe, 5, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 1, 63,
			    -5, 0x7f0000001000ull);
	memset(want, 0, sizeof(want));
	want[0] = 46;
	want[4] = 5;
	want[8] = 0x21;
	want[9] = 0x75;
	want[10] = 0x10;
	want[11] = 0xc0;
	want[48] = 1;  /* q_id */
	want[50] = 63; /* tag */
	want[52] = 0xfb;
	want[53] = 0xff;
	want[54] = 0xff;
	want[55] = 0xff; /* result -5 */
	memcpy(&want[56], (const uint8_t[]){0x00, 0x10, 0x00, 0x00, 0x00, 0x7f, 0x00, 0x00}, 8);
	assert_memory_equal(sqe, want, sizeof(want));
}

static void test_desc_area(void **state)
{
	assert_int_equal(sizeof(struct ublksrv_io_desc), 24);
	assert_int_equal(dn_ublk_desc_len(64, PAGE), 4096);
	assert_int_equal(dn_ublk_desc_len(171, PAGE), 8192); /* 4104 bytes */
	assert_int_equal(dn_ublk_desc_len(4096, PAGE), 98304);
	assert_int_equal(dn_ublk_desc_offset(0, PAGE), 0);
	assert_int_equal(dn_ublk_desc_offset(1, PAGE), 98304);
	assert_int_equal(dn_ublk_desc_offset(3, PAGE), 3 * 98304);
}

static void test_io_decode(void **state)
{
	const uint64_t dev = 1 << 20; /* 2048 sectors */
	struct ublksrv_io_desc iod = {0};
	struct dn_ublk_io io;

	iod.op_flags = UBLK_IO_OP_WRITE | UBLK_IO_F_FUA;
	iod.start_sector = 2040;
	iod.nr_sectors = 8;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), 0);
	assert_int_equal(io.op, UBLK_IO_OP_WRITE);
	assert_int_equal(io.flags, UBLK_IO_F_FUA);
	assert_true(io.flags & UBLK_IO_F_FUA);
	assert_int_equal(io.offset, 2040 * 512);
	assert_int_equal(io.len, 4096);

	iod.op_flags = UBLK_IO_OP_READ;
	iod.nr_sectors = 16; /* over max_io_bytes */
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -EINVAL);
	iod.nr_sectors = 0;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -EINVAL);
	iod.start_sector = 2041; /* one sector past the end */
	iod.nr_sectors = 8;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -ERANGE);
	iod.start_sector = UINT64_MAX >> 3; /* would wrap when turned into bytes */
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -ERANGE);

	/* discard and write zeroes are not bound by max_io_bytes, but by the device */
	iod.op_flags = UBLK_IO_OP_DISCARD;
	iod.start_sector = 0;
	iod.nr_sectors = 2048;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), 0);
	assert_int_equal(io.len, dev);
	iod.op_flags = UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), 0);
	assert_int_equal(io.flags, UBLK_IO_F_NOUNMAP);
	iod.nr_sectors = 2049;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -ERANGE);
	iod.nr_sectors = 0;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -EINVAL);

	/* flush carries no range */
	iod.op_flags = UBLK_IO_OP_FLUSH;
	iod.start_sector = 12345;
	iod.nr_sectors = 7;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), 0);
	assert_int_equal(io.offset, 0);
	assert_int_equal(io.len, 0);

	iod.op_flags = UBLK_IO_OP_WRITE_SAME;
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -EOPNOTSUPP);
	iod.op_flags = 10; /* a zoned op this device never gets */
	assert_int_equal(dn_ublk_io_decode(&iod, dev, 4096, &io), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_check),
		cmocka_unit_test(test_dev_info),
		cmocka_unit_test(test_reapable),
		cmocka_unit_test(test_params_full),
		cmocka_unit_test(test_params_ro_4k_write_zeroes_only),
		cmocka_unit_test(test_opcodes),
		cmocka_unit_test(test_ctrl_sqe),
		cmocka_unit_test(test_io_sqe),
		cmocka_unit_test(test_desc_area),
		cmocka_unit_test(test_io_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
