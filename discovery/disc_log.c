// SPDX-License-Identifier: MIT
/* Discovery log page: windowed building (target) and validating parsing (host). */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "discovery/disc_log.h"

void dn_disc_log_window_init(struct dn_disc_log_window *w, void *buf, uint32_t len, uint64_t offset)
{
	w->buf = buf;
	w->len = len;
	w->offset = offset;
	memset(buf, 0, len);
}

/* Copy the part of [pos, pos + n) of the log that falls inside the window. */
static void dn_disc_log_put(struct dn_disc_log_window *w, uint64_t pos, const void *src, uint64_t n)
{
	uint64_t start = pos > w->offset ? pos : w->offset;
	uint64_t end = pos + n < w->offset + w->len ? pos + n : w->offset + w->len;

	if (start >= end)
		return;
	memcpy(w->buf + (start - w->offset), (const uint8_t *)src + (start - pos), end - start);
}

void dn_disc_log_put_header(struct dn_disc_log_window *w, uint64_t genctr, uint64_t numrec)
{
	struct nvmf_discovery_log hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.genctr = htole64(genctr);
	hdr.numrec = htole64(numrec);
	hdr.recfmt = htole16(0);
	dn_disc_log_put(w, 0, &hdr, sizeof(hdr));
}

void dn_disc_log_put_entry(struct dn_disc_log_window *w, uint64_t index,
			   const struct nvmf_disc_log_entry *e)
{
	dn_disc_log_put(w, dn_disc_log_size(index), e, sizeof(*e));
}

static int dn_copy_field(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return -EINVAL;
	memset(dst, 0, n);
	memcpy(dst, src, len);
	return 0;
}

int dn_disc_log_entry_fill(struct nvmf_disc_log_entry *e, uint8_t trtype, uint8_t adrfam,
			   uint8_t subtype, uint8_t treq, uint16_t portid, const char *traddr,
			   const char *trsvcid, const char *subnqn, const union nvmf_tsas *tsas)
{
	memset(e, 0, sizeof(*e));
	e->trtype = trtype;
	e->adrfam = adrfam;
	e->subtype = subtype;
	e->treq = treq;
	e->portid = htole16(portid);
	e->cntlid = htole16(0xffff); /* dynamic controller model */
	e->asqsz = htole16(32);
	if (dn_copy_field(e->trsvcid, sizeof(e->trsvcid), trsvcid) ||
	    dn_copy_field(e->traddr, sizeof(e->traddr), traddr) ||
	    dn_copy_field(e->subnqn, NVMF_NQN_SIZE + 1, subnqn))
		return -EINVAL;
	if (tsas)
		e->tsas = *tsas;
	return 0;
}

int dn_disc_log_parse_header(const void *buf, size_t len, uint64_t *genctr, uint64_t *numrec)
{
	const struct nvmf_discovery_log *hdr = buf;

	if (len < DN_DISC_LOG_HDR_SIZE)
		return -EMSGSIZE;
	if (le16toh(hdr->recfmt) != 0)
		return -EPROTO;
	*genctr = le64toh(hdr->genctr);
	*numrec = le64toh(hdr->numrec);
	return 0;
}

/*
 * A fixed-width ASCII field: printable characters, then padding (NULs or spaces) to the end.
 * Copies it without the padding into dst (n + 1 bytes). Returns its length or -EPROTO.
 */
static int dn_parse_field(char *dst, const char *src, size_t n)
{
	size_t len = 0, i;

	while (len < n && src[len] != '\0')
		len++;
	for (i = len; i < n; i++)
		if (src[i] != '\0' && src[i] != ' ')
			return -EPROTO;
	while (len && src[len - 1] == ' ')
		len--;
	for (i = 0; i < len; i++)
		if (src[i] < 0x20 || src[i] > 0x7e)
			return -EPROTO;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return (int)len;
}

static int dn_disc_rec_parse(const struct nvmf_disc_log_entry *e, struct dn_disc_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->trtype = e->trtype;
	r->adrfam = e->adrfam;
	r->subtype = e->subtype;
	r->treq = e->treq;
	r->portid = le16toh(e->portid);
	r->cntlid = le16toh(e->cntlid);
	r->asqsz = le16toh(e->asqsz);
	r->eflags = le16toh(e->eflags);
	if (r->subtype < NVME_NQN_DISC || r->subtype > NVME_NQN_CURR)
		return -EPROTO;
	if (dn_parse_field(r->trsvcid, e->trsvcid, sizeof(e->trsvcid)) < 0 ||
	    dn_parse_field(r->traddr, e->traddr, sizeof(e->traddr)) <= 0 ||
	    dn_parse_field(r->subnqn, e->subnqn, sizeof(e->subnqn)) <= 0)
		return -EPROTO;
	r->tsas = e->tsas;
	return 0;
}

int dn_disc_log_parse(const void *buf, size_t len, uint64_t *genctr, struct dn_disc_rec *recs,
		      size_t max, uint64_t *nr, uint64_t *bad_index)
{
	const struct nvmf_disc_log_entry *entries;
	uint64_t numrec, i;
	int ret;

	ret = dn_disc_log_parse_header(buf, len, genctr, &numrec);
	if (ret)
		return ret;
	*nr = numrec;
	if (numrec > (len - DN_DISC_LOG_HDR_SIZE) / DN_DISC_LOG_ENTRY_SIZE)
		return -EMSGSIZE;
	entries = (const struct nvmf_disc_log_entry *)((const uint8_t *)buf + DN_DISC_LOG_HDR_SIZE);
	for (i = 0; i < numrec; i++) {
		struct dn_disc_rec scratch;

		ret = dn_disc_rec_parse(&entries[i], i < max ? &recs[i] : &scratch);
		if (ret) {
			if (bad_index)
				*bad_index = i;
			return ret;
		}
	}
	return 0;
}
