// SPDX-License-Identifier: MIT
/* `disnvme config add|remove|list`: discovery.conf edited under a lock, shown as text or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "discovery/conf.h"
#include "host/config_cmd.h"

#define EXIT_DONE   0
#define EXIT_FAILED 1
#define EXIT_USAGE  2

/* Options `config remove` takes: the port, nothing that configures a connection */
#define REMOVE_KEY_OPTS                                                                \
	(DN_CONF_GIVEN(DN_CONF_OPT_TRANSPORT) | DN_CONF_GIVEN(DN_CONF_OPT_TRADDR) |    \
	 DN_CONF_GIVEN(DN_CONF_OPT_TRSVCID) | DN_CONF_GIVEN(DN_CONF_OPT_HOST_TRADDR) | \
	 DN_CONF_GIVEN(DN_CONF_OPT_HOST_IFACE))

static void usage(FILE *f)
{
	fprintf(f, "usage: disnvme config add -t rdma -a ADDR [-s PORT] [-w HOST_TRADDR] [-f "
		   "HOST_IFACE]\n"
		   "                          [-q HOSTNQN] [-I HOSTID] [-n DISCOVERY_NQN] [-i "
		   "NR_IO_QUEUES]\n"
		   "                          [-Q QUEUE_SIZE] [-k KATO] [-c RECONNECT_DELAY]\n"
		   "                          [-l CTRL_LOSS_TMO] [-F FAST_IO_FAIL_TMO] [-D]\n"
		   "       disnvme config remove -t rdma -a ADDR [-s PORT] [-w HOST_TRADDR] [-f "
		   "HOST_IFACE]\n"
		   "       disnvme config list [-o normal|json]\n"
		   "Every action takes --config-file FILE (default " DN_CONF_DEFAULT_PATH ").\n");
}

/* Take --config-file out of argv (in place); -EINVAL when it lacks its value */
static int take_config_file(int *argc, char **argv, const char **path)
{
	int i, j = 0;

	for (i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--config-file=", 14)) {
			*path = a + 14;
		} else if (!strcmp(a, "--config-file")) {
			if (i + 1 >= *argc)
				return -EINVAL;
			*path = argv[++i];
		} else {
			argv[j++] = argv[i];
			continue;
		}
		if (!**path)
			return -EINVAL;
	}
	*argc = j;
	return 0;
}

static void port_str(const struct dn_conf_entry *e, char *buf, size_t len)
{
	bool v6 = strchr(e->traddr, ':') != NULL;

	snprintf(buf, len, "%s %s%s%s:%s", e->transport, v6 ? "[" : "", e->traddr, v6 ? "]" : "",
		 e->trsvcid);
	if (e->host_traddr[0] || e->host_iface[0]) {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, " from %s%s%s", e->host_traddr,
			 e->host_traddr[0] && e->host_iface[0] ? " on " : "", e->host_iface);
	}
}

static int parse_cli_entry(const char *action, int argc, char **argv, struct dn_conf_entry *e)
{
	struct dn_conf_diags d = {0};
	int ret;

	ret = dn_conf_entry_parse(argc, argv, DN_CONF_PARSE_STRICT, 0, e, &d);
	if (ret == -ENOMEM) {
		fprintf(stderr, "disnvme config %s: out of memory\n", action);
	} else if (ret) {
		char name[64];

		snprintf(name, sizeof(name), "disnvme config %s", action);
		dn_conf_diags_print(&d, name, stderr);
	}
	dn_conf_diags_free(&d);
	return ret;
}

/* Load under the lock; the file's own problems are shown (they do not stop an edit) */
static int load_locked(const char *path, struct dn_conf **c, int *lock)
{
	int ret;

	*lock = dn_conf_lock(path);
	if (*lock < 0) {
		fprintf(stderr, "disnvme config: cannot lock the directory of %s: %s\n", path,
			strerror(-*lock));
		return *lock;
	}
	ret = dn_conf_load(path, c);
	if (ret) {
		fprintf(stderr, "disnvme config: cannot read %s: %s\n", path, strerror(-ret));
		dn_conf_unlock(*lock);
		return ret;
	}
	dn_conf_diags_print(dn_conf_get_diags(*c), path, stderr);
	return 0;
}

static int save(const struct dn_conf *c, const char *path)
{
	int ret = dn_conf_save(c, path);

	if (ret)
		fprintf(stderr, "disnvme config: cannot write %s (left as it was): %s\n", path,
			strerror(-ret));
	return ret;
}

static int config_add(const char *path, int argc, char **argv)
{
	struct dn_conf_entry e;
	char port[NVMF_TRADDR_SIZE * 2 + 64];
	struct dn_conf *c;
	unsigned int dup = 0;
	int lock, ret, rc = EXIT_FAILED;

	ret = parse_cli_entry("add", argc, argv, &e);
	if (ret)
		return ret == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;
	port_str(&e, port, sizeof(port));
	if (load_locked(path, &c, &lock))
		return EXIT_FAILED;
	ret = dn_conf_add(c, &e, &dup);
	if (ret == -EEXIST) {
		fprintf(stderr,
			"disnvme config add: %s:%u already has the discovery controller %s; "
			"nothing added (remove it first to change its options)\n",
			path, dup, port);
		goto out_free;
	}
	if (ret) {
		fprintf(stderr, "disnvme config add: %s\n", strerror(-ret));
		goto out_free;
	}
	if (save(c, path))
		goto out_free;
	printf("%s:%u: added %s\n", path, dn_conf_get_entry(c, dn_conf_nr_entries(c) - 1)->line,
	       port);
	rc = EXIT_DONE;
out_free:
	dn_conf_free(c);
	dn_conf_unlock(lock);
	return rc;
}

static int config_remove(const char *path, int argc, char **argv)
{
	unsigned int lines[64];
	struct dn_conf_entry key;
	char port[NVMF_TRADDR_SIZE * 2 + 64];
	struct dn_conf *c;
	int lock, n, i, rc = EXIT_FAILED;

	n = parse_cli_entry("remove", argc, argv, &key);
	if (n)
		return n == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;
	if (key.given & ~REMOVE_KEY_OPTS) {
		fprintf(stderr, "disnvme config remove: takes only -t, -a, -s, -w and -f (which "
				"discovery controller), not its connect options\n");
		return EXIT_USAGE;
	}
	port_str(&key, port, sizeof(port));
	if (load_locked(path, &c, &lock))
		return EXIT_FAILED;
	n = dn_conf_remove(c, &key, lines, sizeof(lines) / sizeof(lines[0]));
	if (n < 0) {
		fprintf(stderr, "disnvme config remove: %s\n", strerror(-n));
		goto out_free;
	}
	if (n == 0) {
		fprintf(stderr, "disnvme config remove: %s has no entry for %s; nothing removed\n",
			path, port);
		goto out_free;
	}
	if (save(c, path))
		goto out_free;
	for (i = 0; i < n && i < (int)(sizeof(lines) / sizeof(lines[0])); i++)
		printf("%s:%u: removed %s\n", path, lines[i], port);
	rc = EXIT_DONE;
out_free:
	dn_conf_free(c);
	dn_conf_unlock(lock);
	return rc;
}

static int json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *entry_json(const struct dn_conf_entry *e)
{
	struct json_object *o = json_object_new_object();
	int ret = 0;

	if (!o)
		return NULL;
	ret |= json_add(o, "line", json_object_new_int((int)e->line));
	ret |= json_add(o, "transport", json_object_new_string(e->transport));
	ret |= json_add(o, "traddr", json_object_new_string(e->traddr));
	ret |= json_add(o, "trsvcid", json_object_new_string(e->trsvcid));
	ret |= json_add(o, "host_traddr", json_object_new_string(e->host_traddr));
	ret |= json_add(o, "host_iface", json_object_new_string(e->host_iface));
	ret |= json_add(o, "hostnqn", json_object_new_string(e->hostnqn));
	ret |= json_add(o, "hostid", json_object_new_string(e->hostid));
	ret |= json_add(o, "subsysnqn", json_object_new_string(e->subsysnqn));
	ret |= json_add(o, "nr_io_queues", json_object_new_int(e->nr_io_queues));
	ret |= json_add(o, "queue_size", json_object_new_int(e->queue_size));
	ret |= json_add(o, "keep_alive_tmo", json_object_new_int(e->keep_alive_tmo));
	ret |= json_add(o, "reconnect_delay", json_object_new_int(e->reconnect_delay));
	ret |= json_add(o, "ctrl_loss_tmo", json_object_new_int(e->ctrl_loss_tmo));
	ret |= json_add(o, "fast_io_fail_tmo", json_object_new_int(e->fast_io_fail_tmo));
	ret |= json_add(o, "duplicate_connect", json_object_new_boolean(e->duplicate_connect));
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int list_json(const struct dn_conf *c, const char *path)
{
	const struct dn_conf_diags *d = dn_conf_get_diags(c);
	struct json_object *root, *entries, *problems;
	size_t i;
	int ret = 0;

	root = json_object_new_object();
	entries = json_object_new_array();
	problems = json_object_new_array();
	if (!root || !entries || !problems) {
		json_object_put(entries);
		json_object_put(problems);
		ret = -ENOMEM;
		goto out_put;
	}
	ret |= json_add(root, "file", json_object_new_string(path));
	ret |= json_add(root, "exists", json_object_new_boolean(dn_conf_exists(c)));
	ret |= json_add(root, "entries", entries);
	ret |= json_add(root, "problems", problems);
	for (i = 0; !ret && i < dn_conf_nr_entries(c); i++) {
		struct json_object *e = entry_json(dn_conf_get_entry(c, i));

		if (!e || json_object_array_add(entries, e)) {
			json_object_put(e);
			ret = -ENOMEM;
		}
	}
	for (i = 0; !ret && i < d->nr; i++) {
		struct json_object *p = json_object_new_object();

		ret |= !p ? -ENOMEM : 0;
		if (p) {
			ret |= json_add(p, "line", json_object_new_int((int)d->v[i].line));
			ret |= json_add(
				p, "severity",
				json_object_new_string(d->v[i].error ? "error" : "warning"));
			ret |= json_add(p, "message", json_object_new_string(d->v[i].msg));
			if (ret || json_object_array_add(problems, p)) {
				json_object_put(p);
				ret = -ENOMEM;
			}
		}
	}
	if (!ret)
		printf("%s\n",
		       json_object_to_json_string_ext(
			       root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
out_put:
	json_object_put(root);
	return ret;
}

/* v, or what its special value means */
static void num_or(char *buf, size_t len, int v, int special, const char *meaning)
{
	if (v == special)
		snprintf(buf, len, "%s", meaning);
	else
		snprintf(buf, len, "%d", v);
}

static void list_normal(const struct dn_conf *c, const char *path)
{
	char text[DN_CONF_LINE_MAX + 1], nq[16], loss[16], fail[16];
	size_t i;

	if (!dn_conf_exists(c)) {
		printf("%s does not exist: no discovery controllers are configured\n", path);
		return;
	}
	printf("%s: %zu discovery controller%s\n", path, dn_conf_nr_entries(c),
	       dn_conf_nr_entries(c) == 1 ? "" : "s");
	for (i = 0; i < dn_conf_nr_entries(c); i++) {
		const struct dn_conf_entry *e = dn_conf_get_entry(c, i);

		if (dn_conf_entry_format(e, text, sizeof(text)) < 0)
			snprintf(text, sizeof(text), "--transport %s --traddr %s", e->transport,
				 e->traddr);
		printf("  line %u: %s\n", e->line, text);
		num_or(nq, sizeof(nq), e->nr_io_queues, 0, "one per CPU");
		num_or(loss, sizeof(loss), e->ctrl_loss_tmo, -1, "forever");
		num_or(fail, sizeof(fail), e->fast_io_fail_tmo, -1, "off");
		printf("    connects with: nr-io-queues %s, queue-size %d, keep-alive-tmo %d, "
		       "reconnect-delay %d, ctrl-loss-tmo %s, fast_io_fail_tmo %s\n",
		       nq, e->queue_size, e->keep_alive_tmo, e->reconnect_delay, loss, fail);
	}
}

static int config_list(const char *path, int argc, char **argv)
{
	bool json = false;
	struct dn_conf *c;
	int i, ret;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *fmt = NULL;

		if ((!strcmp(a, "-o") || !strcmp(a, "--output-format")) && i + 1 < argc)
			fmt = argv[++i];
		else if (!strncmp(a, "--output-format=", 16))
			fmt = a + 16;
		else if (!strncmp(a, "-o", 2) && a[2])
			fmt = a + 2;
		if (fmt && !strcmp(fmt, "json")) {
			json = true;
		} else if (fmt && !strcmp(fmt, "normal")) {
			json = false;
		} else {
			fprintf(stderr, "disnvme config list: %s '%s' (takes -o normal|json)\n",
				fmt ? "unknown output format" : "unexpected argument",
				fmt ? fmt : a);
			return EXIT_USAGE;
		}
	}
	ret = dn_conf_load(path, &c);
	if (ret) {
		fprintf(stderr, "disnvme config list: cannot read %s: %s\n", path, strerror(-ret));
		return EXIT_FAILED;
	}
	dn_conf_diags_print(dn_conf_get_diags(c), path, stderr);
	if (json) {
		ret = list_json(c, path);
		if (ret)
			fprintf(stderr, "disnvme config list: out of memory\n");
	} else {
		list_normal(c, path);
	}
	ret = ret || dn_conf_nr_errors(c) ? EXIT_FAILED : EXIT_DONE;
	dn_conf_free(c);
	return ret;
}

int dn_cmd_config(int argc, char **argv)
{
	const char *path = DN_CONF_DEFAULT_PATH, *action;
	int rest_argc = argc - 1;
	char **rest = argv + 1;

	/* --config-file may come before the action as well as after it */
	if (take_config_file(&rest_argc, rest, &path)) {
		fprintf(stderr, "disnvme config: --config-file needs a file name\n");
		return EXIT_USAGE;
	}
	if (rest_argc < 1 || !strcmp(rest[0], "-h") || !strcmp(rest[0], "--help") ||
	    !strcmp(rest[0], "help")) {
		usage(rest_argc < 1 ? stderr : stdout);
		return rest_argc < 1 ? EXIT_USAGE : EXIT_DONE;
	}
	action = rest[0];
	rest_argc--;
	rest++;
	if (!strcmp(action, "add"))
		return config_add(path, rest_argc, rest);
	if (!strcmp(action, "remove"))
		return config_remove(path, rest_argc, rest);
	if (!strcmp(action, "list"))
		return config_list(path, rest_argc, rest);
	fprintf(stderr, "disnvme config: unknown action '%s'\n", action);
	usage(stderr);
	return EXIT_USAGE;
}
