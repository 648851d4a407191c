// SPDX-License-Identifier: MIT
/*
 * disnvme-target: command line, configuration, the poll-group threads, the RDMA listeners and
 * the main loop (rdma_cm events, signals, the once-a-second keep-alive tick), and the clean
 * shutdown on SIGTERM/SIGINT: every host disconnected, every queue drained, exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "target/poll_group.h"
#include "target/rdma.h"
#include "target/target.h"

#define MAX_POLL_GROUPS	  64
#define SHUTDOWN_GRACE_MS 15000

static struct {
	struct dn_poll_group *main_pg;
	struct dn_poll_group *pgs[MAX_POLL_GROUPS];
	unsigned int nr_pgs;
	const char *config_path;
	unsigned int data_buffers_mib; /* as started: buffers are registered once */
	uint32_t max_io_size;	       /* as started: what connected hosts were told */
	uint16_t max_queue_depth;
	int sfd, tfd;
	struct signalfd_siginfo si;
	uint64_t ticks;
	struct dn_event sig_ev, tick_ev;
	bool shutting_down;
	unsigned int shutdown_ms;
	int exit_code;
} m = {.sfd = -1, .tfd = -1};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: disnvme-target serve -t rdma -a ADDR [-s PORT] -n SUBNQN --ns PATH "
		"[--ns PATH ...] [--host HOSTNQN ...]\n"
		"       disnvme-target serve --config FILE\n"
		"options:\n"
		"  -t, --transport TYPE   transport type (rdma)\n"
		"  -a, --traddr ADDR      address to listen on\n"
		"  -s, --trsvcid PORT     service id (default 4420)\n"
		"  -n, --nqn SUBNQN       subsystem NQN\n"
		"      --ns PATH          namespace: file, block device or /dev/ngXnY "
		"(repeatable)\n"
		"      --host HOSTNQN     allow only these hosts (repeatable; default: any host)\n"
		"  -c, --config FILE      JSON configuration instead of the options above\n"
		"  -p, --poll-groups N    poll-group threads (default: one per CPU)\n"
		"  -v, --verbose          more log output (repeat for more)\n"
		"SIGTERM/SIGINT disconnect every host and exit; SIGHUP reloads --config.\n");
}

static int arm_read(struct dn_poll_group *pg, int fd, void *buf, unsigned int len,
		    struct dn_event *ev)
{
	struct io_uring_sqe *sqe = dn_pg_get_sqe(pg);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, len, 0);
	dn_event_set(sqe, ev);
	return 0;
}

static int set_timer(unsigned int ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000},
		.it_interval = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000},
	};

	return timerfd_settime(m.tfd, 0, &its, NULL) ? -errno : 0;
}

static void begin_shutdown(const char *why)
{
	unsigned int left;

	if (m.shutting_down)
		return;
	m.shutting_down = true;
	sd_notify(0, "STOPPING=1");
	dn_notice("%s: disconnecting hosts", why);
	dn_rdma_stop_listening();
	left = dn_tgt_shutdown();
	dn_rdma_end_all_queues();
	dn_dbg("%u queues to drain", left);
	/* check the drain often from now on */
	set_timer(50);
}

static void reload(void)
{
	struct dn_tgt_config cfg = {0};
	int ret;

	if (!m.config_path) {
		dn_notice("SIGHUP: no --config file to reload");
		return;
	}
	ret = dn_tgt_config_load(&cfg, m.config_path);
	if (ret) {
		dn_err("reload of %s failed: configuration unchanged", m.config_path);
		return;
	}
	ret = dn_tgt_reload(&cfg);
	if (ret)
		dn_err("reload of %s failed: %s; configuration unchanged", m.config_path,
		       strerror(-ret));
	else
		dn_notice("configuration %s reloaded", m.config_path);
	if (!ret && cfg.data_buffers_mib != m.data_buffers_mib)
		dn_notice("%s: data_buffers_mib changes at the next start, not on reload",
			  m.config_path);
	if (!ret && (cfg.max_io_size != m.max_io_size || cfg.max_queue_depth != m.max_queue_depth))
		dn_notice("%s: max_io_size and max_queue_depth change at the next start, not on "
			  "reload",
			  m.config_path);
	dn_tgt_config_free(&cfg);
}

static void sig_cb(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	if (cqe->res == (int)sizeof(m.si)) {
		switch (m.si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_shutdown(strsignal((int)m.si.ssi_signo));
			break;
		case SIGHUP:
			reload();
			break;
		}
	} else if (cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN) {
		dn_err("signalfd read: %s", strerror(-cqe->res));
	}
	if (arm_read(m.main_pg, m.sfd, &m.si, sizeof(m.si), &m.sig_ev))
		dn_err("cannot re-arm the signal watch");
}

static void tick_cb(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	if (m.shutting_down) {
		unsigned int left = dn_tgt_live_queues();

		m.shutdown_ms += 50;
		if (!left) {
			dn_pg_stop(m.main_pg);
			return;
		}
		if (m.shutdown_ms >= SHUTDOWN_GRACE_MS) {
			dn_err("%u queues did not drain in %u ms: exiting anyway", left,
			       SHUTDOWN_GRACE_MS);
			m.exit_code = 1;
			dn_pg_stop(m.main_pg);
			return;
		}
	} else {
		dn_tgt_tick();
		dn_rdma_tick();
	}
	if (arm_read(m.main_pg, m.tfd, &m.ticks, sizeof(m.ticks), &m.tick_ev))
		dn_err("cannot re-arm the tick");
}

static int setup_main_loop(void)
{
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* blocked before any thread starts, so only the signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	m.sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (m.sfd < 0)
		return -errno;
	m.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (m.tfd < 0)
		return -errno;
	ret = set_timer(1000);
	if (ret)
		return ret;
	m.sig_ev.cb = sig_cb;
	m.tick_ev.cb = tick_cb;
	ret = arm_read(m.main_pg, m.sfd, &m.si, sizeof(m.si), &m.sig_ev);
	if (!ret)
		ret = arm_read(m.main_pg, m.tfd, &m.ticks, sizeof(m.ticks), &m.tick_ev);
	return ret;
}

static int parse_serve(int argc, char **argv, struct dn_tgt_config *cfg, int *verbosity)
{
	static const struct option opts[] = {
		{"transport", required_argument, NULL, 't'},
		{"traddr", required_argument, NULL, 'a'},
		{"trsvcid", required_argument, NULL, 's'},
		{"nqn", required_argument, NULL, 'n'},
		{"ns", required_argument, NULL, 'N'},
		{"host", required_argument, NULL, 'H'},
		{"config", required_argument, NULL, 'c'},
		{"poll-groups", required_argument, NULL, 'p'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *trtype = NULL, *traddr = NULL, *trsvcid = NULL, *nqn = NULL;
	const char **ns = calloc((size_t)argc, sizeof(*ns));
	const char **hosts = calloc((size_t)argc, sizeof(*hosts));
	size_t nr_ns = 0, nr_hosts = 0;
	int c, ret = -EINVAL;

	if (!ns || !hosts) {
		ret = -ENOMEM;
		goto out;
	}
	while ((c = getopt_long(argc, argv, "t:a:s:n:c:p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trtype = optarg;
			break;
		case 'a':
			traddr = optarg;
			break;
		case 's':
			trsvcid = optarg;
			break;
		case 'n':
			nqn = optarg;
			break;
		case 'N':
			ns[nr_ns++] = optarg;
			break;
		case 'H':
			hosts[nr_hosts++] = optarg;
			break;
		case 'c':
			m.config_path = optarg;
			break;
		case 'v':
			(*verbosity)++;
			break;
		case 'p': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || n < 1 || n > MAX_POLL_GROUPS) {
				fprintf(stderr, "disnvme-target: --poll-groups: 1..%d\n",
					MAX_POLL_GROUPS);
				goto out;
			}
			m.nr_pgs = (unsigned int)n;
			break;
		}
		case 'h':
			usage(stdout);
			ret = 1;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "disnvme-target: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		goto out;
	}
	dn_log_init("disnvme-target", *verbosity);
	if (m.config_path) {
		if (trtype || traddr || trsvcid || nqn || nr_ns || nr_hosts) {
			fprintf(stderr,
				"disnvme-target: --config excludes -t/-a/-s/-n/--ns/--host\n");
			goto out;
		}
		ret = dn_tgt_config_load(cfg, m.config_path);
	} else {
		if (!trtype || !traddr || !nqn || !nr_ns) {
			fprintf(stderr, "disnvme-target: serve needs -t, -a, -n and at least one "
					"--ns (or --config FILE)\n");
			usage(stderr);
			goto out;
		}
		ret = dn_tgt_config_from_args(cfg, trtype, traddr, trsvcid, nqn, ns, nr_ns, hosts,
					      nr_hosts);
	}
out:
	free(ns);
	free(hosts);
	return ret;
}

static int serve(int argc, char **argv)
{
	struct dn_tgt_config cfg = {0};
	int verbosity = 0, ret;
	unsigned int i;
	size_t p;

	ret = parse_serve(argc, argv, &cfg, &verbosity);
	if (ret)
		return ret > 0 ? 0 : 1;
	if (!m.nr_pgs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		m.nr_pgs = n < 1 ? 1 : n > MAX_POLL_GROUPS ? MAX_POLL_GROUPS : (unsigned int)n;
	}
	ret = dn_pg_create(0, "dn-main", &m.main_pg);
	if (ret)
		goto out_free_config;
	for (i = 0; i < m.nr_pgs; i++) {
		char name[16];

		snprintf(name, sizeof(name), "dn-pg%u", i);
		ret = dn_pg_create(i + 1, name, &m.pgs[i]);
		if (ret)
			goto out_destroy_pgs;
	}
	ret = setup_main_loop();
	if (ret) {
		dn_err("main loop setup: %s", strerror(-ret));
		goto out_destroy_pgs;
	}
	ret = dn_tgt_setup(&cfg);
	if (ret)
		goto out_destroy_pgs;
	m.data_buffers_mib = cfg.data_buffers_mib;
	m.max_io_size = cfg.max_io_size;
	m.max_queue_depth = cfg.max_queue_depth;
	if (cfg.max_io_size || cfg.max_queue_depth)
		dn_notice("limits: %u bytes per command (MDTS %u), I/O queues of %u entries",
			  dn_tgt_max_xfer(), dn_tgt_mdts(), dn_tgt_max_queue_size());
	ret = dn_rdma_init(m.main_pg, m.pgs, m.nr_pgs, cfg.data_buffers_mib);
	if (ret)
		goto out_cleanup_core;
	for (i = 0; i < m.nr_pgs; i++) {
		ret = dn_pg_start(m.pgs[i]);
		if (ret) {
			dn_err("starting poll group %u: %s", i, strerror(-ret));
			goto out_stop_pgs;
		}
	}
	for (p = 0; p < dn_tgt_nr_ports(); p++) {
		ret = dn_rdma_listen_port(dn_tgt_port_at(p));
		if (ret)
			goto out_stop_pgs;
	}
	dn_info("ready: %u poll groups", m.nr_pgs);
	/* disnvme-target.service is Type=notify: started once every port listens */
	sd_notify(0, "READY=1");

	ret = dn_pg_run(m.main_pg);
	if (ret)
		m.exit_code = 1;
	if (m.exit_code) {
		/* queues still alive: their threads may be using what cleanup would free */
		return m.exit_code;
	}
	for (i = 0; i < m.nr_pgs; i++)
		dn_pg_stop(m.pgs[i]);
	for (i = 0; i < m.nr_pgs; i++) {
		dn_pg_destroy(m.pgs[i]);
		m.pgs[i] = NULL;
	}
	dn_rdma_fini();
	dn_tgt_cleanup();
	dn_pg_destroy(m.main_pg);
	dn_tgt_config_free(&cfg);
	dn_notice("exiting");
	return 0;

out_stop_pgs:
	for (i = 0; i < m.nr_pgs; i++)
		if (m.pgs[i])
			dn_pg_stop(m.pgs[i]);
	dn_rdma_fini();
out_cleanup_core:
	dn_tgt_cleanup();
out_destroy_pgs:
	for (i = 0; i < m.nr_pgs; i++)
		dn_pg_destroy(m.pgs[i]);
	dn_pg_destroy(m.main_pg);
out_free_config:
	dn_tgt_config_free(&cfg);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "serve")) {
		usage(stderr);
		return 2;
	}
	return serve(argc - 1, argv + 1);
}
