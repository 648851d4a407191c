/* SPDX-License-Identifier: MIT */
/* Monotonic time for timeouts, intervals and the durations the logs report; never wall time. */
#ifndef DISNVME_COMMON_CLOCK_H
#define DISNVME_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t dn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
