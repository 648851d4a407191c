/* SPDX-License-Identifier: MIT */
/* Test helper: run a command entry point (int fn(argc, argv)) with stdout and stderr captured. */
#ifndef DISNVME_TESTS_UNIT_HOST_CAPTURE_H
#define DISNVME_TESTS_UNIT_HOST_CAPTURE_H

/* Returns fn's exit code; *out and *err (freed first when non-NULL) get what it printed. */
int capture_run(int (*fn)(int argc, char **argv), int argc, char **argv, char **out, char **err);

/* Everything in fd from offset 0, NUL-terminated (malloc). */
char *capture_slurp(int fd);

#endif
