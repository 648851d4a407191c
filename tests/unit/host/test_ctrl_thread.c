// SPDX-License-Identifier: MIT
/*
 * Unit tests of host/ctrl.c's controller thread, the real one started by dn_ctrl_start():
 * the start (Set Features, the AER, a device per active namespace, a subsystem without one
 * refused), Keep Alive at KATO/2 and the reset when one goes unanswered, a Namespace Attribute
 * Changed event and the rescan it starts (devices added, removed, resized in place, or made again
 * where ublk cannot resize), resets (the target disconnecting, a queue thread asking) and the
 * reconnect attempts spaced by host/backoff.c, ctrl_loss_tmo and fast_io_fail_tmo, and
 * dn_ctrl_delete().
 *
 * Everything below the controller is swapped at link time (-Wl,--wrap, see CMakeLists.txt):
 *   - the admin queue (host/rdma_queue.h): a fake controller answers the synchronous commands
 *     (fake_admin.c for the fabrics ones and Identify Controller, this file for the namespaces,
 *     features and the Changed Namespace List); Keep Alive and AERs are held in request slots
 *     and completed through a completion channel whose fd is an eventfd, as the thread expects
 *     (Keep Alive at once unless told not to, an AER when the test says); tearing the queue
 *     down completes what it held with a path error, as the real one does;
 *   - rdma_cm events on the admin queue's event channel (another eventfd), and
 *     dn_rdma_forget_removed_devices();
 *   - the namespace devices (host/ns_dev.h): created, removed and notified devices are
 *     recorded with the controller's state at that moment; no ublk is touched;
 *   - dn_log(), so that a test can look for the sentence a reset is logged with.
 * The fakes are shared by the test, controller and scan threads: one mutex guards
 * them. Waits are deadline-bounded loops, and timing is only ever checked from below (nothing
 * happens early), so that a slow machine cannot fail a test.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rdma_util.h"
#include "common/uring_event.h" /* container_of */
#include "host/ctrl.h"
#include "host/nvmf_cmd.h"

#include "fake_admin.h"

/* the __wrap_ functions below are called only by the linker's redirection: no prototypes */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000bb"
#define SUBNQN	"nqn.2024-01.io.disnvme:ctrl-thread-test"

#define WAIT_MS	     10000 /* the longest a test waits for the thread to do something */
#define MAX_CMDS     2048
#define MAX_DEV_EVS  512
#define MAX_ATTEMPTS 1024
#define MAX_NS	     16
#define NR_SLOTS     32
#define MAX_LINES    512
#define GRANTED	     12 /* I/O queues the fake controller grants */
/* AER result of a Namespace Attribute Changed notice: type, information, log page */
#define AEN_NS_CHANGED (NVME_AER_NOTICE | 0x00 << 8 | NVME_LOG_LID_CHANGED_NS << 16)

/* ---- the fakes' records ---- */
struct cmd {
	uint8_t opcode, fctype;
	bool async; /* submitted (Keep Alive, AER), not executed */
	uint32_t nsid, cdw10, cdw11;
	int64_t ms;
};

enum dev_op { DEV_CREATE, DEV_REMOVE, DEV_NOTIFY, DEV_RESIZE };

struct dev_ev {
	enum dev_op op;
	struct dn_ns_info info; /* what the device was created with; nsid for the others */
	/* the controller at that moment */
	enum dn_ctrl_state state;
	uint32_t gen;
	bool may_hold_io;
	int64_t ms;
};

enum slot_state { SLOT_FREE, SLOT_TAKEN, SLOT_SUBMITTED, SLOT_ANSWERED };

struct fake_ns {
	uint32_t nsid;
	uint64_t nsze;
};

static pthread_mutex_t flock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct fake_admin a;
	/* the namespaces, ascending; the Changed Namespace List (read clears it) */
	struct fake_ns ns[MAX_NS];
	int nr_ns;
	int resize_ret; /* dn_ns_dev_resize()'s answer: 0 (Linux 6.16+) or -EOPNOTSUPP */
	uint32_t changed[MAX_NS];
	int nr_changed;
	uint32_t aen_cfg;
	/* the admin queue */
	int connect_ret; /* -errno: connects are refused with it */
	int attempts, connects, destroys, forgets;
	int64_t attempt_ms[MAX_ATTEMPTS], last_attempt_ms;
	bool attempt_may_hold[MAX_ATTEMPTS]; /* dn_ctrl_may_hold_io() at each attempt */
	int64_t destroy_ms;
	bool queue_up;
	bool ka_answer; /* Keep Alive is answered (at once) */
	struct dn_hq_req slots[NR_SLOTS];
	struct nvme_sqe sqes[NR_SLOTS];
	enum slot_state slot_state[NR_SLOTS];
	uint32_t slot_result[NR_SLOTS]; /* an answered slot's CQE result */
	/* rdma_cm events waiting on the event channel */
	enum rdma_cm_event_type cm[8];
	int nr_cm, cm_gets, cm_acks;
	/* what the host sent */
	struct cmd cmds[MAX_CMDS];
	int nr_cmds;
	/* the devices */
	struct dev_ev devs[MAX_DEV_EVS];
	int nr_devs, live_devs, next_dev_id;
	int on_failed;
	int64_t on_failed_ms;
	/* the log */
	char lines[MAX_LINES][256];
	int nr_lines;
	char bad[256]; /* what a fake saw go wrong on a thread where it cannot fail the test */
} f;
static struct ibv_comp_channel fake_cc;
static struct rdma_event_channel fake_ec;
static struct rdma_cm_id fake_id;

static void set_bad(const char *what, unsigned int v)
{
	if (!f.bad[0])
		snprintf(f.bad, sizeof(f.bad), "%s 0x%x", what, v);
}

static void log_cmd(const struct nvme_sqe *sqe, bool async)
{
	struct cmd *m;

	if (f.nr_cmds == MAX_CMDS) {
		set_bad("too many commands, the last", sqe->opcode);
		return;
	}
	m = &f.cmds[f.nr_cmds++];
	memset(m, 0, sizeof(*m));
	m->opcode = sqe->opcode;
	m->async = async;
	m->ms = dn_now_ms();
	/* a fabrics command's layout is its own: its type only */
	if (sqe->opcode == NVME_FABRICS_OPCODE) {
		m->fctype = sqe->fabrics.fctype;
		return;
	}
	m->nsid = le32toh(sqe->common.nsid);
	m->cdw10 = le32toh(sqe->common.cdw10);
	m->cdw11 = le32toh(sqe->common.cdw11);
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) > 0)
		;
}

static void kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		set_bad("cannot write an eventfd", (unsigned int)fd);
}

/* ---- the admin queue ---- */

int __wrap_dn_hq_connect(struct dn_hq *q, const struct dn_hq_opts *o, struct dn_err *e)
{
	struct dn_ctrl *c = container_of(q, struct dn_ctrl, admin);
	int ret;

	memset(q, 0, sizeof(*q));
	pthread_mutex_lock(&flock);
	f.last_attempt_ms = dn_now_ms();
	if (f.attempts < MAX_ATTEMPTS) {
		f.attempt_ms[f.attempts] = f.last_attempt_ms;
		f.attempt_may_hold[f.attempts] = dn_ctrl_may_hold_io(c);
	}
	f.attempts++;
	ret = f.connect_ret;
	if (!ret) {
		f.connects++;
		/* a new association: its own controller ID, disabled until CC.EN */
		f.a.cntlid = (uint16_t)(6 + f.connects);
		f.a.cc = 0;
		f.nr_cm = 0;
		drain(fake_cc.fd);
		drain(fake_ec.fd);
		f.queue_up = true;
	}
	pthread_mutex_unlock(&flock);
	if (ret)
		return dn_err_set(e, ret, "%s:%s refused the connection", o->traddr, o->trsvcid);
	q->id = &fake_id;
	q->cc = &fake_cc;
	q->ec = &fake_ec;
	q->qid = o->qid;
	q->depth = o->depth;
	q->connected = true;
	snprintf(q->peer, sizeof(q->peer), "%s:%s", o->traddr, o->trsvcid);
	return 0;
}

/* What the queue held fails with a path error, as dn_hq_abort_all() does. */
void __wrap_dn_hq_destroy(struct dn_hq *q)
{
	struct dn_hq_req *held[NR_SLOTS];
	struct nvme_cqe cqe = {0};
	int i, n = 0;

	if (!q->id)
		return;
	pthread_mutex_lock(&flock);
	f.destroys++;
	f.destroy_ms = dn_now_ms();
	f.queue_up = false;
	for (i = 0; i < NR_SLOTS; i++)
		if (f.slot_state[i] == SLOT_SUBMITTED || f.slot_state[i] == SLOT_ANSWERED)
			held[n++] = &f.slots[i];
	pthread_mutex_unlock(&flock);
	for (i = 0; i < n; i++) {
		held[i]->done(q, held[i], NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR),
			      &cqe);
		pthread_mutex_lock(&flock);
		f.slot_state[held[i]->cid] = SLOT_FREE;
		pthread_mutex_unlock(&flock);
	}
	memset(q, 0, sizeof(*q));
}

struct dn_hq_req *__wrap_dn_hq_get_req(struct dn_hq *q)
{
	struct dn_hq_req *r = NULL;
	int i;

	pthread_mutex_lock(&flock);
	for (i = 0; i < NR_SLOTS && !r; i++) {
		if (f.slot_state[i] != SLOT_FREE)
			continue;
		f.slot_state[i] = SLOT_TAKEN;
		r = &f.slots[i];
		memset(r, 0, sizeof(*r));
		memset(&f.sqes[i], 0, sizeof(f.sqes[i]));
		r->cid = (uint16_t)i;
		r->sqe = &f.sqes[i];
		r->state = DN_HQ_REQ_INFLIGHT;
	}
	pthread_mutex_unlock(&flock);
	return r;
}

void __wrap_dn_hq_put_req(struct dn_hq *q, struct dn_hq_req *r)
{
	pthread_mutex_lock(&flock);
	f.slot_state[r->cid] = SLOT_FREE;
	pthread_mutex_unlock(&flock);
}

int __wrap_dn_hq_submit(struct dn_hq *q, struct dn_hq_req *r, uint32_t incapsule_len)
{
	pthread_mutex_lock(&flock);
	if (!q->id || incapsule_len)
		set_bad("submit on a queue that is down, or with data, opcode", r->sqe->opcode);
	r->sqe->cid = htole16(r->cid);
	log_cmd(r->sqe, true);
	f.slot_state[r->cid] = SLOT_SUBMITTED;
	if (r->sqe->opcode == nvme_admin_keep_alive && f.ka_answer) {
		f.slot_state[r->cid] = SLOT_ANSWERED;
		f.slot_result[r->cid] = 0;
		kick(fake_cc.fd);
	} else if (r->sqe->opcode != nvme_admin_keep_alive &&
		   r->sqe->opcode != nvme_admin_async_event) {
		set_bad("unexpected asynchronous command", r->sqe->opcode);
	}
	pthread_mutex_unlock(&flock);
	return 0;
}

/* The completion channel fired: complete what the fake controller has answered. */
int __wrap_dn_hq_handle_event(struct dn_hq *q)
{
	struct dn_hq_req *answered[NR_SLOTS];
	uint32_t result[NR_SLOTS];
	int i, n = 0;

	drain(fake_cc.fd);
	pthread_mutex_lock(&flock);
	for (i = 0; i < NR_SLOTS; i++) {
		if (f.slot_state[i] != SLOT_ANSWERED)
			continue;
		result[n] = f.slot_result[i];
		answered[n++] = &f.slots[i];
	}
	pthread_mutex_unlock(&flock);
	for (i = 0; i < n; i++) {
		struct nvme_cqe cqe = {.cid = htole16(answered[i]->cid)};

		cqe.result.u32 = htole32(result[i]);
		answered[i]->done(q, answered[i], 0, &cqe);
		pthread_mutex_lock(&flock);
		f.slot_state[answered[i]->cid] = SLOT_FREE;
		pthread_mutex_unlock(&flock);
	}
	return 0;
}

static const struct fake_ns *find_fake_ns(uint32_t nsid)
{
	int i;

	for (i = 0; i < f.nr_ns; i++)
		if (f.ns[i].nsid == nsid)
			return &f.ns[i];
	return NULL;
}

/* Identify of the namespaces: the active list, each namespace (4 KiB blocks, an NGUID), and
 * its descriptor list (a UUID) */
static void identify_ns(const struct nvme_sqe *sqe, void *data, uint32_t len)
{
	uint32_t cns = le32toh(sqe->common.cdw10) & 0xff, nsid = le32toh(sqe->common.nsid);
	const struct fake_ns *ns = find_fake_ns(nsid);
	uint32_t *list = data;
	uint8_t *b = data;
	int i;

	memset(data, 0, len);
	switch (cns) {
	case NVME_IDENTIFY_CNS_NS_ACTIVE_LIST:
		for (i = 0; i < f.nr_ns && (uint32_t)i < len / 4; i++)
			list[i] = htole32(f.ns[i].nsid);
		break;
	case NVME_IDENTIFY_CNS_NS:
		if (ns) {
			struct nvme_id_ns *id = data;

			id->nsze = id->ncap = id->nuse = htole64(ns->nsze);
			id->lbaf[0].ds = 12;
			id->nguid[0] = 0xd1;
			id->nguid[15] = (uint8_t)nsid;
		}
		break;
	case NVME_IDENTIFY_CNS_NS_DESC_LIST:
		if (ns) {
			b[0] = NVME_NIDT_UUID;
			b[1] = NVME_NIDT_UUID_LEN;
			b[4] = 0xee;
			b[4 + 15] = (uint8_t)nsid;
		}
		break;
	default:
		set_bad("unexpected Identify CNS", cns);
	}
}

int __wrap_dn_hq_exec(struct dn_hq *q, struct nvme_sqe *sqe, void *data, uint32_t len, bool to_ctrl,
		      struct nvme_cqe *cqe, nvme_status_t *st, int timeout_ms, struct dn_err *e)
{
	uint32_t cdw10 = le32toh(sqe->common.cdw10), cdw11 = le32toh(sqe->common.cdw11);
	struct nvme_cqe c = {0};

	*st = 0;
	pthread_mutex_lock(&flock);
	if (!q->id)
		set_bad("command on a queue that is down, opcode", sqe->opcode);
	log_cmd(sqe, false);
	if (fake_admin_exec(&f.a, sqe, data, len, to_ctrl, &c, st)) {
		/* fabrics, Identify Controller */
	} else if (sqe->opcode == nvme_admin_identify) {
		identify_ns(sqe, data, len);
	} else if (sqe->opcode == nvme_admin_set_features &&
		   (cdw10 & 0xff) == NVME_FEAT_FID_NUM_QUEUES) {
		c.result.u32 = htole32(dn_num_queues_cdw11(GRANTED));
	} else if (sqe->opcode == nvme_admin_set_features &&
		   (cdw10 & 0xff) == NVME_FEAT_FID_ASYNC_EVENT) {
		f.aen_cfg = cdw11;
	} else if (sqe->opcode == nvme_admin_get_log_page &&
		   (cdw10 & 0xff) == NVME_LOG_LID_CHANGED_NS) {
		uint32_t *list = data;
		int i;

		memset(data, 0, len);
		for (i = 0; i < f.nr_changed && (uint32_t)i < len / 4; i++)
			list[i] = htole32(f.changed[i]);
		f.nr_changed = 0;
	} else {
		set_bad("unexpected admin command", sqe->opcode);
		*st = NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	}
	pthread_mutex_unlock(&flock);
	c.cid = sqe->cid;
	if (cqe)
		*cqe = c;
	return 0;
}

/* ---- rdma_cm events on the admin queue's event channel ---- */

int __wrap_dn_rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **out)
{
	struct rdma_cm_event *ev;
	uint64_t v;

	if (read(ch->fd, &v, sizeof(v)) < 0)
		return -errno;
	ev = calloc(1, sizeof(*ev));
	pthread_mutex_lock(&flock);
	f.cm_gets++;
	if (!f.nr_cm || !ev) {
		set_bad("the event channel fired without an event", (unsigned int)f.nr_cm);
		pthread_mutex_unlock(&flock);
		free(ev);
		return -EAGAIN;
	}
	ev->event = f.cm[0];
	memmove(f.cm, f.cm + 1, (size_t)--f.nr_cm * sizeof(f.cm[0]));
	pthread_mutex_unlock(&flock);
	*out = ev;
	return 0;
}

int __wrap_dn_rdma_ack_cm_event(struct rdma_cm_event *ev)
{
	pthread_mutex_lock(&flock);
	f.cm_acks++;
	pthread_mutex_unlock(&flock);
	free(ev);
	return 0;
}

void __wrap_dn_rdma_forget_removed_devices(void)
{
	pthread_mutex_lock(&flock);
	f.forgets++;
	pthread_mutex_unlock(&flock);
}

/* ---- the namespace devices ---- */

static void dev_event(enum dev_op op, struct dn_ctrl *c, const struct dn_ns_info *info)
{
	struct dev_ev *ev;

	if (f.nr_devs == MAX_DEV_EVS) {
		set_bad("too many device events, the last for namespace", info->nsid);
		return;
	}
	ev = &f.devs[f.nr_devs++];
	ev->op = op;
	ev->info = *info;
	ev->state = dn_ctrl_state(c);
	ev->gen = dn_ctrl_gen(c);
	ev->may_hold_io = dn_ctrl_may_hold_io(c);
	ev->ms = dn_now_ms();
}

int __wrap_dn_ns_dev_create(struct dn_ctrl *c, const struct dn_ns_info *ns, struct dn_ns_dev **out,
			    struct dn_err *e)
{
	struct dn_ns_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return dn_err_set(e, -ENOMEM, "out of memory");
	d->ctrl = c;
	d->nr_paths = 1;
	d->info = *ns;
	pthread_mutex_lock(&flock);
	d->dev_id = f.next_dev_id++;
	f.live_devs++;
	dev_event(DEV_CREATE, c, ns);
	pthread_mutex_unlock(&flock);
	*out = d;
	return 0;
}

/* one controller: no namespace has a device through another */
struct dn_ns_dev *__wrap_dn_ns_dev_find_path(struct dn_ctrl *c, const struct dn_ns_info *ns)
{
	return NULL;
}

int __wrap_dn_ns_dev_add_path(struct dn_ns_dev *d, struct dn_ctrl *c, const struct dn_ns_info *ns,
			      struct dn_err *e)
{
	pthread_mutex_lock(&flock);
	set_bad("a second path for namespace", ns->nsid);
	pthread_mutex_unlock(&flock);
	return dn_err_set(e, -EIO, "no second path here");
}

bool __wrap_dn_ns_dev_remove_path(struct dn_ns_dev *d, struct dn_ctrl *c)
{
	pthread_mutex_lock(&flock);
	if (d->ctrl != c)
		set_bad("a path removed by another controller, namespace", d->info.nsid);
	f.live_devs--;
	dev_event(DEV_REMOVE, c, &d->info);
	pthread_mutex_unlock(&flock);
	free(d);
	return true;
}

int __wrap_dn_ns_dev_resize(struct dn_ns_dev *d, uint64_t nsze, struct dn_err *e)
{
	int ret;

	pthread_mutex_lock(&flock);
	ret = f.resize_ret;
	if (!ret) {
		d->info.nsze = nsze;
		dev_event(DEV_RESIZE, d->ctrl, &d->info);
	}
	pthread_mutex_unlock(&flock);
	return ret ? dn_err_set(e, ret, "fake: no live resize") : 0;
}

void __wrap_dn_ns_dev_notify(struct dn_ns_dev *d)
{
	pthread_mutex_lock(&flock);
	dev_event(DEV_NOTIFY, d->ctrl, &d->info);
	pthread_mutex_unlock(&flock);
}

/* ---- the log ---- */

void __wrap_dn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void __wrap_dn_log(int level, const char *fmt, ...)
{
	char buf[sizeof(f.lines[0])];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&flock);
	if (f.nr_lines < MAX_LINES)
		memcpy(f.lines[f.nr_lines++], buf, sizeof(buf));
	pthread_mutex_unlock(&flock);
	if (level <= dn_log_max_level)
		fprintf(stderr, "test_ctrl_thread: %s\n", buf);
}

/* ---- what the test looks at (its own thread) ---- */

#define wait_until(cond)                                                          \
	do {                                                                      \
		int64_t end_ = dn_now_ms() + WAIT_MS;                             \
		while (!(cond)) {                                                 \
			if (dn_now_ms() > end_)                                   \
				fail_msg("not within %d ms: %s", WAIT_MS, #cond); \
			usleep(2000);                                             \
		}                                                                 \
	} while (0)

/* A counter or a time of the fakes, read under their lock (never assert with it held: the
 * other threads would wait for it forever) */
static int peek(const int *v)
{
	int n;

	pthread_mutex_lock(&flock);
	n = *v;
	pthread_mutex_unlock(&flock);
	return n;
}

static int64_t peek_ms(const int64_t *v)
{
	int64_t ms;

	pthread_mutex_lock(&flock);
	ms = *v;
	pthread_mutex_unlock(&flock);
	return ms;
}

static struct cmd cmd_at(int i)
{
	struct cmd m;

	pthread_mutex_lock(&flock);
	m = f.cmds[i];
	pthread_mutex_unlock(&flock);
	return m;
}

/* commands with this opcode (and, for Get Log Page, Identify and Set Features, this low
 * byte of CDW10: LID, CNS, FID; -1: any) from index from on */
static int count_cmds(int from, uint8_t opcode, int cdw10_lo)
{
	int i, n = 0;

	pthread_mutex_lock(&flock);
	for (i = from; i < f.nr_cmds; i++)
		if (f.cmds[i].opcode == opcode &&
		    (cdw10_lo < 0 || (f.cmds[i].cdw10 & 0xff) == (uint32_t)cdw10_lo))
			n++;
	pthread_mutex_unlock(&flock);
	return n;
}

/* the time of the nth (0-based) command with this opcode */
static int64_t cmd_ms(uint8_t opcode, int nth)
{
	int64_t ms = -1;
	int i;

	pthread_mutex_lock(&flock);
	for (i = 0; i < f.nr_cmds && ms < 0; i++)
		if (f.cmds[i].opcode == opcode && !nth--)
			ms = f.cmds[i].ms;
	pthread_mutex_unlock(&flock);
	return ms;
}

struct want_cmd {
	uint8_t opcode, fctype;
	bool async;
	uint32_t nsid, cdw10, cdw11;
};

/* the commands from index from on start with these, in this order */
static void expect_cmds(int from, const struct want_cmd *w, int n)
{
	int i;

	assert_true(peek(&f.nr_cmds) >= from + n);
	for (i = 0; i < n; i++) {
		struct cmd m = cmd_at(from + i);

		if (m.opcode != w[i].opcode || m.fctype != w[i].fctype || m.async != w[i].async ||
		    m.nsid != w[i].nsid || m.cdw10 != w[i].cdw10 || m.cdw11 != w[i].cdw11)
			fail_msg("command %d: opcode 0x%x/0x%x%s nsid %u cdw10 0x%x cdw11 0x%x, "
				 "expected 0x%x/0x%x%s nsid %u cdw10 0x%x cdw11 0x%x",
				 i, m.opcode, m.fctype, m.async ? " (async)" : "", m.nsid, m.cdw10,
				 m.cdw11, w[i].opcode, w[i].fctype, w[i].async ? " (async)" : "",
				 w[i].nsid, w[i].cdw10, w[i].cdw11);
	}
}

#define IDENTIFY(cns, nsid)                                 \
	{                                                   \
		nvme_admin_identify, 0, false, nsid, cns, 0 \
	}
#define AER                                              \
	{                                                \
		nvme_admin_async_event, 0, true, 0, 0, 0 \
	}
#define FABRICS(type)                                     \
	{                                                 \
		NVME_FABRICS_OPCODE, type, false, 0, 0, 0 \
	}

/* AERs held by the fake controller right now */
static int aers_held(void)
{
	int i, n = 0;

	pthread_mutex_lock(&flock);
	for (i = 0; i < NR_SLOTS; i++)
		if (f.slot_state[i] == SLOT_SUBMITTED && f.sqes[i].opcode == nvme_admin_async_event)
			n++;
	pthread_mutex_unlock(&flock);
	return n;
}

/* The fake controller answers the AER it holds with this result. */
static void complete_aer(uint32_t result)
{
	bool found = false;
	int i;

	pthread_mutex_lock(&flock);
	for (i = 0; i < NR_SLOTS && !found; i++) {
		if (f.slot_state[i] != SLOT_SUBMITTED || f.sqes[i].opcode != nvme_admin_async_event)
			continue;
		f.slot_state[i] = SLOT_ANSWERED;
		f.slot_result[i] = result;
		kick(fake_cc.fd);
		found = true;
	}
	pthread_mutex_unlock(&flock);
	assert_true(found);
}

/* An rdma_cm event on the admin queue's event channel */
static void cm_event(enum rdma_cm_event_type t)
{
	bool up;

	pthread_mutex_lock(&flock);
	up = f.queue_up;
	if (up) {
		f.cm[f.nr_cm++] = t;
		kick(fake_ec.fd);
	}
	pthread_mutex_unlock(&flock);
	assert_true(up);
}

static void set_connect_ret(int ret)
{
	pthread_mutex_lock(&flock);
	f.connect_ret = ret;
	pthread_mutex_unlock(&flock);
}

static int64_t attempt_ms(int i)
{
	assert_true(i < MAX_ATTEMPTS);
	return peek_ms(&f.attempt_ms[i]);
}

static int count_lines(const char *needle)
{
	int i, n = 0;

	pthread_mutex_lock(&flock);
	for (i = 0; i < f.nr_lines; i++)
		if (strstr(f.lines[i], needle))
			n++;
	pthread_mutex_unlock(&flock);
	return n;
}

static struct dev_ev dev_at(int i)
{
	struct dev_ev ev;

	pthread_mutex_lock(&flock);
	ev = f.devs[i];
	pthread_mutex_unlock(&flock);
	return ev;
}

/* device events from index from on: of this kind for nsid (0: any), in state st (-1: any) */
static int count_devs(int from, enum dev_op op, uint32_t nsid, int st)
{
	int i, n = 0;

	pthread_mutex_lock(&flock);
	for (i = from; i < f.nr_devs; i++)
		if (f.devs[i].op == op && (!nsid || f.devs[i].info.nsid == nsid) &&
		    (st < 0 || f.devs[i].state == (enum dn_ctrl_state)st))
			n++;
	pthread_mutex_unlock(&flock);
	return n;
}

struct want_dev {
	enum dev_op op;
	uint32_t nsid;
	uint64_t nsze; /* DEV_CREATE, DEV_RESIZE */
};

static void expect_devs(int from, const struct want_dev *w, int n)
{
	int i;

	assert_true(peek(&f.nr_devs) >= from + n);
	for (i = 0; i < n; i++) {
		struct dev_ev ev = dev_at(from + i);

		if (ev.op != w[i].op || ev.info.nsid != w[i].nsid ||
		    ((w[i].op == DEV_CREATE || w[i].op == DEV_RESIZE) && ev.info.nsze != w[i].nsze))
			fail_msg("device event %d: %d for namespace %u (%llu blocks), expected %d "
				 "for namespace %u (%llu blocks)",
				 i, ev.op, ev.info.nsid, (unsigned long long)ev.info.nsze, w[i].op,
				 w[i].nsid, (unsigned long long)w[i].nsze);
		if (ev.op == DEV_CREATE) {
			/* from Identify Namespace, and the UUID from the descriptor list */
			assert_int_equal(ev.info.lbs_shift, 12);
			assert_int_equal(ev.info.nguid[0], 0xd1);
			assert_int_equal(ev.info.nguid[15], w[i].nsid);
			assert_int_equal(ev.info.uuid[0], 0xee);
			assert_int_equal(ev.info.uuid[15], w[i].nsid);
		}
	}
}

/* the namespaces the fake controller has: nsid i * 1000 blocks */
static void set_ns(const uint32_t *nsids, int n)
{
	int i;

	pthread_mutex_lock(&flock);
	f.nr_ns = n;
	for (i = 0; i < n; i++) {
		f.ns[i].nsid = nsids[i];
		f.ns[i].nsze = nsids[i] * 1000ull;
	}
	pthread_mutex_unlock(&flock);
}

/* ---- fixtures ---- */
static struct dn_ctrl *c;
static struct dn_err err;

static void on_failed(struct dn_ctrl *ctrl)
{
	pthread_mutex_lock(&flock);
	f.on_failed++;
	f.on_failed_ms = dn_now_ms();
	pthread_mutex_unlock(&flock);
}

static int setup(void **state)
{
	memset(&f, 0, sizeof(f));
	fake_admin_init(&f.a, SUBNQN);
	f.a.rdy_after = 0;
	f.ka_answer = true;
	fake_cc.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* one read per event: two events queued are two wake-ups */
	fake_ec.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	assert_true(fake_cc.fd >= 0 && fake_ec.fd >= 0);
	c = calloc(1, sizeof(*c));
	assert_non_null(c);
	strcpy(c->o.traddr, "10.77.0.1");
	strcpy(c->o.trsvcid, "4420");
	strcpy(c->o.subnqn, SUBNQN);
	strcpy(c->o.hostnqn, HOSTNQN);
	memset(c->o.hostid, 0xbb, sizeof(c->o.hostid));
	c->o.nr_io_queues = 2;
	c->o.queue_size = 128;
	c->o.kato = 0;
	c->o.reconnect_delay_ms = 100;
	c->o.ctrl_loss_tmo = -1;
	c->o.fast_io_fail_tmo = -1;
	c->on_failed = on_failed;
	dn_err_clear(&err);
	return 0;
}

static int teardown(void **state)
{
	int i;

	if (c->id)
		dn_ctrl_delete(c);
	if (c->started)
		pthread_cond_destroy(&c->started_cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	close(fake_cc.fd);
	close(fake_ec.fd);
	/* no thread is left: every device removed, every queue destroyed, every event
	 * acknowledged, no request slot held */
	assert_int_equal(f.live_devs, 0);
	assert_int_equal(f.destroys, f.connects);
	assert_int_equal(f.cm_acks, f.cm_gets);
	for (i = 0; i < NR_SLOTS; i++)
		assert_int_equal(f.slot_state[i], SLOT_FREE);
	if (f.bad[0])
		fail_msg("%s", f.bad);
	return 0;
}

static void connect_and_start(const uint32_t *nsids, int n)
{
	set_ns(nsids, n);
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	assert_int_equal(dn_ctrl_start(c, &err), 0);
	assert_int_equal(dn_ctrl_state(c), DN_CTRL_LIVE);
}

/* ---- starting ---- */

/*
 * dn_ctrl_start(): Number of Queues and Async Event Configuration, the AER, the Identify half
 * of the scan, then a device per active namespace, each notified once listed.
 */
static void test_start(void **state)
{
	static const uint32_t nsids[] = {1, 2, 5};
	const struct want_cmd want[] = {
		{nvme_admin_set_features, 0, false, 0, NVME_FEAT_FID_NUM_QUEUES,
		 15 | 15 << 16}, /* 2 queues a device, room for 8 devices, 0's based */
		{nvme_admin_set_features, 0, false, 0, NVME_FEAT_FID_ASYNC_EVENT, 1u << 8},
		AER,
		IDENTIFY(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0),
		IDENTIFY(NVME_IDENTIFY_CNS_NS, 1),
		IDENTIFY(NVME_IDENTIFY_CNS_NS_DESC_LIST, 1),
		IDENTIFY(NVME_IDENTIFY_CNS_NS, 2),
		IDENTIFY(NVME_IDENTIFY_CNS_NS_DESC_LIST, 2),
		IDENTIFY(NVME_IDENTIFY_CNS_NS, 5),
		IDENTIFY(NVME_IDENTIFY_CNS_NS_DESC_LIST, 5),
	};
	static const struct want_dev devs[] = {
		{DEV_CREATE, 1, 1000}, {DEV_NOTIFY, 1, 0},    {DEV_CREATE, 2, 2000},
		{DEV_NOTIFY, 2, 0},    {DEV_CREATE, 5, 5000}, {DEV_NOTIFY, 5, 0},
	};
	struct dn_ctrl_caps caps;
	uint16_t max_qid;
	int from;

	c->o.kato = 30;
	set_ns(nsids, 3);
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	from = peek(&f.nr_cmds);
	assert_int_equal(dn_ctrl_start(c, &err), 0);
	assert_int_equal(dn_ctrl_state(c), DN_CTRL_LIVE);
	expect_cmds(from, want, sizeof(want) / sizeof(want[0]));
	assert_int_equal(aers_held(), 1);
	dn_ctrl_caps_get(c, &caps, &max_qid);
	assert_int_equal(max_qid, GRANTED);
	assert_int_equal(caps.nr_queues, 2);
	/* the scan's devices are all made when dn_ctrl_start() returns */
	expect_devs(0, devs, 6);
	assert_int_equal(peek(&f.nr_devs), 6);
	assert_int_equal(peek(&f.live_devs), 3);
	pthread_mutex_lock(&c->lock);
	assert_int_equal(c->nr_ns_devs, 3);
	pthread_mutex_unlock(&c->lock);
	assert_int_equal(dn_ctrl_gen(c), 0);
}

/* No active namespace: dn_ctrl_start() fails, and the thread ends by itself. */
static void test_start_no_namespace(void **state)
{
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	assert_int_equal(dn_ctrl_start(c, &err), -ENODEV);
	assert_string_equal(err.msg, "subsystem " SUBNQN " has no active namespace");
	wait_until(dn_ctrl_state(c) == DN_CTRL_DELETING);
	assert_int_equal(peek(&f.nr_devs), 0);
	assert_int_equal(count_cmds(0, nvme_admin_identify, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST), 1);
}

/* ---- keep-alive ---- */

/* KATO 1 s: Keep Alive every 500 ms at the earliest, answered, no reset */
static void test_keep_alive(void **state)
{
	static const uint32_t nsids[] = {1};
	int64_t t0;
	int i;

	c->o.kato = 1;
	set_ns(nsids, 1);
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	assert_int_equal(f.a.connect_kato, 1000);
	t0 = dn_now_ms();
	assert_int_equal(dn_ctrl_start(c, &err), 0);
	wait_until(count_cmds(0, nvme_admin_keep_alive, -1) >= 4);
	/* none before KATO/2 after the start, nor sooner than KATO/2 after the last */
	assert_true(cmd_ms(nvme_admin_keep_alive, 0) - t0 >= 500);
	for (i = 1; i < 4; i++) {
		int64_t gap =
			cmd_ms(nvme_admin_keep_alive, i) - cmd_ms(nvme_admin_keep_alive, i - 1);

		if (gap < 450)
			fail_msg("Keep Alive %d came %lld ms after the one before", i,
				 (long long)gap);
	}
	for (i = 0; i < peek(&f.nr_cmds); i++) {
		struct cmd m = cmd_at(i);

		if (m.opcode == nvme_admin_keep_alive)
			assert_true(m.async && !m.nsid && !m.cdw10 && !m.cdw11);
	}
	assert_int_equal(dn_ctrl_state(c), DN_CTRL_LIVE);
	assert_int_equal(count_lines("resetting"), 0);
	assert_int_equal(peek(&f.destroys), 0);
}

/* A Keep Alive left unanswered: once the next is due, the controller resets. */
static void test_keep_alive_timeout(void **state)
{
	static const uint32_t nsids[] = {1};
	int64_t ka;

	c->o.kato = 1;
	set_ns(nsids, 1);
	pthread_mutex_lock(&flock);
	f.ka_answer = false;
	pthread_mutex_unlock(&flock);
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	set_connect_ret(-ECONNREFUSED); /* stay RESETTING until the test says */
	assert_int_equal(dn_ctrl_start(c, &err), 0);
	wait_until(dn_ctrl_state(c) == DN_CTRL_RESETTING);
	assert_int_equal(count_cmds(0, nvme_admin_keep_alive, -1), 1);
	assert_int_equal(count_lines("keep alive timed out: resetting the controller"), 1);
	ka = cmd_ms(nvme_admin_keep_alive, 0);
	/* not before the next Keep Alive was due */
	assert_true(peek_ms(&f.destroy_ms) - ka >= 450);
	assert_int_equal(peek(&f.destroys), 1);
	pthread_mutex_lock(&flock);
	f.ka_answer = true;
	pthread_mutex_unlock(&flock);
	assert_true(dn_ctrl_may_hold_io(c));
	set_connect_ret(0);
	wait_until(dn_ctrl_state(c) == DN_CTRL_LIVE);
	assert_int_equal(dn_ctrl_gen(c), 1);
}

/* ---- asynchronous events ---- */

/*
 * An event that is not a namespace change: the AER is re-armed, no rescan. Then a Namespace
 * Attribute Changed notice: the AER re-armed, the Changed Namespace List read, the namespaces
 * identified again, and the devices brought in line: 2 gone, 3 resized (devs: in place, or
 * with a new device where ublk cannot resize), 4 new, 1 untouched.
 */
static void aen_rescan(const struct want_dev *devs, int nr_devs)
{
	static const uint32_t before[] = {1, 2, 3};
	const struct want_cmd want[] = {
		AER,
		{nvme_admin_get_log_page, 0, false, 0xffffffff,
		 NVME_LOG_LID_CHANGED_NS | (4096 / 4 - 1) << 16, 0},
		IDENTIFY(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0),
		IDENTIFY(NVME_IDENTIFY_CNS_NS, 1),
		IDENTIFY(NVME_IDENTIFY_CNS_NS_DESC_LIST, 1),
		IDENTIFY(NVME_IDENTIFY_CNS_NS, 3),
		IDENTIFY(NVME_IDENTIFY_CNS_NS_DESC_LIST, 3),
		IDENTIFY(NVME_IDENTIFY_CNS_NS, 4),
		IDENTIFY(NVME_IDENTIFY_CNS_NS_DESC_LIST, 4),
	};
	int from, dev_from;

	connect_and_start(before, 3);
	/* a SMART / Health notice: re-armed, nothing read */
	from = peek(&f.nr_cmds);
	complete_aer(0x01 | 0x02 << 8 | NVME_LOG_LID_SMART << 16);
	wait_until(count_cmds(from, nvme_admin_async_event, -1) == 1);
	assert_int_equal(aers_held(), 1);
	/* the namespaces change */
	pthread_mutex_lock(&flock);
	f.nr_ns = 3;
	f.ns[0] = (struct fake_ns){1, 1000};
	f.ns[1] = (struct fake_ns){3, 3500};
	f.ns[2] = (struct fake_ns){4, 4000};
	f.nr_changed = 3;
	f.changed[0] = 2;
	f.changed[1] = 3;
	f.changed[2] = 4;
	pthread_mutex_unlock(&flock);
	from = peek(&f.nr_cmds);
	dev_from = peek(&f.nr_devs);
	complete_aer(AEN_NS_CHANGED);
	wait_until(peek(&f.nr_devs) >= dev_from + nr_devs);
	expect_devs(dev_from, devs, nr_devs);
	expect_cmds(from, want, sizeof(want) / sizeof(want[0]));
	/* the list was read once, for the notice and not for the other event */
	assert_int_equal(count_cmds(0, nvme_admin_get_log_page, -1), 1);
	assert_int_equal(peek(&f.nr_changed), 0);
	assert_int_equal(aers_held(), 1);
	assert_int_equal(peek(&f.live_devs), 3);
	assert_int_equal(dn_ctrl_state(c), DN_CTRL_LIVE);
}

/* Linux 6.16+: namespace 3's device takes its new size in place. */
static void test_aen_rescan(void **state)
{
	static const struct want_dev devs[] = {
		{DEV_REMOVE, 2, 0},
		{DEV_RESIZE, 3, 3500},
		{DEV_CREATE, 4, 4000},
		{DEV_NOTIFY, 4, 0},
	};

	aen_rescan(devs, 4);
	/* the resized device was neither removed nor made again */
	assert_int_equal(count_devs(0, DEV_REMOVE, 3, -1), 0);
	assert_int_equal(count_devs(0, DEV_CREATE, 3, -1), 1);
}

/* Before Linux 6.16 ublk cannot resize: namespace 3 gets a new device with the new size. */
static void test_aen_rescan_no_live_resize(void **state)
{
	static const struct want_dev devs[] = {
		{DEV_REMOVE, 2, 0}, {DEV_REMOVE, 3, 0},	   {DEV_CREATE, 3, 3500},
		{DEV_NOTIFY, 3, 0}, {DEV_CREATE, 4, 4000}, {DEV_NOTIFY, 4, 0},
	};

	pthread_mutex_lock(&flock);
	f.resize_ret = -EOPNOTSUPP;
	pthread_mutex_unlock(&flock);
	aen_rescan(devs, 6);
}

/* ---- resets and reconnects ---- */

/*
 * The target disconnects: RESETTING, the devices told (they hold their I/O), reconnect
 * attempts every reconnect_delay while the target refuses (it answered: no backoff), then
 * LIVE on a new association (a new controller ID, features and an AER again) and the devices
 * told again. They are neither removed nor made again.
 */
static void test_reset_reconnect(void **state)
{
	static const uint32_t nsids[] = {1, 2};
	const struct want_cmd want[] = {
		FABRICS(nvme_fabrics_type_connect),
		FABRICS(nvme_fabrics_type_property_get), /* CAP */
		FABRICS(nvme_fabrics_type_property_set), /* CC.EN */
		FABRICS(nvme_fabrics_type_property_get), /* CSTS */
		IDENTIFY(NVME_IDENTIFY_CNS_CTRL, 0),
		{nvme_admin_set_features, 0, false, 0, NVME_FEAT_FID_NUM_QUEUES, 15 | 15 << 16},
		{nvme_admin_set_features, 0, false, 0, NVME_FEAT_FID_ASYNC_EVENT, 1u << 8},
		AER,
	};
	struct dn_ctrl_caps caps;
	int dev_from, from, i;

	connect_and_start(nsids, 2);
	assert_int_equal(dn_ctrl_cntlid(c), 7);
	dev_from = peek(&f.nr_devs);
	set_connect_ret(-ECONNREFUSED);
	cm_event(RDMA_CM_EVENT_DISCONNECTED);
	wait_until(dn_ctrl_state(c) == DN_CTRL_RESETTING);
	assert_int_equal(count_lines("the target closed the connection: resetting the controller"),
			 1);
	/* the queues hear of it and hold their I/O */
	wait_until(count_devs(dev_from, DEV_NOTIFY, 0, DN_CTRL_RESETTING) >= 2);
	assert_int_equal(count_devs(dev_from, DEV_NOTIFY, 1, DN_CTRL_RESETTING), 1);
	assert_int_equal(count_devs(dev_from, DEV_NOTIFY, 2, DN_CTRL_RESETTING), 1);
	assert_true(dn_ctrl_may_hold_io(c));
	/* eight refusals, reconnect_delay apart: a doubling wait would take 12.7 s */
	wait_until(peek(&f.attempts) >= 1 + 8);
	for (i = 2; i < 1 + 8; i++) {
		int64_t gap = attempt_ms(i) - attempt_ms(i - 1);

		if (gap < 100)
			fail_msg("attempt %d came %lld ms after the one before", i, (long long)gap);
	}
	/* logged once: the same failure with the same wait is not repeated */
	assert_int_equal(count_lines("reconnect failed: 10.77.0.1:4420 refused the connection; "
				     "next attempt in 100 ms (the target answered)"),
			 1);
	dn_ctrl_caps_get(c, &caps, NULL);
	assert_int_equal(caps.incapsule, 8192);
	assert_int_equal(caps.max_xfer, 128 * 1024);
	from = peek(&f.nr_cmds);
	/* the target comes back with other limits: 4 KiB in the capsule, 64 KiB transfers */
	pthread_mutex_lock(&flock);
	f.a.id.ioccsz = htole32((64 + 4096) / 16);
	f.a.id.mdts = 4;
	f.connect_ret = 0;
	pthread_mutex_unlock(&flock);
	wait_until(dn_ctrl_state(c) == DN_CTRL_LIVE);
	assert_int_equal(dn_ctrl_gen(c), 1);
	assert_int_equal(dn_ctrl_cntlid(c), 8);
	expect_cmds(from, want, sizeof(want) / sizeof(want[0]));
	/* the I/O queues connect with the new association's limits */
	dn_ctrl_caps_get(c, &caps, NULL);
	assert_int_equal(caps.incapsule, 4096);
	assert_int_equal(caps.max_xfer, 64 * 1024);
	wait_until(count_devs(dev_from, DEV_NOTIFY, 0, DN_CTRL_LIVE) >= 2);
	for (i = dev_from; i < peek(&f.nr_devs); i++) {
		struct dev_ev ev = dev_at(i);

		assert_int_equal(ev.op, DEV_NOTIFY);
		if (ev.state == DN_CTRL_LIVE)
			assert_int_equal(ev.gen, 1);
	}
	assert_int_equal(count_devs(dev_from, DEV_NOTIFY, 1, DN_CTRL_LIVE), 1);
	assert_int_equal(count_devs(dev_from, DEV_NOTIFY, 2, DN_CTRL_LIVE), 1);
	assert_int_equal(peek(&f.live_devs), 2);
	assert_int_equal(aers_held(), 1);
	/* every attempt first lets go of removed RDMA devices */
	assert_int_equal(peek(&f.forgets), peek(&f.attempts) - 1);
	assert_int_equal(peek(&f.connects), 2);
	assert_int_equal(peek(&f.destroys), 1);
	assert_int_equal(count_lines("reconnected as controller 8"), 1);
}

/* A target that does not answer: the wait doubles (100, 200, 400 ms), each change logged. */
static void test_reconnect_backoff(void **state)
{
	static const uint32_t nsids[] = {1};

	connect_and_start(nsids, 1);
	set_connect_ret(-ETIMEDOUT);
	cm_event(RDMA_CM_EVENT_DISCONNECTED);
	wait_until(peek(&f.attempts) >= 1 + 4);
	assert_true(attempt_ms(2) - attempt_ms(1) >= 100);
	assert_true(attempt_ms(3) - attempt_ms(2) >= 200);
	assert_true(attempt_ms(4) - attempt_ms(3) >= 400);
	assert_int_equal(count_lines("next attempt in 100 ms (no answer: backing off)"), 1);
	assert_int_equal(count_lines("next attempt in 200 ms (no answer: backing off)"), 1);
	assert_int_equal(count_lines("next attempt in 400 ms (no answer: backing off)"), 1);
	assert_int_equal(dn_ctrl_state(c), DN_CTRL_RESETTING);
}

/*
 * ctrl_loss_tmo 1 s and every attempt refused: DEAD once it has passed (the last attempt at
 * ctrl_loss_tmo), on_failed once, the devices told, no attempt after. Deleting a dead
 * controller removes its devices and sends no shutdown: there is no admin queue.
 */
static void test_ctrl_loss_tmo(void **state)
{
	static const uint32_t nsids[] = {1, 2};
	int n, cc_sets, dev_from;

	c->o.ctrl_loss_tmo = 1;
	connect_and_start(nsids, 2);
	dev_from = peek(&f.nr_devs);
	set_connect_ret(-ECONNREFUSED);
	cm_event(RDMA_CM_EVENT_DISCONNECTED);
	wait_until(dn_ctrl_state(c) == DN_CTRL_DEAD);
	n = peek(&f.attempts);
	assert_true(n >= 3);
	/* not before ctrl_loss_tmo; the last attempt at it */
	assert_true(peek_ms(&f.on_failed_ms) - peek_ms(&f.destroy_ms) >= 990);
	assert_true(peek_ms(&f.last_attempt_ms) - peek_ms(&f.destroy_ms) >= 900);
	wait_until(count_devs(dev_from, DEV_NOTIFY, 0, DN_CTRL_DEAD) >= 2);
	assert_false(dn_ctrl_may_hold_io(c));
	assert_int_equal(count_lines("lost for longer than ctrl_loss_tmo (1 s): giving up"), 1);
	/* nothing more happens */
	usleep(300 * 1000);
	assert_int_equal(peek(&f.attempts), n);
	assert_int_equal(peek(&f.on_failed), 1);
	cc_sets = peek(&f.a.cc_sets);
	assert_int_equal(dn_ctrl_state(c), DN_CTRL_DEAD);
	dn_ctrl_delete(c);
	assert_int_equal(peek(&f.live_devs), 0);
	assert_int_equal(count_devs(dev_from, DEV_REMOVE, 0, -1), 2);
	assert_int_equal(f.a.cc_sets, cc_sets);
	assert_int_equal(f.on_failed, 1);
}

/* fast_io_fail_tmo 1 s: I/O is held while RESETTING until it has passed, then fails. */
static void test_fast_io_fail(void **state)
{
	static const uint32_t nsids[] = {1};
	int dev_from, i, n;
	bool held, held_at_reset;
	int64_t flip = -1;

	c->o.fast_io_fail_tmo = 1;
	connect_and_start(nsids, 1);
	dev_from = peek(&f.nr_devs);
	set_connect_ret(-ECONNREFUSED);
	cm_event(RDMA_CM_EVENT_DISCONNECTED);
	wait_until(!dn_ctrl_may_hold_io(c));
	assert_int_equal(dn_ctrl_state(c), DN_CTRL_RESETTING);
	assert_int_equal(
		count_lines(
			"not back within fast_io_fail_tmo (1 s): failing I/O while reconnecting"),
		1);
	/* held at the first attempts; the devices told when that changed, not before 1 s */
	wait_until(count_devs(dev_from, DEV_NOTIFY, 1, DN_CTRL_RESETTING) >= 2);
	pthread_mutex_lock(&flock);
	/* attempt 0 was the first connect */
	held = f.attempt_may_hold[1];
	held_at_reset = f.devs[dev_from].op == DEV_NOTIFY && f.devs[dev_from].may_hold_io;
	for (i = dev_from; i < f.nr_devs && flip < 0; i++)
		if (f.devs[i].op == DEV_NOTIFY && !f.devs[i].may_hold_io)
			flip = f.devs[i].ms - f.destroy_ms;
	n = f.attempts;
	pthread_mutex_unlock(&flock);
	assert_true(held);
	assert_true(held_at_reset);
	assert_true(flip >= 990);
	/* reconnecting goes on, and I/O is held again once back */
	wait_until(peek(&f.attempts) >= n + 2);
	set_connect_ret(0);
	wait_until(dn_ctrl_state(c) == DN_CTRL_LIVE);
	assert_true(dn_ctrl_may_hold_io(c));
}

static void *request_reset(void *arg)
{
	dn_ctrl_request_reset(arg);
	return NULL;
}

/*
 * A queue thread asks for a reset: RESETTING, then LIVE again. dn_ctrl_delete() then stops the
 * thread, removes every device, shuts the controller down and destroys the admin queue.
 */
static void test_request_reset_and_delete(void **state)
{
	static const uint32_t nsids[] = {1, 2, 3};
	pthread_t t;
	int dev_from, n;

	connect_and_start(nsids, 3);
	set_connect_ret(-ECONNREFUSED);
	assert_int_equal(pthread_create(&t, NULL, request_reset, c), 0);
	pthread_join(t, NULL);
	wait_until(dn_ctrl_state(c) == DN_CTRL_RESETTING);
	assert_int_equal(count_lines("an I/O queue failed: resetting the controller"), 1);
	set_connect_ret(0);
	wait_until(dn_ctrl_state(c) == DN_CTRL_LIVE);
	assert_int_equal(dn_ctrl_gen(c), 1);
	dev_from = peek(&f.nr_devs);
	dn_ctrl_delete(c);
	assert_false(c->thread_running);
	assert_int_equal(peek(&f.live_devs), 0);
	assert_int_equal(count_devs(dev_from, DEV_REMOVE, 1, -1), 1);
	assert_int_equal(count_devs(dev_from, DEV_REMOVE, 2, -1), 1);
	assert_int_equal(count_devs(dev_from, DEV_REMOVE, 3, -1), 1);
	/* the normal shutdown, then the queue */
	assert_int_equal((f.a.cc >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK, NVME_CC_SHN_NORMAL);
	assert_int_equal(f.destroys, 2);
	assert_null(c->id);
	/* the thread is gone: nothing more is sent, a reset asked for now goes nowhere */
	n = peek(&f.nr_cmds);
	dn_ctrl_request_reset(c);
	usleep(100 * 1000);
	assert_int_equal(peek(&f.nr_cmds), n);
	assert_int_equal(f.connects, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_no_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aen_rescan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aen_rescan_no_live_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_loss_tmo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fast_io_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_reset_and_delete, setup, teardown),
	};

	dn_log_init("test_ctrl_thread", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
