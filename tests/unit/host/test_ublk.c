// SPDX-License-Identifier: MIT
/* Tests for host/ublk.c that need no kernel support: argument validation in dn_ublk_create. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/ublk.h"

static void queue_io(struct dn_ublk_queue *q, uint16_t tag, const struct ublksrv_io_desc *iod,
		     void *buf)
{
	dn_ublk_complete(q, tag, 0);
}

static const struct dn_ublk_ops ops = {.queue_io = queue_io};
static const struct dn_ublk_ops no_queue_io = {0};

static struct dn_ublk_params good(void)
{
	return (struct dn_ublk_params){
		.size = 1 << 30,
		.lbs_shift = 12,
		.max_io_bytes = 128 << 10,
		.nr_queues = 4,
		.queue_depth = 128,
		.dev_id = -1,
	};
}

static void test_create_rejects_bad_arguments(void **state)
{
	struct dn_ublk_params p = good();
	struct dn_ublk_dev *dev = (struct dn_ublk_dev *)0x1;

	assert_int_equal(dn_ublk_create(&p, NULL, NULL, &dev), -EINVAL);
	assert_int_equal(dn_ublk_create(&p, &no_queue_io, NULL, &dev), -EINVAL);
	assert_int_equal(dn_ublk_create(&p, &ops, NULL, NULL), -EINVAL);
	p.size = 4096 * 3 + 512; /* not whole 4k blocks */
	assert_int_equal(dn_ublk_create(&p, &ops, NULL, &dev), -EINVAL);
	p = good();
	p.queue_depth = 0;
	assert_int_equal(dn_ublk_create(&p, &ops, NULL, &dev), -EINVAL);
	p = good();
	p.max_io_bytes = 1000;
	assert_int_equal(dn_ublk_create(&p, &ops, NULL, &dev), -EINVAL);
	/* nothing was handed out on failure */
	assert_ptr_equal(dev, (struct dn_ublk_dev *)0x1);
}

/* Without ublk_drv the error names the missing control device, so callers can say why. */
static void test_create_without_ublk(void **state)
{
	struct dn_ublk_params p = good();
	struct dn_ublk_dev *dev = NULL;

	if (!access("/dev/ublk-control", F_OK))
		skip(); /* a machine with ublk: the VM scenarios cover creation */
	assert_int_equal(dn_ublk_create(&p, &ops, NULL, &dev), -ENOENT);
	assert_null(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_rejects_bad_arguments),
		cmocka_unit_test(test_create_without_ublk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
