// SPDX-License-Identifier: MIT
/*
 * Subsystems, namespaces and ports: built from a configuration at setup (every backend
 * opened, or nothing), looked up by Connect, changed by reload, freed at cleanup. Also the
 * deterministic namespace identifiers derived from subsystem NQN + NSID.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "target/core_internal.h"

/* ---- identifiers ---- */

static uint64_t dn_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* FNV-1a over the NQN, the NSID and a tag, finished with a 64-bit mixer: stable forever. */
static uint64_t dn_id_hash(const char *nqn, uint32_t nsid, uint8_t tag)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; nqn[i]; i++)
		h = (h ^ (uint8_t)nqn[i]) * 0x100000001b3ull;
	for (i = 0; i < 4; i++)
		h = (h ^ ((nsid >> (8 * i)) & 0xff)) * 0x100000001b3ull;
	h = (h ^ tag) * 0x100000001b3ull;
	return dn_mix64(h);
}

static void dn_put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

void dn_tgt_derive_ids(const char *subnqn, uint32_t nsid, uint8_t nguid[16], uint8_t uuid[16],
		       uint8_t eui64[8])
{
	if (nguid) {
		dn_put_be64(nguid, dn_id_hash(subnqn, nsid, 1));
		dn_put_be64(nguid + 8, dn_id_hash(subnqn, nsid, 2));
	}
	if (uuid) {
		dn_put_be64(uuid, dn_id_hash(subnqn, nsid, 3));
		dn_put_be64(uuid + 8, dn_id_hash(subnqn, nsid, 4));
		uuid[6] = (uuid[6] & 0x0f) | 0x80; /* RFC 9562 version 8: custom */
		uuid[8] = (uuid[8] & 0x3f) | 0x80; /* variant 10 */
	}
	if (eui64) {
		dn_put_be64(eui64, dn_id_hash(subnqn, nsid, 5));
		eui64[0] = (eui64[0] | 0x02) & ~0x01; /* locally administered, unicast */
	}
}

/* ---- lookups (caller holds dn_tgt.lock) ---- */

struct dn_tgt_subsys *dn_tgt_subsys_find(const char *nqn)
{
	size_t i;

	for (i = 0; i < dn_tgt.nr_subsys; i++)
		if (!strcmp(dn_tgt.subsys[i]->nqn, nqn))
			return dn_tgt.subsys[i];
	return NULL;
}

bool dn_tgt_subsys_host_allowed(const struct dn_tgt_subsys *s, const char *hostnqn)
{
	size_t i;

	if (s->allow_any_host)
		return true;
	for (i = 0; i < s->nr_hosts; i++)
		if (!strcmp(s->hosts[i], hostnqn))
			return true;
	return false;
}

size_t dn_tgt_nr_ports(void)
{
	return dn_tgt.nr_ports;
}

struct dn_tgt_port *dn_tgt_port_at(size_t i)
{
	return i < dn_tgt.nr_ports ? &dn_tgt.ports[i] : NULL;
}

const struct dn_tgt_backend_ops *dn_tgt_backend_for(const char *path)
{
	struct stat st;

	/* a character device can only be an NVMe generic device (/dev/ngXnY) */
	if (stat(path, &st) == 0 && S_ISCHR(st.st_mode))
		return &dn_tgt_backend_passthru;
	return &dn_tgt_backend_file;
}

/* ---- namespaces ---- */

static void dn_tgt_ns_free(struct dn_tgt_ns *ns)
{
	ns->be->close(ns);
	dn_tgt_pr_destroy(&ns->pr);
	free(ns->path);
	free(ns);
}

static int dn_tgt_ns_create(struct dn_tgt_subsys *s, const struct dn_tgt_ns_config *nc,
			    struct dn_tgt_ns **out)
{
	struct dn_tgt_ns *ns;
	int ret;

	ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	ns->path = strdup(nc->path);
	if (!ns->path) {
		ret = -ENOMEM;
		goto out_free_ns;
	}
	ns->subsys = s;
	ns->nsid = nc->nsid;
	ns->read_only = nc->read_only;
	ns->fd = ns->fd_buffered = -1;
	dn_tgt_pr_init(&ns->pr);
	dn_tgt_derive_ids(s->nqn, nc->nsid, ns->nguid, ns->uuid, ns->eui64);
	if (nc->has_nguid)
		memcpy(ns->nguid, nc->nguid, sizeof(ns->nguid));
	if (nc->has_uuid)
		memcpy(ns->uuid, nc->uuid, sizeof(ns->uuid));
	if (nc->has_eui64)
		memcpy(ns->eui64, nc->eui64, sizeof(ns->eui64));
	/* before the backend opens: a reservations file that does not load stops it here */
	ret = dn_tgt_pr_load(ns, nc->ptpl_file);
	if (ret)
		goto out_free_path;
	ns->be = dn_tgt_backend_for(nc->path);
	ret = ns->be->open(ns, nc->path, nc->read_only);
	if (ret) {
		dn_err("subsystem %s: namespace %u: cannot open %s: %s", s->nqn, nc->nsid, nc->path,
		       strerror(-ret));
		goto out_free_path;
	}
	dn_notice("namespace %u added to %s: %s (%s), %llu blocks of %u bytes%s", ns->nsid, s->nqn,
		  ns->path, ns->be->name, (unsigned long long)ns->nlbas, 1u << ns->lba_shift,
		  ns->read_only ? ", read-only" : "");
	*out = ns;
	return 0;
out_free_path:
	free(ns->path);
	dn_tgt_pr_destroy(&ns->pr);
out_free_ns:
	free(ns);
	return ret;
}

/* ---- subsystems ---- */

static void dn_tgt_subsys_free(struct dn_tgt_subsys *s)
{
	uint32_t nsid;

	for (nsid = 1; nsid <= DN_TGT_MAX_NSID; nsid++) {
		struct dn_tgt_ns *ns = atomic_load(&s->ns[nsid]);

		if (ns)
			dn_tgt_ns_free(ns);
	}
	free(s->hosts);
	free(s);
}

static struct dn_tgt_subsys *dn_tgt_subsys_alloc(const char *nqn, const char *serial,
						 const char *model, bool allow_any,
						 const char (*hosts)[NVME_NQN_LENGTH],
						 size_t nr_hosts)
{
	struct dn_tgt_subsys *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->nqn, sizeof(s->nqn), "%s", nqn);
	snprintf(s->serial, sizeof(s->serial), "%s", serial);
	snprintf(s->model, sizeof(s->model), "%s", model);
	s->allow_any_host = allow_any;
	s->next_cntlid = DN_TGT_CNTLID_MIN;
	if (nr_hosts) {
		s->hosts = calloc(nr_hosts, sizeof(*s->hosts));
		if (!s->hosts) {
			free(s);
			return NULL;
		}
		memcpy(s->hosts, hosts, nr_hosts * sizeof(*s->hosts));
		s->nr_hosts = nr_hosts;
	}
	return s;
}

static int dn_tgt_subsys_create(const struct dn_tgt_subsys_config *sc, struct dn_tgt_subsys **out)
{
	struct dn_tgt_subsys *s;
	size_t i;
	int ret;

	s = dn_tgt_subsys_alloc(sc->nqn, sc->serial, sc->model, sc->allow_any_host,
				(const char(*)[NVME_NQN_LENGTH])sc->hosts, sc->nr_hosts);
	if (!s)
		return -ENOMEM;
	for (i = 0; i < sc->nr_ns; i++) {
		struct dn_tgt_ns *ns;

		ret = dn_tgt_ns_create(s, &sc->ns[i], &ns);
		if (ret)
			goto out_free_subsys;
		atomic_store(&s->ns[ns->nsid], ns);
	}
	dn_notice("subsystem %s: %zu namespace(s), %s", s->nqn, sc->nr_ns,
		  s->allow_any_host ? "any host" : "listed hosts only");
	*out = s;
	return 0;
out_free_subsys:
	dn_tgt_subsys_free(s); /* closes the namespaces opened so far */
	return ret;
}

uint32_t dn_tgt_max_xfer(void)
{
	return dn_tgt.max_xfer ? dn_tgt.max_xfer : DN_TGT_MAX_XFER;
}

uint8_t dn_tgt_mdts(void)
{
	/* a power of two of at least 8 KiB: never 0, which would mean no limit */
	return (uint8_t)__builtin_ctz(dn_tgt_max_xfer() >> 12);
}

uint16_t dn_tgt_max_queue_size(void)
{
	return dn_tgt.max_queue_size ? dn_tgt.max_queue_size : DN_TGT_MAX_QUEUE_SIZE;
}

int dn_tgt_setup(const struct dn_tgt_config *cfg)
{
	char serial[21];
	size_t i;
	int ret;

	dn_tgt.start_ms = dn_now_ms();
	/* before the namespaces: a passthrough drive is checked against the MDTS offered */
	dn_tgt.max_xfer = cfg->max_io_size;
	dn_tgt.max_queue_size = cfg->max_queue_depth;
	dn_tgt.ports = calloc(cfg->nr_ports ? cfg->nr_ports : 1, sizeof(*dn_tgt.ports));
	dn_tgt.subsys = calloc(cfg->nr_subsys + 1, sizeof(*dn_tgt.subsys));
	if (!dn_tgt.ports || !dn_tgt.subsys) {
		ret = -ENOMEM;
		goto out_free_arrays;
	}
	memcpy(dn_tgt.ports, cfg->ports, cfg->nr_ports * sizeof(*dn_tgt.ports));
	dn_tgt.nr_ports = cfg->nr_ports;

	snprintf(serial, sizeof(serial), "%016llx",
		 (unsigned long long)dn_id_hash(NVME_DISC_SUBSYS_NAME, 0, 0));
	dn_tgt.subsys[0] = dn_tgt_subsys_alloc(NVME_DISC_SUBSYS_NAME, serial, "disnvme discovery",
					       true, NULL, 0);
	if (!dn_tgt.subsys[0]) {
		ret = -ENOMEM;
		goto out_free_arrays;
	}
	dn_tgt.subsys[0]->is_discovery = true;
	dn_tgt.nr_subsys = 1;
	for (i = 0; i < cfg->nr_subsys; i++) {
		ret = dn_tgt_subsys_create(&cfg->subsys[i], &dn_tgt.subsys[dn_tgt.nr_subsys]);
		if (ret)
			goto out_free_subsys;
		dn_tgt.nr_subsys++;
	}
	dn_tgt.disc_genctr = 1;
	for (i = 0; i < dn_tgt.nr_ports; i++)
		dn_notice("port %u: %s %s:%s", dn_tgt.ports[i].portid,
			  dn_tgt.ports[i].trtype == NVMF_TRTYPE_RDMA ? "rdma" : "?",
			  dn_tgt.ports[i].traddr, dn_tgt.ports[i].trsvcid);
	return 0;
out_free_subsys:
	while (dn_tgt.nr_subsys > 0)
		dn_tgt_subsys_free(dn_tgt.subsys[--dn_tgt.nr_subsys]);
out_free_arrays:
	free(dn_tgt.subsys);
	free(dn_tgt.ports);
	dn_tgt.subsys = NULL;
	dn_tgt.ports = NULL;
	dn_tgt.nr_ports = 0;
	dn_tgt.max_xfer = 0;
	dn_tgt.max_queue_size = 0;
	return ret;
}

void dn_tgt_cleanup(void)
{
	dn_tgt_reap_retired(true);
	while (dn_tgt.nr_subsys > 0)
		dn_tgt_subsys_free(dn_tgt.subsys[--dn_tgt.nr_subsys]);
	free(dn_tgt.subsys);
	free(dn_tgt.ports);
	dn_tgt.subsys = NULL;
	dn_tgt.ports = NULL;
	dn_tgt.nr_ports = 0;
	dn_tgt.max_xfer = 0;
	dn_tgt.max_queue_size = 0;
}

/* ---- reload ---- */

/* Free what a reload removed once nothing uses it any more (main thread). */
void dn_tgt_reap_retired(bool all)
{
	uint64_t now = dn_now_ms();
	struct dn_tgt_ns **pn = &dn_tgt.retired_ns;
	struct dn_tgt_subsys **ps = &dn_tgt.retired_subsys;

	while (*pn) {
		struct dn_tgt_ns *ns = *pn;

		/*
		 * The grace period covers a poll-group thread that loaded the pointer just
		 * before it was cleared and has not counted itself in inflight yet (or is
		 * moving between its two slots, dn_io_ns_get()).
		 */
		if (all || (!atomic_load(&ns->inflight[0]) && !atomic_load(&ns->inflight[1]) &&
			    now - ns->retired_ms > 2000)) {
			struct dn_tgt_ns *x;

			*pn = ns->retired_next;
			/* its successor, current or retired in turn, stops waiting for it */
			dn_tgt_pr_forget_pred(dn_tgt_ns_lookup(ns->subsys, ns->nsid), ns);
			for (x = dn_tgt.retired_ns; x; x = x->retired_next)
				dn_tgt_pr_forget_pred(x, ns);
			dn_notice("namespace %u of %s closed: %s", ns->nsid, ns->subsys->nqn,
				  ns->path);
			dn_tgt_ns_free(ns);
		} else {
			pn = &ns->retired_next;
		}
	}
	while (*ps) {
		struct dn_tgt_subsys *s = *ps;
		struct dn_tgt_ns *x;
		bool idle;

		pthread_mutex_lock(&dn_tgt.lock);
		idle = !s->ctrls;
		pthread_mutex_unlock(&dn_tgt.lock);
		/* a namespace it retired earlier still points at it */
		for (x = dn_tgt.retired_ns; x && idle; x = x->retired_next)
			idle = x->subsys != s;
		if (all || idle) {
			*ps = s->retired_next;
			dn_tgt_subsys_free(s);
		} else {
			ps = &s->retired_next;
		}
	}
}

/* nsid's namespace leaves s; repl (or nothing) takes its place at once. */
static void dn_tgt_ns_retire(struct dn_tgt_subsys *s, uint32_t nsid, struct dn_tgt_ns *repl)
{
	struct dn_tgt_ns *ns = atomic_exchange(&s->ns[nsid], repl);

	if (!ns)
		return;
	ns->retired_ms = dn_now_ms();
	ns->retired_next = dn_tgt.retired_ns;
	dn_tgt.retired_ns = ns;
	if (repl)
		dn_notice("namespace %u of %s replaced (was %s)%s", nsid, s->nqn, ns->path,
			  ns->pr.handed_over ? ": registrations and reservation kept" : "");
	else
		dn_notice("namespace %u removed from %s (%s)", nsid, s->nqn, ns->path);
}

static const struct dn_tgt_subsys_config *dn_cfg_find_subsys(const struct dn_tgt_config *cfg,
							     const char *nqn)
{
	size_t i;

	for (i = 0; i < cfg->nr_subsys; i++)
		if (!strcmp(cfg->subsys[i].nqn, nqn))
			return &cfg->subsys[i];
	return NULL;
}

static const struct dn_tgt_ns_config *dn_cfg_find_ns(const struct dn_tgt_subsys_config *sc,
						     uint32_t nsid)
{
	size_t i;

	for (i = 0; i < sc->nr_ns; i++)
		if (sc->ns[i].nsid == nsid)
			return &sc->ns[i];
	return NULL;
}

/* Same backing, same identity: a namespace that a reload leaves alone. */
static bool dn_ns_unchanged(const struct dn_tgt_ns *ns, const struct dn_tgt_ns_config *nc)
{
	uint8_t nguid[16], uuid[16], eui64[8];

	dn_tgt_derive_ids(ns->subsys->nqn, nc->nsid, nguid, uuid, eui64);
	if (nc->has_nguid)
		memcpy(nguid, nc->nguid, 16);
	if (nc->has_uuid)
		memcpy(uuid, nc->uuid, 16);
	if (nc->has_eui64)
		memcpy(eui64, nc->eui64, 8);
	if (!ns->pr.ptpl_file != !nc->ptpl_file ||
	    (nc->ptpl_file && strcmp(ns->pr.ptpl_file, nc->ptpl_file)))
		return false;
	return !strcmp(ns->path, nc->path) && ns->read_only == nc->read_only &&
	       !memcmp(ns->nguid, nguid, 16) && !memcmp(ns->uuid, uuid, 16) &&
	       !memcmp(ns->eui64, eui64, 8);
}

/*
 * A namespace a reload re-creates keeps its registrations and reservation when it is the same
 * reservation state: the same ptpl_file, or neither has one and the backing is the same. A
 * fence must not lift because, say, an identifier or the read-only flag changed.
 */
static bool dn_ns_same_reservations(const struct dn_tgt_ns *a, const struct dn_tgt_ns *b)
{
	if (a->pr.ptpl_file || b->pr.ptpl_file)
		return a->pr.ptpl_file && b->pr.ptpl_file &&
		       !strcmp(a->pr.ptpl_file, b->pr.ptpl_file);
	return !strcmp(a->path, b->path);
}

/* A namespace opened ahead of a reload, published only when every open succeeded. */
struct dn_reload_ns {
	struct dn_tgt_subsys *subsys;
	struct dn_tgt_ns *ns;
};

static bool dn_hosts_equal(const struct dn_tgt_subsys *s, const struct dn_tgt_subsys_config *sc)
{
	return s->allow_any_host == sc->allow_any_host && s->nr_hosts == sc->nr_hosts &&
	       (!sc->nr_hosts || !memcmp(s->hosts, sc->hosts, sc->nr_hosts * sizeof(*sc->hosts)));
}

/* Caller holds the lock: every controller whose host may no longer connect goes away. */
static void dn_kill_disallowed_locked(struct dn_tgt_subsys *s)
{
	struct dn_tgt_ctrl *c;

	for (c = s->ctrls; c; c = c->next) {
		struct dn_tgt_queue *del[1 + DN_TGT_MAX_IO_QUEUES];
		unsigned int nr_del = 0, i;

		if (c->dying || dn_tgt_subsys_host_allowed(s, c->hostnqn))
			continue;
		dn_tgt_ctrl_kill_locked(c, "host no longer allowed", del, &nr_del);
		/* delete_queue may not call back into the core synchronously under the lock;
		 * the transports queue the teardown on their poll group (core.h) */
		for (i = 0; i < nr_del; i++)
			del[i]->ops->delete_queue(del[i]);
	}
}

int dn_tgt_reload(const struct dn_tgt_config *cfg)
{
	struct dn_reload_ns *added = NULL;
	struct dn_tgt_subsys **new_subsys = NULL, **arr;
	size_t nr_added = 0, nr_new = 0, i, j;
	bool disc_changed = false;
	int ret;

	/* ports are the transport's listeners: they stay as they are */
	if (cfg->nr_ports != dn_tgt.nr_ports) {
		dn_err("%s: ports: a reload cannot add or remove ports (restart instead)",
		       cfg->source);
		return -EINVAL;
	}
	for (i = 0; i < cfg->nr_ports; i++) {
		const struct dn_tgt_port *a = &cfg->ports[i], *b = &dn_tgt.ports[i];

		if (a->portid != b->portid || a->trtype != b->trtype ||
		    strcmp(a->traddr, b->traddr) || strcmp(a->trsvcid, b->trsvcid)) {
			dn_err("%s: ports[%zu]: a reload cannot change ports (restart instead)",
			       cfg->source, i);
			return -EINVAL;
		}
	}

	/* 1. open everything new; any failure leaves the running target untouched */
	added = calloc(DN_TGT_MAX_NSID * (cfg->nr_subsys ? cfg->nr_subsys : 1), sizeof(*added));
	new_subsys = calloc(cfg->nr_subsys ? cfg->nr_subsys : 1, sizeof(*new_subsys));
	if (!added || !new_subsys) {
		ret = -ENOMEM;
		goto out_unwind;
	}
	for (i = 0; i < cfg->nr_subsys; i++) {
		const struct dn_tgt_subsys_config *sc = &cfg->subsys[i];
		struct dn_tgt_subsys *s = dn_tgt_subsys_find(sc->nqn);

		if (!s) {
			ret = dn_tgt_subsys_create(sc, &new_subsys[nr_new]);
			if (ret)
				goto out_unwind;
			nr_new++;
			continue;
		}
		for (j = 0; j < sc->nr_ns; j++) {
			const struct dn_tgt_ns_config *nc = &sc->ns[j];
			struct dn_tgt_ns *cur = dn_tgt_ns_lookup(s, nc->nsid);

			if (cur && dn_ns_unchanged(cur, nc))
				continue;
			ret = dn_tgt_ns_create(s, nc, &added[nr_added].ns);
			if (ret)
				goto out_unwind;
			added[nr_added++].subsys = s;
		}
	}

	/* 2. apply */
	pthread_mutex_lock(&dn_tgt.lock);
	arr = realloc(dn_tgt.subsys, (dn_tgt.nr_subsys + nr_new) * sizeof(*arr));
	if (!arr) {
		pthread_mutex_unlock(&dn_tgt.lock);
		ret = -ENOMEM;
		goto out_unwind;
	}
	dn_tgt.subsys = arr;
	pthread_mutex_unlock(&dn_tgt.lock);
	/*
	 * Namespaces replaced: the new object takes the slot in one step (no moment without the
	 * namespace), the reservations handed over first. Not under dn_tgt.lock: a Reservation
	 * command takes it (for its notifications) while it holds its namespace's lock.
	 */
	for (i = 0; i < nr_added; i++) {
		struct dn_tgt_subsys *s = added[i].subsys;
		struct dn_tgt_ns *ns = added[i].ns, *cur = dn_tgt_ns_lookup(s, ns->nsid);

		if (!cur)
			continue;
		if (dn_ns_same_reservations(cur, ns))
			dn_tgt_pr_hand_over(cur, ns);
		dn_tgt_ns_retire(s, ns->nsid, ns);
	}
	pthread_mutex_lock(&dn_tgt.lock);
	/* subsystems gone from the configuration */
	for (i = 1; i < dn_tgt.nr_subsys;) {
		struct dn_tgt_subsys *s = dn_tgt.subsys[i];

		if (dn_cfg_find_subsys(cfg, s->nqn)) {
			i++;
			continue;
		}
		dn_notice("subsystem %s removed", s->nqn);
		s->allow_any_host = false;
		s->nr_hosts = 0;
		dn_kill_disallowed_locked(s);
		memmove(&dn_tgt.subsys[i], &dn_tgt.subsys[i + 1],
			(dn_tgt.nr_subsys - i - 1) * sizeof(*arr));
		dn_tgt.nr_subsys--;
		s->retired_next = dn_tgt.retired_subsys;
		dn_tgt.retired_subsys = s;
		disc_changed = true;
	}
	/* subsystems that stay: hosts and namespaces */
	for (i = 1; i < dn_tgt.nr_subsys; i++) {
		struct dn_tgt_subsys *s = dn_tgt.subsys[i];
		const struct dn_tgt_subsys_config *sc = dn_cfg_find_subsys(cfg, s->nqn);
		uint32_t nsid;

		if (!dn_hosts_equal(s, sc)) {
			char(*hosts)[NVME_NQN_LENGTH] = NULL;

			if (sc->nr_hosts)
				hosts = malloc(sc->nr_hosts * sizeof(*hosts));
			if (sc->nr_hosts && !hosts) {
				dn_warn("subsystem %s: out of memory: host list not changed",
					s->nqn);
			} else {
				if (sc->nr_hosts)
					memcpy(hosts, sc->hosts, sc->nr_hosts * sizeof(*hosts));
				free(s->hosts);
				s->hosts = hosts;
				s->nr_hosts = sc->nr_hosts;
				s->allow_any_host = sc->allow_any_host;
				dn_notice("subsystem %s: allowed hosts changed", s->nqn);
				dn_kill_disallowed_locked(s);
				disc_changed = true;
			}
		}
		for (nsid = 1; nsid <= DN_TGT_MAX_NSID; nsid++) {
			struct dn_tgt_ns *cur = dn_tgt_ns_lookup(s, nsid);
			struct dn_tgt_ctrl *c;

			/* the ones replaced hold their new object already */
			if (!cur || dn_cfg_find_ns(sc, nsid))
				continue;
			dn_tgt_ns_retire(s, nsid, NULL);
			for (c = s->ctrls; c; c = c->next)
				if (!c->dying)
					dn_tgt_ctrl_ns_changed(c, nsid);
		}
	}
	for (i = 0; i < nr_added; i++) {
		struct dn_tgt_ns *ns = added[i].ns;
		struct dn_tgt_ctrl *c;

		atomic_store(&added[i].subsys->ns[ns->nsid], ns);
		for (c = added[i].subsys->ctrls; c; c = c->next)
			if (!c->dying)
				dn_tgt_ctrl_ns_changed(c, ns->nsid);
	}
	for (i = 0; i < nr_new; i++)
		dn_tgt.subsys[dn_tgt.nr_subsys++] = new_subsys[i];
	if (nr_new)
		disc_changed = true;
	if (disc_changed) {
		struct dn_tgt_ctrl *c;

		dn_tgt.disc_genctr++;
		for (c = dn_tgt.subsys[0]->ctrls; c; c = c->next)
			if (!c->dying)
				dn_tgt_ctrl_add_aen(c, NVME_AER_NOTICE,
						    NVME_AER_NOTICE_DISC_CHANGED,
						    NVME_LOG_LID_DISCOVER);
	}
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_notice("%s: configuration reloaded (%zu namespace(s) and %zu subsystem(s) added)",
		  cfg->source, nr_added, nr_new);
	free(added);
	free(new_subsys);
	return 0;

out_unwind:
	while (nr_added > 0)
		dn_tgt_ns_free(added[--nr_added].ns);
	while (nr_new > 0)
		dn_tgt_subsys_free(new_subsys[--nr_new]);
	free(added);
	free(new_subsys);
	dn_err("%s: configuration not reloaded", cfg->source);
	return ret;
}
