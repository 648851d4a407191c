// SPDX-License-Identifier: MIT
/*
 * Tests for common/rdma_util.c's address parsing: traddr/trsvcid as nvme-cli, discovery.conf,
 * a discovery log record or a target config give them, to the socket address rdma_cm gets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/rdma_util.h"

static void test_trsvcid_check(void **state)
{
	static const char *const good[] = {"1", "4420", "65535", "04420"};
	/* getaddrinfo takes most of these, and keeps 16 bits of 70000 (port 4464) */
	static const char *const bad[] = {"",	   "0",	    "65536", "70000", "abc",   "44a",
					  " 4420", "+4420", "-1",    "0x10",  "4420 ", "000004420"};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (dn_trsvcid_check(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!dn_trsvcid_check(bad[i]))
			fail_msg("\"%s\" taken", bad[i]);
}

static void test_sockaddr_parse(void **state)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

	assert_int_equal(dn_sockaddr_parse("10.77.0.1", "4421", AF_UNSPEC, &ss), 0);
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohs(in->sin_port), 4421);
	assert_int_equal(ntohl(in->sin_addr.s_addr), 0x0a4d0001);

	assert_int_equal(dn_sockaddr_parse("fe80::1", "4420", AF_UNSPEC, &ss), 0);
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 4420);

	/* a source to bind: no port */
	assert_int_equal(dn_sockaddr_parse("10.77.0.2", NULL, AF_INET, &ss), 0);
	assert_int_equal(ntohs(in->sin_port), 0);

	/* the port is checked before getaddrinfo sees it */
	assert_int_equal(dn_sockaddr_parse("10.77.0.1", "70000", AF_UNSPEC, &ss), -EINVAL);
	assert_int_equal(dn_sockaddr_parse("10.77.0.1", "0", AF_UNSPEC, &ss), -EINVAL);
	assert_int_equal(dn_sockaddr_parse("10.77.0.1", "", AF_UNSPEC, &ss), -EINVAL);
	/* numeric hosts only, of the family asked for */
	assert_int_equal(dn_sockaddr_parse("", "4420", AF_UNSPEC, &ss), -EINVAL);
	assert_int_equal(dn_sockaddr_parse(NULL, "4420", AF_UNSPEC, &ss), -EINVAL);
	assert_int_equal(dn_sockaddr_parse("localhost", "4420", AF_UNSPEC, &ss), -EINVAL);
	assert_int_equal(dn_sockaddr_parse("10.77.0.256", "4420", AF_UNSPEC, &ss), -EINVAL);
	assert_int_not_equal(dn_sockaddr_parse("fe80::1", "4420", AF_INET, &ss), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trsvcid_check),
		cmocka_unit_test(test_sockaddr_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
