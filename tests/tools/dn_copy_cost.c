// SPDX-License-Identifier: MIT
/*
 * dn-copy-cost: what one memory copy of a given size costs on this CPU, done the ways the
 * benchmarks' data paths do it: glibc memcpy (disnvme-target's mapped namespaces),
 * "rep movsb" (the kernel's copy_to_user/copy_from_user on a CPU with ERMS: ublk's copy and
 * pread), "rep movsq", and pread of a tmpfs file (a system call plus the kernel's copy).
 * A benchmark tool (tests/bench/copy-cost.sh), not installed.
 *
 *   dn-copy-cost [-n ITERATIONS] [-f TMPFS_FILE] SIZE...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AREA (1u << 20) /* copies walk over 1 MiB, so they are not all in one cache line */

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void copy_memcpy(void *d, const void *s, size_t n)
{
	memcpy(d, s, n);
}

#if defined(__x86_64__)
static void copy_movsb(void *d, const void *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static void copy_movsq(void *d, const void *s, size_t n)
{
	size_t q = n / 8;

	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
}
#endif

static const struct copy_op {
	const char *name;
	void (*copy)(void *d, const void *s, size_t n);
} copy_ops[] = {
	{"memcpy", copy_memcpy},
#if defined(__x86_64__)
	{"rep movsb", copy_movsb},
	{"rep movsq", copy_movsq},
#endif
};

static int usage(void)
{
	fprintf(stderr,
		"usage: dn-copy-cost [-n ITERATIONS] [-f TMPFS_FILE] SIZE...\n"
		"  SIZE: bytes, a multiple of 8 up to %u\n",
		AREA / 2);
	return 2;
}

int main(int argc, char **argv)
{
	const char *file = "/dev/shm/dn-copy-cost";
	char *src = NULL, *dst = NULL;
	long iters = 20000;
	int opt, i, fd, ret = 1;

	while ((opt = getopt(argc, argv, "n:f:")) != -1) {
		if (opt == 'n')
			iters = strtol(optarg, NULL, 0);
		else if (opt == 'f')
			file = optarg;
		else
			return usage();
	}
	if (optind >= argc || iters <= 0)
		return usage();
	src = aligned_alloc(4096, AREA);
	dst = aligned_alloc(4096, AREA);
	if (!src || !dst) {
		fprintf(stderr, "dn-copy-cost: out of memory\n");
		goto out;
	}
	memset(src, 0x5a, AREA);
	memset(dst, 0xa5, AREA);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || pwrite(fd, src, AREA, 0) != (ssize_t)AREA) {
		fprintf(stderr, "dn-copy-cost: %s: %s\n", file, strerror(errno));
		goto out_close;
	}
	for (i = optind; i < argc; i++) {
		char *end;
		unsigned long n = strtoul(argv[i], &end, 0);
		unsigned long slots;
		double t0;
		size_t k;
		long j;

		if (*end || !n || n % 8 || n > AREA / 2) {
			fprintf(stderr, "dn-copy-cost: bad size '%s'\n", argv[i]);
			ret = 2;
			goto out_close;
		}
		slots = AREA / n;
		for (k = 0; k < sizeof(copy_ops) / sizeof(copy_ops[0]); k++) {
			t0 = now_us();
			for (j = 0; j < iters; j++)
				copy_ops[k].copy(dst + (j % slots) * n, src + ((j + 1) % slots) * n,
						 n);
			printf("%-10s %8lu B  %9.2f us\n", copy_ops[k].name, n,
			       (now_us() - t0) / iters);
		}
		t0 = now_us();
		for (j = 0; j < iters; j++) {
			if (pread(fd, dst, n, (off_t)((j % slots) * n)) != (ssize_t)n) {
				fprintf(stderr, "dn-copy-cost: pread: %s\n", strerror(errno));
				goto out_close;
			}
		}
		printf("%-10s %8lu B  %9.2f us\n", "pread", n, (now_us() - t0) / iters);
	}
	ret = 0;
out_close:
	if (fd >= 0)
		close(fd);
	unlink(file);
out:
	free(src);
	free(dst);
	return ret;
}
