// SPDX-License-Identifier: MIT
/* stderr logger; under journald (JOURNAL_STREAM set) lines carry a <N> priority prefix. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

int dn_log_max_level = DN_LOG_INFO;
static const char *log_ident = "disnvme";
static int log_journal;

void dn_log_init(const char *ident, int verbosity)
{
	log_ident = ident;
	dn_log_max_level = DN_LOG_INFO + verbosity;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void dn_log(int level, const char *fmt, ...)
{
	static const char *names[] = {[DN_LOG_ERR] = "error",
				      [DN_LOG_WARN] = "warning",
				      [DN_LOG_NOTICE] = "notice",
				      [DN_LOG_INFO] = "info",
				      [DN_LOG_DEBUG] = "debug"};
	char buf[1024];
	va_list ap;
	int n = 0;

	if (level > dn_log_max_level)
		return;
	if (log_journal) {
		n = snprintf(buf, sizeof(buf), "<%d>", level);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(
			buf, sizeof(buf), "%02d:%02d:%02d.%03ld %s: %s: ", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, log_ident,
			names[level < DN_LOG_ERR || level > DN_LOG_DEBUG ? DN_LOG_ERR : level]);
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so concurrent threads do not interleave */
	fprintf(stderr, "%s\n", buf);
}
