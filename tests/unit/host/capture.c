// SPDX-License-Identifier: MIT
/* Test helper: a command's stdout and stderr into strings, through unlinked temporary files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"

static int tmpfd(void)
{
	char path[] = "/tmp/disnvme-capture.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

char *capture_slurp(int fd)
{
	size_t len = 0, alloc = 4096;
	char *buf = malloc(alloc);
	ssize_t n;

	assert_non_null(buf);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	while ((n = read(fd, buf + len, alloc - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == alloc) {
			alloc *= 2;
			buf = realloc(buf, alloc);
			assert_non_null(buf);
		}
	}
	buf[len] = '\0';
	return buf;
}

int capture_run(int (*fn)(int argc, char **argv), int argc, char **argv, char **out, char **err)
{
	int rc, o, e, so, se;

	free(*out);
	free(*err);
	fflush(stdout);
	fflush(stderr);
	o = tmpfd();
	e = tmpfd();
	so = dup(1);
	se = dup(2);
	dup2(o, 1);
	dup2(e, 2);
	rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	*out = capture_slurp(o);
	*err = capture_slurp(e);
	close(o);
	close(e);
	return rc;
}
