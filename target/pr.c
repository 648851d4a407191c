// SPDX-License-Identifier: MIT
/*
 * Reservations (NVMe base specification, "Reservations"): Reservation Register, Acquire,
 * Release and Report on a namespace, the access check every Read- and Write-group command
 * passes through, and the reservation notifications (log page 0x80 and its asynchronous
 * event). What GFS2/OCFS2-style clusters use to fence a node off a shared namespace.
 *
 * Registrations belong to hosts (the 128-bit host identifier of Connect), not controllers:
 * a host's controllers share them, and they outlive its controllers. They outlive the target
 * process only for a namespace configured with a ptpl_file, and while Persist Through Power
 * Loss is on: then every change is in that file before it is answered.
 *
 * Locking: a namespace's reservation state is under its own pr.lock; the I/O path reads
 * pr.rtype without it and only takes the lock when a reservation is held. Notifications take
 * dn_tgt.lock inside pr.lock (never the other way round).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "common/log.h"
#include "target/core_internal.h"

#define DN_PR_CONFLICT NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_RESERVATION_CONFLICT)
#define DN_PR_INVALID  NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
/* looked up just before a reload replaced the namespace: retryable, it reaches the new one */
#define DN_PR_MOVED NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY)
#define DN_PR_IEKEY (1u << 3)
#define DN_PR_NOTIFY_BITS \
	(NVME_FEAT_RESV_NOTIFY_REGPRE | NVME_FEAT_RESV_NOTIFY_RESREL | NVME_FEAT_RESV_NOTIFY_RESPRE)

/* Register: CRKEY, NRKEY. Acquire: CRKEY, PRKEY. Release: CRKEY. */
struct dn_pr_keys {
	uint64_t crkey;
	uint64_t key2;
};

void dn_tgt_pr_init(struct dn_tgt_pr *pr)
{
	memset(pr, 0, sizeof(*pr));
	pthread_mutex_init(&pr->lock, NULL);
	atomic_init(&pr->rtype, 0);
	atomic_init(&pr->notify_mask, 0);
	pr->holder = -1;
}

void dn_tgt_pr_destroy(struct dn_tgt_pr *pr)
{
	free(pr->ptpl_file);
	pthread_mutex_destroy(&pr->lock);
}

static bool dn_pr_all_regs(uint8_t rtype)
{
	return rtype == NVME_RESERVATION_RTYPE_WEAR || rtype == NVME_RESERVATION_RTYPE_EAAR;
}

static int dn_pr_find(const struct dn_tgt_pr *pr, const uint8_t hostid[16])
{
	unsigned int i;

	for (i = 0; i < pr->nr_regs; i++)
		if (!memcmp(pr->regs[i].hostid, hostid, 16))
			return (int)i;
	return -1;
}

/* Does registrant i hold the reservation? Every registrant does for the All Registrants types. */
static bool dn_pr_is_holder(const struct dn_tgt_pr *pr, int i)
{
	uint8_t rtype = atomic_load_explicit(&pr->rtype, memory_order_relaxed);

	if (!rtype || i < 0)
		return false;
	return dn_pr_all_regs(rtype) || i == pr->holder;
}

/* Sequentially consistent: the I/O path's check pairs with its in-flight count (io_cmd.c). */
static void dn_pr_set(struct dn_tgt_pr *pr, uint8_t rtype, int holder)
{
	pr->holder = holder;
	atomic_store(&pr->rtype, rtype);
}

/* ---- notifications ---- */

/* Caller holds dn_tgt.lock. */
static void dn_pr_log_add(struct dn_tgt_ctrl *ctrl, uint8_t type, uint32_t nsid)
{
	struct dn_tgt_pr_log *l = &ctrl->pr_log;

	if (++l->count == 0) /* the count skips 0, which means "no entry" */
		l->count = 1;
	/* a full queue loses the entry: the next one's count shows the gap */
	if (l->nr < DN_TGT_PR_LOG_SLOTS) {
		l->ent[(l->head + l->nr) % DN_TGT_PR_LOG_SLOTS] =
			(struct dn_tgt_pr_log_entry){.count = l->count, .type = type, .nsid = nsid};
		l->nr++;
	}
	dn_tgt_ctrl_add_aen(ctrl, NVME_AER_CSS, NVME_AER_CSS_NVM_RESERVATION,
			    NVME_LOG_LID_RESERVATION);
}

/*
 * Tell a host's controllers (match) or every registrant's controllers but one host's (!match)
 * what happened to their registration or reservation. Caller holds pr->lock.
 */
static void dn_pr_notify(struct dn_tgt_ns *ns, const uint8_t hostid[16], bool match, uint8_t type)
{
	static const uint32_t mask_bit[] = {
		[NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED] = NVME_FEAT_RESV_NOTIFY_REGPRE,
		[NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED] = NVME_FEAT_RESV_NOTIFY_RESREL,
		[NVME_RESV_NOTIFY_RNLPT_RESERVATION_PREEMPTED] = NVME_FEAT_RESV_NOTIFY_RESPRE,
	};
	struct dn_tgt_ctrl *c;

	if (atomic_load_explicit(&ns->pr.notify_mask, memory_order_relaxed) & mask_bit[type])
		return;
	pthread_mutex_lock(&dn_tgt.lock);
	for (c = ns->subsys->ctrls; c; c = c->next) {
		if (c->dying)
			continue;
		if (match ? memcmp(c->hostid, hostid, 16) != 0
			  : !memcmp(c->hostid, hostid, 16) || dn_pr_find(&ns->pr, c->hostid) < 0)
			continue;
		dn_pr_log_add(c, type, ns->nsid);
	}
	pthread_mutex_unlock(&dn_tgt.lock);
}

/* ---- registrants ---- */

/* Drop registrant i; what that does to the reservation it held. Caller holds pr->lock. */
static void dn_pr_unregister_one(struct dn_tgt_ns *ns, int i)
{
	struct dn_tgt_pr *pr = &ns->pr;
	uint8_t rtype = atomic_load_explicit(&pr->rtype, memory_order_relaxed);
	bool was_holder = dn_pr_is_holder(pr, i);
	uint8_t hostid[16];

	memcpy(hostid, pr->regs[i].hostid, 16);
	pr->regs[i] = pr->regs[--pr->nr_regs];
	if (pr->holder == (int)pr->nr_regs)
		pr->holder = i; /* the last entry moved into slot i */
	if (!was_holder)
		return;
	if (dn_pr_all_regs(rtype)) {
		/* an All Registrants reservation ends with its last registrant */
		if (!pr->nr_regs)
			dn_pr_set(pr, 0, -1);
		else if (pr->holder >= (int)pr->nr_regs)
			pr->holder = 0; /* any of them holds it */
		return;
	}
	dn_pr_set(pr, 0, -1);
	if (rtype == NVME_RESERVATION_RTYPE_WERO || rtype == NVME_RESERVATION_RTYPE_EARO)
		dn_pr_notify(ns, hostid, false, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED);
}

/*
 * Unregister every registrant with key `key` (except the host `keep`, when given); the others'
 * controllers hear "registration preempted". Returns how many went. Caller holds pr->lock.
 */
static unsigned int dn_pr_unregister_key(struct dn_tgt_ns *ns, uint64_t key, const uint8_t *keep,
					 const uint8_t self[16])
{
	struct dn_tgt_pr *pr = &ns->pr;
	unsigned int n = 0;
	int i = 0;

	while (i < (int)pr->nr_regs) {
		struct dn_tgt_pr_reg r = pr->regs[i];

		if (r.rkey != key || (keep && !memcmp(r.hostid, keep, 16))) {
			i++;
			continue;
		}
		dn_pr_unregister_one(ns, i);
		n++;
		if (memcmp(r.hostid, self, 16))
			dn_pr_notify(ns, r.hostid, true,
				     NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED);
	}
	return n;
}

static nvme_status_t dn_pr_register(struct dn_tgt_ns *ns, const uint8_t hostid[16], uint32_t cdw10,
				    const struct dn_pr_keys *k)
{
	struct dn_tgt_pr *pr = &ns->pr;
	bool iekey = cdw10 & DN_PR_IEKEY;
	uint8_t rrega = cdw10 & 7, cptpl = cdw10 >> 30;
	int i = dn_pr_find(pr, hostid);

	/*
	 * CPTPL: 01b is reserved; 10b and 11b turn persistence off and on once the register
	 * succeeds (dn_pr_exec). Without a ptpl_file, RESCAP says it is not offered and 11b is
	 * taken and ignored, as nvmet does: Linux hosts send it with every block-layer register.
	 */
	if (cptpl == 1)
		return DN_PR_INVALID;
	switch (rrega) {
	case NVME_RESERVATION_RREGA_REGISTER_KEY:
		if (i >= 0)
			return pr->regs[i].rkey == k->key2 ? 0 : DN_PR_CONFLICT;
		if (pr->nr_regs == DN_TGT_PR_MAX_REGS) {
			dn_warn("namespace %u of %s: no room for a host beyond %u registrants",
				ns->nsid, ns->subsys->nqn, DN_TGT_PR_MAX_REGS);
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
		}
		memcpy(pr->regs[pr->nr_regs].hostid, hostid, 16);
		pr->regs[pr->nr_regs++].rkey = k->key2;
		return 0;
	case NVME_RESERVATION_RREGA_UNREGISTER_KEY:
		if (i < 0 || (!iekey && pr->regs[i].rkey != k->crkey))
			return DN_PR_CONFLICT;
		dn_pr_unregister_one(ns, i);
		return 0;
	case NVME_RESERVATION_RREGA_REPLACE_KEY:
		if (i < 0 || (!iekey && pr->regs[i].rkey != k->crkey))
			return DN_PR_CONFLICT;
		pr->regs[i].rkey = k->key2;
		return 0;
	}
	return DN_PR_INVALID;
}

static nvme_status_t dn_pr_preempt(struct dn_tgt_ns *ns, int me, uint8_t rtype, uint64_t prkey)
{
	struct dn_tgt_pr *pr = &ns->pr;
	uint8_t held = atomic_load_explicit(&pr->rtype, memory_order_relaxed);
	uint8_t self[16];

	memcpy(self, pr->regs[me].hostid, 16);
	if (!held)
		return dn_pr_unregister_key(ns, prkey, NULL, self) ? 0 : DN_PR_CONFLICT;
	if (dn_pr_all_regs(held)) {
		if (prkey)
			return dn_pr_unregister_key(ns, prkey, NULL, self) ? 0 : DN_PR_CONFLICT;
		/* key 0 preempts an All Registrants reservation: every other host goes */
		dn_pr_set(pr, rtype, me);
		while (pr->nr_regs > 1) {
			int i = memcmp(pr->regs[0].hostid, self, 16) ? 0 : 1;
			uint8_t gone[16];

			memcpy(gone, pr->regs[i].hostid, 16);
			dn_pr_unregister_one(ns, i);
			dn_pr_notify(ns, gone, true, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED);
		}
		pr->holder = dn_pr_find(pr, self);
		return 0;
	}
	if (pr->holder == me && prkey == pr->regs[me].rkey) {
		/*
		 * The holder preempting itself (PRKEY its own key) changes the type. With another
		 * registrant's key the holder fences that registrant off, as anyone would, below.
		 */
		dn_pr_set(pr, rtype, me);
		if (rtype != held)
			dn_pr_notify(ns, self, false, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED);
		return 0;
	}
	if (prkey == pr->regs[pr->holder].rkey) {
		dn_pr_set(pr, rtype, me);
		dn_pr_unregister_key(ns, prkey, self, self);
		pr->holder = dn_pr_find(pr, self);
		if (rtype != held)
			dn_pr_notify(ns, self, false, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED);
		return 0;
	}
	if (!prkey)
		return DN_PR_INVALID;
	return dn_pr_unregister_key(ns, prkey, NULL, self) ? 0 : DN_PR_CONFLICT;
}

static nvme_status_t dn_pr_acquire(struct dn_tgt_ns *ns, const uint8_t hostid[16], uint32_t cdw10,
				   const struct dn_pr_keys *k)
{
	struct dn_tgt_pr *pr = &ns->pr;
	uint8_t racqa = cdw10 & 7, rtype = (cdw10 >> 8) & 0xff;
	uint8_t held = atomic_load_explicit(&pr->rtype, memory_order_relaxed);
	int me;

	/* RESCAP.IEK_13: Ignore Existing Key is reserved in Acquire */
	if ((cdw10 & DN_PR_IEKEY) || rtype < NVME_RESERVATION_RTYPE_WE ||
	    rtype > NVME_RESERVATION_RTYPE_EAAR || racqa > NVME_RESERVATION_RACQA_PREEMPT_AND_ABORT)
		return DN_PR_INVALID;
	me = dn_pr_find(pr, hostid);
	if (me < 0 || pr->regs[me].rkey != k->crkey)
		return DN_PR_CONFLICT;
	if (racqa != NVME_RESERVATION_RACQA_ACQUIRE)
		return dn_pr_preempt(ns, me, rtype, k->key2);
	if (!held) {
		dn_pr_set(pr, rtype, me);
		return 0;
	}
	return dn_pr_is_holder(pr, me) && held == rtype ? 0 : DN_PR_CONFLICT;
}

static nvme_status_t dn_pr_release(struct dn_tgt_ns *ns, const uint8_t hostid[16], uint32_t cdw10,
				   const struct dn_pr_keys *k)
{
	struct dn_tgt_pr *pr = &ns->pr;
	uint8_t rrela = cdw10 & 7, rtype = (cdw10 >> 8) & 0xff;
	uint8_t held = atomic_load_explicit(&pr->rtype, memory_order_relaxed);
	int me;

	if ((cdw10 & DN_PR_IEKEY) || rrela > NVME_RESERVATION_RRELA_CLEAR)
		return DN_PR_INVALID;
	me = dn_pr_find(pr, hostid);
	if (me < 0 || pr->regs[me].rkey != k->crkey)
		return DN_PR_CONFLICT;
	if (rrela == NVME_RESERVATION_RRELA_CLEAR) {
		dn_pr_set(pr, 0, -1);
		while (pr->nr_regs) {
			struct dn_tgt_pr_reg r = pr->regs[--pr->nr_regs];

			if (memcmp(r.hostid, hostid, 16))
				dn_pr_notify(ns, r.hostid, true,
					     NVME_RESV_NOTIFY_RNLPT_RESERVATION_PREEMPTED);
		}
		return 0;
	}
	if (!dn_pr_is_holder(pr, me))
		return 0; /* nothing held: releasing it is not an error */
	if (rtype != held)
		return DN_PR_INVALID;
	dn_pr_set(pr, 0, -1);
	if (held != NVME_RESERVATION_RTYPE_WE && held != NVME_RESERVATION_RTYPE_EA)
		dn_pr_notify(ns, hostid, false, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED);
	return 0;
}

/* ---- persistence through power loss (a restart of the target) ---- */

/*
 * The file: {"ptpl": true, "gen": N, "rtype": T, "holder": I, "registrants": [{"hostid":
 * "32 hex digits", "rkey": "16 hex digits"}, ...]}. Written whole to FILE.tmp, synced and
 * renamed over FILE, so a crash leaves the old state or the new one. Caller holds pr->lock.
 */
static int dn_pr_save(struct dn_tgt_ns *ns)
{
	struct dn_tgt_pr *pr = &ns->pr;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char tmp[4096], hex[33], key[17];
	unsigned int i, j;
	const char *text;
	int fd, ret = 0;
	ssize_t n;

	json_object_object_add(o, "ptpl", json_object_new_boolean(pr->ptpl));
	json_object_object_add(o, "gen", json_object_new_int64(pr->gen));
	json_object_object_add(o, "rtype", json_object_new_int(atomic_load(&pr->rtype)));
	/* every registrant holds an All Registrants reservation: no index to keep */
	json_object_object_add(
		o, "holder",
		json_object_new_int(dn_pr_all_regs(atomic_load(&pr->rtype)) ? -1 : pr->holder));
	for (i = 0; i < pr->nr_regs; i++) {
		struct json_object *r = json_object_new_object();

		for (j = 0; j < 16; j++)
			snprintf(hex + 2 * j, 3, "%02x", pr->regs[i].hostid[j]);
		snprintf(key, sizeof(key), "%016" PRIx64, pr->regs[i].rkey);
		json_object_object_add(r, "hostid", json_object_new_string(hex));
		json_object_object_add(r, "rkey", json_object_new_string(key));
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "registrants", arr);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", pr->ptpl_file) >= (int)sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text))
		ret = n < 0 ? -errno : -EIO;
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, pr->ptpl_file))
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	if (ret)
		dn_err("namespace %u of %s: cannot keep its reservations in %s: %s", ns->nsid,
		       ns->subsys->nqn, pr->ptpl_file, strerror(-ret));
	json_object_put(o);
	return ret;
}

/* What a change may have to be undone to (when it cannot be kept in the file). */
struct dn_pr_snap {
	uint8_t rtype;
	int holder;
	unsigned int nr_regs;
	uint32_t gen;
	bool ptpl;
	struct dn_tgt_pr_reg regs[DN_TGT_PR_MAX_REGS];
};

static void dn_pr_snap_take(const struct dn_tgt_pr *pr, struct dn_pr_snap *s)
{
	s->rtype = atomic_load(&((struct dn_tgt_pr *)pr)->rtype);
	s->holder = pr->holder;
	s->nr_regs = pr->nr_regs;
	s->gen = pr->gen;
	s->ptpl = pr->ptpl;
	memcpy(s->regs, pr->regs, pr->nr_regs * sizeof(pr->regs[0]));
}

static void dn_pr_snap_restore(struct dn_tgt_pr *pr, const struct dn_pr_snap *s)
{
	memcpy(pr->regs, s->regs, s->nr_regs * sizeof(pr->regs[0]));
	pr->nr_regs = s->nr_regs;
	pr->gen = s->gen;
	pr->ptpl = s->ptpl;
	dn_pr_set(pr, s->rtype, s->holder);
}

static int dn_pr_load_error(struct dn_tgt_ns *ns, const char *file, const char *why)
{
	dn_err("namespace %u of %s: reservations file %s: %s", ns->nsid, ns->subsys->nqn, file,
	       why);
	return -EINVAL;
}

static bool dn_pr_hex(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	if (!s || strlen(s) != 2 * n)
		return false;
	for (i = 0; i < n; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return false;
	return true;
}

static const char *dn_pr_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool dn_pr_json_int(struct json_object *o, const char *key, int64_t min, int64_t max,
			   int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out >= min && *out <= max;
}

/* Untrusted as any input: every field checked, nothing half loaded. */
static int dn_pr_parse(struct dn_tgt_ns *ns, const char *file, struct json_object *o)
{
	struct dn_tgt_pr *pr = &ns->pr;
	struct json_object *v, *arr;
	int64_t gen, rtype, holder;
	uint8_t key[8];
	size_t i, n;

	if (!json_object_is_type(o, json_type_object))
		return dn_pr_load_error(ns, file, "not a JSON object");
	if (!json_object_object_get_ex(o, "ptpl", &v) || !json_object_is_type(v, json_type_boolean))
		return dn_pr_load_error(ns, file, "\"ptpl\" must be true or false");
	pr->ptpl = json_object_get_boolean(v);
	if (!pr->ptpl)
		return 0; /* persistence was off: the reservations ended with the last run */
	if (!dn_pr_json_int(o, "gen", 0, UINT32_MAX, &gen) ||
	    !dn_pr_json_int(o, "rtype", 0, NVME_RESERVATION_RTYPE_EAAR, &rtype) ||
	    !json_object_object_get_ex(o, "registrants", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return dn_pr_load_error(ns, file,
					"\"gen\", \"rtype\" or \"registrants\" missing or bad");
	n = json_object_array_length(arr);
	if (n > DN_TGT_PR_MAX_REGS)
		return dn_pr_load_error(ns, file, "more registrants than a namespace takes");
	if (!dn_pr_json_int(o, "holder", -1, (int64_t)n - 1, &holder) ||
	    (rtype && !dn_pr_all_regs((uint8_t)rtype) && holder < 0) || (!rtype && holder >= 0))
		return dn_pr_load_error(ns, file, "\"holder\" does not fit the reservation");
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);
		struct dn_tgt_pr_reg *reg = &pr->regs[i];
		size_t j;

		if (!json_object_is_type(r, json_type_object) ||
		    !dn_pr_hex(dn_pr_json_str(r, "hostid"), reg->hostid, 16) ||
		    !dn_pr_hex(dn_pr_json_str(r, "rkey"), key, 8))
			return dn_pr_load_error(ns, file, "a registrant without hostid and rkey");
		reg->rkey = 0;
		for (j = 0; j < 8; j++)
			reg->rkey = reg->rkey << 8 | key[j];
		for (j = 0; j < i; j++)
			if (!memcmp(pr->regs[j].hostid, reg->hostid, 16))
				return dn_pr_load_error(ns, file, "a host registered twice");
	}
	pr->nr_regs = (unsigned int)n;
	pr->gen = (uint32_t)gen;
	dn_pr_set(pr, (uint8_t)rtype, (int)holder);
	return 0;
}

int dn_tgt_pr_load_text(struct dn_tgt_ns *ns, const char *file, const char *text, size_t len)
{
	struct dn_tgt_pr *pr = &ns->pr;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;
	size_t end = 0;
	int ret;

	if (!tok)
		return -ENOMEM;
	if (len <= INT32_MAX)
		o = json_tokener_parse_ex(tok, text, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success)
		end = json_tokener_get_parse_end(tok);
	while (end && end < len && strchr(" \t\r\n", text[end]) && text[end])
		end++;
	/* one whole JSON value and nothing after it but white space */
	if (o && end == len) {
		ret = dn_pr_parse(ns, file, o);
	} else {
		ret = dn_pr_load_error(ns, file, "not one JSON value");
	}
	json_object_put(o);
	json_tokener_free(tok);
	if (ret) {
		pr->nr_regs = 0;
		pr->gen = 0;
		pr->ptpl = false;
		dn_pr_set(pr, 0, -1);
	}
	return ret;
}

int dn_tgt_pr_load(struct dn_tgt_ns *ns, const char *ptpl_file)
{
	struct dn_tgt_pr *pr = &ns->pr;
	char text[64 << 10];
	ssize_t n;
	int fd, ret;

	if (!ptpl_file)
		return 0;
	pr->ptpl_file = strdup(ptpl_file);
	if (!pr->ptpl_file)
		return -ENOMEM;
	fd = open(ptpl_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return dn_pr_load_error(ns, ptpl_file, strerror(errno));
		return 0; /* nothing kept yet */
	}
	/* 64 registrants take about 8 KiB: a file that fills the buffer is not ours */
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0)
		return dn_pr_load_error(ns, ptpl_file, strerror(errno));
	if (n == (ssize_t)sizeof(text))
		return dn_pr_load_error(ns, ptpl_file, "too large");
	ret = dn_tgt_pr_load_text(ns, ptpl_file, text, (size_t)n);
	if (!ret && pr->nr_regs)
		dn_notice("namespace %u of %s: %u registrants and reservation type %u kept in %s",
			  ns->nsid, ns->subsys->nqn, pr->nr_regs, atomic_load(&pr->rtype),
			  ptpl_file);
	return ret;
}

void dn_tgt_pr_hand_over(struct dn_tgt_ns *from, struct dn_tgt_ns *to)
{
	struct dn_tgt_pr *a = &from->pr, *b = &to->pr;

	/* successor before predecessor, as dn_pr_pred_busy() walks them */
	pthread_mutex_lock(&b->lock);
	pthread_mutex_lock(&a->lock);
	atomic_store(&b->rtype, atomic_load(&a->rtype));
	b->holder = a->holder;
	b->nr_regs = a->nr_regs;
	memcpy(b->regs, a->regs, sizeof(b->regs));
	b->gen = a->gen;
	b->ptpl = a->ptpl && b->ptpl_file;
	atomic_store(&b->notify_mask, atomic_load(&a->notify_mask));
	/* a Preempt and Abort on `to` waits for what `from` admitted too */
	b->pred = from;
	a->handed_over = true;
	/* any type: from's I/O check leaves its lock-free path and finds handed_over */
	atomic_store(&a->rtype, NVME_RESERVATION_RTYPE_WE);
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_unlock(&b->lock);
}

void dn_tgt_pr_forget_pred(struct dn_tgt_ns *ns, const struct dn_tgt_ns *gone)
{
	if (!ns)
		return;
	pthread_mutex_lock(&ns->pr.lock);
	if (ns->pr.pred == gone)
		ns->pr.pred = NULL;
	pthread_mutex_unlock(&ns->pr.lock);
}

/*
 * Caller holds pr->lock: whether a namespace object pr was handed over from (or one before
 * it) still has commands in flight. Each object stays alive while its successor points at
 * it (dn_tgt_pr_forget_pred() runs under the successor's lock), so the walk holds each lock
 * until it has the next one: successor before predecessor.
 */
static bool dn_pr_pred_busy(struct dn_tgt_pr *pr)
{
	struct dn_tgt_pr *held = NULL;
	struct dn_tgt_ns *p = pr->pred;
	bool busy = false;

	while (p && !busy) {
		busy = atomic_load(&p->inflight[0]) || atomic_load(&p->inflight[1]);
		pthread_mutex_lock(&p->pr.lock);
		if (held)
			pthread_mutex_unlock(&held->lock);
		held = &p->pr;
		p = p->pr.pred;
	}
	if (held)
		pthread_mutex_unlock(&held->lock);
	return busy;
}

bool dn_tgt_pr_get_ptpl(struct dn_tgt_ns *ns)
{
	bool on;

	pthread_mutex_lock(&ns->pr.lock);
	on = ns->pr.ptpl;
	pthread_mutex_unlock(&ns->pr.lock);
	return on;
}

nvme_status_t dn_tgt_pr_set_ptpl(struct dn_tgt_ns *ns, bool on)
{
	struct dn_tgt_pr *pr = &ns->pr;
	nvme_status_t st = 0;
	bool was;

	if (!pr->ptpl_file)
		return on ? DN_PR_INVALID : 0; /* RESCAP.PTPL is 0: only "off" */
	pthread_mutex_lock(&pr->lock);
	was = pr->ptpl;
	pr->ptpl = on;
	if (dn_pr_save(ns)) {
		pr->ptpl = was;
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	}
	pthread_mutex_unlock(&pr->lock);
	return st;
}

/* ---- commands ---- */

/*
 * Preempt and Abort: the preempted hosts' commands the namespace admitted before the preempt
 * must not land after it completes. Commands are not aborted one by one; the acquire completes
 * once every command counted before it (any host's) has completed. The reservation is already
 * changed, so what counts from now on is checked against it; this moves the namespace's
 * in-flight epoch on and waits, without blocking the poll group, for the old slot to drain.
 * One drain at a time per namespace: the next waits for the current one to finish.
 */
static void dn_pr_abort_wait(struct dn_pg_deferred *d)
{
	struct dn_tgt_req *req = container_of(d, struct dn_tgt_req, pr_wait);
	struct dn_tgt_ns *ns = req->ns;
	struct dn_tgt_pr *pr = &ns->pr;
	unsigned int old;

	if (req->pr_drain_slot < 0) {
		pthread_mutex_lock(&pr->lock);
		if (pr->draining) {
			pthread_mutex_unlock(&pr->lock);
			goto again;
		}
		pr->draining = true;
		old = atomic_fetch_add(&ns->inflight_epoch, 1) & 1;
		/* this command itself counts in the old slot: move it, or it waits for itself */
		if (req->ns_slot == old) {
			atomic_fetch_add(&ns->inflight[old ^ 1], 1);
			atomic_fetch_sub(&ns->inflight[old], 1);
			req->ns_slot = (uint8_t)(old ^ 1);
		}
		req->pr_drain_slot = (int8_t)old;
		pthread_mutex_unlock(&pr->lock);
	}
	if (atomic_load(&ns->inflight[req->pr_drain_slot]))
		goto again;
	pthread_mutex_lock(&pr->lock);
	if (dn_pr_pred_busy(pr)) {
		pthread_mutex_unlock(&pr->lock);
		goto again;
	}
	pr->draining = false;
	pthread_mutex_unlock(&pr->lock);
	dn_req_complete(req, 0);
	return;
again:
	req->pr_wait.fn = dn_pr_abort_wait;
	dn_pg_defer(req->queue->pg, &req->pr_wait);
}

/*
 * Caller holds the namespace's reservation lock. A command that looked the namespace up just
 * before a reload replaced it: the successor holds the reservations now. Completed with
 * Namespace Not Ready (retryable, it reaches the successor) and the lock dropped.
 */
static bool dn_pr_refuse_handed_over(struct dn_tgt_req *req)
{
	if (!req->ns->pr.handed_over)
		return false;
	pthread_mutex_unlock(&req->ns->pr.lock);
	dn_req_complete(req, DN_PR_MOVED);
	return true;
}

static void dn_pr_exec(struct dn_tgt_req *req)
{
	struct dn_tgt_ns *ns = req->ns;
	const uint8_t *hostid = req->queue->ctrl->hostid;
	uint32_t cdw10 = dn_sqe_cdw(req->sqe, 10);
	struct dn_pr_keys k = {0, 0};
	uint8_t op = req->sqe->opcode;
	struct dn_pr_snap snap;
	nvme_status_t st;

	memcpy(&k, req->data, req->data_len < sizeof(k) ? req->data_len : sizeof(k));
	k.crkey = le64toh(k.crkey);
	k.key2 = le64toh(k.key2);
	pthread_mutex_lock(&ns->pr.lock);
	if (dn_pr_refuse_handed_over(req))
		return;
	if (ns->pr.ptpl_file)
		dn_pr_snap_take(&ns->pr, &snap);
	if (op == nvme_cmd_resv_register)
		st = dn_pr_register(ns, hostid, cdw10, &k);
	else if (op == nvme_cmd_resv_acquire)
		st = dn_pr_acquire(ns, hostid, cdw10, &k);
	else
		st = dn_pr_release(ns, hostid, cdw10, &k);
	/* the generation counts changes of registrations: register, preempt, clear */
	if (!st &&
	    (op == nvme_cmd_resv_register ||
	     (op == nvme_cmd_resv_acquire && (cdw10 & 7) != NVME_RESERVATION_RACQA_ACQUIRE) ||
	     (op == nvme_cmd_resv_release && (cdw10 & 7) == NVME_RESERVATION_RRELA_CLEAR)))
		ns->pr.gen++;
	/* a successful Register sets Persist Through Power Loss as CPTPL says */
	if (!st && op == nvme_cmd_resv_register && cdw10 >> 30 == 2)
		ns->pr.ptpl = false;
	if (!st && op == nvme_cmd_resv_register && cdw10 >> 30 == 3 && ns->pr.ptpl_file)
		ns->pr.ptpl = true;
	/* kept before it is answered; a change that cannot be kept does not happen */
	if (!st && ns->pr.ptpl_file && dn_pr_save(ns)) {
		dn_pr_snap_restore(&ns->pr, &snap);
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	}
	pthread_mutex_unlock(&ns->pr.lock);
	if (!st && op == nvme_cmd_resv_acquire &&
	    (cdw10 & 7) == NVME_RESERVATION_RACQA_PREEMPT_AND_ABORT) {
		req->pr_drain_slot = -1;
		dn_pr_abort_wait(&req->pr_wait);
		return;
	}
	dn_req_complete(req, st);
}

static void dn_pr_exec_report(struct dn_tgt_req *req)
{
	struct dn_tgt_pr *pr = &req->ns->pr;
	struct nvme_resv_status *st = req->data;
	struct nvme_registered_ctrl_ext *e = st->regctl_eds;
	size_t room = (req->data_len - sizeof(*st)) / sizeof(*e);
	unsigned int i;
	uint8_t rtype;

	memset(req->data, 0, req->data_len);
	pthread_mutex_lock(&pr->lock);
	if (dn_pr_refuse_handed_over(req))
		return;
	rtype = atomic_load_explicit(&pr->rtype, memory_order_relaxed);
	st->gen = htole32(pr->gen);
	st->rtype = rtype;
	st->ptpls = pr->ptpl;
	st->regctl[0] = pr->nr_regs & 0xff;
	st->regctl[1] = pr->nr_regs >> 8;
	for (i = 0; i < pr->nr_regs && i < room; i++) {
		e[i].cntlid = htole16(0xffff); /* dynamic controllers: the host, not one of them */
		e[i].rcsts = dn_pr_is_holder(pr, (int)i) ? 1 : 0;
		e[i].rkey = htole64(pr->regs[i].rkey);
		memcpy(e[i].hostid, pr->regs[i].hostid, 16);
	}
	pthread_mutex_unlock(&pr->lock);
	dn_req_complete(req, 0);
}

nvme_status_t dn_tgt_pr_parse(struct dn_tgt_req *req)
{
	uint32_t cdw10 = dn_sqe_cdw(req->sqe, 10);
	uint64_t len;

	req->execute = dn_pr_exec;
	switch (req->sqe->opcode) {
	case nvme_cmd_resv_register:
	case nvme_cmd_resv_acquire:
		req->dir = DN_XFER_H2C;
		req->data_len = 16;
		return 0;
	case nvme_cmd_resv_release:
		/* CRKEY alone, but the Linux block layer sends Register's 16 bytes: take them */
		req->dir = DN_XFER_H2C;
		req->data_len = 8;
		req->data_max = 16;
		return 0;
	}
	/* Report: NUMD dwords; host identifiers are 128-bit, so only the extended format */
	if (!(dn_sqe_cdw(req->sqe, 11) & 1))
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_HOSTID_FORMAT);
	len = ((uint64_t)cdw10 + 1) * 4;
	if (len < sizeof(struct nvme_resv_status) || len > dn_tgt_max_xfer())
		return DN_PR_INVALID;
	req->execute = dn_pr_exec_report;
	req->dir = DN_XFER_C2H;
	req->data_len = (uint32_t)len;
	return 0;
}

/* The I/O path: may this command's host do this while a reservation is held? */
nvme_status_t dn_tgt_pr_check(struct dn_tgt_req *req, bool write)
{
	struct dn_tgt_pr *pr = &req->ns->pr;
	uint8_t rtype = atomic_load(&pr->rtype); /* after the in-flight count: seq_cst */
	nvme_status_t st = 0;
	bool registrant;
	int me;

	if (!rtype)
		return 0;
	pthread_mutex_lock(&pr->lock);
	/* admitted after a reload replaced the namespace: retryable, it reaches the new one */
	if (pr->handed_over) {
		st = DN_PR_MOVED;
		goto out;
	}
	rtype = atomic_load_explicit(&pr->rtype, memory_order_relaxed);
	me = dn_pr_find(pr, req->queue->ctrl->hostid);
	registrant = me >= 0;
	if (!rtype || dn_pr_is_holder(pr, me))
		goto out;
	switch (rtype) {
	case NVME_RESERVATION_RTYPE_WE:
		st = write ? DN_PR_CONFLICT : 0;
		break;
	case NVME_RESERVATION_RTYPE_EA:
		st = DN_PR_CONFLICT;
		break;
	case NVME_RESERVATION_RTYPE_WERO:
	case NVME_RESERVATION_RTYPE_WEAR:
		st = write && !registrant ? DN_PR_CONFLICT : 0;
		break;
	default: /* the Exclusive Access - Registrants types */
		st = registrant ? 0 : DN_PR_CONFLICT;
		break;
	}
out:
	pthread_mutex_unlock(&pr->lock);
	return st;
}

/* ---- features and the log page (admin queue) ---- */

nvme_status_t dn_tgt_pr_set_notify_mask(struct dn_tgt_subsys *s, uint32_t nsid, uint32_t mask)
{
	uint32_t i;

	if (mask & ~(uint32_t)DN_PR_NOTIFY_BITS)
		return DN_PR_INVALID;
	if (nsid == 0xffffffff) {
		for (i = 1; i <= DN_TGT_MAX_NSID; i++) {
			struct dn_tgt_ns *ns = dn_tgt_ns_lookup(s, i);

			if (ns)
				atomic_store(&ns->pr.notify_mask, mask);
		}
		return 0;
	}
	if (!dn_tgt_ns_lookup(s, nsid))
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS);
	atomic_store(&dn_tgt_ns_lookup(s, nsid)->pr.notify_mask, mask);
	return 0;
}

nvme_status_t dn_tgt_pr_get_notify_mask(struct dn_tgt_subsys *s, uint32_t nsid, uint32_t *mask)
{
	struct dn_tgt_ns *ns = dn_tgt_ns_lookup(s, nsid);

	if (!ns)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS);
	*mask = atomic_load(&ns->pr.notify_mask);
	return 0;
}

/*
 * Get Log Page 0x80: the oldest notification, with how many more wait (NALP); reading it
 * consumes it unless RAE. Entries lost to a full queue show as a jump in the log page count.
 * Caller holds dn_tgt.lock.
 */
void dn_tgt_pr_log_read(struct dn_tgt_ctrl *ctrl, bool rae, struct nvme_resv_notification_log *log)
{
	struct dn_tgt_pr_log *l = &ctrl->pr_log;
	const struct dn_tgt_pr_log_entry *e;

	memset(log, 0, sizeof(*log));
	if (!l->nr)
		goto out;
	e = &l->ent[l->head];
	log->lpc = htole64(e->count);
	log->rnlpt = e->type;
	log->nsid = htole32(e->nsid);
	log->nalp = (uint8_t)(l->nr - 1 > 255 ? 255 : l->nr - 1);
	if (!rae) {
		l->head = (l->head + 1) % DN_TGT_PR_LOG_SLOTS;
		l->nr--;
	}
out:
	if (!rae && !l->nr)
		ctrl->aen_masked &= ~(1u << (NVME_LOG_LID_RESERVATION & 31));
}
