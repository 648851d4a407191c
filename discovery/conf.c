// SPDX-License-Identifier: MIT
/*
 * discovery.conf: the option table nvme-cli's lines are written with, the line parser, and the
 * editor that rewrites the file atomically while keeping every line it does not touch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery/conf.h"

/* A file this size is not a list of discovery controllers; refuse rather than read it all */
#define DN_CONF_FILE_MAX (16u << 20)

enum conf_arg { ARG_STR, ARG_INT, ARG_FLAG };

enum conf_use {
	USE_HONOUR, /* stored in the entry */
	USE_IGNORE, /* meaningless for disnvme: a warning, the line is still used */
	USE_REFUSE, /* would change what is connected, or how securely: the line is not used */
};

struct conf_opt {
	const char *name;  /* nvme-cli's long spelling; '-' and '_' are interchangeable */
	char short_name;   /* 0: none */
	unsigned char arg; /* enum conf_arg */
	unsigned char use; /* enum conf_use */
	signed char id;	   /* enum dn_conf_opt, for USE_HONOUR */
	const char *why;   /* for USE_IGNORE and USE_REFUSE */
};

/*
 * The options of `nvme discover`/`connect-all` (nvme-cli 2.x): a discovery.conf line is parsed
 * as their arguments. Where nvme-cli 2.3 gave one short letter two meanings (-S, -d), the first
 * in its table wins, as it does there, and that is also the only meaning later versions kept.
 */
static const struct conf_opt conf_opts[] = {
	{"transport", 't', ARG_STR, USE_HONOUR, DN_CONF_OPT_TRANSPORT, NULL},
	{"traddr", 'a', ARG_STR, USE_HONOUR, DN_CONF_OPT_TRADDR, NULL},
	{"trsvcid", 's', ARG_STR, USE_HONOUR, DN_CONF_OPT_TRSVCID, NULL},
	{"host-traddr", 'w', ARG_STR, USE_HONOUR, DN_CONF_OPT_HOST_TRADDR, NULL},
	{"host-iface", 'f', ARG_STR, USE_HONOUR, DN_CONF_OPT_HOST_IFACE, NULL},
	{"hostnqn", 'q', ARG_STR, USE_HONOUR, DN_CONF_OPT_HOSTNQN, NULL},
	{"hostid", 'I', ARG_STR, USE_HONOUR, DN_CONF_OPT_HOSTID, NULL},
	{"nqn", 'n', ARG_STR, USE_HONOUR, DN_CONF_OPT_NQN, NULL},
	{"nr-io-queues", 'i', ARG_INT, USE_HONOUR, DN_CONF_OPT_NR_IO_QUEUES, NULL},
	{"queue-size", 'Q', ARG_INT, USE_HONOUR, DN_CONF_OPT_QUEUE_SIZE, NULL},
	{"keep-alive-tmo", 'k', ARG_INT, USE_HONOUR, DN_CONF_OPT_KATO, NULL},
	{"reconnect-delay", 'c', ARG_INT, USE_HONOUR, DN_CONF_OPT_RECONNECT_DELAY, NULL},
	{"ctrl-loss-tmo", 'l', ARG_INT, USE_HONOUR, DN_CONF_OPT_CTRL_LOSS_TMO, NULL},
	{"fast_io_fail_tmo", 'F', ARG_INT, USE_HONOUR, DN_CONF_OPT_FAST_IO_FAIL_TMO, NULL},
	{"duplicate-connect", 'D', ARG_FLAG, USE_HONOUR, DN_CONF_OPT_DUPLICATE_CONNECT, NULL},

	{"nr-write-queues", 'W', ARG_INT, USE_IGNORE, -1, "disnvme has no separate write queues"},
	{"nr-poll-queues", 'P', ARG_INT, USE_IGNORE, -1, "disnvme has no separate poll queues"},
	{"tos", 'T', ARG_INT, USE_IGNORE, -1, "disnvme does not set a type of service"},
	{"disable-sqflow", 0, ARG_FLAG, USE_IGNORE, -1, "disnvme keeps SQ flow control on"},
	{"hdr-digest", 'g', ARG_FLAG, USE_IGNORE, -1, "digests exist on TCP only"},
	{"data-digest", 'G', ARG_FLAG, USE_IGNORE, -1, "digests exist on TCP only"},
	{"persistent", 'p', ARG_FLAG, USE_IGNORE, -1,
	 "connect-all reads the discovery log afresh on every run"},
	{"quiet", 0, ARG_FLAG, USE_IGNORE, -1, "it only changes nvme-cli's messages"},
	{"verbose", 'v', ARG_FLAG, USE_IGNORE, -1, "it only changes nvme-cli's messages"},
	{"force", 0, ARG_FLAG, USE_IGNORE, -1, "disnvme keeps no discovery controllers"},
	{"dump-config", 'O', ARG_FLAG, USE_IGNORE, -1, "disnvme reads no JSON configuration"},
	{"output-format", 'o', ARG_STR, USE_IGNORE, -1, "it only changes nvme-cli's output"},
	{"raw", 'r', ARG_STR, USE_IGNORE, -1, "it only changes nvme-cli's output"},
	{"device", 'd', ARG_STR, USE_IGNORE, -1, "disnvme keeps no discovery controllers"},
	{"config", 'J', ARG_STR, USE_IGNORE, -1, "disnvme reads no JSON configuration"},

	{"dhchap-secret", 'S', ARG_STR, USE_REFUSE, -1,
	 "disnvme does not implement in-band authentication (DH-HMAC-CHAP)"},
	{"dhchap-ctrl-secret", 'C', ARG_STR, USE_REFUSE, -1,
	 "disnvme does not implement in-band authentication (DH-HMAC-CHAP)"},
	{"tls", 0, ARG_FLAG, USE_REFUSE, -1, "TLS exists on TCP only"},
	{"concat", 0, ARG_FLAG, USE_REFUSE, -1, "TLS exists on TCP only"},
	{"keyring", 0, ARG_STR, USE_REFUSE, -1, "TLS exists on TCP only"},
	{"tls-key", 0, ARG_STR, USE_REFUSE, -1, "TLS exists on TCP only"},
	{"tls-key-identity", 0, ARG_STR, USE_REFUSE, -1, "TLS exists on TCP only"},
};

#define NR_CONF_OPTS (sizeof(conf_opts) / sizeof(conf_opts[0]))

/* ---- diagnostics ---- */

static void diag_add(struct dn_conf_diags *d, unsigned int line, bool error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void diag_add(struct dn_conf_diags *d, unsigned int line, bool error, const char *fmt, ...)
{
	struct dn_conf_diag *g;
	va_list ap;

	if (d->nr == d->alloc) {
		size_t n = d->alloc ? d->alloc * 2 : 8;
		void *v = realloc(d->v, n * sizeof(*d->v));

		if (!v) {
			d->nomem = true;
			return;
		}
		d->v = v;
		d->alloc = n;
	}
	g = &d->v[d->nr++];
	g->line = line;
	g->error = error;
	va_start(ap, fmt);
	vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
	va_end(ap);
}

void dn_conf_diags_free(struct dn_conf_diags *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void dn_conf_diags_print(const struct dn_conf_diags *d, const char *name, FILE *f)
{
	size_t i;

	for (i = 0; i < d->nr; i++) {
		const struct dn_conf_diag *g = &d->v[i];
		const char *sev = g->error ? "error" : "warning";

		if (g->line)
			fprintf(f, "%s:%u: %s: %s\n", name, g->line, sev, g->msg);
		else
			fprintf(f, "%s: %s: %s\n", name, sev, g->msg);
	}
	if (d->nomem)
		fprintf(f, "%s: error: out of memory, some problems are not listed\n", name);
}

/* ---- values ---- */

void dn_conf_entry_init(struct dn_conf_entry *e)
{
	memset(e, 0, sizeof(*e));
	strcpy(e->trsvcid, DN_CONF_DEF_TRSVCID);
	strcpy(e->subsysnqn, NVME_DISC_SUBSYS_NAME);
	e->queue_size = DN_CONF_DEF_QUEUE_SIZE;
	e->keep_alive_tmo = DN_CONF_DEF_KATO;
	e->reconnect_delay = DN_CONF_DEF_RECONNECT_DELAY;
	e->ctrl_loss_tmo = DN_CONF_DEF_CTRL_LOSS_TMO;
	e->fast_io_fail_tmo = -1;
}

/* Decimal, optional sign, nothing after it */
static bool parse_int(const char *s, int *out)
{
	char *end;
	long v;

	if (!*s)
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < INT_MIN || v > INT_MAX)
		return false;
	*out = (int)v;
	return true;
}

static bool looks_like_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	return *s >= '0' && *s <= '9';
}

/* A numeric IPv4 address, or IPv6 with an optional %scope, as the kernel's hosts take them */
static int parse_addr(const char *s, unsigned char bin[16], const char **scope)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(s, '%');
	size_t n = pct ? (size_t)(pct - s) : strlen(s);

	*scope = NULL;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (!pct && inet_pton(AF_INET, tmp, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, tmp, bin) == 1) {
		if (pct && (!pct[1] || strlen(pct + 1) >= IF_NAMESIZE))
			return -1;
		*scope = pct ? pct + 1 : NULL;
		return AF_INET6;
	}
	return -1;
}

bool dn_conf_addr_equal(const char *a, const char *b)
{
	unsigned char ba[16], bb[16];
	const char *sa, *sb;
	int fa, fb;

	if (!*a || !*b)
		return !*a && !*b;
	fa = parse_addr(a, ba, &sa);
	fb = parse_addr(b, bb, &sb);
	if (fa < 0 || fb < 0)
		return strcasecmp(a, b) == 0;
	if (fa != fb || memcmp(ba, bb, fa == AF_INET ? 4 : 16))
		return false;
	if (!sa || !sb)
		return !sa && !sb;
	return strcmp(sa, sb) == 0;
}

/* NQNs as the spec has them: "nqn." and at most 223 bytes of printable ASCII */
static const char *nqn_problem(const char *s)
{
	const char *p;

	if (strlen(s) > NVMF_NQN_SIZE)
		return "is longer than 223 bytes";
	if (strncmp(s, "nqn.", 4))
		return "does not start with \"nqn.\"";
	for (p = s; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return "contains a character that is not printable ASCII";
	return NULL;
}

static bool is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != DN_CONF_HOSTID_LEN)
		return false;
	for (i = 0; i < DN_CONF_HOSTID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-'
			 : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			     (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	}
	return true;
}

static bool int_in(struct dn_conf_diags *d, unsigned int line, const char *name, int v, int lo,
		   int hi)
{
	if (v >= lo && v <= hi)
		return true;
	diag_add(d, line, true, "option --%s: %d is out of range (%d..%d)", name, v, lo, hi);
	return false;
}

static bool copy_str(struct dn_conf_diags *d, unsigned int line, const char *name, char *dst,
		     size_t size, const char *v)
{
	size_t n = strlen(v);

	if (n >= size) {
		diag_add(d, line, true, "option --%s: value is longer than %zu bytes", name,
			 size - 1);
		return false;
	}
	memcpy(dst, v, n + 1);
	return true;
}

/* Store one honoured option's value after checking it; false (and a diagnostic) if bad */
static bool apply(const struct conf_opt *o, const char *v, unsigned int line,
		  struct dn_conf_entry *e, struct dn_conf_diags *d)
{
	unsigned char bin[16];
	const char *scope, *why;
	int n = 0;

	if (o->arg == ARG_INT && !parse_int(v, &n)) {
		diag_add(d, line, true, "option --%s: '%.64s' is not a number", o->name, v);
		return false;
	}
	switch (o->id) {
	case DN_CONF_OPT_TRANSPORT:
		if (!strcmp(v, "tcp") || !strcmp(v, "fc") || !strcmp(v, "loop")) {
			diag_add(d, line, true,
				 "transport '%s' is not supported: disnvme speaks NVMe/RDMA only",
				 v);
			return false;
		}
		if (strcmp(v, "rdma")) {
			diag_add(d, line, true, "unknown transport '%.64s'", v);
			return false;
		}
		strcpy(e->transport, "rdma");
		return true;
	case DN_CONF_OPT_TRADDR:
	case DN_CONF_OPT_HOST_TRADDR:
		if (parse_addr(v, bin, &scope) < 0) {
			diag_add(d, line, true,
				 "option --%s: '%.64s' is not a numeric IPv4 or IPv6 address",
				 o->name, v);
			return false;
		}
		if (o->id == DN_CONF_OPT_TRADDR)
			return copy_str(d, line, o->name, e->traddr, sizeof(e->traddr), v);
		return copy_str(d, line, o->name, e->host_traddr, sizeof(e->host_traddr), v);
	case DN_CONF_OPT_TRSVCID:
		if (!parse_int(v, &n) || n < 1 || n > 65535) {
			diag_add(d, line, true,
				 "option --trsvcid: '%.64s' is not a port (1..65535)", v);
			return false;
		}
		snprintf(e->trsvcid, sizeof(e->trsvcid), "%d", n);
		return true;
	case DN_CONF_OPT_HOST_IFACE:
		/* as Linux names them, minus what would read as an option, comment or '=' split */
		if (strpbrk(v, "/%:=") || v[0] == '-' || v[0] == '#' || !strcmp(v, ".") ||
		    !strcmp(v, "..")) {
			diag_add(d, line, true,
				 "option --host-iface: '%.64s' is not an interface name", v);
			return false;
		}
		return copy_str(d, line, o->name, e->host_iface, sizeof(e->host_iface), v);
	case DN_CONF_OPT_HOSTNQN:
	case DN_CONF_OPT_NQN:
		why = nqn_problem(v);
		if (why) {
			diag_add(d, line, true, "option --%s: '%.64s' %s", o->name, v, why);
			return false;
		}
		if (o->id == DN_CONF_OPT_HOSTNQN)
			strcpy(e->hostnqn, v);
		else
			strcpy(e->subsysnqn, v);
		return true;
	case DN_CONF_OPT_HOSTID:
		if (!is_uuid(v)) {
			diag_add(d, line, true,
				 "option --hostid: '%.64s' is not a UUID "
				 "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
				 v);
			return false;
		}
		strcpy(e->hostid, v);
		return true;
	case DN_CONF_OPT_NR_IO_QUEUES:
		if (!int_in(d, line, o->name, n, 1, 65535))
			return false;
		e->nr_io_queues = n;
		return true;
	case DN_CONF_OPT_QUEUE_SIZE:
		if (!int_in(d, line, o->name, n, DN_CONF_MIN_QUEUE_SIZE, DN_CONF_MAX_QUEUE_SIZE))
			return false;
		e->queue_size = n;
		return true;
	case DN_CONF_OPT_KATO:
		if (!int_in(d, line, o->name, n, 0, 65535))
			return false;
		e->keep_alive_tmo = n;
		return true;
	case DN_CONF_OPT_RECONNECT_DELAY:
		/* what `disnvme connect -c` takes, so a line never fails only at connect time */
		if (!int_in(d, line, o->name, n, 1, 3600))
			return false;
		e->reconnect_delay = n;
		return true;
	case DN_CONF_OPT_CTRL_LOSS_TMO:
		e->ctrl_loss_tmo = n < 0 ? -1 : n; /* any negative value: forever, as Linux */
		return true;
	case DN_CONF_OPT_FAST_IO_FAIL_TMO:
		e->fast_io_fail_tmo = n < 0 ? -1 : n;
		return true;
	case DN_CONF_OPT_DUPLICATE_CONNECT:
		e->duplicate_connect = true;
		return true;
	}
	return false;
}

/* '-' and '_' are one character in option names: nvme-cli's own spellings mix them */
static bool name_char_eq(char a, char b)
{
	if (a == '_')
		a = '-';
	if (b == '_')
		b = '-';
	return a == b;
}

/* Exact match first, else a unique prefix (as getopt_long); *ambiguous when several match */
static const struct conf_opt *find_long(const char *s, size_t n, bool *ambiguous)
{
	const struct conf_opt *found = NULL;
	size_t i, j;

	*ambiguous = false;
	for (i = 0; i < NR_CONF_OPTS; i++) {
		const char *name = conf_opts[i].name;

		for (j = 0; j < n && name[j] && name_char_eq(name[j], s[j]); j++)
			;
		if (j < n)
			continue;
		if (!name[j])
			return &conf_opts[i];
		if (found)
			*ambiguous = true;
		found = &conf_opts[i];
	}
	return *ambiguous ? NULL : found;
}

static const struct conf_opt *find_short(char c)
{
	size_t i;

	for (i = 0; i < NR_CONF_OPTS; i++)
		if (conf_opts[i].short_name && conf_opts[i].short_name == c)
			return &conf_opts[i];
	return NULL;
}

/*
 * Take an option's value: the rest of its own token, else the next argument. A string option
 * never takes something that looks like an option (`-a -s 4420` lacks the address); a number
 * option does take "-1".
 */
static const char *take_value(const struct conf_opt *o, const char *rest, int argc,
			      char *const argv[], int *i)
{
	const char *next;

	if (rest)
		return *rest ? rest : NULL;
	if (*i + 1 >= argc)
		return NULL;
	next = argv[*i + 1];
	if (next[0] == '-' && next[1] && !(o->arg == ARG_INT && looks_like_int(next)))
		return NULL;
	(*i)++;
	return next;
}

/* An unknown option's value, if it has one, is not reported a second time */
static void skip_value(int argc, char *const argv[], int *i)
{
	if (*i + 1 < argc && argv[*i + 1][0] != '-' && argv[*i + 1][0] != '#')
		(*i)++;
}

static bool handle(const struct conf_opt *o, const char *v, unsigned int flags, unsigned int line,
		   struct dn_conf_entry *e, struct dn_conf_diags *d)
{
	if (o->use == USE_REFUSE || (o->use == USE_IGNORE && (flags & DN_CONF_PARSE_STRICT))) {
		diag_add(d, line, true, "option --%s is not supported: %s", o->name, o->why);
		return false;
	}
	if (o->use == USE_IGNORE) {
		diag_add(d, line, false, "option --%s is ignored: %s", o->name, o->why);
		return true;
	}
	if (e->given & DN_CONF_GIVEN(o->id))
		diag_add(d, line, false, "option --%s is given twice; the last one is used",
			 o->name);
	if (!apply(o, v, line, e, d))
		return false;
	e->given |= DN_CONF_GIVEN(o->id);
	return true;
}

int dn_conf_entry_parse(int argc, char *const argv[], unsigned int flags, unsigned int line,
			struct dn_conf_entry *e, struct dn_conf_diags *d)
{
	unsigned int seen = 0; /* options present, valid or not */
	bool ok = true;
	int i;

	dn_conf_entry_init(e);
	e->line = line;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const struct conf_opt *o;
		bool ambiguous;

		if (line && a[0] == '#')
			break; /* the rest of a file line is a comment */
		if (a[0] != '-' || !a[1] || (a[1] == '-' && !a[2])) {
			diag_add(d, line, true, "unexpected argument '%.64s'", a);
			ok = false;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			const char *v = NULL;

			o = find_long(name, n, &ambiguous);
			if (!o) {
				diag_add(d, line, true, "%s option '--%.*s'",
					 ambiguous ? "ambiguous" : "unknown",
					 (int)(n > 64 ? 64 : n), name);
				ok = false;
				if (!eq)
					skip_value(argc, argv, &i);
				continue;
			}
			if (o->id >= 0)
				seen |= DN_CONF_GIVEN(o->id);
			if (o->arg == ARG_FLAG && eq) {
				diag_add(d, line, true, "option --%s takes no value", o->name);
				ok = false;
				continue;
			}
			if (o->arg != ARG_FLAG) {
				v = take_value(o, eq ? eq + 1 : NULL, argc, argv, &i);
				if (!v) {
					diag_add(d, line, true, "option --%s needs a value",
						 o->name);
					ok = false;
					continue;
				}
			}
			ok &= handle(o, v, flags, line, e, d);
			continue;
		}
		/* short options, clustered as getopt allows: -gG, -trdma, -t rdma, -t=rdma */
		for (const char *p = a + 1; *p; p++) {
			const char *v = NULL;

			o = find_short(*p);
			if (!o) {
				diag_add(d, line, true, "unknown option '-%c'", *p);
				ok = false;
				if (!p[1])
					skip_value(argc, argv, &i);
				break;
			}
			if (o->id >= 0)
				seen |= DN_CONF_GIVEN(o->id);
			if (o->arg != ARG_FLAG) {
				const char *rest = p[1] ? p + 1 : NULL;

				/* nvme-cli splits lines at '=' too, so "-t=rdma" means -t rdma */
				if (rest && *rest == '=')
					rest++;
				v = take_value(o, rest, argc, argv, &i);
				if (!v) {
					diag_add(d, line, true, "option -%c (--%s) needs a value",
						 *p, o->name);
					ok = false;
					break;
				}
			}
			ok &= handle(o, v, flags, line, e, d);
			if (o->arg != ARG_FLAG)
				break;
		}
	}
	if (!(seen & DN_CONF_GIVEN(DN_CONF_OPT_TRANSPORT))) {
		diag_add(d, line, true, "missing --transport (-t)");
		ok = false;
	}
	if (!(seen & DN_CONF_GIVEN(DN_CONF_OPT_TRADDR))) {
		diag_add(d, line, true, "missing --traddr (-a)");
		ok = false;
	}
	if (ok && e->fast_io_fail_tmo >= 0 && e->ctrl_loss_tmo >= 0 &&
	    e->fast_io_fail_tmo >= e->ctrl_loss_tmo)
		diag_add(d, line, false,
			 "fast_io_fail_tmo %d is not below ctrl-loss-tmo %d: it has no effect",
			 e->fast_io_fail_tmo, e->ctrl_loss_tmo);
	if (d->nomem)
		return -ENOMEM;
	return ok ? 0 : -EINVAL;
}

bool dn_conf_entry_same_port(const struct dn_conf_entry *a, const struct dn_conf_entry *b)
{
	return !strcmp(a->transport, b->transport) && dn_conf_addr_equal(a->traddr, b->traddr) &&
	       !strcmp(a->trsvcid, b->trsvcid) &&
	       dn_conf_addr_equal(a->host_traddr, b->host_traddr) &&
	       !strcmp(a->host_iface, b->host_iface);
}

static bool entry_matches(const struct dn_conf_entry *key, const struct dn_conf_entry *e)
{
	if (strcmp(key->transport, e->transport) || !dn_conf_addr_equal(key->traddr, e->traddr) ||
	    strcmp(key->trsvcid, e->trsvcid))
		return false;
	if ((key->given & DN_CONF_GIVEN(DN_CONF_OPT_HOST_TRADDR)) &&
	    !dn_conf_addr_equal(key->host_traddr, e->host_traddr))
		return false;
	if ((key->given & DN_CONF_GIVEN(DN_CONF_OPT_HOST_IFACE)) &&
	    strcmp(key->host_iface, e->host_iface))
		return false;
	return true;
}

struct fmt_buf {
	char *p;
	size_t len, used;
	bool overflow;
};

static void fmt_add(struct fmt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fmt_add(struct fmt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->used) {
		b->overflow = true;
		b->used = b->len - 1;
		return;
	}
	b->used += (size_t)n;
}

int dn_conf_entry_format(const struct dn_conf_entry *e, char *buf, size_t len)
{
	struct fmt_buf b = {.p = buf, .len = len};
	unsigned int g = e->given;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	fmt_add(&b, "--transport %s --traddr %s --trsvcid %s", e->transport, e->traddr, e->trsvcid);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_HOST_TRADDR))
		fmt_add(&b, " --host-traddr %s", e->host_traddr);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_HOST_IFACE))
		fmt_add(&b, " --host-iface %s", e->host_iface);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_HOSTNQN))
		fmt_add(&b, " --hostnqn %s", e->hostnqn);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_HOSTID))
		fmt_add(&b, " --hostid %s", e->hostid);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_NQN))
		fmt_add(&b, " --nqn %s", e->subsysnqn);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_NR_IO_QUEUES))
		fmt_add(&b, " --nr-io-queues %d", e->nr_io_queues);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_QUEUE_SIZE))
		fmt_add(&b, " --queue-size %d", e->queue_size);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_KATO))
		fmt_add(&b, " --keep-alive-tmo %d", e->keep_alive_tmo);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_RECONNECT_DELAY))
		fmt_add(&b, " --reconnect-delay %d", e->reconnect_delay);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_CTRL_LOSS_TMO))
		fmt_add(&b, " --ctrl-loss-tmo %d", e->ctrl_loss_tmo);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_FAST_IO_FAIL_TMO))
		fmt_add(&b, " --fast_io_fail_tmo %d", e->fast_io_fail_tmo);
	if (g & DN_CONF_GIVEN(DN_CONF_OPT_DUPLICATE_CONNECT))
		fmt_add(&b, " --duplicate-connect");
	if (b.overflow)
		return -ENOSPC;
	return (int)b.used;
}

/* ---- the file ---- */

enum line_kind { LINE_BLANK, LINE_COMMENT, LINE_ENTRY, LINE_INVALID };

struct conf_line {
	char *raw; /* the line's bytes, its '\n' included when it had one */
	size_t len;
	enum line_kind kind;
	struct dn_conf_entry *entry; /* LINE_ENTRY */
};

struct dn_conf {
	char *name;
	bool exists;
	struct conf_line *lines;
	size_t nr_lines, alloc_lines;
	struct dn_conf_entry **entries; /* index of the LINE_ENTRY lines, in file order */
	size_t nr_entries;
	size_t nr_errors;
	struct dn_conf_diags diags;
};

static int conf_reindex(struct dn_conf *c)
{
	struct dn_conf_entry **v;
	size_t i, n = 0;

	v = realloc(c->entries, (c->nr_lines ? c->nr_lines : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->entries = v;
	for (i = 0; i < c->nr_lines; i++)
		if (c->lines[i].kind == LINE_ENTRY)
			v[n++] = c->lines[i].entry;
	c->nr_entries = n;
	return 0;
}

static int conf_append_line(struct dn_conf *c, const char *raw, size_t len)
{
	struct conf_line *l;

	if (c->nr_lines == c->alloc_lines) {
		size_t n = c->alloc_lines ? c->alloc_lines * 2 : 16;
		void *v = realloc(c->lines, n * sizeof(*c->lines));

		if (!v)
			return -ENOMEM;
		c->lines = v;
		c->alloc_lines = n;
	}
	l = &c->lines[c->nr_lines];
	memset(l, 0, sizeof(*l));
	l->raw = malloc(len ? len : 1);
	if (!l->raw)
		return -ENOMEM;
	memcpy(l->raw, raw, len);
	l->len = len;
	c->nr_lines++;
	return 0;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Classify and parse line number lineno (the last one appended) */
static int conf_parse_line(struct dn_conf *c, unsigned int lineno)
{
	struct conf_line *l = &c->lines[c->nr_lines - 1];
	size_t len = l->len, i, argc = 0;
	char *text, **argv;
	int ret;

	if (len && l->raw[len - 1] == '\n')
		len--;
	if (len > DN_CONF_LINE_MAX) {
		l->kind = LINE_INVALID;
		diag_add(&c->diags, lineno, true, "line is longer than %d characters",
			 DN_CONF_LINE_MAX);
		c->nr_errors++;
		return 0;
	}
	if (memchr(l->raw, '\0', len)) {
		l->kind = LINE_INVALID;
		diag_add(&c->diags, lineno, true, "line contains a NUL byte");
		c->nr_errors++;
		return 0;
	}
	for (i = 0; i < len && is_space(l->raw[i]); i++)
		;
	if (i == len) {
		l->kind = LINE_BLANK;
		return 0;
	}
	if (l->raw[i] == '#') {
		l->kind = LINE_COMMENT;
		return 0;
	}

	text = malloc(len + 1);
	argv = malloc((len / 2 + 1) * sizeof(*argv));
	if (!text || !argv) {
		ret = -ENOMEM;
		goto out_free;
	}
	memcpy(text, l->raw, len);
	text[len] = '\0';
	for (i = 0; i < len;) {
		while (i < len && is_space(text[i]))
			text[i++] = '\0';
		if (i == len)
			break;
		argv[argc++] = &text[i];
		while (i < len && !is_space(text[i]))
			i++;
	}

	l->entry = malloc(sizeof(*l->entry));
	if (!l->entry) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = dn_conf_entry_parse((int)argc, argv, 0, lineno, l->entry, &c->diags);
	if (ret == -ENOMEM)
		goto out_free;
	if (ret) {
		free(l->entry);
		l->entry = NULL;
		l->kind = LINE_INVALID;
		c->nr_errors++;
		ret = 0;
		goto out_free;
	}
	l->kind = LINE_ENTRY;
	for (i = 0; i + 1 < c->nr_lines; i++) {
		const struct conf_line *o = &c->lines[i];

		if (o->kind == LINE_ENTRY && dn_conf_entry_same_port(o->entry, l->entry)) {
			diag_add(&c->diags, lineno, false,
				 "same discovery controller as line %u (both are used)",
				 o->entry->line);
			break;
		}
	}
out_free:
	free(argv);
	free(text);
	return ret;
}

static struct dn_conf *conf_new(const char *name)
{
	struct dn_conf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->name = strdup(name);
	if (!c->name) {
		free(c);
		return NULL;
	}
	return c;
}

void dn_conf_free(struct dn_conf *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr_lines; i++) {
		free(c->lines[i].raw);
		free(c->lines[i].entry);
	}
	free(c->lines);
	free(c->entries);
	dn_conf_diags_free(&c->diags);
	free(c->name);
	free(c);
}

int dn_conf_parse(const char *name, const char *buf, size_t len, struct dn_conf **out)
{
	struct dn_conf *c = conf_new(name);
	unsigned int lineno = 0;
	size_t pos = 0;
	int ret;

	if (!c)
		return -ENOMEM;
	c->exists = true;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos;

		ret = conf_append_line(c, buf + pos, n);
		if (ret)
			goto out_free;
		ret = conf_parse_line(c, ++lineno);
		if (ret)
			goto out_free;
		pos += n;
	}
	ret = conf_reindex(c);
	if (ret)
		goto out_free;
	if (c->diags.nomem) {
		ret = -ENOMEM;
		goto out_free;
	}
	*out = c;
	return 0;

out_free:
	dn_conf_free(c);
	return ret;
}

int dn_conf_load(const char *path, struct dn_conf **out)
{
	size_t alloc = 4096, len = 0;
	char *buf;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		struct dn_conf *c = conf_new(path);

		if (!c)
			return -ENOMEM;
		ret = conf_reindex(c);
		if (ret) {
			dn_conf_free(c);
			return ret;
		}
		*out = c;
		return 0;
	}
	if (fd < 0)
		return -errno;
	buf = malloc(alloc);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t n;

		if (len == alloc) {
			char *nb;

			if (alloc >= DN_CONF_FILE_MAX) {
				ret = -EFBIG;
				goto out_free;
			}
			nb = realloc(buf, alloc * 2);
			if (!nb) {
				ret = -ENOMEM;
				goto out_free;
			}
			buf = nb;
			alloc *= 2;
		}
		n = read(fd, buf + len, alloc - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = dn_conf_parse(path, buf, len, out);
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

const char *dn_conf_name(const struct dn_conf *c)
{
	return c->name;
}

bool dn_conf_exists(const struct dn_conf *c)
{
	return c->exists;
}

size_t dn_conf_nr_entries(const struct dn_conf *c)
{
	return c->nr_entries;
}

const struct dn_conf_entry *dn_conf_get_entry(const struct dn_conf *c, size_t i)
{
	return i < c->nr_entries ? c->entries[i] : NULL;
}

const struct dn_conf_diags *dn_conf_get_diags(const struct dn_conf *c)
{
	return &c->diags;
}

size_t dn_conf_nr_errors(const struct dn_conf *c)
{
	return c->nr_errors;
}

int dn_conf_add(struct dn_conf *c, const struct dn_conf_entry *e, unsigned int *dup_line)
{
	char text[DN_CONF_LINE_MAX + 2];
	struct conf_line *l;
	size_t i;
	int n, ret;

	if (!e->transport[0] || !e->traddr[0])
		return -EINVAL;
	for (i = 0; i < c->nr_entries; i++) {
		if (dn_conf_entry_same_port(c->entries[i], e)) {
			if (dup_line)
				*dup_line = c->entries[i]->line;
			return -EEXIST;
		}
	}
	n = dn_conf_entry_format(e, text, sizeof(text) - 1);
	if (n < 0)
		return n;
	if (n > DN_CONF_LINE_MAX)
		return -ENOSPC;
	text[n++] = '\n';
	ret = conf_append_line(c, text, (size_t)n);
	if (ret)
		return ret;
	l = &c->lines[c->nr_lines - 1];
	l->entry = malloc(sizeof(*l->entry));
	if (!l->entry) {
		free(l->raw);
		c->nr_lines--;
		return -ENOMEM;
	}
	*l->entry = *e;
	l->entry->line = (unsigned int)c->nr_lines;
	l->kind = LINE_ENTRY;
	return conf_reindex(c);
}

int dn_conf_remove(struct dn_conf *c, const struct dn_conf_entry *key, unsigned int *lines,
		   size_t max)
{
	size_t i, j = 0;
	int removed = 0;

	for (i = 0; i < c->nr_lines; i++) {
		struct conf_line *l = &c->lines[i];

		if (l->kind == LINE_ENTRY && entry_matches(key, l->entry)) {
			if ((size_t)removed < max)
				lines[removed] = l->entry->line;
			removed++;
			free(l->raw);
			free(l->entry);
			continue;
		}
		c->lines[j++] = *l;
	}
	c->nr_lines = j;
	if (conf_reindex(c))
		return -ENOMEM;
	return removed;
}

int dn_conf_serialize(const struct dn_conf *c, char **buf, size_t *len)
{
	size_t i, total = 0, pos = 0;
	char *b;

	for (i = 0; i < c->nr_lines; i++)
		total += c->lines[i].len + 1;
	b = malloc(total ? total : 1);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < c->nr_lines; i++) {
		const struct conf_line *l = &c->lines[i];

		memcpy(b + pos, l->raw, l->len);
		pos += l->len;
		/* only the file's last line may lack its newline; an added line follows it now */
		if (i + 1 < c->nr_lines && (!l->len || l->raw[l->len - 1] != '\n'))
			b[pos++] = '\n';
	}
	*buf = b;
	*len = pos;
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Split path into a directory (opened) and a base name; follows a symlink at path */
static int open_parent(const char *path, char **dir_out, char **base_out)
{
	char *real = NULL, *dir, *slash;
	struct stat st;
	const char *p = path;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		real = realpath(path, NULL);
		if (real)
			p = real;
	}
	dir = strdup(p);
	free(real);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash) {
		*base_out = strdup(dir);
		strcpy(dir, ".");
	} else {
		*base_out = strdup(slash + 1);
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (!*base_out || !**base_out) {
		free(*base_out);
		free(dir);
		return !*base_out ? -ENOMEM : -EISDIR;
	}
	*dir_out = dir;
	return 0;
}

int dn_conf_save(const struct dn_conf *c, const char *path)
{
	char *buf = NULL, *dir = NULL, *base = NULL, *tmp = NULL;
	struct stat st;
	mode_t mode = 0644;
	bool have_old;
	size_t len;
	int dfd, fd, ret;

	ret = dn_conf_serialize(c, &buf, &len);
	if (ret)
		return ret;
	ret = open_parent(path, &dir, &base);
	if (ret)
		goto out_free;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		goto out_free;
	}
	have_old = fstatat(dfd, base, &st, 0) == 0;
	if (have_old)
		mode = st.st_mode & 07777;
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, base) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		goto out_close_dir;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out_close_dir;
	}
	ret = write_all(fd, buf, len);
	if (!ret && fchmod(fd, mode))
		ret = -errno;
	/* root editing a file another user owns keeps it theirs; anyone else cannot chown */
	if (!ret && have_old && (st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) && errno != EPERM)
		ret = -errno;
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		goto out_unlink;
	if (renameat(dfd, strrchr(tmp, '/') + 1, dfd, base)) {
		ret = -errno;
		goto out_unlink;
	}
	/* the rename is durable only once the directory is */
	if (fsync(dfd))
		ret = -errno;
	goto out_close_dir;

out_unlink:
	unlinkat(dfd, strrchr(tmp, '/') + 1, 0);
out_close_dir:
	close(dfd);
out_free:
	free(tmp);
	free(base);
	free(dir);
	free(buf);
	return ret;
}

int dn_conf_lock(const char *path)
{
	char *dir = NULL, *base = NULL;
	int fd, ret;

	ret = open_parent(path, &dir, &base);
	if (ret)
		return ret;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !mkdir(dir, 0755))
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			ret = -errno;
			close(fd);
			goto out_free;
		}
	}
	ret = fd;
out_free:
	free(base);
	free(dir);
	return ret;
}

void dn_conf_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
