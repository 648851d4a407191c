// SPDX-License-Identifier: MIT
/*
 * disnvme connect-all: discovery.conf -> discovery logs (and referrals) -> `disnvme connect`
 * for each subsystem not connected yet. As with nvme-cli, a discovery controller given on the
 * command line (`-t rdma -a ADDR [-s PORT] ...`, the options of a discovery.conf line) is used
 * instead of the file, which is then not read. Discovery runs in this process, as
 * `disnvme discover` does; each connect runs the connect command itself, so the daemon is
 * found (or started) and the devices are made exactly as a user's `disnvme connect` would.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "discovery/conf.h"
#include "host/cli.h"
#include "host/connect_all.h"
#include "host/ctrl.h"
#include "host/hostid.h"

#define CA_OUT_MAX 4096 /* what one connect may print that is kept */

enum dn_ca_action dn_ca_classify(const struct dn_disc_rec *r)
{
	if (r->trtype != NVMF_TRTYPE_RDMA)
		return DN_CA_OTHER_TRANSPORT;
	if (r->subtype == NVME_NQN_DISC)
		return DN_CA_REFERRAL;
	if (r->subtype == NVME_NQN_NVME)
		return DN_CA_CONNECT;
	/* the current discovery subsystem (its other ports): read already */
	return DN_CA_SELF;
}

/* src cut to fit, NUL terminated */
static void copy_field(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; src && src[n] && n + 1 < size; n++)
		dst[n] = src[n];
	dst[n] = '\0';
}

int dn_ca_set_add(struct dn_ca_set *s, const char *subnqn, const char *traddr, const char *trsvcid,
		  const char *hostnqn, bool failed)
{
	struct dn_ca_conn *c;

	if (s->nr == s->alloc) {
		size_t n = s->alloc ? s->alloc * 2 : 16;
		void *v = realloc(s->v, n * sizeof(*s->v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->alloc = n;
	}
	c = &s->v[s->nr++];
	copy_field(c->subnqn, sizeof(c->subnqn), subnqn);
	copy_field(c->traddr, sizeof(c->traddr), traddr);
	copy_field(c->trsvcid, sizeof(c->trsvcid), trsvcid);
	copy_field(c->hostnqn, sizeof(c->hostnqn), hostnqn);
	c->failed = failed;
	return 0;
}

const struct dn_ca_conn *dn_ca_set_find(const struct dn_ca_set *s, const char *subnqn,
					const char *traddr, const char *trsvcid,
					const char *hostnqn)
{
	size_t i;

	for (i = 0; i < s->nr; i++) {
		const struct dn_ca_conn *c = &s->v[i];

		if (!strcmp(c->subnqn, subnqn) && !strcmp(c->hostnqn, hostnqn) &&
		    atoi(c->trsvcid) == atoi(trsvcid) && dn_conf_addr_equal(c->traddr, traddr))
			return c;
	}
	return NULL;
}

void dn_ca_set_free(struct dn_ca_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int dn_ca_set_from_list(struct json_object *reply, struct dn_ca_set *s)
{
	struct json_object *ctrls;
	size_t i;
	int ret;

	if (!json_object_object_get_ex(reply, "controllers", &ctrls))
		return 0; /* nothing connected */
	if (!json_object_is_type(ctrls, json_type_array))
		return -EPROTO;
	for (i = 0; i < json_object_array_length(ctrls); i++) {
		struct json_object *c = json_object_array_get_idx(ctrls, i);
		const char *subnqn = jstr(c, "subsysnqn"), *traddr = jstr(c, "traddr");
		const char *trsvcid = jstr(c, "trsvcid"), *hostnqn = jstr(c, "hostnqn");
		const char *state = jstr(c, "state");

		if (!subnqn || !traddr || !trsvcid || !hostnqn)
			return -EPROTO;
		/* given up on (past ctrl-loss-tmo, about to be removed): not serving anything */
		ret = dn_ca_set_add(s, subnqn, traddr, trsvcid, hostnqn,
				    state && (!strcmp(state, "dead") || !strcmp(state, "failed")));
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- one entry ---- */

#define CA_USAGE                                                                         \
	"usage: disnvme connect-all [--config-file FILE] [--dry-run] [-v]\n"             \
	"       disnvme connect-all -t rdma -a ADDR [-s PORT] [-q HOSTNQN] [-I HOSTID] " \
	"[connect options] [--dry-run] [-v]\n"

struct ca_opts {
	const char *path;
	bool dry_run;
	int verbose;
	/* a discovery controller given on the command line: its options, in order */
	char *cl_argv[64];
	int cl_argc;
	char self[4096]; /* this executable, for the connect commands */
};

static void result_add(struct dn_ca_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void result_add(struct dn_ca_result *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->used + 1 >= sizeof(r->text))
		return;
	if (r->used) {
		n = snprintf(r->text + r->used, sizeof(r->text) - r->used, "; ");
		r->used += (size_t)n;
	}
	va_start(ap, fmt);
	n = vsnprintf(r->text + r->used, sizeof(r->text) - r->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	r->used += (size_t)n;
	if (r->used >= sizeof(r->text))
		r->used = sizeof(r->text) - 1;
}

/* Read the whole discovery log of traddr:trsvcid into *recs (validated) */
static int read_log(const struct dn_conf_entry *ce, const struct dn_host_identity *h,
		    const char *traddr, const char *trsvcid, const char *subnqn,
		    struct dn_disc_rec **recs, size_t *nr, struct dn_err *e)
{
	uint64_t genctr, numrec, bad = 0;
	struct dn_ctrl *c;
	uint32_t len;
	void *log;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return dn_err_set(e, -ENOMEM, "out of memory");
	copy_field(c->o.traddr, sizeof(c->o.traddr), traddr);
	copy_field(c->o.trsvcid, sizeof(c->o.trsvcid), trsvcid);
	copy_field(c->o.subnqn, sizeof(c->o.subnqn), subnqn);
	copy_field(c->o.hostnqn, sizeof(c->o.hostnqn), h->nqn);
	memcpy(c->o.hostid, h->id, sizeof(h->id));
	copy_field(c->o.hostid_str, sizeof(c->o.hostid_str), h->id_str);
	c->o.kato = 0; /* one log read: no keep-alive */
	c->o.queue_size = 32;
	c->o.nr_io_queues = 1;
	c->o.reconnect_delay_ms = ce->reconnect_delay * 1000;
	c->o.fast_io_fail_tmo = -1;
	c->o.ctrl_loss_tmo = 0;
	ret = dn_ctrl_connect(c, e);
	if (ret) {
		free(c);
		return ret;
	}
	ret = dn_ctrl_get_discovery_log(c, &log, &len, e);
	dn_ctrl_disconnect(c);
	free(c);
	if (ret)
		return ret;

	ret = dn_disc_log_parse(log, len, &genctr, NULL, 0, &numrec, &bad);
	if (!ret) {
		*recs = calloc(numrec ? numrec : 1, sizeof(**recs));
		if (!*recs)
			ret = -ENOMEM;
		else
			ret = dn_disc_log_parse(log, len, &genctr, *recs, numrec, &numrec, &bad);
	}
	free(log);
	if (ret) {
		free(*recs);
		*recs = NULL;
		if (ret == -EPROTO)
			return dn_err_set(e, ret,
					  "%s:%s sent a malformed discovery log (record %llu)",
					  traddr, trsvcid, (unsigned long long)bad);
		if (ret == -EMSGSIZE)
			return dn_err_set(e, ret, "%s:%s sent a truncated discovery log", traddr,
					  trsvcid);
		return dn_err_set(e, ret, "reading the discovery log of %s:%s: %s", traddr, trsvcid,
				  strerror(-ret));
	}
	*nr = (size_t)numrec;
	return 0;
}

/* Append a number option to argv */
static void push_int(char **argv, int *argc, char *store, size_t store_len, const char *opt, int v)
{
	snprintf(store, store_len, "%d", v);
	argv[(*argc)++] = (char *)opt;
	argv[(*argc)++] = store;
}

/* Read what the child prints on two pipes until both close; keep at most CA_OUT_MAX each */
static void drain(int out_fd, int err_fd, char *out, char *err)
{
	struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
	size_t used[2] = {0, 0};
	char *buf[2] = {out, err};
	char sink[512];
	int open_fds = 2, i;

	while (open_fds) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			size_t room;
			ssize_t n;
			char *dst;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (used[i] + 1 < CA_OUT_MAX) {
				dst = buf[i] + used[i];
				room = CA_OUT_MAX - 1 - used[i];
			} else {
				dst = sink; /* keep reading, so the child never blocks */
				room = sizeof(sink);
			}
			n = read(p[i].fd, dst, room);
			if (n > 0 && dst != sink)
				used[i] += (size_t)n;
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				p[i].fd = -1;
				open_fds--;
			}
		}
	}
	out[used[0]] = '\0';
	err[used[1]] = '\0';
}

/* The last line of s, without "disnvme connect: " and the newline */
static const char *last_line(char *s)
{
	char *end = s + strlen(s), *start;

	while (end > s && end[-1] == '\n')
		*--end = '\0';
	start = strrchr(s, '\n');
	start = start ? start + 1 : s;
	if (!strncmp(start, "disnvme connect: ", 17))
		start += 17;
	return *start ? start : "it failed without a message";
}

/*
 * `disnvme connect` for one subsystem, with the entry's connect options. Returns 0 with the
 * device paths (space separated) in devs, or -1 with the command's sentence in why.
 */
static int run_connect(const struct ca_opts *o, const struct dn_conf_entry *ce,
		       const struct dn_host_identity *h, const struct dn_disc_rec *r, char *devs,
		       size_t devs_len, char *why, size_t why_len)
{
	char nums[7][16], *argv[36], *out, *err, *p;
	int argc = 0, opipe[2], epipe[2], status;
	pid_t pid;
	int ret = -1;

	argv[argc++] = "disnvme";
	argv[argc++] = "connect";
	argv[argc++] = "-t";
	argv[argc++] = "rdma";
	argv[argc++] = "-a";
	argv[argc++] = (char *)r->traddr;
	argv[argc++] = "-s";
	argv[argc++] = (char *)r->trsvcid;
	argv[argc++] = "-n";
	argv[argc++] = (char *)r->subnqn;
	argv[argc++] = "-q";
	argv[argc++] = (char *)h->nqn;
	argv[argc++] = "-I";
	argv[argc++] = (char *)h->id_str;
	if (ce->nr_io_queues)
		push_int(argv, &argc, nums[0], sizeof(nums[0]), "-i", ce->nr_io_queues);
	push_int(argv, &argc, nums[1], sizeof(nums[1]), "-Q", ce->queue_size);
	push_int(argv, &argc, nums[2], sizeof(nums[2]), "-k", ce->keep_alive_tmo);
	push_int(argv, &argc, nums[3], sizeof(nums[3]), "-c", ce->reconnect_delay);
	/* always: this file's default (-1, forever) is not connect's */
	push_int(argv, &argc, nums[4], sizeof(nums[4]), "-l", ce->ctrl_loss_tmo);
	if (ce->fast_io_fail_tmo >= 0)
		push_int(argv, &argc, nums[5], sizeof(nums[5]), "-F", ce->fast_io_fail_tmo);
	if (ce->host_traddr[0]) {
		argv[argc++] = "-w";
		argv[argc++] = (char *)ce->host_traddr;
	}
	argv[argc] = NULL;

	out = malloc(CA_OUT_MAX);
	err = malloc(CA_OUT_MAX);
	if (!out || !err) {
		snprintf(why, why_len, "out of memory");
		goto out_free;
	}
	if (pipe2(opipe, O_CLOEXEC)) {
		snprintf(why, why_len, "pipe: %s", strerror(errno));
		goto out_free;
	}
	if (pipe2(epipe, O_CLOEXEC)) {
		snprintf(why, why_len, "pipe: %s", strerror(errno));
		goto out_close_opipe;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		goto out_close_epipe;
	}
	if (pid == 0) {
		dup2(opipe[1], 1);
		dup2(epipe[1], 2);
		execv(o->self, argv);
		fprintf(stderr, "disnvme connect: cannot run %s: %s\n", o->self, strerror(errno));
		_exit(127);
	}
	close(opipe[1]);
	close(epipe[1]);
	opipe[1] = epipe[1] = -1;
	drain(opipe[0], epipe[0], out, err);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		/* one device path a line */
		devs[0] = '\0';
		for (p = strtok(out, "\n"); p; p = strtok(NULL, "\n")) {
			size_t n = strlen(devs);

			snprintf(devs + n, devs_len - n, "%s%s", n ? " " : "", p);
		}
		ret = 0;
	} else {
		snprintf(why, why_len, "%s", last_line(err));
	}
out_close_epipe:
	close(epipe[0]);
	if (epipe[1] >= 0)
		close(epipe[1]);
out_close_opipe:
	close(opipe[0]);
	if (opipe[1] >= 0)
		close(opipe[1]);
out_free:
	free(out);
	free(err);
	return ret;
}

struct disc_target {
	char traddr[NVMF_TRADDR_SIZE + 1];
	char trsvcid[NVMF_TRSVCID_SIZE + 1];
	char subnqn[NVME_NQN_LENGTH + 1];
	int depth;
};

static bool disc_seen(const struct disc_target *v, size_t n, const char *traddr,
		      const char *trsvcid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (atoi(v[i].trsvcid) == atoi(trsvcid) && dn_conf_addr_equal(v[i].traddr, traddr))
			return true;
	return false;
}

static void connect_record(const struct dn_ca_ops *ops, void *priv, const char *hostnqn,
			   const struct dn_disc_rec *r, struct dn_ca_set *connected,
			   struct dn_ca_set *seen, struct dn_ca_result *res)
{
	const struct dn_ca_conn *known;
	char devs[512], why[400];

	/* the same subsystem port through two referrals is one subsystem */
	if (dn_ca_set_find(seen, r->subnqn, r->traddr, r->trsvcid, hostnqn))
		return;
	if (dn_ca_set_add(seen, r->subnqn, r->traddr, r->trsvcid, hostnqn, false)) {
		res->failed++;
		result_add(res, "out of memory");
		return;
	}
	res->subsystems++;
	known = dn_ca_set_find(connected, r->subnqn, r->traddr, r->trsvcid, hostnqn);
	if (known && known->failed) {
		res->failed++;
		result_add(res,
			   "%s at %s:%s FAILED: the daemon has given its controller up and not "
			   "removed it yet; the next run connects it again",
			   r->subnqn, r->traddr, r->trsvcid);
		return;
	}
	if (known) {
		res->already++;
		return;
	}
	devs[0] = why[0] = '\0';
	if (ops->connect(priv, r, devs, sizeof(devs), why, sizeof(why))) {
		res->failed++;
		result_add(res, "%s at %s:%s FAILED: %s", r->subnqn, r->traddr, r->trsvcid, why);
		return;
	}
	res->connected++;
	result_add(res, "connected %s at %s:%s (%s)", r->subnqn, r->traddr, r->trsvcid,
		   devs[0] ? devs : "no namespaces");
	if (dn_ca_set_add(connected, r->subnqn, r->traddr, r->trsvcid, hostnqn, false)) {
		res->failed++;
		result_add(res, "out of memory");
	}
}

int dn_ca_walk(const struct dn_ca_ops *ops, void *priv, const struct dn_conf_entry *ce,
	       const char *hostnqn, struct dn_ca_set *connected, struct dn_ca_result *res)
{
	struct dn_ca_set seen = {0};
	struct disc_target *q;
	struct dn_err e = {0};
	size_t head, tail;
	int ret = 0;

	q = calloc(DN_CA_MAX_DISC, sizeof(*q));
	if (!q) {
		result_add(res, "FAILED: out of memory");
		return -1;
	}
	copy_field(q[0].traddr, sizeof(q[0].traddr), ce->traddr);
	copy_field(q[0].trsvcid, sizeof(q[0].trsvcid), ce->trsvcid);
	copy_field(q[0].subnqn, sizeof(q[0].subnqn), ce->subsysnqn);
	tail = 1;
	for (head = 0; head < tail; head++) {
		struct disc_target *t = &q[head];
		struct dn_disc_rec *recs = NULL;
		size_t nr = 0, i;

		dn_err_clear(&e);
		if (ops->read_log(priv, t->traddr, t->trsvcid, t->subnqn, &recs, &nr, &e)) {
			result_add(res, "%sdiscovery at %s:%s FAILED: %s", head ? "referral " : "",
				   t->traddr, t->trsvcid, e.msg[0] ? e.msg : "no reason given");
			ret = -1;
			continue;
		}
		res->discs++;
		for (i = 0; i < nr; i++) {
			const struct dn_disc_rec *r = &recs[i];

			switch (dn_ca_classify(r)) {
			case DN_CA_CONNECT:
				connect_record(ops, priv, hostnqn, r, connected, &seen, res);
				break;
			case DN_CA_REFERRAL:
				if (disc_seen(q, tail, r->traddr, r->trsvcid))
					break;
				if (t->depth + 1 > DN_CA_MAX_DEPTH || tail == DN_CA_MAX_DISC) {
					result_add(res,
						   "referral to %s:%s not followed (more than %d "
						   "hops or %d discovery controllers)",
						   r->traddr, r->trsvcid, DN_CA_MAX_DEPTH,
						   DN_CA_MAX_DISC);
					break;
				}
				copy_field(q[tail].traddr, sizeof(q[tail].traddr), r->traddr);
				copy_field(q[tail].trsvcid, sizeof(q[tail].trsvcid), r->trsvcid);
				copy_field(q[tail].subnqn, sizeof(q[tail].subnqn), r->subnqn);
				q[tail].depth = t->depth + 1;
				tail++;
				break;
			case DN_CA_SELF:
				break;
			case DN_CA_OTHER_TRANSPORT:
				res->other_transport++;
				break;
			}
		}
		free(recs);
	}
	dn_ca_set_free(&seen);
	free(q);
	return ret || res->failed ? -1 : 0;
}

/* The command's plug-ins: discovery in this process, `disnvme connect` per subsystem */
struct ca_entry_ctx {
	const struct ca_opts *o;
	const struct dn_conf_entry *ce;
	struct dn_host_identity h;
};

static int ca_read_log(void *priv, const char *traddr, const char *trsvcid, const char *subnqn,
		       struct dn_disc_rec **recs, size_t *nr, struct dn_err *e)
{
	struct ca_entry_ctx *x = priv;

	return read_log(x->ce, &x->h, traddr, trsvcid, subnqn, recs, nr, e);
}

static int ca_connect(void *priv, const struct dn_disc_rec *r, char *devs, size_t devs_len,
		      char *why, size_t why_len)
{
	struct ca_entry_ctx *x = priv;

	return run_connect(x->o, x->ce, &x->h, r, devs, devs_len, why, why_len);
}

static const struct dn_ca_ops ca_ops = {
	.read_log = ca_read_log,
	.connect = ca_connect,
};

static int run_entry(const struct ca_opts *o, const struct dn_conf_entry *ce,
		     struct dn_ca_set *connected, struct dn_ca_result *res)
{
	struct ca_entry_ctx x = {.o = o, .ce = ce};
	struct dn_err e = {0};

	if (dn_host_identity_get(ce->hostnqn[0] ? ce->hostnqn : NULL,
				 ce->hostid[0] ? ce->hostid : NULL, &x.h, &e)) {
		result_add(res, "FAILED: %s", e.msg);
		return -1;
	}
	return dn_ca_walk(&ca_ops, &x, ce, x.h.nqn, connected, res);
}

/* "FILE:LINE " for an entry of the file, "" for the command line's */
static void entry_label(const struct dn_conf *c, const struct dn_conf_entry *ce, char *buf,
			size_t len)
{
	if (c)
		snprintf(buf, len, "%s:%u ", dn_conf_name(c), ce->line);
	else
		buf[0] = '\0';
}

static void print_result(const struct dn_conf *c, const struct dn_conf_entry *ce,
			 const struct dn_ca_result *r)
{
	bool v6 = strchr(ce->traddr, ':') != NULL;
	char label[512];

	entry_label(c, ce, label, sizeof(label));
	printf("%srdma %s%s%s:%s: ", label, v6 ? "[" : "", ce->traddr, v6 ? "]" : "", ce->trsvcid);
	if (r->discs) {
		printf("%u subsystem%s", r->subsystems, r->subsystems == 1 ? "" : "s");
		if (r->discs > 1)
			printf(" via %u discovery controllers", r->discs);
		printf(": %u connected, %u already connected", r->connected, r->already);
		if (r->failed)
			printf(", %u FAILED", r->failed);
		if (r->other_transport)
			printf(", %u on other transports skipped", r->other_transport);
		printf("%s", r->used ? "; " : "");
	}
	printf("%s\n", r->text);
}

static void print_plan(const struct dn_conf *c, const struct dn_conf_entry *ce)
{
	char nq[16], loss[24], fail[24], label[512];
	bool v6 = strchr(ce->traddr, ':') != NULL;

	entry_label(c, ce, label, sizeof(label));
	if (ce->nr_io_queues)
		snprintf(nq, sizeof(nq), "%d", ce->nr_io_queues);
	else
		snprintf(nq, sizeof(nq), "one per CPU");
	if (ce->ctrl_loss_tmo < 0)
		snprintf(loss, sizeof(loss), "forever");
	else
		snprintf(loss, sizeof(loss), "%d", ce->ctrl_loss_tmo);
	if (ce->fast_io_fail_tmo < 0)
		snprintf(fail, sizeof(fail), "off");
	else
		snprintf(fail, sizeof(fail), "%d", ce->fast_io_fail_tmo);
	printf("%srdma %s%s%s:%s: would read the discovery log of %s as %s, follow its "
	       "referrals and connect each subsystem not connected yet with nr-io-queues %s, "
	       "queue-size %d, keep-alive-tmo %d, reconnect-delay %d, ctrl-loss-tmo %s, "
	       "fast_io_fail_tmo %s\n",
	       label, v6 ? "[" : "", ce->traddr, v6 ? "]" : "", ce->trsvcid, ce->subsysnqn,
	       ce->hostnqn[0] ? ce->hostnqn : "this host's NQN", nq, ce->queue_size,
	       ce->keep_alive_tmo, ce->reconnect_delay, loss, fail);
}

/* What the entry asks for that connect-all does not apply: said, not dropped */
static void note_unsupported(const struct dn_conf *c, const struct dn_conf_entry *ce)
{
	static const struct {
		enum dn_conf_opt opt;
		const char *name, *why;
	} opts[] = {
		{DN_CONF_OPT_HOST_IFACE, "--host-iface",
		 "it applies to TCP only (use --host-traddr for RDMA)"},
		{DN_CONF_OPT_DUPLICATE_CONNECT, "--duplicate-connect",
		 "connect-all stays idempotent (every timer run would add a controller)"},
	};
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (!(ce->given & DN_CONF_GIVEN(opts[i].opt)))
			continue;
		if (c)
			fprintf(stderr, "%s:%u: ", dn_conf_name(c), ce->line);
		else
			fprintf(stderr, "disnvme connect-all: ");
		fprintf(stderr, "warning: %s is not applied: %s\n", opts[i].name, opts[i].why);
	}
}

/*
 * One connect-all at a time per file (the timer and a person may overlap): a second run would
 * see the first one's subsystems as not connected yet and fail connecting them again. The lock
 * is on the file itself (read-only is enough for flock), not on the directory the editors
 * lock, so `config add` is not held up by a long run. -1: no lock, the run goes on anyway.
 */
static int run_lock(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return fd;
	if (errno == EWOULDBLOCK) {
		fprintf(stderr, "disnvme connect-all: waiting for another connect-all on %s\n",
			path);
		while (flock(fd, LOCK_EX)) {
			if (errno != EINTR)
				break;
		}
		return fd;
	}
	close(fd);
	return -1;
}

static int parse_args(int argc, char **argv, struct ca_opts *o)
{
	int i;

	o->path = DN_CONF_DEFAULT_PATH;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--dry-run")) {
			o->dry_run = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose++;
		} else if (!strcmp(a, "--config-file") && i + 1 < argc && argv[i + 1][0]) {
			o->path = argv[++i];
		} else if (!strncmp(a, "--config-file=", 14) && a[14]) {
			o->path = a + 14;
		} else if (o->cl_argc < (int)(sizeof(o->cl_argv) / sizeof(o->cl_argv[0]))) {
			/* the discovery controller's options: dn_conf_entry_parse() judges them */
			o->cl_argv[o->cl_argc++] = argv[i];
		} else {
			fprintf(stderr, "disnvme connect-all: too many arguments\n" CA_USAGE);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The discovery controller the command line gives, as the one entry of a discovery.conf would
 * be, but with `disnvme connect`'s ctrl_loss_tmo default: forever is for entries the timer
 * keeps coming back to, not for a run by hand.
 */
static int cl_entry(const struct ca_opts *o, struct dn_conf_entry *ce)
{
	struct dn_conf_diags d = {0};
	int ret;

	ret = dn_conf_entry_parse(o->cl_argc, o->cl_argv, DN_CONF_PARSE_STRICT, 0, ce, &d);
	dn_conf_diags_print(&d, "disnvme connect-all", stderr);
	dn_conf_diags_free(&d);
	if (ret) {
		fprintf(stderr, CA_USAGE);
		return ret;
	}
	if (!(ce->given & DN_CONF_GIVEN(DN_CONF_OPT_CTRL_LOSS_TMO)))
		ce->ctrl_loss_tmo = DN_DEF_CTRL_LOSS_TMO;
	return 0;
}

/* One entry: what it asks for that is not applied, its walk and connects, its line. 0 or -1. */
static int ca_run_one(const struct ca_opts *o, const struct dn_conf *c,
		      const struct dn_conf_entry *ce, struct dn_ca_set *connected)
{
	struct dn_ca_result res = {0};
	bool ok;

	note_unsupported(c, ce);
	ok = run_entry(o, ce, connected, &res) == 0;
	print_result(c, ce, &res);
	fflush(stdout);
	return ok ? 0 : -1;
}

/* The entries to run: the file's, or the command line's one (c NULL) */
static size_t nr_entries(const struct dn_conf *c)
{
	return c ? dn_conf_nr_entries(c) : 1;
}

static const struct dn_conf_entry *entry_at(const struct dn_conf *c, const struct dn_conf_entry *cl,
					    size_t i)
{
	return c ? dn_conf_get_entry(c, i) : cl;
}

int dn_cmd_connect_all(int argc, char **argv)
{
	struct dn_ca_set connected = {0};
	struct ca_opts o = {0};
	struct dn_err e = {0};
	struct json_object *req, *reply = NULL;
	struct dn_conf_entry cl;
	struct dn_conf *c = NULL;
	size_t i, failed = 0;
	int ret, lock = -1;
	ssize_t n;

	if (parse_args(argc, argv, &o))
		return DN_EXIT_USAGE;
	dn_log_init("disnvme", o.verbose - 1);
	if (!o.verbose)
		dn_log_max_level = 0; /* one line per entry; the log lines with -v */
	if (o.cl_argc) {
		if (cl_entry(&o, &cl))
			return DN_EXIT_USAGE;
		goto run;
	}
	ret = dn_conf_load(o.path, &c);
	if (ret) {
		fprintf(stderr, "disnvme connect-all: cannot read %s: %s\n", o.path,
			strerror(-ret));
		return DN_EXIT_FAIL;
	}
	dn_conf_diags_print(dn_conf_get_diags(c), o.path, stderr);
	if (!dn_conf_exists(c)) {
		fprintf(stderr,
			"disnvme connect-all: %s does not exist: no discovery controllers "
			"are configured\n",
			o.path);
		dn_conf_free(c);
		return DN_EXIT_FAIL;
	}
	failed = dn_conf_nr_errors(c); /* lines configured but not usable: entries that failed */

run:
	if (o.dry_run) {
		for (i = 0; i < nr_entries(c); i++) {
			print_plan(c, entry_at(c, &cl, i));
			note_unsupported(c, entry_at(c, &cl, i));
		}
		goto out_summary;
	}

	n = readlink("/proc/self/exe", o.self, sizeof(o.self) - 1);
	if (n <= 0) {
		fprintf(stderr, "disnvme connect-all: cannot find the disnvme executable: %s\n",
			strerror(errno));
		dn_conf_free(c);
		return DN_EXIT_FAIL;
	}
	o.self[n] = '\0';
	lock = run_lock(o.path);

	/* what the daemon serves already (no daemon: nothing) */
	req = json_object_new_object();
	if (!req || json_object_object_add(req, "cmd", json_object_new_string("list"))) {
		json_object_put(req);
		dn_err_set(&e, -ENOMEM, "out of memory");
		goto out_fail;
	}
	ret = dn_sock_request(req, &reply, 30000, &e);
	json_object_put(req);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		ret = 0;
	} else if (!ret) {
		ret = dn_ca_set_from_list(reply, &connected);
		json_object_put(reply);
		if (ret)
			dn_err_set(&e, ret, "the daemon's list of controllers is malformed");
	}
	if (ret)
		goto out_fail;

	for (i = 0; i < nr_entries(c); i++)
		failed += ca_run_one(&o, c, entry_at(c, &cl, i), &connected) != 0;
	dn_ca_set_free(&connected);
	if (lock >= 0)
		close(lock);

out_summary:
	if (failed && c)
		fprintf(stderr, "disnvme connect-all: %zu of %zu configured entries failed\n",
			failed, dn_conf_nr_entries(c) + dn_conf_nr_errors(c));
	dn_conf_free(c);
	return failed ? DN_EXIT_FAIL : DN_EXIT_OK;

out_fail:
	fprintf(stderr, "disnvme connect-all: %s\n", e.msg);
	dn_ca_set_free(&connected);
	if (lock >= 0)
		close(lock);
	dn_conf_free(c);
	return DN_EXIT_FAIL;
}
