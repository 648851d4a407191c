// SPDX-License-Identifier: MIT
/* Tests for host/hostid.c: UUID parsing/formatting and where the host NQN and ID come from. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "host/hostid.h"

static void test_uuid(void **state)
{
	static const uint8_t want[16] = {0xe4, 0x2f, 0x09, 0xf5, 0x82, 0xf4, 0x43, 0x96,
					 0xa1, 0xad, 0x4e, 0x06, 0xab, 0x60, 0x09, 0x13};
	uint8_t id[16];
	char s[37];

	assert_int_equal(dn_uuid_parse("e42f09f5-82f4-4396-A1AD-4e06ab600913", id), 0);
	assert_memory_equal(id, want, 16);
	dn_uuid_format(id, s);
	assert_string_equal(s, "e42f09f5-82f4-4396-a1ad-4e06ab600913");
	assert_int_equal(dn_uuid_parse("e42f09f5-82f4-4396-a1ad-4e06ab60091", id), -EINVAL);
	assert_int_equal(dn_uuid_parse("e42f09f5-82f4-4396-a1ad-4e06ab6009134", id), -EINVAL);
	assert_int_equal(dn_uuid_parse("e42f09f5x82f4-4396-a1ad-4e06ab600913", id), -EINVAL);
	assert_int_equal(dn_uuid_parse("g42f09f5-82f4-4396-a1ad-4e06ab600913", id), -EINVAL);
	assert_int_equal(dn_uuid_parse("", id), -EINVAL);
}

static void test_from_options(void **state)
{
	struct dn_host_identity h;
	struct dn_err e = {0};

	assert_int_equal(dn_host_identity_get("nqn.2014-08.org.disnvme:h1",
					      "00112233-4455-6677-8899-aabbccddeeff", &h, &e),
			 0);
	assert_string_equal(h.nqn, "nqn.2014-08.org.disnvme:h1");
	assert_string_equal(h.id_str, "00112233-4455-6677-8899-aabbccddeeff");
	assert_int_equal(h.id[15], 0xff);

	assert_int_equal(dn_host_identity_get("nqn.x", "nope", &h, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a UUID"));
}

static void test_derived_id(void **state)
{
	struct dn_host_identity h, h2;
	struct dn_err e = {0};

	char nqn_file[] = "nqn.2014-08.org.nvmexpress:uuid:e42f09f5-82f4-4396-a1ad-4e06ab600913\n";
	char id_file[] = "00112233-4455-6677-8899-aabbccddeeff\n";

	/* no host ID file: a UUID-based NQN (here from the NQN file) gives the ID ... */
	assert_int_equal(dn_host_identity_resolve(NULL, NULL, nqn_file, NULL, &h, &e), 0);
	assert_string_equal(h.nqn,
			    "nqn.2014-08.org.nvmexpress:uuid:e42f09f5-82f4-4396-a1ad-4e06ab600913");
	assert_string_equal(h.id_str, "e42f09f5-82f4-4396-a1ad-4e06ab600913");
	/* ... the ID file wins over that, the option over the file */
	assert_int_equal(dn_host_identity_resolve(NULL, NULL, nqn_file, id_file, &h, &e), 0);
	assert_string_equal(h.id_str, "00112233-4455-6677-8899-aabbccddeeff");
	assert_int_equal(dn_host_identity_resolve("nqn.opt", "ffffffff-4455-6677-8899-aabbccddeeff",
						  nqn_file, id_file, &h, &e),
			 0);
	assert_string_equal(h.nqn, "nqn.opt");
	assert_string_equal(h.id_str, "ffffffff-4455-6677-8899-aabbccddeeff");
	/* ... and any other NQN a stable name-based one */
	assert_int_equal(
		dn_host_identity_resolve("nqn.2014-08.org.disnvme:h2", NULL, NULL, NULL, &h, &e),
		0);
	assert_int_equal(
		dn_host_identity_resolve("nqn.2014-08.org.disnvme:h2", NULL, NULL, NULL, &h2, &e),
		0);
	assert_memory_equal(h.id, h2.id, 16);
	assert_int_equal(h.id[6] >> 4, 5);
	assert_int_equal(
		dn_host_identity_resolve("nqn.2014-08.org.disnvme:h3", NULL, NULL, NULL, &h2, &e),
		0);
	assert_memory_not_equal(h.id, h2.id, 16);
	/* no NQN anywhere: libnvme generates one */
	assert_int_equal(dn_host_identity_resolve(NULL, NULL, NULL, NULL, &h, &e), 0);
	assert_non_null(strstr(h.nqn, "nqn.2014-08.org.nvmexpress:uuid:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_from_options),
		cmocka_unit_test(test_derived_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
