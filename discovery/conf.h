/* SPDX-License-Identifier: MIT */
/*
 * /etc/nvme/discovery.conf in nvme-cli's format: one discovery controller per line, written as
 * the command-line options of `nvme discover` (`--transport rdma --traddr 10.77.0.1`, `-t rdma
 * -a 10.77.0.1 -s 4420`, `--opt=val`), `#` comments and blank lines. A dn_conf holds every line
 * of the file byte for byte, so that editing one entry rewrites nothing else, plus the parsed
 * entries and one diagnostic per problem (file:line and the reason): a bad line is reported and
 * left out, the good ones are still used.
 */
#ifndef DISNVME_DISCOVERY_CONF_H
#define DISNVME_DISCOVERY_CONF_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <nvme/types.h>

#define DN_CONF_DEFAULT_PATH "/etc/nvme/discovery.conf"
/*
 * nvme-cli reads the file with a 4096-byte fgets buffer and silently splits longer lines into
 * several; a longer line is reported here rather than half-read.
 */
#define DN_CONF_LINE_MAX   4094
#define DN_CONF_HOSTID_LEN 36 /* the UUID string form, as /etc/nvme/hostid holds it */

/* Defaults of the connect options (the Linux host's), except ctrl_loss_tmo: see below */
#define DN_CONF_DEF_TRSVCID	    "4420"
#define DN_CONF_DEF_QUEUE_SIZE	    128
#define DN_CONF_DEF_KATO	    5
#define DN_CONF_DEF_RECONNECT_DELAY 10
/* Entries of discovery.conf are meant to come back by themselves: retry forever */
#define DN_CONF_DEF_CTRL_LOSS_TMO (-1)
#define DN_CONF_MIN_QUEUE_SIZE	  16
#define DN_CONF_MAX_QUEUE_SIZE	  1024

/* Bits of dn_conf_entry.given: which options the line (or command line) spelled out */
enum dn_conf_opt {
	DN_CONF_OPT_TRANSPORT,
	DN_CONF_OPT_TRADDR,
	DN_CONF_OPT_TRSVCID,
	DN_CONF_OPT_HOST_TRADDR,
	DN_CONF_OPT_HOST_IFACE,
	DN_CONF_OPT_HOSTNQN,
	DN_CONF_OPT_HOSTID,
	DN_CONF_OPT_NQN,
	DN_CONF_OPT_NR_IO_QUEUES,
	DN_CONF_OPT_QUEUE_SIZE,
	DN_CONF_OPT_KATO,
	DN_CONF_OPT_RECONNECT_DELAY,
	DN_CONF_OPT_CTRL_LOSS_TMO,
	DN_CONF_OPT_FAST_IO_FAIL_TMO,
	DN_CONF_OPT_DUPLICATE_CONNECT,
	DN_CONF_OPT_NR,
};
#define DN_CONF_GIVEN(opt) (1u << (opt))

/*
 * One discovery controller and the connect options for everything found through it, with every
 * default applied, so the host can build its connect request from it directly. Strings are NUL
 * terminated; an empty hostnqn/hostid means "the host's default" (/etc/nvme/hostnqn, ...).
 */
struct dn_conf_entry {
	char transport[8];		    /* "rdma" */
	char traddr[NVMF_TRADDR_SIZE];	    /* numeric IPv4 or IPv6 address */
	char trsvcid[NVMF_TRSVCID_SIZE];    /* port, default 4420 */
	char host_traddr[NVMF_TRADDR_SIZE]; /* source address, "" = any */
	char host_iface[IF_NAMESIZE];	    /* source interface, "" = any */
	char hostnqn[NVMF_NQN_SIZE + 1];
	char hostid[DN_CONF_HOSTID_LEN + 1];
	char subsysnqn[NVMF_NQN_SIZE + 1]; /* discovery subsystem, default the well-known one */
	int nr_io_queues;		   /* 0 = the host decides (one per CPU) */
	int queue_size;
	int keep_alive_tmo;   /* seconds */
	int reconnect_delay;  /* seconds, first backoff step */
	int ctrl_loss_tmo;    /* seconds, -1 = retry forever */
	int fast_io_fail_tmo; /* seconds, -1 = off */
	bool duplicate_connect;
	unsigned int given; /* DN_CONF_GIVEN() bits */
	unsigned int line;  /* 1-based line in the file, 0 if not from a file */
};

struct dn_conf_diag {
	unsigned int line; /* 0: the command line */
	bool error;	   /* true: the line is not used; false: a warning, the line is used */
	char msg[200];
};

/* A growing list of diagnostics, shared by the file parser and the command-line parser */
struct dn_conf_diags {
	struct dn_conf_diag *v;
	size_t nr, alloc;
	bool nomem; /* a diagnostic could not be recorded */
};

void dn_conf_diags_free(struct dn_conf_diags *d);
/* "NAME:LINE: error: reason" (or "NAME: ..." for line 0), one line each */
void dn_conf_diags_print(const struct dn_conf_diags *d, const char *name, FILE *f);

/* Every option unset and every default applied (transport empty: it is required) */
void dn_conf_entry_init(struct dn_conf_entry *e);

/* How strict dn_conf_entry_parse() is */
#define DN_CONF_PARSE_STRICT 0x1 /* options nvme-cli has but disnvme ignores are errors */

/*
 * Parse one entry from command-line style arguments (argv[0] is the first option, not a program
 * name), with every spelling nvme-cli accepts. Problems are appended to d with the given line
 * number. Returns 0 when the entry is usable, -EINVAL when any error was reported, -ENOMEM.
 * argv is not modified.
 */
int dn_conf_entry_parse(int argc, char *const argv[], unsigned int flags, unsigned int line,
			struct dn_conf_entry *e, struct dn_conf_diags *d);

/*
 * Same discovery controller port as nvme-cli decides it: transport, traddr (as an address, so
 * "fe80::1" equals "FE80:0::1"), trsvcid (defaults applied), host_traddr and host_iface.
 */
bool dn_conf_entry_same_port(const struct dn_conf_entry *a, const struct dn_conf_entry *b);

/* Two traddr strings name the same address (numeric forms compared as addresses) */
bool dn_conf_addr_equal(const char *a, const char *b);

/*
 * The canonical line for e (no newline): `--transport rdma --traddr A --trsvcid P` and each
 * other option e->given names. Returns the length, or -ENOSPC when it does not fit len.
 */
int dn_conf_entry_format(const struct dn_conf_entry *e, char *buf, size_t len);

struct dn_conf;

/* Parse a file image; name is used in diagnostics only */
int dn_conf_parse(const char *name, const char *buf, size_t len, struct dn_conf **out);
/*
 * Read and parse path. A missing file is an empty configuration (dn_conf_exists() false), so
 * `config add` can create it. -errno for other read failures.
 */
int dn_conf_load(const char *path, struct dn_conf **out);
void dn_conf_free(struct dn_conf *c);

const char *dn_conf_name(const struct dn_conf *c);
bool dn_conf_exists(const struct dn_conf *c);
size_t dn_conf_nr_entries(const struct dn_conf *c);
const struct dn_conf_entry *dn_conf_get_entry(const struct dn_conf *c, size_t i);
const struct dn_conf_diags *dn_conf_get_diags(const struct dn_conf *c);
/* Number of lines reported as errors (lines configured but not used) */
size_t dn_conf_nr_errors(const struct dn_conf *c);

/*
 * Append e as a canonical line. -EEXIST when an entry for the same port exists (its line in
 * *dup_line, if dup_line is not NULL), -EINVAL when e lacks transport or traddr.
 */
int dn_conf_add(struct dn_conf *c, const struct dn_conf_entry *e, unsigned int *dup_line);
/*
 * Remove every entry matching key: transport, traddr and trsvcid always, host_traddr and
 * host_iface only when key->given names them. The removed entries' line numbers (as loaded)
 * are stored in lines[] up to max. Returns how many were removed (0: none matched).
 */
int dn_conf_remove(struct dn_conf *c, const struct dn_conf_entry *key, unsigned int *lines,
		   size_t max);

/* The file image: unchanged lines byte for byte, added lines at the end. Caller frees *buf. */
int dn_conf_serialize(const struct dn_conf *c, char **buf, size_t *len);
/*
 * Replace path atomically with the serialized image: a temporary file in the same directory,
 * written, fsynced, renamed over path, then the directory fsynced. On any failure path is left
 * as it was and the temporary file is removed. Keeps the old file's mode (0644 for a new one).
 */
int dn_conf_save(const struct dn_conf *c, const char *path);

/*
 * Serialize editors of path (flock on its directory): returns an fd to pass to
 * dn_conf_unlock(), or -errno. The directory is created (0755) when it does not exist.
 */
int dn_conf_lock(const char *path);
void dn_conf_unlock(int fd);

#endif
