// SPDX-License-Identifier: MIT
/*
 * Tests for host/cli_resv.c: nvme-cli's options of resv-register/-acquire/-release/-report
 * (each command's own short letters), the command dwords and key data they make, usage errors,
 * and the report as nvme-cli prints it (normal and JSON, extended or not, a reply with room for
 * fewer registrants than there are).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/nvme_wire.h"
#include "host/cli.h"

#define ARGV(...)	 ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...)	 ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PARSE(a, e, ...) dn_resv_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), a, e)

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void test_register(void **state)
{
	struct dn_resv_args a;
	struct dn_err e = {0};
	uint32_t cdw10, cdw11, len;
	uint8_t data[16];

	assert_int_equal(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "-c", "0x1122334455667788",
			       "-k", "42", "-r", "2", "-p", "3", "-i"),
			 0);
	assert_string_equal(a.device, "/dev/ublkb0");
	assert_int_equal(a.opcode, nvme_cmd_resv_register);
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	/* RREGA 2, IEKEY, CPTPL 3 in bits 31:30 */
	assert_int_equal(cdw10, 2u | 1u << 3 | 3u << 30);
	assert_int_equal(cdw11, 0);
	assert_int_equal(len, 16);
	assert_true(le64_at(data) == 0x1122334455667788ull);
	assert_true(le64_at(data + 8) == 42);
	/* long options; -n is passed on for the daemon to check */
	assert_int_equal(PARSE(&a, &e, "resv-register", "--nrkey=0xa1", "--rrega=0",
			       "--namespace-id=1", "/dev/ublkb12"),
			 0);
	assert_int_equal(a.nsid, 1);
	assert_string_equal(a.device, "/dev/ublkb12");
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	assert_int_equal(cdw10, 0);
	assert_true(le64_at(data + 8) == 0xa1);
}

static void test_acquire_release(void **state)
{
	struct dn_resv_args a;
	struct dn_err e = {0};
	uint32_t cdw10, cdw11, len;
	uint8_t data[16];

	/* acquire: -p is the preempt key, -a the action, -t the type */
	assert_int_equal(PARSE(&a, &e, "resv-acquire", "/dev/ublkb1", "-c", "7", "-p", "9", "-t",
			       "3", "-a", "2"),
			 0);
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	assert_int_equal(cdw10, 2u | 3u << 8);
	assert_int_equal(len, 16);
	assert_true(le64_at(data) == 7 && le64_at(data + 8) == 9);
	assert_int_equal(PARSE(&a, &e, "resv-acquire", "/dev/ublkb1", "--crkey=7", "--prkey=9",
			       "--rtype=1", "--racqa=1"),
			 0);
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	assert_int_equal(cdw10, 1u | 1u << 8);
	/* release: -a is the release action, 8 bytes of data */
	assert_int_equal(
		PARSE(&a, &e, "resv-release", "/dev/ublkb1", "-c", "7", "-t", "6", "-a", "1"), 0);
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	assert_int_equal(cdw10, 1u | 6u << 8);
	assert_int_equal(len, 8);
	assert_true(le64_at(data) == 7);
}

static void test_report_args(void **state)
{
	struct dn_resv_args a;
	struct dn_err e = {0};
	uint32_t cdw10, cdw11, len;
	uint8_t data[16];

	assert_int_equal(PARSE(&a, &e, "resv-report", "/dev/ublkb0"), 0);
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	assert_int_equal(cdw10, 1023); /* 4 KiB by default */
	assert_int_equal(cdw11, 0);
	assert_int_equal(len, 4096);
	assert_int_equal(a.fmt, DN_OUT_NORMAL);
	assert_int_equal(
		PARSE(&a, &e, "resv-report", "/dev/ublkb0", "-d", "31", "-e", "-o", "json"), 0);
	dn_resv_cdws(&a, &cdw10, &cdw11, data, &len);
	assert_int_equal(cdw10, 31);
	assert_int_equal(cdw11, 1);
	assert_int_equal(len, 128);
	assert_int_equal(a.fmt, DN_OUT_JSON);
	/* 0 or beyond 4 KiB: 4 KiB, as nvme-cli */
	assert_int_equal(PARSE(&a, &e, "resv-report", "/dev/ublkb0", "--numd=5000"), 0);
	assert_int_equal(a.numd, 1023);
}

/* The parse failed with a message that says words; e is cleared for the next one */
static void expect_usage(int ret, struct dn_err *e, const char *words)
{
	if (ret != -EINVAL)
		fail_msg("%d, not -EINVAL, where the error should say \"%s\"", ret, words);
	if (!strstr(e->msg, words))
		fail_msg("\"%s\" does not say \"%s\"", e->msg, words);
	dn_err_clear(e);
}

static void test_usage_errors(void **state)
{
	struct dn_resv_args a;
	struct dn_err e = {0};

	expect_usage(PARSE(&a, &e, "resv-register", "--nrkey=1"), &e, "takes one device");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "/dev/ublkb1"), &e,
		     "takes one device");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/sda", "-k", "1"), &e,
		     "not a disnvme block device");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "-k", "-1"), &e, "--nrkey");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "-k", "0x1x"), &e, "--nrkey");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "-k", "0x10000000000000000"), &e,
		     "--nrkey");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "-r", "8"), &e, "--rrega");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "-p", "4"), &e, "--cptpl");
	expect_usage(PARSE(&a, &e, "resv-acquire", "/dev/ublkb0", "-t", "256"), &e, "--rtype");
	expect_usage(PARSE(&a, &e, "resv-acquire", "/dev/ublkb0", "--racqa=9"), &e, "--racqa");
	expect_usage(PARSE(&a, &e, "resv-release", "/dev/ublkb0", "-a", "8"), &e, "--rrela");
	/* an option of another reservation command, or none at all */
	expect_usage(PARSE(&a, &e, "resv-acquire", "/dev/ublkb0", "--nrkey=1"), &e, "option");
	expect_usage(PARSE(&a, &e, "resv-release", "/dev/ublkb0", "--prkey=1"), &e, "option");
	expect_usage(PARSE(&a, &e, "resv-release", "/dev/ublkb0", "--racqa=1"), &e, "option");
	expect_usage(PARSE(&a, &e, "resv-register", "/dev/ublkb0", "--prkey=1"), &e, "option");
	expect_usage(PARSE(&a, &e, "resv-acquire", "/dev/ublkb0", "--cptpl=1"), &e, "option");
	expect_usage(PARSE(&a, &e, "resv-report", "/dev/ublkb0", "-c", "1"), &e, "option");
	expect_usage(PARSE(&a, &e, "resv-report", "/dev/ublkb0", "--bogus"), &e, "option");
	expect_usage(PARSE(&a, &e, "resv-report", "/dev/ublkb0", "-o", "xml"), &e, "-o");
	expect_usage(PARSE(&a, &e, "resv-report", "/dev/ublkb0", "-n", "x"), &e, "--namespace-id");
}

/* A report: gen 5, Write Exclusive - Registrants Only, three registrants, extended format */
static uint32_t make_report(uint8_t *buf, uint32_t len)
{
	struct nvme_resv_status *s = (struct nvme_resv_status *)buf;
	unsigned int i, room = (len - 64) / 64;

	memset(buf, 0, len);
	s->gen = htole32(5);
	s->rtype = 3;
	s->regctl[0] = 3;
	for (i = 0; i < 3 && i < room; i++) {
		struct nvme_registered_ctrl_ext *x = &s->regctl_eds[i];

		x->cntlid = htole16(0xffff);
		x->rcsts = i == 1;
		x->rkey = htole64(0xa0 + i);
		memset(x->hostid, 0x11 * (i + 1), 16);
	}
	return len;
}

static char *print_report(const uint8_t *buf, uint32_t len, bool eds, enum dn_out_fmt fmt)
{
	static char out[8192];
	FILE *f = fmemopen(out, sizeof(out), "w");

	assert_non_null(f);
	assert_int_equal(dn_resv_report_print(f, buf, len, eds, fmt), 0);
	fclose(f);
	return out;
}

static void test_report_print(void **state)
{
	uint8_t buf[256];
	struct json_object *o, *arr, *r, *v;
	char *out;

	/* JSON, nvme-cli's keys */
	out = print_report(buf, make_report(buf, 256), true, DN_OUT_JSON);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "gen", &v) && json_object_get_int(v) == 5);
	assert_true(json_object_object_get_ex(o, "rtype", &v) && json_object_get_int(v) == 3);
	assert_true(json_object_object_get_ex(o, "regctl", &v) && json_object_get_int(v) == 3);
	assert_true(json_object_object_get_ex(o, "ptpls", &v) && json_object_get_int(v) == 0);
	assert_true(json_object_object_get_ex(o, "regctlext", &arr));
	assert_int_equal(json_object_array_length(arr), 3);
	r = json_object_array_get_idx(arr, 1);
	assert_true(json_object_object_get_ex(r, "rcsts", &v) && json_object_get_int(v) == 1);
	assert_true(json_object_object_get_ex(r, "rkey", &v) && json_object_get_uint64(v) == 0xa1);
	assert_true(json_object_object_get_ex(r, "cntlid", &v) && json_object_get_int(v) == 0xffff);
	assert_true(json_object_object_get_ex(r, "hostid", &v));
	assert_string_equal(json_object_get_string(v), "22222222222222222222222222222222");
	json_object_put(o);

	/* room for two of the three: the count says three, two are shown */
	out = print_report(buf, make_report(buf, 192), true, DN_OUT_JSON);
	o = json_tokener_parse(out);
	assert_true(json_object_object_get_ex(o, "regctl", &v) && json_object_get_int(v) == 3);
	assert_true(json_object_object_get_ex(o, "regctlext", &arr));
	assert_int_equal(json_object_array_length(arr), 2);
	json_object_put(o);

	/* normal */
	out = print_report(buf, make_report(buf, 256), true, DN_OUT_NORMAL);
	assert_non_null(
		strstr(out, "gen       : 5\nrtype     : 3\nregctl    : 3\nptpls     : 0\n"));
	assert_non_null(
		strstr(out, "regctlext[2] :\n  cntlid     : ffff\n  rcsts      : 0\n"
			    "  rkey       : a2\n  hostid     : 33333333333333333333333333333333"));

	/* too short to be a report */
	assert_int_equal(dn_resv_report_print(stdout, buf, 63, true, DN_OUT_JSON), -EPROTO);
	assert_int_equal(dn_resv_report_print(stdout, buf, 23, false, DN_OUT_JSON), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),     cmocka_unit_test(test_acquire_release),
		cmocka_unit_test(test_report_args),  cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_report_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
