// SPDX-License-Identifier: MIT
/* Tests for common/sgl.c: byte-exact descriptor encodings and every rejection of nvme_sgl_parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/nvme_wire.h"

static void test_keyed_encoding(void **state)
{
	struct nvme_sgl_desc d;
	static const uint8_t want[16] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
					 0x00, 0x20, 0x01, 0xef, 0xbe, 0xad, 0xde, 0x40};

	memset(&d, 0xff, sizeof(d));
	nvme_sgl_set_keyed(&d, 0x1122334455667788ull, 0x012000, 0xdeadbeef, false);
	assert_memory_equal(&d, want, 16);
	assert_int_equal(nvme_sgl_keyed_len(&d), 0x012000);
	nvme_sgl_set_keyed(&d, 0, 4096, 1, true);
	assert_int_equal(d.id, 0x4f);
}

static void test_inline_encoding(void **state)
{
	struct nvme_sgl_desc d;
	static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0x01};

	memset(&d, 0xff, sizeof(d));
	nvme_sgl_set_inline(&d, 0, 4096);
	assert_memory_equal(&d, want, 16);
}

static struct nvme_sqe sqe_with(const struct nvme_sgl_desc *d)
{
	struct nvme_sqe s;

	memset(&s, 0, sizeof(s));
	s.flags = NVME_CMD_PSDT_SGL_MPTR_CONTIG;
	s.common.dptr = *d;
	return s;
}

static void test_parse_keyed(void **state)
{
	struct nvme_sgl_desc d;
	struct nvme_sgl_info info;
	struct nvme_sqe s;

	nvme_sgl_set_keyed(&d, 0xabc000, 131072, 0x1234, true);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 8192, 131072, &info), 0);
	assert_int_equal(info.kind, NVME_SGL_KIND_KEYED);
	assert_int_equal(info.addr, 0xabc000);
	assert_int_equal(info.length, 131072);
	assert_int_equal(info.key, 0x1234);
	assert_true(info.invalidate);
	/* one byte over the limit: data SGL length invalid, DNR */
	assert_int_equal(nvme_sgl_parse(&s, 8192, 131071, &info), 0x400f);
	/* keyed length 0 means no data */
	nvme_sgl_set_keyed(&d, 0, 0, 0, false);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 8192, 4096, &info), 0);
	assert_int_equal(info.kind, NVME_SGL_KIND_NONE);
}

static void test_parse_inline(void **state)
{
	struct nvme_sgl_desc d;
	struct nvme_sgl_info info;
	struct nvme_sqe s;

	nvme_sgl_set_inline(&d, 0, 8192);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 8192, 1 << 20, &info), 0);
	assert_int_equal(info.kind, NVME_SGL_KIND_INLINE);
	assert_int_equal(info.length, 8192);
	/* longer than what arrived in the capsule */
	assert_int_equal(nvme_sgl_parse(&s, 4096, 1 << 20, &info), 0x400f);
	/* offset past the capsule data: SGL offset invalid */
	nvme_sgl_set_inline(&d, 4097, 0);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 4096, 1 << 20, &info), 0x4016);
	/* offset + length wrapping around must not pass */
	nvme_sgl_set_inline(&d, 16, 0xfffffff8u);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 4096, 0xffffffffu, &info), 0x400f);
}

static void test_parse_rejects(void **state)
{
	struct nvme_sgl_desc d;
	struct nvme_sgl_info info;
	struct nvme_sqe s;

	/* PRPs (PSDT 0) are not allowed on fabrics: invalid field */
	nvme_sgl_set_keyed(&d, 0, 4096, 1, false);
	s = sqe_with(&d);
	s.flags = 0;
	assert_int_equal(nvme_sgl_parse(&s, 0, 4096, &info), 0x4002);
	/* a segment descriptor: SGL descriptor type invalid */
	d.id = NVME_SGL_ID(NVME_SGL_TYPE_LAST_SEGMENT, NVME_SGL_SUBTYPE_ADDRESS);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 0, 4096, &info), 0x4011);
	/* keyed block with the offset subtype */
	d.id = NVME_SGL_ID(NVME_SGL_TYPE_KEYED_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 0, 4096, &info), 0x4011);
	/* unkeyed data block with an address subtype (not in capsule) */
	d.id = NVME_SGL_ID(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_ADDRESS);
	s = sqe_with(&d);
	assert_int_equal(nvme_sgl_parse(&s, 0, 4096, &info), 0x4011);
}

static void test_wire_str(void **state)
{
	char f[4] = {'a', 'b', 'c', 'd'};

	assert_false(nvme_wire_str_ok(f, sizeof(f)));
	f[3] = 0;
	assert_true(nvme_wire_str_ok(f, sizeof(f)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyed_encoding), cmocka_unit_test(test_inline_encoding),
		cmocka_unit_test(test_parse_keyed),    cmocka_unit_test(test_parse_inline),
		cmocka_unit_test(test_parse_rejects),  cmocka_unit_test(test_wire_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
