// SPDX-License-Identifier: MIT
/*
 * disnvme-target's configuration: from the quick-start command line or from a JSON file
 * (json-c). Everything is checked before anything starts; a problem is reported as
 * "SOURCE: FIELD: PROBLEM" and the whole configuration is refused.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rdma_util.h"
#include "target/config.h"
#include "target/core_internal.h"

#define DN_CFG_DEFAULT_TRSVCID "4420"
#define DN_CFG_DEFAULT_MODEL   "disnvme"

static int dn_cfg_error(const char *source, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int dn_cfg_error(const char *source, const char *field, const char *fmt, ...)
{
	char problem[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	dn_err("%s: %s: %s", source, field, problem);
	return -EINVAL;
}

/* ---- value checks ---- */

const char *dn_cfg_check_nqn(const char *nqn)
{
	size_t len = strlen(nqn);

	if (len == 0)
		return "empty NQN";
	if (len > NVMF_NQN_SIZE)
		return "NQN longer than 223 bytes";
	if (strncmp(nqn, "nqn.", 4))
		return "NQN must start with \"nqn.\"";
	if (dn_cfg_check_ascii(nqn, NVMF_NQN_SIZE))
		return "NQN has characters other than printable ASCII";
	return NULL;
}

const char *dn_cfg_check_ascii(const char *s, size_t max)
{
	size_t i;

	if (strlen(s) > max)
		return "too long";
	for (i = 0; s[i]; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return "not printable ASCII";
	return NULL;
}

const char *dn_cfg_parse_traddr(const char *traddr, uint8_t *adrfam)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (strlen(traddr) >= NVMF_TRADDR_SIZE)
		return "address too long";
	if (inet_pton(AF_INET, traddr, buf) == 1) {
		*adrfam = NVMF_ADDR_FAMILY_IP4;
		return NULL;
	}
	if (inet_pton(AF_INET6, traddr, buf) == 1) {
		*adrfam = NVMF_ADDR_FAMILY_IP6;
		return NULL;
	}
	return "not an IPv4 or IPv6 address";
}

static int dn_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

const char *dn_cfg_parse_hex_id(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	bool nonzero = false;

	while (*s) {
		int hi, lo;

		if (*s == '-') {
			s++;
			continue;
		}
		hi = dn_hexval(s[0]);
		lo = hi < 0 ? -1 : dn_hexval(s[1]);
		if (hi < 0 || lo < 0)
			return "not hexadecimal";
		if (got == n)
			return "too many hex digits";
		out[got] = (uint8_t)(hi << 4 | lo);
		nonzero |= out[got] != 0;
		got++;
		s += 2;
	}
	if (got != n)
		return "too few hex digits";
	if (!nonzero)
		return "all zero (means \"none\" to hosts)";
	return NULL;
}

/* ---- the configuration as a whole ---- */

void dn_tgt_config_free(struct dn_tgt_config *cfg)
{
	size_t i, j;

	for (i = 0; i < cfg->nr_subsys; i++) {
		struct dn_tgt_subsys_config *s = &cfg->subsys[i];

		for (j = 0; j < s->nr_ns; j++) {
			free(s->ns[j].path);
			free(s->ns[j].ptpl_file);
		}
		free(s->ns);
		free(s->hosts);
	}
	free(cfg->subsys);
	free(cfg->ports);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

/* Two namespaces keeping their reservations in one file would overwrite each other's. */
static int dn_cfg_ptpl_unique(const struct dn_tgt_config *cfg)
{
	size_t i, j, k, l;
	char field[96];

	for (i = 0; i < cfg->nr_subsys; i++)
		for (j = 0; j < cfg->subsys[i].nr_ns; j++) {
			const char *f = cfg->subsys[i].ns[j].ptpl_file;

			for (k = 0; f && k <= i; k++)
				for (l = 0; l < cfg->subsys[k].nr_ns && (k < i || l < j); l++) {
					const char *g = cfg->subsys[k].ns[l].ptpl_file;

					if (!g || strcmp(f, g))
						continue;
					snprintf(field, sizeof(field),
						 "subsystems[%zu].namespaces[%zu].ptpl_file", i, j);
					return dn_cfg_error(
						cfg->source, field,
						"%s is subsystems[%zu].namespaces[%zu]'s too", f, k,
						l);
				}
		}
	return 0;
}

int dn_cfg_finish(struct dn_tgt_config *cfg)
{
	char field[96];
	size_t i, j, k;

	if (!cfg->nr_ports)
		return dn_cfg_error(cfg->source, "ports", "at least one port is needed");
	if (!cfg->nr_subsys)
		return dn_cfg_error(cfg->source, "subsystems", "at least one subsystem is needed");
	for (i = 0; i < cfg->nr_ports; i++)
		for (j = 0; j < i; j++) {
			snprintf(field, sizeof(field), "ports[%zu]", i);
			if (cfg->ports[i].portid == cfg->ports[j].portid)
				return dn_cfg_error(cfg->source, field, "portid %u used twice",
						    cfg->ports[i].portid);
			if (!strcmp(cfg->ports[i].traddr, cfg->ports[j].traddr) &&
			    !strcmp(cfg->ports[i].trsvcid, cfg->ports[j].trsvcid))
				return dn_cfg_error(cfg->source, field,
						    "same address and service as ports[%zu]", j);
		}
	for (i = 0; i < cfg->nr_subsys; i++) {
		struct dn_tgt_subsys_config *s = &cfg->subsys[i];

		snprintf(field, sizeof(field), "subsystems[%zu].nqn", i);
		if (!strcmp(s->nqn, NVME_DISC_SUBSYS_NAME))
			return dn_cfg_error(cfg->source, field,
					    "the discovery NQN is served by the target itself");
		for (j = 0; j < i; j++)
			if (!strcmp(s->nqn, cfg->subsys[j].nqn))
				return dn_cfg_error(cfg->source, field,
						    "same NQN as subsystems[%zu]", j);
		if (!s->serial[0]) {
			/* stable across restarts: derived from the NQN */
			uint8_t id[8];

			dn_tgt_derive_ids(s->nqn, 0, NULL, NULL, id);
			for (k = 0; k < 8; k++)
				snprintf(s->serial + 2 * k, 3, "%02x", id[k]);
		}
		if (!s->model[0])
			snprintf(s->model, sizeof(s->model), "%s", DN_CFG_DEFAULT_MODEL);
		for (j = 0; j < s->nr_ns; j++)
			for (k = 0; k < j; k++)
				if (s->ns[j].nsid == s->ns[k].nsid) {
					snprintf(field, sizeof(field),
						 "subsystems[%zu].namespaces[%zu].nsid", i, j);
					return dn_cfg_error(cfg->source, field,
							    "NSID %u used twice", s->ns[j].nsid);
				}
	}
	return dn_cfg_ptpl_unique(cfg);
}

int dn_tgt_config_from_args(struct dn_tgt_config *cfg, const char *trtype, const char *traddr,
			    const char *trsvcid, const char *subnqn, const char *const *ns_paths,
			    size_t nr_ns, const char *const *hosts, size_t nr_hosts)
{
	struct dn_tgt_subsys_config *s;
	struct dn_tgt_port *port;
	const char *why;
	size_t i;
	int ret = -ENOMEM;

	memset(cfg, 0, sizeof(*cfg));
	cfg->source = strdup("command line");
	cfg->ports = calloc(1, sizeof(*cfg->ports));
	cfg->subsys = calloc(1, sizeof(*cfg->subsys));
	if (!cfg->source || !cfg->ports || !cfg->subsys)
		goto out_free;
	cfg->nr_ports = 1;
	cfg->nr_subsys = 1;
	port = &cfg->ports[0];
	s = &cfg->subsys[0];

	ret = -EINVAL;
	if (!trtype || strcmp(trtype, "rdma")) {
		dn_cfg_error(cfg->source, "-t", "transport \"%s\" is not supported (rdma)",
			     trtype ? trtype : "");
		goto out_free;
	}
	port->trtype = NVMF_TRTYPE_RDMA;
	port->portid = 1;
	if (!traddr || (why = dn_cfg_parse_traddr(traddr, &port->adrfam))) {
		dn_cfg_error(cfg->source, "-a", "%s", traddr ? why : "an address is needed");
		goto out_free;
	}
	snprintf(port->traddr, sizeof(port->traddr), "%s", traddr);
	if (!trsvcid)
		trsvcid = DN_CFG_DEFAULT_TRSVCID;
	if ((why = dn_trsvcid_check(trsvcid))) {
		dn_cfg_error(cfg->source, "-s", "%s", why);
		goto out_free;
	}
	snprintf(port->trsvcid, sizeof(port->trsvcid), "%s", trsvcid);
	if (!subnqn || (why = dn_cfg_check_nqn(subnqn))) {
		dn_cfg_error(cfg->source, "-n", "%s", subnqn ? why : "a subsystem NQN is needed");
		goto out_free;
	}
	snprintf(s->nqn, sizeof(s->nqn), "%s", subnqn);
	if (!nr_ns) {
		dn_cfg_error(cfg->source, "--ns", "at least one namespace is needed");
		goto out_free;
	}
	if (nr_ns > DN_TGT_MAX_NSID) {
		dn_cfg_error(cfg->source, "--ns", "at most %u namespaces", DN_TGT_MAX_NSID);
		goto out_free;
	}
	ret = -ENOMEM;
	s->ns = calloc(nr_ns, sizeof(*s->ns));
	if (!s->ns)
		goto out_free;
	for (i = 0; i < nr_ns; i++) {
		s->ns[i].nsid = (uint32_t)i + 1;
		s->ns[i].path = strdup(ns_paths[i]);
		if (!s->ns[i].path)
			goto out_free;
		s->nr_ns++;
		if (!ns_paths[i][0]) {
			ret = dn_cfg_error(cfg->source, "--ns", "empty path");
			goto out_free;
		}
	}
	s->allow_any_host = nr_hosts == 0;
	if (nr_hosts) {
		s->hosts = calloc(nr_hosts, sizeof(*s->hosts));
		if (!s->hosts)
			goto out_free;
		for (i = 0; i < nr_hosts; i++) {
			if ((why = dn_cfg_check_nqn(hosts[i]))) {
				ret = dn_cfg_error(cfg->source, "--host", "%s: %s", hosts[i], why);
				goto out_free;
			}
			snprintf(s->hosts[i], sizeof(s->hosts[i]), "%s", hosts[i]);
		}
		s->nr_hosts = nr_hosts;
	}
	ret = dn_cfg_finish(cfg);
	if (ret)
		goto out_free;
	return 0;
out_free:
	dn_tgt_config_free(cfg);
	return ret;
}

/* ---- JSON ---- */

struct dn_cfg_ctx {
	const char *source;
	char field[160];
};

/* Every key of obj must be one of keys[]. */
static int dn_json_known_keys(struct dn_cfg_ctx *c, json_object *obj, const char *const *keys)
{
	json_object_object_foreach (obj, key, val) {
		const char *const *k;

		(void)val;
		for (k = keys; *k; k++)
			if (!strcmp(*k, key))
				break;
		if (!*k)
			return dn_cfg_error(c->source, c->field, "unknown field \"%s\"", key);
	}
	return 0;
}

/* obj.key as a string; absent: *out = NULL and 0, unless required. */
static int dn_json_string(struct dn_cfg_ctx *c, json_object *obj, const char *key, bool required,
			  const char **out)
{
	json_object *v;
	size_t len = strlen(c->field);

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (!required)
			return 0;
		snprintf(c->field + len, sizeof(c->field) - len, ".%s", key);
		return dn_cfg_error(c->source, c->field, "missing");
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(c->field + len, sizeof(c->field) - len, ".%s", key);
		return dn_cfg_error(c->source, c->field, "must be a string");
	}
	*out = json_object_get_string(v);
	return 0;
}

static int dn_json_bool(struct dn_cfg_ctx *c, json_object *obj, const char *key, bool *out,
			bool *present)
{
	json_object *v;
	size_t len = strlen(c->field);

	if (present)
		*present = false;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(c->field + len, sizeof(c->field) - len, ".%s", key);
		return dn_cfg_error(c->source, c->field, "must be true or false");
	}
	*out = json_object_get_boolean(v);
	if (present)
		*present = true;
	return 0;
}

static int dn_json_uint(struct dn_cfg_ctx *c, json_object *obj, const char *key, uint64_t min,
			uint64_t max, uint64_t *out, bool *present)
{
	json_object *v;
	size_t len = strlen(c->field);
	int64_t n;

	*present = false;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	snprintf(c->field + len, sizeof(c->field) - len, ".%s", key);
	if (!json_object_is_type(v, json_type_int))
		return dn_cfg_error(c->source, c->field, "must be an integer");
	n = json_object_get_int64(v);
	if (n < (int64_t)min || (uint64_t)n > max)
		return dn_cfg_error(c->source, c->field, "must be %llu..%llu",
				    (unsigned long long)min, (unsigned long long)max);
	c->field[len] = '\0';
	*out = (uint64_t)n;
	*present = true;
	return 0;
}

static int dn_cfg_port(struct dn_cfg_ctx *c, json_object *obj, size_t idx, struct dn_tgt_port *p)
{
	static const char *const keys[] = {"portid", "trtype", "adrfam", "traddr", "trsvcid", NULL};
	const char *trtype, *adrfam, *traddr, *trsvcid = NULL, *why;
	char portbuf[16];
	uint64_t portid;
	bool present;
	json_object *v;
	size_t len;

	snprintf(c->field, sizeof(c->field), "ports[%zu]", idx);
	len = strlen(c->field);
	if (!json_object_is_type(obj, json_type_object))
		return dn_cfg_error(c->source, c->field, "must be an object");
	if (dn_json_known_keys(c, obj, keys) ||
	    dn_json_uint(c, obj, "portid", 1, 0xffff, &portid, &present))
		return -EINVAL;
	p->portid = present ? (uint16_t)portid : (uint16_t)(idx + 1);
	if (dn_json_string(c, obj, "trtype", false, &trtype))
		return -EINVAL;
	if (trtype && strcmp(trtype, "rdma")) {
		snprintf(c->field + len, sizeof(c->field) - len, ".trtype");
		return dn_cfg_error(c->source, c->field, "\"%s\" is not supported (rdma)", trtype);
	}
	p->trtype = NVMF_TRTYPE_RDMA;
	if (dn_json_string(c, obj, "traddr", true, &traddr))
		return -EINVAL;
	if ((why = dn_cfg_parse_traddr(traddr, &p->adrfam))) {
		snprintf(c->field + len, sizeof(c->field) - len, ".traddr");
		return dn_cfg_error(c->source, c->field, "%s", why);
	}
	snprintf(p->traddr, sizeof(p->traddr), "%s", traddr);
	if (dn_json_string(c, obj, "adrfam", false, &adrfam))
		return -EINVAL;
	if (adrfam && strcmp(adrfam, p->adrfam == NVMF_ADDR_FAMILY_IP4 ? "ipv4" : "ipv6")) {
		snprintf(c->field + len, sizeof(c->field) - len, ".adrfam");
		return dn_cfg_error(c->source, c->field, "\"%s\" does not match traddr %s", adrfam,
				    traddr);
	}
	/* trsvcid: "4420" or 4420 */
	if (json_object_object_get_ex(obj, "trsvcid", &v) &&
	    json_object_is_type(v, json_type_int)) {
		snprintf(portbuf, sizeof(portbuf), "%lld", (long long)json_object_get_int64(v));
		trsvcid = portbuf;
	} else if (dn_json_string(c, obj, "trsvcid", false, &trsvcid)) {
		return -EINVAL;
	}
	if (!trsvcid)
		trsvcid = DN_CFG_DEFAULT_TRSVCID;
	if ((why = dn_trsvcid_check(trsvcid))) {
		snprintf(c->field + len, sizeof(c->field) - len, ".trsvcid");
		return dn_cfg_error(c->source, c->field, "%s", why);
	}
	snprintf(p->trsvcid, sizeof(p->trsvcid), "%s", trsvcid);
	return 0;
}

static int dn_cfg_hex_field(struct dn_cfg_ctx *c, json_object *obj, const char *key, uint8_t *out,
			    size_t n, bool *has)
{
	size_t len = strlen(c->field);
	const char *s, *why;

	*has = false;
	if (dn_json_string(c, obj, key, false, &s))
		return -EINVAL;
	if (!s)
		return 0;
	if ((why = dn_cfg_parse_hex_id(s, out, n))) {
		snprintf(c->field + len, sizeof(c->field) - len, ".%s", key);
		return dn_cfg_error(c->source, c->field, "%s (want %zu bytes in hex)", why, n);
	}
	*has = true;
	return 0;
}

static int dn_cfg_ns(struct dn_cfg_ctx *c, json_object *obj, size_t si, size_t idx,
		     struct dn_tgt_ns_config *ns)
{
	static const char *const keys[] = {"nsid", "path",  "read_only", "nguid",
					   "uuid", "eui64", "ptpl_file", NULL};
	const char *path, *ptpl;
	uint64_t nsid;
	bool present;

	snprintf(c->field, sizeof(c->field), "subsystems[%zu].namespaces[%zu]", si, idx);
	if (!json_object_is_type(obj, json_type_object))
		return dn_cfg_error(c->source, c->field, "must be an object");
	if (dn_json_known_keys(c, obj, keys) ||
	    dn_json_uint(c, obj, "nsid", 1, DN_TGT_MAX_NSID, &nsid, &present))
		return -EINVAL;
	ns->nsid = present ? (uint32_t)nsid : (uint32_t)idx + 1;
	if (dn_json_string(c, obj, "path", true, &path))
		return -EINVAL;
	if (!path[0]) {
		strncat(c->field, ".path", sizeof(c->field) - strlen(c->field) - 1);
		return dn_cfg_error(c->source, c->field, "empty");
	}
	ns->path = strdup(path);
	if (!ns->path)
		return -ENOMEM;
	if (dn_json_bool(c, obj, "read_only", &ns->read_only, NULL) ||
	    dn_cfg_hex_field(c, obj, "nguid", ns->nguid, 16, &ns->has_nguid) ||
	    dn_cfg_hex_field(c, obj, "uuid", ns->uuid, 16, &ns->has_uuid) ||
	    dn_cfg_hex_field(c, obj, "eui64", ns->eui64, 8, &ns->has_eui64) ||
	    dn_json_string(c, obj, "ptpl_file", false, &ptpl))
		return -EINVAL;
	if (ptpl && ptpl[0] != '/') {
		strncat(c->field, ".ptpl_file", sizeof(c->field) - strlen(c->field) - 1);
		return dn_cfg_error(c->source, c->field, "must be an absolute path");
	}
	if (ptpl) {
		ns->ptpl_file = strdup(ptpl);
		if (!ns->ptpl_file)
			return -ENOMEM;
	}
	return 0;
}

static int dn_cfg_subsys(struct dn_cfg_ctx *c, json_object *obj, size_t idx,
			 struct dn_tgt_subsys_config *s)
{
	static const char *const keys[] = {"nqn",   "serial",	  "model", "allow_any_host",
					   "hosts", "namespaces", NULL};
	const char *nqn, *serial, *model, *why;
	json_object *hosts = NULL, *nss = NULL;
	bool any_present;
	char base[64];
	size_t i, n;
	int ret;

	snprintf(base, sizeof(base), "subsystems[%zu]", idx);
	snprintf(c->field, sizeof(c->field), "%s", base);
	if (!json_object_is_type(obj, json_type_object))
		return dn_cfg_error(c->source, c->field, "must be an object");
	if (dn_json_known_keys(c, obj, keys) || dn_json_string(c, obj, "nqn", true, &nqn))
		return -EINVAL;
	if ((why = dn_cfg_check_nqn(nqn))) {
		snprintf(c->field, sizeof(c->field), "%s.nqn", base);
		return dn_cfg_error(c->source, c->field, "%s", why);
	}
	snprintf(s->nqn, sizeof(s->nqn), "%s", nqn);
	if (dn_json_string(c, obj, "serial", false, &serial) ||
	    dn_json_string(c, obj, "model", false, &model))
		return -EINVAL;
	if (serial && (why = dn_cfg_check_ascii(serial, sizeof(s->serial) - 1))) {
		snprintf(c->field, sizeof(c->field), "%s.serial", base);
		return dn_cfg_error(c->source, c->field, "%s (20 ASCII characters at most)", why);
	}
	if (model && (why = dn_cfg_check_ascii(model, sizeof(s->model) - 1))) {
		snprintf(c->field, sizeof(c->field), "%s.model", base);
		return dn_cfg_error(c->source, c->field, "%s (40 ASCII characters at most)", why);
	}
	snprintf(s->serial, sizeof(s->serial), "%s", serial ? serial : "");
	snprintf(s->model, sizeof(s->model), "%s", model ? model : "");

	if (dn_json_bool(c, obj, "allow_any_host", &s->allow_any_host, &any_present))
		return -EINVAL;
	if (json_object_object_get_ex(obj, "hosts", &hosts)) {
		snprintf(c->field, sizeof(c->field), "%s.hosts", base);
		if (!json_object_is_type(hosts, json_type_array))
			return dn_cfg_error(c->source, c->field, "must be an array of host NQNs");
		n = json_object_array_length(hosts);
		if (n && any_present && s->allow_any_host)
			return dn_cfg_error(c->source, c->field,
					    "hosts listed, but allow_any_host is true");
		s->hosts = calloc(n ? n : 1, sizeof(*s->hosts));
		if (!s->hosts)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			json_object *h = json_object_array_get_idx(hosts, i);

			snprintf(c->field, sizeof(c->field), "%s.hosts[%zu]", base, i);
			if (!json_object_is_type(h, json_type_string))
				return dn_cfg_error(c->source, c->field, "must be a string");
			if ((why = dn_cfg_check_nqn(json_object_get_string(h))))
				return dn_cfg_error(c->source, c->field, "%s", why);
			snprintf(s->hosts[i], sizeof(s->hosts[i]), "%s", json_object_get_string(h));
			s->nr_hosts++;
		}
	}
	if (!any_present)
		s->allow_any_host = s->nr_hosts == 0;
	else if (!s->allow_any_host && !s->nr_hosts) {
		snprintf(c->field, sizeof(c->field), "%s.allow_any_host", base);
		return dn_cfg_error(c->source, c->field, "false, but no hosts are listed");
	}

	if (!json_object_object_get_ex(obj, "namespaces", &nss) ||
	    !json_object_is_type(nss, json_type_array) || !json_object_array_length(nss)) {
		snprintf(c->field, sizeof(c->field), "%s.namespaces", base);
		return dn_cfg_error(c->source, c->field, "must be a non-empty array");
	}
	n = json_object_array_length(nss);
	s->ns = calloc(n, sizeof(*s->ns));
	if (!s->ns)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ret = dn_cfg_ns(c, json_object_array_get_idx(nss, i), idx, i, &s->ns[i]);
		if (s->ns[i].path)
			s->nr_ns = i + 1;
		if (ret)
			return ret;
	}
	return 0;
}

static int dn_cfg_from_json(struct dn_tgt_config *cfg, json_object *root)
{
	static const char *const keys[] = {"ports",	  "subsystems",	     "data_buffers_mib",
					   "max_io_size", "max_queue_depth", NULL};
	struct dn_cfg_ctx c = {.source = cfg->source};
	json_object *arr, *v;
	size_t i, n;
	int ret;

	snprintf(c.field, sizeof(c.field), "(top level)");
	if (!json_object_is_type(root, json_type_object))
		return dn_cfg_error(c.source, c.field, "must be an object");
	if (dn_json_known_keys(&c, root, keys))
		return -EINVAL;
	if (json_object_object_get_ex(root, "data_buffers_mib", &v)) {
		int64_t mib = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || mib < 1 ||
		    mib > DN_TGT_DATA_BUFFERS_MIB_MAX)
			return dn_cfg_error(c.source, "data_buffers_mib",
					    "must be an integer 1..%u",
					    DN_TGT_DATA_BUFFERS_MIB_MAX);
		cfg->data_buffers_mib = (unsigned int)mib;
	}
	if (json_object_object_get_ex(root, "max_io_size", &v)) {
		int64_t b = json_object_get_int64(v);

		/* MDTS counts 4 KiB pages as a power of two, and MDTS 0 means no limit */
		if (!json_object_is_type(v, json_type_int) || b < 8192 || b > DN_TGT_MAX_XFER ||
		    (b & (b - 1)))
			return dn_cfg_error(c.source, "max_io_size",
					    "must be a power of two from 8192 to %u",
					    DN_TGT_MAX_XFER);
		cfg->max_io_size = (uint32_t)b;
	}
	if (json_object_object_get_ex(root, "max_queue_depth", &v)) {
		int64_t d = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || d < 2 || d > DN_TGT_MAX_QUEUE_SIZE)
			return dn_cfg_error(c.source, "max_queue_depth", "must be an integer 2..%u",
					    DN_TGT_MAX_QUEUE_SIZE);
		cfg->max_queue_depth = (uint16_t)d;
	}
	if (!json_object_object_get_ex(root, "ports", &arr) ||
	    !json_object_is_type(arr, json_type_array) || !json_object_array_length(arr))
		return dn_cfg_error(c.source, "ports", "must be a non-empty array");
	n = json_object_array_length(arr);
	cfg->ports = calloc(n, sizeof(*cfg->ports));
	if (!cfg->ports)
		return -ENOMEM;
	cfg->nr_ports = n;
	for (i = 0; i < n; i++) {
		ret = dn_cfg_port(&c, json_object_array_get_idx(arr, i), i, &cfg->ports[i]);
		if (ret)
			return ret;
	}
	if (!json_object_object_get_ex(root, "subsystems", &arr) ||
	    !json_object_is_type(arr, json_type_array) || !json_object_array_length(arr))
		return dn_cfg_error(c.source, "subsystems", "must be a non-empty array");
	n = json_object_array_length(arr);
	cfg->subsys = calloc(n, sizeof(*cfg->subsys));
	if (!cfg->subsys)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		cfg->nr_subsys = i + 1;
		ret = dn_cfg_subsys(&c, json_object_array_get_idx(arr, i), i, &cfg->subsys[i]);
		if (ret)
			return ret;
	}
	return dn_cfg_finish(cfg);
}

int dn_tgt_config_parse_json(struct dn_tgt_config *cfg, const char *source, const char *text,
			     size_t len)
{
	struct json_tokener *tok;
	json_object *root;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->source = strdup(source);
	if (!cfg->source)
		return -ENOMEM;
	tok = json_tokener_new();
	if (!tok) {
		ret = -ENOMEM;
		goto out_free_cfg;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_parse_end(tok) < len) {
		size_t end = json_tokener_get_parse_end(tok), line = 1, i;

		for (i = 0; i < end && i < len; i++)
			line += text[i] == '\n';
		if (root)
			ret = dn_cfg_error(cfg->source, "(syntax)",
					   "line %zu: trailing data after the JSON object", line);
		else
			ret = dn_cfg_error(cfg->source, "(syntax)", "line %zu: %s", line,
					   json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out_put_root;
	}
	ret = dn_cfg_from_json(cfg, root);
out_put_root:
	json_object_put(root);
	json_tokener_free(tok);
out_free_cfg:
	if (ret)
		dn_tgt_config_free(cfg);
	return ret;
}

int dn_tgt_config_load(struct dn_tgt_config *cfg, const char *path)
{
	FILE *f;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		dn_err("%s: cannot open: %s", path, strerror(errno));
		return ret;
	}
	for (;;) {
		size_t n;

		if (len + 4096 > cap) {
			char *p;

			if (cap >= (16u << 20)) {
				fclose(f);
				free(text);
				return dn_cfg_error(path, "(file)", "larger than 16 MiB");
			}
			p = realloc(text, cap + 65536);
			if (!p) {
				fclose(f);
				free(text);
				return -ENOMEM;
			}
			text = p;
			cap += 65536;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		ret = -EIO;
		dn_err("%s: read error", path);
		fclose(f);
		free(text);
		return ret;
	}
	fclose(f);
	ret = dn_tgt_config_parse_json(cfg, path, text ? text : "", len);
	free(text);
	return ret;
}
