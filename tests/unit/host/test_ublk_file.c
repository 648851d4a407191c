// SPDX-License-Identifier: MIT
/* Tests for host/ublk_file.c without a kernel: opening, size rounding, what it refuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/ublk_file.h"

static void test_open_rounds_size_down(void **state)
{
	char path[] = "/tmp/test_ublk_file.XXXXXX";
	struct dn_ublk_file f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * 4096 + 1000), 0);
	close(fd);

	assert_int_equal(dn_ublk_file_open(&f, path, false, 12), 0);
	assert_int_equal(f.size, 3 * 4096);
	assert_false(f.read_only);
	assert_false(atomic_load(&f.paused));
	dn_ublk_file_close(&f);
	assert_int_equal(f.fd, -1);

	assert_int_equal(dn_ublk_file_open(&f, path, true, 9), 0);
	assert_int_equal(f.size, 3 * 4096 + 512);
	assert_true(f.read_only);
	/* opened read-only for real: a write must fail */
	assert_int_equal(write(f.fd, "x", 1), -1);
	dn_ublk_file_close(&f);
	unlink(path);
}

/* tmpfs files are copied in the queue thread; others go through the ring */
static void test_in_memory(void **state)
{
	char path[] = "/dev/shm/test_ublk_file.XXXXXX";
	struct dn_ublk_file f;
	int fd;

	assert_int_equal(dn_ublk_file_open(&f, "/dev/null", true, 9), -EINVAL);
	fd = mkstemp(path);
	if (fd < 0)
		skip(); /* no /dev/shm here */
	assert_int_equal(ftruncate(fd, 8192), 0);
	close(fd);
	assert_int_equal(dn_ublk_file_open(&f, path, false, 9), 0);
	assert_true(f.in_memory);
	dn_ublk_file_close(&f);
	unlink(path);
}

static void test_open_refuses(void **state)
{
	struct dn_ublk_file f;

	assert_int_equal(dn_ublk_file_open(&f, "/nonexistent/disnvme", false, 9), -ENOENT);
	assert_int_equal(dn_ublk_file_open(&f, "/tmp", true, 9), -EINVAL); /* a directory */
	assert_int_equal(dn_ublk_file_open(&f, "/dev/null", true, 9), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_rounds_size_down),
		cmocka_unit_test(test_in_memory),
		cmocka_unit_test(test_open_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
