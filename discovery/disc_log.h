/* SPDX-License-Identifier: MIT */
/*
 * The NVMe-oF discovery log page (log identifier 70h): built by the target's discovery
 * controller one window at a time (the host asks for it in pieces, at any dword offset), and
 * parsed and validated by the host for `disnvme discover`.
 */
#ifndef DISNVME_DISCOVERY_DISC_LOG_H
#define DISNVME_DISCOVERY_DISC_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <nvme/types.h>

#define DN_DISC_LOG_HDR_SIZE   1024u
#define DN_DISC_LOG_ENTRY_SIZE 1024u

_Static_assert(sizeof(struct nvmf_discovery_log) == DN_DISC_LOG_HDR_SIZE, "header size");
_Static_assert(sizeof(struct nvmf_disc_log_entry) == DN_DISC_LOG_ENTRY_SIZE, "entry size");

/* ---- building ---- */

/* The part [offset, offset + len) of the log being produced into buf. */
struct dn_disc_log_window {
	uint8_t *buf;
	uint64_t offset;
	uint32_t len;
};

/* Zero the window, then put the header and the entries (in any order). */
void dn_disc_log_window_init(struct dn_disc_log_window *w, void *buf, uint32_t len,
			     uint64_t offset);
void dn_disc_log_put_header(struct dn_disc_log_window *w, uint64_t genctr, uint64_t numrec);
void dn_disc_log_put_entry(struct dn_disc_log_window *w, uint64_t index,
			   const struct nvmf_disc_log_entry *e);
static inline uint64_t dn_disc_log_size(uint64_t numrec)
{
	return DN_DISC_LOG_HDR_SIZE + numrec * DN_DISC_LOG_ENTRY_SIZE;
}

/*
 * Fill one entry: strings are copied NUL padded (traddr, trsvcid, subnqn must fit their
 * fields with room for a NUL); tsas may be NULL (zero). Returns 0 or -EINVAL.
 */
int dn_disc_log_entry_fill(struct nvmf_disc_log_entry *e, uint8_t trtype, uint8_t adrfam,
			   uint8_t subtype, uint8_t treq, uint16_t portid, const char *traddr,
			   const char *trsvcid, const char *subnqn, const union nvmf_tsas *tsas);

/* ---- parsing ---- */

/* One validated record, strings NUL terminated with the padding (spaces, NULs) removed. */
struct dn_disc_rec {
	uint8_t trtype;
	uint8_t adrfam;
	uint8_t subtype;
	uint8_t treq;
	uint16_t portid;
	uint16_t cntlid;
	uint16_t asqsz;
	uint16_t eflags;
	char trsvcid[NVMF_TRSVCID_SIZE + 1];
	char traddr[NVMF_TRADDR_SIZE + 1];
	char subnqn[NVME_NQN_LENGTH + 1];
	union nvmf_tsas tsas;
};

/*
 * Parse the header: genctr and numrec. len is how many bytes of the log the caller has
 * (at least the header). Returns 0, -EMSGSIZE when len is shorter than the header, or
 * -EPROTO for an unknown record format.
 */
int dn_disc_log_parse_header(const void *buf, size_t len, uint64_t *genctr, uint64_t *numrec);
/*
 * Parse and validate a whole log (header + numrec entries) of len bytes into recs[0..max).
 * *nr is set to the number of records in the log (may exceed max: only max are stored).
 * Returns 0; -EMSGSIZE when len does not hold numrec entries; -EPROTO when an entry is
 * malformed (a string field not printable ASCII, an empty subnqn or traddr, an unknown
 * subtype); *bad_index then names the entry.
 */
int dn_disc_log_parse(const void *buf, size_t len, uint64_t *genctr, struct dn_disc_rec *recs,
		      size_t max, uint64_t *nr, uint64_t *bad_index);

#endif
