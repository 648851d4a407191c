/* SPDX-License-Identifier: MIT */
/* Logging to stderr: one line per event, with a level and, under journald, its priority. */
#ifndef DISNVME_COMMON_LOG_H
#define DISNVME_COMMON_LOG_H

enum dn_log_level {
	DN_LOG_ERR = 3,
	DN_LOG_WARN = 4,
	DN_LOG_NOTICE = 5,
	DN_LOG_INFO = 6,
	DN_LOG_DEBUG = 7
};

extern int dn_log_max_level;

void dn_log_init(const char *ident, int verbosity);
void dn_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define dn_err(...)    dn_log(DN_LOG_ERR, __VA_ARGS__)
#define dn_warn(...)   dn_log(DN_LOG_WARN, __VA_ARGS__)
#define dn_notice(...) dn_log(DN_LOG_NOTICE, __VA_ARGS__)
#define dn_info(...)   dn_log(DN_LOG_INFO, __VA_ARGS__)
#define dn_dbg(...)                                        \
	do {                                               \
		if (dn_log_max_level >= DN_LOG_DEBUG)      \
			dn_log(DN_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
