// SPDX-License-Identifier: MIT
/*
 * disnvme daemon: the one long-lived process that owns every host controller and its ublk
 * devices. It listens on a unix SOCK_SEQPACKET control socket for one-message JSON requests
 * (connect, list, disconnect, disconnect-all); the main thread accepts them and each is served
 * on a thread of its own, so a connect to a slow target (seconds: address resolution, admin
 * queue, initial scan) does not hold up a list or another controller's disconnect. The
 * controllers are in a table (daemon.h) those threads share. Each controller has its own
 * thread, each ublk queue its own. Started by systemd
 * (Type=notify) or by `disnvme connect` with --auto-exit, in which case it ends once it no
 * longer serves any controller.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rdma_util.h"
#include "host/cli.h"
#include "host/ctrl.h"
#include "host/daemon.h"
#include "host/hostid.h"
#include "host/nvmf_cmd.h"

#define REQ_MAX (64u << 10)
/* an auto-started daemon that never got a controller gives up after this long */
#define AUTO_EXIT_IDLE_MS 15000
/* how often removed RDMA devices are looked for (dn_rdma_forget_removed_devices) */
#define RDMA_DEVICES_CHECK_MS 2000
/* a client that connects and sends nothing does not keep a request thread forever */
#define REQ_RECV_TIMEOUT_S 10

struct daemon {
	struct dn_ctrl_table t;
	int event_fd; /* controller threads report failures, request threads the exit, here */
	bool auto_exit;
	/* under t.lock */
	int nr_requests;	      /* request threads running */
	pthread_cond_t requests_cond; /* nr_requests fell to 0 */
};

static struct daemon *the_daemon;

static void wake_main(struct daemon *d)
{
	uint64_t one = 1;

	if (write(d->event_fd, &one, sizeof(one)) < 0)
		dn_warn("cannot notify the daemon: %s", strerror(errno));
}

static void ctrl_failed_cb(struct dn_ctrl *c)
{
	wake_main(the_daemon);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	/* untrusted: a field of the wrong type is as good as missing */
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int jint(struct json_object *o, const char *key, int def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return def;
	/* a non-integer lands outside every range the caller accepts */
	return json_object_is_type(v, json_type_int) ? json_object_get_int(v) : INT_MIN;
}

/* A 32-bit field (command dwords); false when absent, not an integer or out of range */
static bool ju32(struct json_object *o, const char *key, uint32_t *out)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	n = json_object_get_int64(v);
	if (n < 0 || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

static bool jbool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static void reply_error(struct json_object *reply, const struct dn_err *e)
{
	json_object_object_add(reply, "status", json_object_new_int(e->code ? e->code : -EIO));
	json_object_object_add(reply, "error",
			       json_object_new_string(e->msg[0] ? e->msg : strerror(-e->code)));
}

/* c is out of the table: once no request holds it, it goes */
static void delete_ctrl(struct dn_ctrl_table *t, struct dn_ctrl *c)
{
	dn_table_wait_unheld(t, c);
	dn_info("disconnecting %s at %s:%s", c->o.subnqn, c->o.traddr, c->o.trsvcid);
	dn_ctrl_delete(c);
	free(c);
}

int dn_daemon_connect_opts(struct dn_ctrl_opts *o, struct json_object *req, struct dn_err *e)
{
	const char *traddr = jstr(req, "traddr"), *trsvcid = jstr(req, "trsvcid");
	const char *subnqn = jstr(req, "subnqn"), *hostnqn = jstr(req, "hostnqn");
	const char *hostid = jstr(req, "hostid"), *host_traddr = jstr(req, "host_traddr");

	if (!traddr || !trsvcid || !subnqn || !hostnqn || !hostid)
		return dn_err_set(e, -EINVAL, "connect request lacks a field");
	if (strlen(traddr) >= sizeof(o->traddr) || strlen(trsvcid) >= sizeof(o->trsvcid) ||
	    strlen(subnqn) >= sizeof(o->subnqn) || strlen(hostnqn) >= sizeof(o->hostnqn))
		return dn_err_set(e, -EINVAL, "an address or NQN is too long");
	if (dn_uuid_parse(hostid, o->hostid))
		return dn_err_set(e, -EINVAL, "the host ID \"%s\" is not a UUID", hostid);
	strcpy(o->traddr, traddr);
	strcpy(o->trsvcid, trsvcid);
	strcpy(o->subnqn, subnqn);
	strcpy(o->hostnqn, hostnqn);
	dn_uuid_format(o->hostid, o->hostid_str);
	o->nr_io_queues = jint(req, "nr_io_queues", 1);
	o->queue_size = jint(req, "queue_size", DN_DEF_QUEUE_SIZE);
	o->kato = jint(req, "kato", DN_DEF_KATO);
	o->reconnect_delay_ms = jint(req, "reconnect_delay_ms", DN_DEF_RECONNECT_DELAY * 1000);
	o->ctrl_loss_tmo = jint(req, "ctrl_loss_tmo", DN_DEF_CTRL_LOSS_TMO);
	o->fast_io_fail_tmo = jint(req, "fast_io_fail_tmo", -1);
	if (o->nr_io_queues < 1 || o->nr_io_queues > DN_MAX_IO_QUEUES || o->queue_size < 2 ||
	    o->queue_size > 1024 || o->kato < 0 || o->kato > 65535 ||
	    o->reconnect_delay_ms < DN_MIN_RECONNECT_DELAY_MS ||
	    o->reconnect_delay_ms > DN_MAX_RECONNECT_DELAY_MS || o->ctrl_loss_tmo < -1 ||
	    o->fast_io_fail_tmo < -1)
		return dn_err_set(e, -EINVAL, "connect request has out-of-range numbers");
	if (host_traddr) {
		if (strlen(host_traddr) >= sizeof(o->host_traddr))
			return dn_err_set(e, -EINVAL, "the host address is too long");
		strcpy(o->host_traddr, host_traddr);
	}
	return 0;
}

struct json_object *dn_daemon_ctrl_json(struct dn_ctrl *c)
{
	struct json_object *o = json_object_new_object(), *nss = json_object_new_array();
	struct dn_ctrl_caps caps;
	char name[32];
	int i;

	dn_ctrl_caps_get(c, &caps, NULL);
	snprintf(name, sizeof(name), "ctrl%d", c->instance);
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "transport", json_object_new_string("rdma"));
	json_object_object_add(o, "traddr", json_object_new_string(c->o.traddr));
	json_object_object_add(o, "trsvcid", json_object_new_string(c->o.trsvcid));
	json_object_object_add(o, "subsysnqn", json_object_new_string(c->o.subnqn));
	json_object_object_add(o, "hostnqn", json_object_new_string(c->o.hostnqn));
	json_object_object_add(o, "hostid", json_object_new_string(c->o.hostid_str));
	json_object_object_add(o, "cntlid", json_object_new_int(dn_ctrl_cntlid(c)));
	json_object_object_add(o, "state",
			       json_object_new_string(dn_ctrl_state_str(dn_ctrl_state(c))));
	json_object_object_add(o, "nr_io_queues", json_object_new_int(caps.nr_queues));
	json_object_object_add(o, "queue_size", json_object_new_int(caps.queue_size));
	json_object_object_add(o, "kato", json_object_new_int(c->o.kato));
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nr_ns_devs; i++) {
		const struct dn_ns_dev *n = c->ns_devs[i];
		struct json_object *j = json_object_new_object();
		char path[64];

		snprintf(path, sizeof(path), "/dev/ublkb%d", n->dev_id);
		json_object_object_add(j, "nsid", json_object_new_int64(n->info.nsid));
		json_object_object_add(j, "device", json_object_new_string(path));
		json_object_object_add(j, "size", json_object_new_uint64(dn_ns_dev_bytes(n)));
		json_object_object_add(j, "lba_size", json_object_new_int(1 << n->info.lbs_shift));
		json_object_object_add(j, "read_only", json_object_new_boolean(n->info.read_only));
		json_object_object_add(j, "paths", json_object_new_int(n->nr_paths));
		json_object_array_add(nss, j);
	}
	pthread_mutex_unlock(&c->lock);
	json_object_object_add(o, "namespaces", nss);
	return o;
}

/* ---- the controller table ---- */

void dn_table_init(struct dn_ctrl_table *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
}

static bool same_connection(const struct dn_ctrl_opts *a, const struct dn_ctrl_opts *b)
{
	return !strcmp(a->subnqn, b->subnqn) && !strcmp(a->traddr, b->traddr) &&
	       !strcmp(a->trsvcid, b->trsvcid) && !strcmp(a->hostnqn, b->hostnqn);
}

int dn_table_reserve(struct dn_ctrl_table *t, struct dn_ctrl *c, bool dup_ok, struct dn_err *e)
{
	int i, ret = 0;

	pthread_mutex_lock(&t->lock);
	if (t->closed) {
		ret = dn_err_set(e, -ESHUTDOWN, "the disnvme daemon is exiting: try again");
		goto out_unlock;
	}
	if (t->nr_ctrls + t->nr_connecting >= DN_DAEMON_MAX_CTRLS) {
		ret = dn_err_set(e, -ENOSPC, "this daemon already serves %d controllers",
				 DN_DAEMON_MAX_CTRLS);
		goto out_unlock;
	}
	/* --duplicate-connect: another controller, which joins as another path */
	for (i = 0; i < t->nr_ctrls && !dup_ok; i++)
		if (same_connection(&t->ctrls[i]->o, &c->o))
			ret = dn_err_set(e, -EALREADY, "%s at %s:%s is already connected",
					 c->o.subnqn, c->o.traddr, c->o.trsvcid);
	for (i = 0; i < t->nr_connecting && !dup_ok && !ret; i++)
		if (same_connection(&t->connecting[i]->o, &c->o))
			ret = dn_err_set(e, -EALREADY, "%s at %s:%s is being connected already",
					 c->o.subnqn, c->o.traddr, c->o.trsvcid);
	if (ret)
		goto out_unlock;
	c->instance = t->next_instance++;
	t->cancelled[t->nr_connecting] = false;
	t->connecting[t->nr_connecting++] = c;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* Caller holds the lock */
static int connecting_index(struct dn_ctrl_table *t, struct dn_ctrl *c)
{
	int i;

	for (i = 0; i < t->nr_connecting; i++)
		if (t->connecting[i] == c)
			return i;
	return -1;
}

bool dn_table_cancelled(struct dn_ctrl_table *t, struct dn_ctrl *c)
{
	bool cancelled;
	int i;

	pthread_mutex_lock(&t->lock);
	i = connecting_index(t, c);
	cancelled = i >= 0 && t->cancelled[i];
	pthread_mutex_unlock(&t->lock);
	return cancelled;
}

/* Caller holds the lock */
static void unreserve_locked(struct dn_ctrl_table *t, int i)
{
	if (t->cancelled[i]) {
		t->nr_cancelled--;
		pthread_cond_broadcast(&t->cond);
	}
	t->nr_connecting--;
	t->connecting[i] = t->connecting[t->nr_connecting];
	t->cancelled[i] = t->cancelled[t->nr_connecting];
}

bool dn_table_publish(struct dn_ctrl_table *t, struct dn_ctrl *c)
{
	bool published = false;
	int i;

	pthread_mutex_lock(&t->lock);
	i = connecting_index(t, c);
	if (i >= 0 && !t->cancelled[i]) {
		unreserve_locked(t, i);
		t->ctrls[t->nr_ctrls++] = c;
		published = true;
	}
	pthread_mutex_unlock(&t->lock);
	return published;
}

void dn_table_release(struct dn_ctrl_table *t, struct dn_ctrl *c)
{
	int i;

	pthread_mutex_lock(&t->lock);
	i = connecting_index(t, c);
	if (i >= 0)
		unreserve_locked(t, i);
	pthread_mutex_unlock(&t->lock);
}

/* c serves device dev: its namespace ID, else 0 */
static uint32_t ctrl_dev_nsid(struct dn_ctrl *c, const char *dev)
{
	uint32_t nsid = 0;
	int i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nr_ns_devs; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/ublkb%d", c->ns_devs[i]->dev_id);
		if (!strcmp(path, dev))
			nsid = c->ns_devs[i]->info.nsid;
	}
	pthread_mutex_unlock(&c->lock);
	return nsid;
}

static bool ctrl_has_dev(struct dn_ctrl *c, const char *dev)
{
	return ctrl_dev_nsid(c, dev) != 0;
}

struct dn_ctrl *dn_table_hold_dev(struct dn_ctrl_table *t, const char *dev, uint32_t *nsid)
{
	struct dn_ctrl *found = NULL;
	int i;

	pthread_mutex_lock(&t->lock);
	/* one namespace over several paths: any live one serves */
	for (i = 0; i < t->nr_ctrls; i++) {
		struct dn_ctrl *c = t->ctrls[i];
		uint32_t id = ctrl_dev_nsid(c, dev);

		if (!id || (found && dn_ctrl_state(c) != DN_CTRL_LIVE))
			continue;
		found = c;
		*nsid = id;
		if (dn_ctrl_state(c) == DN_CTRL_LIVE)
			break;
	}
	if (found)
		found->table_holds++;
	pthread_mutex_unlock(&t->lock);
	return found;
}

void dn_table_unhold(struct dn_ctrl_table *t, struct dn_ctrl *c)
{
	pthread_mutex_lock(&t->lock);
	if (!--c->table_holds)
		pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

void dn_table_wait_unheld(struct dn_ctrl_table *t, struct dn_ctrl *c)
{
	pthread_mutex_lock(&t->lock);
	while (c->table_holds)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

int dn_table_take(struct dn_ctrl_table *t, bool all, const char *subnqn, const char *dev,
		  struct dn_ctrl **out, int *nr_cancelled)
{
	int i, n = 0;

	*nr_cancelled = 0;
	pthread_mutex_lock(&t->lock);
	for (i = t->nr_ctrls - 1; i >= 0; i--) {
		struct dn_ctrl *c = t->ctrls[i];

		if (all || (subnqn && !strcmp(c->o.subnqn, subnqn)) ||
		    (dev && ctrl_has_dev(c, dev))) {
			out[n++] = c;
			t->ctrls[i] = t->ctrls[--t->nr_ctrls];
		}
	}
	/* a connect in progress has no device yet: only a subsystem (or everything) matches */
	for (i = 0; i < t->nr_connecting; i++) {
		if (t->cancelled[i] ||
		    !(all || (subnqn && !strcmp(t->connecting[i]->o.subnqn, subnqn))))
			continue;
		t->cancelled[i] = true;
		t->nr_cancelled++;
		(*nr_cancelled)++;
		/* stop its initial scan early; it stays valid until dn_table_release() */
		dn_ctrl_cancel(t->connecting[i]);
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

int dn_table_take_dead(struct dn_ctrl_table *t, struct dn_ctrl **out)
{
	int i, n = 0;

	pthread_mutex_lock(&t->lock);
	for (i = t->nr_ctrls - 1; i >= 0; i--) {
		if (dn_ctrl_state(t->ctrls[i]) != DN_CTRL_DEAD)
			continue;
		out[n++] = t->ctrls[i];
		t->ctrls[i] = t->ctrls[--t->nr_ctrls];
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void dn_table_wait_cancelled(struct dn_ctrl_table *t)
{
	pthread_mutex_lock(&t->lock);
	while (t->nr_cancelled)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

bool dn_table_empty(struct dn_ctrl_table *t)
{
	bool empty;

	pthread_mutex_lock(&t->lock);
	empty = !t->nr_ctrls && !t->nr_connecting;
	pthread_mutex_unlock(&t->lock);
	return empty;
}

bool dn_table_close_if_empty(struct dn_ctrl_table *t)
{
	bool closed;

	pthread_mutex_lock(&t->lock);
	if (!t->nr_ctrls && !t->nr_connecting)
		t->closed = true;
	closed = t->closed;
	pthread_mutex_unlock(&t->lock);
	return closed;
}

void dn_table_close(struct dn_ctrl_table *t)
{
	pthread_mutex_lock(&t->lock);
	t->closed = true;
	pthread_mutex_unlock(&t->lock);
}

bool dn_table_closed(struct dn_ctrl_table *t)
{
	bool closed;

	pthread_mutex_lock(&t->lock);
	closed = t->closed;
	pthread_mutex_unlock(&t->lock);
	return closed;
}

struct json_object *dn_table_json(struct dn_ctrl_table *t)
{
	struct json_object *arr = json_object_new_array();
	int i;

	/* a listed controller is deleted only after it has left the table: it stays valid */
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nr_ctrls; i++)
		json_object_array_add(arr, dn_daemon_ctrl_json(t->ctrls[i]));
	pthread_mutex_unlock(&t->lock);
	return arr;
}

/* ---- requests ---- */

static struct json_object *devices_json(struct dn_ctrl *c)
{
	struct json_object *devs = json_object_new_array();
	int i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nr_ns_devs; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/ublkb%d", c->ns_devs[i]->dev_id);
		json_object_array_add(devs, json_object_new_string(path));
	}
	pthread_mutex_unlock(&c->lock);
	return devs;
}

static void handle_connect(struct daemon *d, struct json_object *req, struct json_object *reply)
{
	struct json_object *devs;
	struct dn_err e = {0};
	struct dn_ctrl *c;

	c = calloc(1, sizeof(*c));
	if (!c) {
		dn_err_set(&e, -ENOMEM, "out of memory");
		goto out_reply;
	}
	if (dn_daemon_connect_opts(&c->o, req, &e))
		goto out_free;
	c->on_failed = ctrl_failed_cb;
	if (dn_table_reserve(&d->t, c, jbool(req, "duplicate_connect"), &e))
		goto out_free;
	if (dn_ctrl_connect(c, &e))
		goto out_release;
	if (dn_table_cancelled(&d->t, c))
		goto out_delete;
	if (dn_ctrl_start(c, &e))
		goto out_delete;
	/* once published another request may delete c: the reply is made before */
	devs = devices_json(c);
	if (!dn_table_publish(&d->t, c)) {
		json_object_put(devs);
		goto out_delete;
	}
	json_object_object_add(reply, "status", json_object_new_int(0));
	json_object_object_add(reply, "devices", devs);
	return;

out_delete:
	/* a disconnect cancelled it: that, not what the cancel made fail, is the reason */
	if (dn_table_cancelled(&d->t, c)) {
		dn_err_clear(&e);
		dn_err_set(&e, -ECANCELED,
			   "the connect to %s at %s:%s was cancelled by a disconnect", c->o.subnqn,
			   c->o.traddr, c->o.trsvcid);
	}
	dn_ctrl_delete(c);
out_release:
	dn_table_release(&d->t, c);
out_free:
	free(c);
out_reply:
	dn_err("connect: %s", e.msg);
	reply_error(reply, &e);
}

static void handle_list(struct daemon *d, struct json_object *reply)
{
	json_object_object_add(reply, "status", json_object_new_int(0));
	json_object_object_add(reply, "controllers", dn_table_json(&d->t));
}

static void handle_disconnect(struct daemon *d, struct json_object *req, struct json_object *reply,
			      bool all)
{
	const char *nqn = jstr(req, "subnqn"), *dev = jstr(req, "device");
	struct dn_ctrl *taken[DN_DAEMON_MAX_CTRLS];
	struct dn_err e = {0};
	int i, n, nr_cancelled;

	n = dn_table_take(&d->t, all, nqn, dev, taken, &nr_cancelled);
	for (i = 0; i < n; i++)
		delete_ctrl(&d->t, taken[i]);
	/* the cancelled connects delete what they made: done once this answers */
	if (nr_cancelled)
		dn_table_wait_cancelled(&d->t);
	if (!n && !nr_cancelled && !all) {
		if (nqn)
			dn_err_set(&e, -ENOENT, "no controller of subsystem %s is connected", nqn);
		else
			dn_err_set(&e, -ENOENT, "%s is not a disnvme device", dev ? dev : "(none)");
		reply_error(reply, &e);
		return;
	}
	json_object_object_add(reply, "status", json_object_new_int(0));
	json_object_object_add(reply, "disconnected", json_object_new_int(n + nr_cancelled));
}

static bool resv_opcode(int op)
{
	return op == nvme_cmd_resv_register || op == nvme_cmd_resv_report ||
	       op == nvme_cmd_resv_acquire || op == nvme_cmd_resv_release;
}

/*
 * A Reservation command for the namespace behind a device (disnvme resv-*): untrusted, so only
 * the four reservation opcodes, at most 16 bytes to the controller (Register's and Acquire's
 * two keys, Release's one) and at most DN_CTRL_IO_EXEC_MAX from it (Report). The data travels
 * as hex; the reply carries the NVMe status, CQE DW0 and what Report returned.
 */
static void handle_resv(struct daemon *d, struct json_object *req, struct json_object *reply)
{
	const char *dev = jstr(req, "device"), *hex = jstr(req, "data");
	int op = jint(req, "opcode", -1), len = jint(req, "len", 0);
	uint8_t buf[DN_CTRL_IO_EXEC_MAX];
	struct dn_err e = {0};
	struct nvme_sqe sqe;
	struct nvme_cqe cqe;
	struct dn_ctrl *c;
	nvme_status_t st;
	bool to_ctrl = op != nvme_cmd_resv_report;
	uint32_t nsid, cdw10, cdw11, named = 0;
	size_t i;

	/* -n names the namespace too (nvme-cli's habit): then it must be the device's */
	if (json_object_object_get_ex(req, "nsid", NULL) && (!ju32(req, "nsid", &named) || !named))
		op = -1;
	if (!dev || !resv_opcode(op) || !ju32(req, "cdw10", &cdw10) ||
	    !ju32(req, "cdw11", &cdw11) ||
	    (to_ctrl && (!hex || strlen(hex) > 32 || strlen(hex) % 2)) ||
	    (!to_ctrl && (len < 4 || len > (int)DN_CTRL_IO_EXEC_MAX || len % 4))) {
		dn_err_set(&e, -EINVAL, "malformed reservation request");
		goto out_error;
	}
	memset(buf, 0, sizeof(buf));
	if (to_ctrl) {
		len = (int)strlen(hex) / 2;
		for (i = 0; i < (size_t)len; i++)
			if (sscanf(hex + 2 * i, "%2hhx", &buf[i]) != 1) {
				dn_err_set(&e, -EINVAL, "malformed reservation data");
				goto out_error;
			}
	}
	c = dn_table_hold_dev(&d->t, dev, &nsid);
	if (!c) {
		dn_err_set(&e, -ENOENT, "%s is not a disnvme device", dev);
		goto out_error;
	}
	if (named && named != nsid) {
		dn_table_unhold(&d->t, c);
		dn_err_set(&e, -EINVAL, "%s is namespace %u, not the namespace %u -n names", dev,
			   nsid, named);
		goto out_error;
	}
	/* Report's NUMD is what the reply has room for */
	dn_sqe_resv(&sqe, (uint8_t)op, nsid, to_ctrl ? cdw10 : (uint32_t)len / 4 - 1, cdw11);
	if (dn_ctrl_io_exec(c, &sqe, buf, (uint32_t)len, to_ctrl, &cqe, &st, &e)) {
		dn_table_unhold(&d->t, c);
		goto out_error;
	}
	dn_table_unhold(&d->t, c);
	json_object_object_add(reply, "status", json_object_new_int(0));
	json_object_object_add(reply, "nvme_status", json_object_new_int(st));
	json_object_object_add(reply, "result", json_object_new_int64(le32toh(cqe.result.u32)));
	if (!to_ctrl && !st) {
		char out[2 * DN_CTRL_IO_EXEC_MAX + 1];

		for (i = 0; i < (size_t)len; i++)
			snprintf(out + 2 * i, 3, "%02x", buf[i]);
		json_object_object_add(reply, "data", json_object_new_string(out));
	}
	return;
out_error:
	dn_err("%s: %s", dev ? dev : "reservation", e.msg);
	reply_error(reply, &e);
}

/* true when a request was answered (a bare connect-and-close, as a liveness probe, is not) */
static bool handle_request(struct daemon *d, int fd)
{
	struct json_object *req, *reply = json_object_new_object();
	const char *cmd, *s;
	char *buf = malloc(REQ_MAX + 1);
	bool handled = false;
	ssize_t n;

	if (!buf)
		goto out;
	n = recv(fd, buf, REQ_MAX, 0);
	if (n <= 0)
		goto out;
	handled = true;
	buf[n] = '\0';
	req = json_tokener_parse(buf);
	cmd = req ? jstr(req, "cmd") : NULL;
	if (!cmd) {
		struct dn_err e = {0};

		dn_err_set(&e, -EINVAL, "malformed request");
		reply_error(reply, &e);
	} else if (!strcmp(cmd, "connect")) {
		handle_connect(d, req, reply);
	} else if (!strcmp(cmd, "list")) {
		handle_list(d, reply);
	} else if (!strcmp(cmd, "disconnect")) {
		handle_disconnect(d, req, reply, false);
	} else if (!strcmp(cmd, "disconnect-all")) {
		handle_disconnect(d, req, reply, true);
	} else if (!strcmp(cmd, "resv")) {
		handle_resv(d, req, reply);
	} else {
		struct dn_err e = {0};

		dn_err_set(&e, -EINVAL, "unknown request \"%s\"", cmd);
		reply_error(reply, &e);
	}
	json_object_put(req);
	/*
	 * A request that leaves nothing to serve ends an auto-started daemon, and says so: other
	 * requests may still be running (a list, a refused duplicate), but none can connect now.
	 */
	if (d->auto_exit && dn_table_close_if_empty(&d->t)) {
		json_object_object_add(reply, "daemon_exiting", json_object_new_boolean(true));
		json_object_object_add(reply, "pid", json_object_new_int(getpid()));
		wake_main(d);
	}
	s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		dn_warn("control socket: reply lost: %s", strerror(errno));
out:
	free(buf);
	json_object_put(reply);
	return handled;
}

struct request {
	struct daemon *d;
	int fd;
};

static void request_done(struct daemon *d)
{
	pthread_mutex_lock(&d->t.lock);
	if (!--d->nr_requests)
		pthread_cond_broadcast(&d->requests_cond);
	pthread_mutex_unlock(&d->t.lock);
}

static void *request_thread(void *arg)
{
	struct request *r = arg;

	handle_request(r->d, r->fd);
	close(r->fd);
	request_done(r->d);
	free(r);
	return NULL;
}

/* Main thread: serve an accepted connection on a thread of its own. */
static void start_request(struct daemon *d, int fd)
{
	struct timeval tv = {.tv_sec = REQ_RECV_TIMEOUT_S};
	struct request *r = malloc(sizeof(*r));
	pthread_attr_t attr;
	pthread_t th;
	int ret = -ENOMEM;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		dn_dbg("control socket: SO_RCVTIMEO: %s", strerror(errno));
	pthread_mutex_lock(&d->t.lock);
	d->nr_requests++;
	pthread_mutex_unlock(&d->t.lock);
	if (r) {
		r->d = d;
		r->fd = fd;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = -pthread_create(&th, &attr, request_thread, r);
		pthread_attr_destroy(&attr);
	}
	if (!ret)
		return;
	/* no thread: serve it here rather than not at all */
	dn_warn("control socket: no request thread (%s): serving it inline", strerror(-ret));
	free(r);
	handle_request(d, fd);
	close(fd);
	request_done(d);
}

static int listen_socket(const char *path, struct dn_err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], *slash;
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path))
		return dn_err_set(e, -ENAMETOOLONG, "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	/* a live daemon answers on the socket: do not steal it */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa))) {
		close(probe);
		return dn_err_set(e, -EADDRINUSE, "another disnvme daemon is running on %s", path);
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return dn_err_set(e, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
		int ret = -errno;

		close(fd);
		return dn_err_set(e, ret, "cannot listen on %s: %s", path, strerror(-ret));
	}
	return fd;
}

int dn_cmd_daemon(int argc, char **argv)
{
	struct daemon d = {.event_fd = -1};
	struct dn_ctrl *taken[DN_DAEMON_MAX_CTRLS];
	struct dn_err e = {0};
	const char *path = dn_sock_path();
	int verbose = 0, lfd, sfd, i, n, idle_ms = 0;
	int64_t next_rdma_check = dn_now_ms() + RDMA_DEVICES_CHECK_MS;
	sigset_t mask;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--auto-exit"))
			d.auto_exit = true;
		else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			verbose++;
		else {
			fprintf(stderr, "disnvme daemon: unknown option \"%s\"\n", argv[i]);
			return DN_EXIT_USAGE;
		}
	}
	dn_table_init(&d.t);
	pthread_cond_init(&d.requests_cond, NULL);
	dn_log_init("disnvme", verbose);
	if (geteuid() != 0) {
		fprintf(stderr, "disnvme daemon: must run as root: it creates block devices\n");
		return DN_EXIT_FAIL;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* block before any thread starts so every thread inherits the mask */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	lfd = listen_socket(path, &e);
	if (lfd < 0 || sfd < 0 || d.event_fd < 0) {
		fprintf(stderr, "disnvme daemon: %s\n", e.msg[0] ? e.msg : strerror(errno));
		return DN_EXIT_FAIL;
	}
	the_daemon = &d;
	dn_notice("disnvme daemon %d listening on %s%s", getpid(), path,
		  d.auto_exit ? " (exits with its last controller)" : "");
	sd_notify(0, "READY=1");

	for (;;) {
		struct pollfd pfd[3] = {
			{.fd = lfd, .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
			{.fd = d.event_fd, .events = POLLIN},
		};
		bool idle;
		int ret;

		/* an auto-exit decided by a request (the table is closed) */
		if (dn_table_closed(&d.t))
			break;
		pthread_mutex_lock(&d.t.lock);
		idle = d.auto_exit && !d.t.nr_ctrls && !d.t.nr_connecting && !d.nr_requests;
		pthread_mutex_unlock(&d.t.lock);
		ret = poll(pfd, 3, 1000);
		if (ret < 0 && errno != EINTR)
			break;
		/*
		 * librdmacm holds a context on every RDMA device it has seen; the kernel removes a
		 * device (rxe deleted, a NIC reset) only once every process has closed its own.
		 */
		if (dn_now_ms() >= next_rdma_check) {
			next_rdma_check = dn_now_ms() + RDMA_DEVICES_CHECK_MS;
			dn_rdma_forget_removed_devices();
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				dn_notice("signal %u: disconnecting everything", si.ssi_signo);
			break;
		}
		if (pfd[2].revents) {
			struct dn_ctrl *dead[DN_DAEMON_MAX_CTRLS];
			uint64_t v;
			int nr_dead;

			if (read(d.event_fd, &v, sizeof(v)) < 0)
				dn_dbg("event fd: %s", strerror(errno));
			/* past ctrl_loss_tmo: the devices go, as the kernel host's do */
			nr_dead = dn_table_take_dead(&d.t, dead);
			for (i = 0; i < nr_dead; i++)
				delete_ctrl(&d.t, dead[i]);
			if (nr_dead && d.auto_exit)
				dn_table_close_if_empty(&d.t);
			continue; /* an exit decided here or by a request is seen at the top */
		}
		if (pfd[0].revents) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (cfd >= 0)
				start_request(&d, cfd);
			idle_ms = 0;
		} else if (ret == 0 && idle) {
			idle_ms += 1000;
			if (idle_ms >= AUTO_EXIT_IDLE_MS)
				break;
		}
	}

	sd_notify(0, "STOPPING=1");
	close(lfd);
	unlink(path);
	/* no more connects; cancel those in progress, delete the rest, wait for every request */
	dn_table_close(&d.t);
	n = dn_table_take(&d.t, true, NULL, NULL, taken, &i);
	for (i = 0; i < n; i++)
		delete_ctrl(&d.t, taken[i]);
	pthread_mutex_lock(&d.t.lock);
	while (d.nr_requests)
		pthread_cond_wait(&d.requests_cond, &d.t.lock);
	pthread_mutex_unlock(&d.t.lock);
	close(d.event_fd);
	close(sfd);
	dn_notice("disnvme daemon %d exits", getpid());
	return DN_EXIT_OK;
}
