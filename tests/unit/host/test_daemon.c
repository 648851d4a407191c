// SPDX-License-Identifier: MIT
/*
 * Tests for host/daemon.c: connect requests from the socket (untrusted), list entries, and the
 * controller table that concurrent requests share (duplicates, cancelling connects in progress).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/daemon.h"

static const char good[] =
	"{\"cmd\":\"connect\",\"traddr\":\"10.77.0.1\",\"trsvcid\":\"4420\",\"subnqn\":\"nqn.s\","
	"\"hostnqn\":\"nqn.h\",\"hostid\":\"00112233-4455-6677-8899-AABBCCDDEEFF\","
	"\"nr_io_queues\":2,\"queue_size\":64,\"kato\":5,\"reconnect_delay_ms\":1000,"
	"\"ctrl_loss_tmo\":-1}";

static int parse(const char *json, struct dn_ctrl_opts *o, struct dn_err *e)
{
	struct json_object *req = json_tokener_parse(json);
	int ret;

	assert_non_null(req);
	memset(o, 0, sizeof(*o));
	dn_err_clear(e);
	ret = dn_daemon_connect_opts(o, req, e);
	json_object_put(req);
	return ret;
}

static void test_connect_opts(void **state)
{
	struct dn_ctrl_opts o;
	struct dn_err e;

	assert_int_equal(parse(good, &o, &e), 0);
	assert_string_equal(o.traddr, "10.77.0.1");
	assert_string_equal(o.trsvcid, "4420");
	assert_string_equal(o.subnqn, "nqn.s");
	assert_string_equal(o.hostnqn, "nqn.h");
	assert_string_equal(o.hostid_str, "00112233-4455-6677-8899-aabbccddeeff");
	assert_int_equal(o.hostid[0], 0x00);
	assert_int_equal(o.hostid[15], 0xff);
	assert_int_equal(o.nr_io_queues, 2);
	assert_int_equal(o.queue_size, 64);
	assert_int_equal(o.kato, 5);
	assert_int_equal(o.reconnect_delay_ms, 1000);
	assert_int_equal(o.ctrl_loss_tmo, -1);
	assert_int_equal(o.fast_io_fail_tmo, -1); /* off unless asked for */
	assert_string_equal(o.host_traddr, "");
}

static void test_connect_opts_optional(void **state)
{
	struct dn_ctrl_opts o;
	struct dn_err e;
	char json[1024];

	snprintf(json, sizeof(json), "%.*s,\"fast_io_fail_tmo\":4,\"host_traddr\":\"10.77.0.2\"}",
		 (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), 0);
	assert_int_equal(o.fast_io_fail_tmo, 4);
	assert_string_equal(o.host_traddr, "10.77.0.2");
	snprintf(json, sizeof(json), "%.*s,\"fast_io_fail_tmo\":-2}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"reconnect_delay_ms\":3600001}", (int)strlen(good) - 1,
		 good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"host_traddr\":\"%0300d\"}", (int)strlen(good) - 1,
		 good, 1);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too long"));
}

static void test_connect_rejects(void **state)
{
	struct dn_ctrl_opts o;
	struct dn_err e;
	char big[400], json[1024];

	/* missing field, field of the wrong type */
	assert_int_equal(parse("{\"traddr\":\"1\",\"trsvcid\":\"1\",\"subnqn\":\"s\","
			       "\"hostnqn\":\"h\"}",
			       &o, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "lacks a field"));
	assert_int_equal(
		parse("{\"traddr\":{},\"trsvcid\":\"1\",\"subnqn\":\"s\",\"hostnqn\":\"h\","
		      "\"hostid\":\"00112233-4455-6677-8899-aabbccddeeff\"}",
		      &o, &e),
		-EINVAL);
	/* numbers out of range or not numbers */
	snprintf(json, sizeof(json), "%.*s,\"queue_size\":1}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"reconnect_delay_ms\":0}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"ctrl_loss_tmo\":-2}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	snprintf(json, sizeof(json), "%.*s,\"nr_io_queues\":\"2\"}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	/* a host ID that is not a UUID */
	snprintf(json, sizeof(json), "%.*s,\"hostid\":\"nope\"}", (int)strlen(good) - 1, good);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a UUID"));
	/* an NQN longer than its field */
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(json, sizeof(json), "%.*s,\"subnqn\":\"%s\"}", (int)strlen(good) - 1, good, big);
	assert_int_equal(parse(json, &o, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too long"));
}

static void test_ctrl_json(void **state)
{
	static struct dn_ctrl c;
	struct dn_ns_dev ns = {
		.info = {.nsid = 3, .nsze = 1024, .lbs_shift = 12, .read_only = true},
		.params = {.size = 1024ull << 12},
		.dev_id = 5,
		.nr_paths = 2,
	};
	struct json_object *j, *v, *n;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	c.instance = 7;
	c.cntlid = 9;
	c.state = DN_CTRL_RESETTING;
	strcpy(c.o.traddr, "10.77.0.1");
	strcpy(c.o.trsvcid, "4421");
	strcpy(c.o.subnqn, "nqn.s");
	strcpy(c.o.hostnqn, "nqn.h");
	c.ns_devs[0] = &ns;
	c.nr_ns_devs = 1;
	j = dn_daemon_ctrl_json(&c);
#define STR(o, k, want)                                               \
	do {                                                          \
		assert_true(json_object_object_get_ex(o, k, &v));     \
		assert_string_equal(json_object_get_string(v), want); \
	} while (0)
	STR(j, "name", "ctrl7");
	STR(j, "transport", "rdma");
	STR(j, "traddr", "10.77.0.1");
	STR(j, "trsvcid", "4421");
	STR(j, "subsysnqn", "nqn.s");
	STR(j, "state", "resetting");
	STR(j, "cntlid", "9");
	assert_true(json_object_object_get_ex(j, "namespaces", &v));
	assert_int_equal(json_object_array_length(v), 1);
	n = json_object_array_get_idx(v, 0);
	STR(n, "device", "/dev/ublkb5");
	STR(n, "nsid", "3");
	STR(n, "size", "4194304");
	STR(n, "lba_size", "4096");
	STR(n, "read_only", "true");
	STR(n, "paths", "2");
	json_object_put(j);
}

/* A controller as a connect request makes it, before any network traffic */
static struct dn_ctrl *table_ctrl(const char *subnqn, const char *trsvcid)
{
	struct dn_ctrl *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	pthread_mutex_init(&c->lock, NULL);
	strcpy(c->o.traddr, "10.77.0.1");
	strcpy(c->o.trsvcid, trsvcid);
	strcpy(c->o.subnqn, subnqn);
	strcpy(c->o.hostnqn, "nqn.h");
	return c;
}

static int listed(struct dn_ctrl_table *t)
{
	struct json_object *j = dn_table_json(t);
	int n = (int)json_object_array_length(j);

	json_object_put(j);
	return n;
}

/* Two connects to the same subsystem: the second is refused while the first is in progress */
static void test_table_duplicates(void **state)
{
	struct dn_ctrl *a = table_ctrl("nqn.s", "4420"), *b = table_ctrl("nqn.s", "4420");
	struct dn_ctrl *other = table_ctrl("nqn.s", "4421");
	struct dn_ctrl_table t;
	struct dn_err e = {0};

	dn_table_init(&t);
	assert_true(dn_table_empty(&t));
	assert_int_equal(dn_table_reserve(&t, a, false, &e), 0);
	assert_false(dn_table_empty(&t));
	assert_int_equal(listed(&t), 0); /* in progress: not listed yet */
	assert_int_equal(dn_table_reserve(&t, b, false, &e), -EALREADY);
	assert_string_equal(e.msg, "nqn.s at 10.77.0.1:4420 is being connected already");
	/* another port of the subsystem is another controller */
	assert_int_equal(dn_table_reserve(&t, other, false, &e), 0);
	assert_int_not_equal(a->instance, other->instance);
	assert_true(dn_table_publish(&t, a));
	assert_int_equal(listed(&t), 1);
	dn_err_clear(&e);
	assert_int_equal(dn_table_reserve(&t, b, false, &e), -EALREADY);
	assert_string_equal(e.msg, "nqn.s at 10.77.0.1:4420 is already connected");
	/* --duplicate-connect: a second controller on purpose */
	assert_int_equal(dn_table_reserve(&t, b, true, &e), 0);
	dn_table_release(&t, b); /* its connect failed */
	dn_table_release(&t, other);
	assert_int_equal(listed(&t), 1);
	free(a);
	free(b);
	free(other);
}

static void test_table_full(void **state)
{
	struct dn_ctrl *c[DN_DAEMON_MAX_CTRLS + 1];
	struct dn_ctrl_table t;
	struct dn_err e = {0};
	char port[16];
	int i;

	dn_table_init(&t);
	for (i = 0; i <= DN_DAEMON_MAX_CTRLS; i++) {
		snprintf(port, sizeof(port), "%d", 5000 + i);
		c[i] = table_ctrl("nqn.s", port);
	}
	/* listed and in progress count alike */
	for (i = 0; i < DN_DAEMON_MAX_CTRLS; i++) {
		assert_int_equal(dn_table_reserve(&t, c[i], false, &e), 0);
		if (i % 2)
			assert_true(dn_table_publish(&t, c[i]));
	}
	assert_int_equal(dn_table_reserve(&t, c[i], false, &e), -ENOSPC);
	assert_string_equal(e.msg, "this daemon already serves 64 controllers");
	for (i = 0; i <= DN_DAEMON_MAX_CTRLS; i++)
		free(c[i]);
}

struct waiter {
	struct dn_ctrl_table *t;
	bool done;
};

static void *wait_cancelled(void *arg)
{
	struct waiter *w = arg;

	dn_table_wait_cancelled(w->t);
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* disconnect-all during a connect: the listed controllers are taken, the connect cancelled,
 * and the disconnect waits for the connect to clean up */
static void test_table_disconnect_all_during_connect(void **state)
{
	struct dn_ctrl *live = table_ctrl("nqn.a", "4420"), *conn = table_ctrl("nqn.b", "4420");
	struct dn_ctrl *again = table_ctrl("nqn.b", "4420");
	struct dn_ctrl *taken[DN_DAEMON_MAX_CTRLS];
	struct waiter w = {0};
	struct dn_ctrl_table t;
	struct dn_err e = {0};
	pthread_t th;
	int nc;

	dn_table_init(&t);
	w.t = &t;
	assert_int_equal(dn_table_reserve(&t, live, false, &e), 0);
	assert_true(dn_table_publish(&t, live));
	assert_int_equal(dn_table_reserve(&t, conn, false, &e), 0);
	assert_false(dn_table_cancelled(&t, conn));

	assert_int_equal(dn_table_take(&t, true, NULL, NULL, taken, &nc), 1);
	assert_ptr_equal(taken[0], live);
	assert_int_equal(nc, 1);
	assert_true(dn_table_cancelled(&t, conn));
	assert_true(conn->scan_abort); /* its initial scan stops early */
	assert_false(live->scan_abort);
	assert_int_equal(listed(&t), 0);
	/* the connect is still in progress: the table is not empty (no auto-exit yet), and the
	 * same subsystem cannot be connected again until it has cleaned up */
	assert_false(dn_table_empty(&t));
	assert_int_equal(dn_table_reserve(&t, again, false, &e), -EALREADY);
	/* a second disconnect-all does not count it twice */
	assert_int_equal(dn_table_take(&t, true, NULL, NULL, taken, &nc), 0);
	assert_int_equal(nc, 0);

	assert_int_equal(pthread_create(&th, NULL, wait_cancelled, &w), 0);
	usleep(50000);
	assert_false(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE));
	/* the connect finishes: it finds itself cancelled, deletes what it made, releases */
	assert_false(dn_table_publish(&t, conn));
	assert_int_equal(listed(&t), 0);
	dn_table_release(&t, conn);
	pthread_join(th, NULL);
	assert_true(w.done);
	assert_true(dn_table_empty(&t));
	assert_int_equal(dn_table_reserve(&t, again, false, &e), 0);
	free(live);
	free(conn);
	free(again);
}

/* disconnect -n NQN cancels only that subsystem's connects; -d DEV only matches listed ones */
static void test_table_disconnect_match(void **state)
{
	struct dn_ctrl *a = table_ctrl("nqn.a", "4420"), *b = table_ctrl("nqn.b", "4420");
	struct dn_ctrl *live = table_ctrl("nqn.c", "4420");
	struct dn_ctrl *taken[DN_DAEMON_MAX_CTRLS];
	struct dn_ns_dev ns = {.info = {.nsid = 1}, .dev_id = 3};
	struct dn_ctrl_table t;
	struct dn_err e = {0};
	int nc;

	dn_table_init(&t);
	assert_int_equal(dn_table_reserve(&t, a, false, &e), 0);
	assert_int_equal(dn_table_reserve(&t, b, false, &e), 0);
	assert_int_equal(dn_table_reserve(&t, live, false, &e), 0);
	live->ns_devs[0] = &ns;
	live->nr_ns_devs = 1;
	assert_true(dn_table_publish(&t, live));

	assert_int_equal(dn_table_take(&t, false, NULL, "/dev/ublkb4", taken, &nc), 0);
	assert_int_equal(nc, 0);
	assert_int_equal(dn_table_take(&t, false, "nqn.b", NULL, taken, &nc), 0);
	assert_int_equal(nc, 1);
	assert_false(dn_table_cancelled(&t, a));
	assert_true(dn_table_cancelled(&t, b));
	assert_int_equal(dn_table_take(&t, false, NULL, "/dev/ublkb3", taken, &nc), 1);
	assert_ptr_equal(taken[0], live);
	assert_int_equal(nc, 0);
	assert_true(dn_table_publish(&t, a));
	assert_false(dn_table_publish(&t, b));
	dn_table_release(&t, b);
	dn_table_wait_cancelled(&t); /* nothing cancelled is left: returns */
	assert_int_equal(listed(&t), 1);
	free(a);
	free(b);
	free(live);
}

static void test_table_take_dead(void **state)
{
	struct dn_ctrl *a = table_ctrl("nqn.a", "4420"), *b = table_ctrl("nqn.b", "4420");
	struct dn_ctrl *taken[DN_DAEMON_MAX_CTRLS];
	struct dn_ctrl_table t;
	struct dn_err e = {0};

	dn_table_init(&t);
	assert_int_equal(dn_table_reserve(&t, a, false, &e), 0);
	assert_true(dn_table_publish(&t, a));
	assert_int_equal(dn_table_reserve(&t, b, false, &e), 0);
	assert_true(dn_table_publish(&t, b));
	a->state = DN_CTRL_RESETTING;
	b->state = DN_CTRL_DEAD;
	assert_int_equal(dn_table_take_dead(&t, taken), 1);
	assert_ptr_equal(taken[0], b);
	assert_int_equal(listed(&t), 1);
	free(a);
	free(b);
}

/* A request holding a controller (disnvme resv-*) keeps a disconnect from deleting it */
struct unhold_arg {
	struct dn_ctrl_table *t;
	struct dn_ctrl *c;
	bool done;
};

static void *unhold_later(void *arg)
{
	struct unhold_arg *u = arg;

	usleep(100000);
	u->done = true;
	dn_table_unhold(u->t, u->c);
	return NULL;
}

static void test_table_hold_dev(void **state)
{
	struct dn_ctrl *a = table_ctrl("nqn.a", "4420"), *b = table_ctrl("nqn.a", "4421");
	struct dn_ns_dev ns = {.info = {.nsid = 7}, .dev_id = 3};
	struct dn_ctrl *taken[DN_DAEMON_MAX_CTRLS];
	struct dn_ctrl_table t;
	struct dn_err e = {0};
	struct unhold_arg u;
	uint32_t nsid = 0;
	pthread_t th;
	int nc;

	dn_table_init(&t);
	assert_int_equal(dn_table_reserve(&t, a, false, &e), 0);
	assert_int_equal(dn_table_reserve(&t, b, false, &e), 0);
	/* two paths of one device: the live one serves */
	a->ns_devs[0] = b->ns_devs[0] = &ns;
	a->nr_ns_devs = b->nr_ns_devs = 1;
	a->state = DN_CTRL_RESETTING;
	b->state = DN_CTRL_LIVE;
	assert_null(dn_table_hold_dev(&t, "/dev/ublkb3", &nsid)); /* not listed yet */
	assert_true(dn_table_publish(&t, a));
	assert_true(dn_table_publish(&t, b));
	assert_null(dn_table_hold_dev(&t, "/dev/ublkb4", &nsid));
	assert_ptr_equal(dn_table_hold_dev(&t, "/dev/ublkb3", &nsid), b);
	assert_int_equal(nsid, 7);
	assert_int_equal(b->table_holds, 1);
	dn_table_unhold(&t, b);
	/* no live path: a path that is not live still answers (the target will say) */
	b->state = DN_CTRL_RESETTING;
	assert_non_null(dn_table_hold_dev(&t, "/dev/ublkb3", &nsid));
	dn_table_unhold(&t, a->table_holds ? a : b);
	b->state = DN_CTRL_LIVE;

	/* a disconnect takes it out, and waits for the hold before it may delete it */
	assert_ptr_equal(dn_table_hold_dev(&t, "/dev/ublkb3", &nsid), b);
	assert_int_equal(dn_table_take(&t, false, "nqn.a", NULL, taken, &nc), 2);
	u = (struct unhold_arg){.t = &t, .c = b};
	assert_int_equal(pthread_create(&th, NULL, unhold_later, &u), 0);
	dn_table_wait_unheld(&t, a); /* not held: at once */
	dn_table_wait_unheld(&t, b);
	assert_true(u.done);
	assert_int_equal(b->table_holds, 0);
	pthread_join(th, NULL);
	free(a);
	free(b);
}

/* Auto-exit: decided only on an empty table, and no connect gets in after the decision */
static void test_table_close_if_empty(void **state)
{
	struct dn_ctrl *a = table_ctrl("nqn.a", "4420"), *b = table_ctrl("nqn.b", "4420");
	struct dn_ctrl *taken[DN_DAEMON_MAX_CTRLS];
	struct dn_ctrl_table t;
	struct dn_err e = {0};
	int nc;

	dn_table_init(&t);
	assert_int_equal(dn_table_reserve(&t, a, false, &e), 0);
	/* a connect in progress (say a refused duplicate ends meanwhile): no exit */
	assert_false(dn_table_close_if_empty(&t));
	assert_false(dn_table_closed(&t));
	assert_true(dn_table_publish(&t, a));
	assert_false(dn_table_close_if_empty(&t));
	/* the last disconnect */
	assert_int_equal(dn_table_take(&t, false, "nqn.a", NULL, taken, &nc), 1);
	assert_true(dn_table_close_if_empty(&t));
	assert_true(dn_table_closed(&t));
	assert_int_equal(dn_table_reserve(&t, b, false, &e), -ESHUTDOWN);
	assert_string_equal(e.msg, "the disnvme daemon is exiting: try again");
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_opts),
		cmocka_unit_test(test_connect_opts_optional),
		cmocka_unit_test(test_connect_rejects),
		cmocka_unit_test(test_ctrl_json),
		cmocka_unit_test(test_table_duplicates),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_table_disconnect_all_during_connect),
		cmocka_unit_test(test_table_disconnect_match),
		cmocka_unit_test(test_table_take_dead),
		cmocka_unit_test(test_table_hold_dev),
		cmocka_unit_test(test_table_close_if_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
