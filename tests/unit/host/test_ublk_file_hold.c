// SPDX-License-Identifier: MIT
/*
 * Tests for host/ublk_file.c's request state machine, stepped without ublk: the library side
 * (queue, ring, dn_ublk_complete) is faked here, the file is real (in /dev/shm, so reads and
 * writes are inline; --uring-only requests go through a real io_uring).
 */
#include <errno.h>
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

#include "host/ublk_file.h"
#include "host/ublk_wire.h"

#define DEPTH	  4
#define MAX_IO	  (64 << 10)
#define FILE_SIZE (1 << 20)

/* ---- the library, faked ---- */

struct dn_ublk_dev {
	void *priv;
};

struct dn_ublk_queue {
	struct dn_ublk_dev *dev;
	struct io_uring ring;
	void *priv;
};

static struct {
	uint16_t tag;
	int res;
} done[64];
static unsigned int nr_done;

void dn_ublk_complete(struct dn_ublk_queue *q, uint16_t tag, int res)
{
	assert_true(nr_done < 64);
	done[nr_done].tag = tag;
	done[nr_done].res = res;
	nr_done++;
}

struct io_uring *dn_ublk_queue_ring(struct dn_ublk_queue *q)
{
	return &q->ring;
}
void *dn_ublk_queue_priv(struct dn_ublk_queue *q)
{
	return q->priv;
}
void dn_ublk_queue_set_priv(struct dn_ublk_queue *q, void *priv)
{
	q->priv = priv;
}
struct dn_ublk_dev *dn_ublk_queue_dev(struct dn_ublk_queue *q)
{
	return q->dev;
}
uint16_t dn_ublk_queue_id(const struct dn_ublk_queue *q)
{
	return 0;
}
void *dn_ublk_priv(const struct dn_ublk_dev *dev)
{
	return dev->priv;
}
int dn_ublk_dev_id(const struct dn_ublk_dev *dev)
{
	return 0;
}
uint16_t dn_ublk_queue_depth(const struct dn_ublk_dev *dev)
{
	return DEPTH;
}
uint16_t dn_ublk_nr_queues(const struct dn_ublk_dev *dev)
{
	return 1;
}
uint32_t dn_ublk_max_io_bytes(const struct dn_ublk_dev *dev)
{
	return MAX_IO;
}
struct dn_ublk_queue *dn_ublk_queue(struct dn_ublk_dev *dev, uint16_t q_id)
{
	return NULL;
}
void dn_ublk_queue_notify(struct dn_ublk_queue *q) {}

/* ---- fixture ---- */

struct fix {
	char path[64];
	struct dn_ublk_file f;
	struct dn_ublk_dev dev;
	struct dn_ublk_queue q;
	char *bufs;
};

static char pattern(uint64_t off)
{
	return (char)(off * 7 + (off >> 12));
}

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	char *data = malloc(FILE_SIZE);
	uint64_t i;
	int fd;

	snprintf(x->path, sizeof(x->path), "/dev/shm/test_ublk_file_hold.XXXXXX");
	fd = mkstemp(x->path);
	if (fd < 0)
		return -1;
	for (i = 0; i < FILE_SIZE; i++)
		data[i] = pattern(i);
	assert_int_equal(pwrite(fd, data, FILE_SIZE, 0), FILE_SIZE);
	close(fd);
	free(data);
	assert_int_equal(dn_ublk_file_open(&x->f, x->path, false, 9), 0);
	assert_true(x->f.in_memory);
	x->dev.priv = &x->f;
	x->q.dev = &x->dev;
	assert_int_equal(io_uring_queue_init(16, &x->q.ring, 0), 0);
	x->bufs = aligned_alloc(4096, DEPTH * MAX_IO);
	assert_int_equal(dn_ublk_file_ops.init_queue(&x->q, x->bufs, DEPTH * MAX_IO), 0);
	nr_done = 0;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	dn_ublk_file_ops.exit_queue(&x->q);
	io_uring_queue_exit(&x->q.ring);
	dn_ublk_file_close(&x->f);
	unlink(x->path);
	free(x->bufs);
	free(x);
	return 0;
}

static char *buf(struct fix *x, uint16_t tag)
{
	return x->bufs + (size_t)tag * MAX_IO;
}

static void submit(struct fix *x, uint16_t tag, uint32_t op_flags, uint64_t sector, uint32_t nr)
{
	struct ublksrv_io_desc iod = {
		.op_flags = op_flags, .nr_sectors = nr, .start_sector = sector};

	dn_ublk_file_ops.queue_io(&x->q, tag, &iod, buf(x, tag));
}

/* run the ring until n completions have been reported in all */
static void run_until(struct fix *x, unsigned int n)
{
	while (nr_done < n) {
		assert_true(io_uring_submit_and_wait(&x->q.ring, 1) >= 0);
		dn_event_dispatch(&x->q.ring);
	}
}

static void set_paused(struct fix *x, bool paused)
{
	atomic_store(&x->f.paused, paused);
	dn_ublk_file_ops.notify(&x->q);
}

static void assert_pattern(const char *p, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(off + i))
			fail_msg("byte %zu of the read at %llu differs", i,
				 (unsigned long long)off);
}

static void test_read_write_inline(void **state)
{
	struct fix *x = *state;
	char back[4096];

	submit(x, 0, UBLK_IO_OP_READ, 16, 8);
	assert_int_equal(nr_done, 1); /* tmpfs: copied inline, completed at once */
	assert_int_equal(done[0].tag, 0);
	assert_int_equal(done[0].res, 4096);
	assert_pattern(buf(x, 0), 16 * 512, 4096);

	memset(buf(x, 1), 0x5a, 4096);
	submit(x, 1, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 8, 8);
	assert_int_equal(nr_done, 2);
	assert_int_equal(done[1].res, 4096);
	assert_int_equal(pread(x->f.fd, back, 4096, 4096), 4096);
	assert_memory_equal(back, buf(x, 1), 4096);

	/* past the end: refused without touching the file */
	submit(x, 2, UBLK_IO_OP_READ, FILE_SIZE / 512 - 4, 8);
	assert_int_equal(nr_done, 3);
	assert_int_equal(done[2].res, -ERANGE);
}

/* Paused: new requests wait unstarted; released in arrival order. */
static void test_hold_new_requests(void **state)
{
	struct fix *x = *state;
	char back[4096];

	set_paused(x, true);
	submit(x, 3, UBLK_IO_OP_READ, 0, 8);
	memset(buf(x, 1), 0xa7, 4096);
	submit(x, 1, UBLK_IO_OP_WRITE, 64, 8);
	assert_int_equal(nr_done, 0);
	/* the write has not happened while held */
	assert_int_equal(pread(x->f.fd, back, 4096, 64 * 512), 4096);
	assert_pattern(back, 64 * 512, 4096);

	set_paused(x, true); /* a repeated pause changes nothing */
	assert_int_equal(nr_done, 0);
	set_paused(x, false);
	assert_int_equal(nr_done, 2);
	assert_int_equal(done[0].tag, 3);
	assert_int_equal(done[0].res, 4096);
	assert_int_equal(done[1].tag, 1);
	assert_int_equal(done[1].res, 4096);
	assert_pattern(buf(x, 3), 0, 4096);
	assert_int_equal(pread(x->f.fd, back, 4096, 64 * 512), 4096);
	assert_memory_equal(back, buf(x, 1), 4096);
}

/* A request in flight on the ring when the pause comes: its completion is held. */
static void test_hold_in_flight_completion(void **state)
{
	struct fix *x = *state;

	x->f.uring_only = true;
	submit(x, 2, UBLK_IO_OP_READ, 256, 128); /* 64 KiB, queued on the ring */
	assert_int_equal(nr_done, 0);
	set_paused(x, true);
	assert_int_equal(io_uring_submit_and_wait(&x->q.ring, 1), 1);
	assert_int_equal(dn_event_dispatch(&x->q.ring), 1);
	assert_int_equal(nr_done, 0); /* finished, but held */
	assert_pattern(buf(x, 2), 256 * 512, 64 << 10);
	set_paused(x, false);
	assert_int_equal(nr_done, 1);
	assert_int_equal(done[0].tag, 2);
	assert_int_equal(done[0].res, 64 << 10);
}

/* stop_queue releases everything held and no pause holds anything afterwards. */
static void test_stop_releases(void **state)
{
	struct fix *x = *state;

	set_paused(x, true);
	submit(x, 0, UBLK_IO_OP_READ, 0, 8);
	submit(x, 1, UBLK_IO_OP_FLUSH, 0, 0);
	assert_int_equal(nr_done, 0);
	dn_ublk_file_ops.stop_queue(&x->q);
	run_until(x, 2); /* the flush goes through the ring */
	assert_int_equal(done[0].tag, 0);
	assert_int_equal(done[0].res, 4096);
	assert_int_equal(done[1].tag, 1);
	assert_int_equal(done[1].res, 0);
	set_paused(x, true);
	submit(x, 2, UBLK_IO_OP_READ, 8, 8);
	assert_int_equal(nr_done, 3);
}

/* Discard punches a hole; write zeroes falls back from ZERO_RANGE on tmpfs and keeps space. */
static void test_discard_write_zeroes(void **state)
{
	struct fix *x = *state;
	static const char zero[8192];
	char back[8192];
	struct stat st0, st1, st2;

	assert_int_equal(fstat(x->f.fd, &st0), 0);
	submit(x, 0, UBLK_IO_OP_DISCARD, 128, 16);
	run_until(x, 1);
	assert_int_equal(done[0].res, 0);
	assert_int_equal(fstat(x->f.fd, &st1), 0);
	assert_int_equal(st0.st_blocks - st1.st_blocks, 16);
	assert_int_equal(pread(x->f.fd, back, 8192, 128 * 512), 8192);
	assert_memory_equal(back, zero, 8192);

	submit(x, 1, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 512, 16);
	run_until(x, 2);
	assert_int_equal(done[1].res, 0);
	assert_int_equal(fstat(x->f.fd, &st2), 0);
	assert_int_equal(st2.st_blocks, st1.st_blocks); /* NOUNMAP: still allocated */
	assert_int_equal(pread(x->f.fd, back, 8192, 512 * 512), 8192);
	assert_memory_equal(back, zero, 8192);
	/* the neighbours are untouched */
	assert_int_equal(pread(x->f.fd, back, 512, 511 * 512), 512);
	assert_pattern(back, 511 * 512, 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_new_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_in_flight_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
