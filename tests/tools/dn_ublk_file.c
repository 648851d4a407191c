// SPDX-License-Identifier: MIT
/*
 * dn-ublk-file: serve a regular file as /dev/ublkbN through the disnvme ublk library.
 * Prints the block device path once it is ready; SIGTERM/SIGINT stop it and remove the
 * device; SIGUSR1 holds all I/O, SIGUSR2 releases it (the reconnect case of the host).
 * With --null SIZE_MIB it serves no file: every request completes at once on its queue
 * thread, untouched, so a benchmark sees what the ublk path itself costs (as null_blk does
 * for a kernel block driver).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "host/ublk.h"
#include "host/ublk_file.h"

/* --null: reads return whatever the tag's buffer holds, writes are dropped */
static void null_queue_io(struct dn_ublk_queue *q, uint16_t tag, const struct ublksrv_io_desc *iod,
			  void *buf)
{
	uint8_t op = ublksrv_get_op(iod);

	(void)buf;
	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		dn_ublk_complete(q, tag, (int)(iod->nr_sectors << 9));
	else
		dn_ublk_complete(q, tag, 0);
}

static const struct dn_ublk_ops null_ops = {
	.queue_io = null_queue_io,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: dn-ublk-file [options] FILE\n"
		"       dn-ublk-file [options] --null SIZE_MIB   (no backing: a ublk null device)\n"
		"       dn-ublk-file --reap   (delete devices left by killed servers)\n"
		"  -q, --queues N        hardware queues (default 1)\n"
		"  -d, --depth N         queue depth (default 64)\n"
		"  -b, --block-size N    logical block size, 512..4096 (default 512)\n"
		"  -m, --max-io-kb N     largest I/O in KiB (default 512)\n"
		"  -i, --dev-id N        ublk device number (default: any)\n"
		"  -r, --read-only       read-only device\n"
		"      --no-flush        no volatile cache (no flush, no FUA)\n"
		"      --no-discard      no discard\n"
		"      --no-write-zeroes no write zeroes\n"
		"      --pin-queues      run queue threads on their queues' CPUs\n"
		"      --uring-only      all reads/writes through io_uring (no inline copies)\n"
		"  -v, --verbose         more log output\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return errno || end == s || *end || *out > max ? -1 : 0;
}

/*
 * Create and start the device, print its path, serve until SIGTERM/SIGINT, remove it.
 * f is the file backend (SIGUSR1/SIGUSR2 pause and resume it), or NULL for --null.
 */
static int serve(const struct dn_ublk_params *p, const struct dn_ublk_ops *ops,
		 struct dn_ublk_file *f, const sigset_t *sigs)
{
	struct dn_ublk_dev *dev;
	int ret, sig;

	ret = dn_ublk_create(p, ops, f, &dev);
	if (ret) {
		fprintf(stderr, "dn-ublk-file: cannot create a ublk device: %s%s\n", strerror(-ret),
			ret == -ENOENT ? " (is ublk_drv loaded?)" : "");
		return ret;
	}
	if (f)
		f->dev = dev;
	ret = dn_ublk_start(dev);
	if (ret) {
		fprintf(stderr, "dn-ublk-file: cannot start ublk device %d: %s\n",
			dn_ublk_dev_id(dev), strerror(-ret));
		goto out_delete;
	}
	printf("/dev/ublkb%d\n", dn_ublk_dev_id(dev));
	fflush(stdout);

	for (;;) {
		if (sigwait(sigs, &sig))
			continue;
		if (sig == SIGUSR1 || sig == SIGUSR2) {
			if (f)
				dn_ublk_file_set_paused(f, sig == SIGUSR1);
			continue;
		}
		break;
	}
	dn_info("signal %d: stopping /dev/ublkb%d", sig, dn_ublk_dev_id(dev));
out_delete:
	dn_ublk_stop_and_delete(dev);
	return ret;
}

int main(int argc, char **argv)
{
	enum {
		OPT_NO_FLUSH = 256,
		OPT_NO_DISCARD,
		OPT_NO_WZ,
		OPT_PIN,
		OPT_URING,
		OPT_REAP,
		OPT_NULL
	};
	static const struct option longopts[] = {
		{"queues", required_argument, NULL, 'q'},
		{"depth", required_argument, NULL, 'd'},
		{"block-size", required_argument, NULL, 'b'},
		{"max-io-kb", required_argument, NULL, 'm'},
		{"dev-id", required_argument, NULL, 'i'},
		{"read-only", no_argument, NULL, 'r'},
		{"no-flush", no_argument, NULL, OPT_NO_FLUSH},
		{"no-discard", no_argument, NULL, OPT_NO_DISCARD},
		{"no-write-zeroes", no_argument, NULL, OPT_NO_WZ},
		{"pin-queues", no_argument, NULL, OPT_PIN},
		{"uring-only", no_argument, NULL, OPT_URING},
		{"reap", no_argument, NULL, OPT_REAP},
		{"null", required_argument, NULL, OPT_NULL},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct dn_ublk_params p = {
		.lbs_shift = 9,
		.max_io_bytes = 512 << 10,
		.nr_queues = 1,
		.queue_depth = 64,
		.flush = true,
		.discard = true,
		.write_zeroes = true,
		.dev_id = -1,
	};
	unsigned long v, bs = 512, null_mib = 0;
	struct dn_ublk_file f;
	int c, verbose = 0, ret;
	bool uring_only = false, reap = false;
	sigset_t sigs;

	while ((c = getopt_long(argc, argv, "q:d:b:m:i:rvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (parse_uint(optarg, 4096, &v) || !v)
				goto bad_arg;
			p.nr_queues = (uint16_t)v;
			break;
		case 'd':
			if (parse_uint(optarg, 4096, &v) || !v)
				goto bad_arg;
			p.queue_depth = (uint16_t)v;
			break;
		case 'b':
			if (parse_uint(optarg, 4096, &bs) || bs < 512 || (bs & (bs - 1)))
				goto bad_arg;
			p.lbs_shift = (uint8_t)__builtin_ctzl(bs);
			break;
		case 'm':
			if (parse_uint(optarg, 32768, &v) || v < 4)
				goto bad_arg;
			p.max_io_bytes = (uint32_t)v << 10;
			break;
		case 'i':
			if (parse_uint(optarg, (1 << 20) - 1, &v))
				goto bad_arg;
			p.dev_id = (int)v;
			break;
		case 'r':
			p.read_only = true;
			break;
		case OPT_NO_FLUSH:
			p.flush = false;
			break;
		case OPT_NO_DISCARD:
			p.discard = false;
			break;
		case OPT_NO_WZ:
			p.write_zeroes = false;
			break;
		case OPT_PIN:
			p.pin_queues = true;
			break;
		case OPT_URING:
			uring_only = true;
			break;
		case OPT_REAP:
			reap = true;
			break;
		case OPT_NULL:
			if (parse_uint(optarg, 1UL << 30, &null_mib) || !null_mib) {
				fprintf(stderr, "dn-ublk-file: bad size for --null: %s\n", optarg);
				return 2;
			}
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	dn_log_init("dn-ublk-file", verbose);
	if (reap && optind == argc) {
		ret = dn_ublk_reap_dead();
		if (ret < 0) {
			fprintf(stderr, "dn-ublk-file: cannot reap ublk devices: %s\n",
				strerror(-ret));
			return 1;
		}
		printf("%d\n", ret);
		return 0;
	}
	if (reap || optind != argc - (null_mib ? 0 : 1)) {
		usage(stderr);
		return 2;
	}
	if (p.read_only)
		p.discard = p.write_zeroes = false;

	/* every thread inherits this mask; signals are taken synchronously below */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (null_mib) {
		p.size = (uint64_t)null_mib << 20;
		return serve(&p, &null_ops, NULL, &sigs) ? 1 : 0;
	}
	ret = dn_ublk_file_open(&f, argv[optind], p.read_only, p.lbs_shift);
	if (ret) {
		fprintf(stderr, "dn-ublk-file: cannot open %s: %s\n", argv[optind], strerror(-ret));
		return 1;
	}
	f.uring_only = uring_only;
	p.size = f.size;
	if (!p.size) {
		fprintf(stderr, "dn-ublk-file: %s is smaller than one %lu-byte block\n",
			argv[optind], bs);
		dn_ublk_file_close(&f);
		return 1;
	}
	ret = serve(&p, &dn_ublk_file_ops, &f, &sigs);
	dn_ublk_file_close(&f);
	return ret ? 1 : 0;

bad_arg:
	fprintf(stderr, "dn-ublk-file: bad value for -%c: %s\n", c, optarg);
	return 2;
}
