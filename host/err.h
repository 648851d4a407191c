/* SPDX-License-Identifier: MIT */
/*
 * A failure as the host reports it: the -errno the code passes around plus the one sentence
 * that names the cause for the person at the terminal ("10.77.0.9:4420 is unreachable ...").
 * The innermost layer that knows the cause writes the sentence; outer layers keep it.
 */
#ifndef DISNVME_HOST_ERR_H
#define DISNVME_HOST_ERR_H

#include <stdarg.h>
#include <stdio.h>

struct dn_err {
	int code; /* 0 or -errno */
	char msg[384];
};

__attribute__((format(printf, 3, 4))) static inline int dn_err_set(struct dn_err *e, int code,
								   const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	/* the first (innermost) cause wins */
	if (e->msg[0])
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

static inline void dn_err_clear(struct dn_err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

#endif
