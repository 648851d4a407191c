// SPDX-License-Identifier: MIT
/*
 * The client half of the control socket: disnvme connect / list / disconnect / disconnect-all
 * send one JSON request to the daemon and print its reply. connect starts a daemon when none
 * listens (detached, auto-exiting once it serves nothing) and waits for its socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "host/cli.h"
#include "host/hostid.h"

#define DN_DEFAULT_SOCK		 "/run/disnvme/disnvme.sock"
#define DN_MSG_MAX		 (256u << 10)
#define CONNECT_REPLY_TIMEOUT_MS 300000

const char *dn_sock_path(void)
{
	const char *p = getenv("DISNVME_SOCKET");

	return p && *p ? p : DN_DEFAULT_SOCK;
}

static int sock_connect(int *fd_out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dn_sock_path());
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*fd_out = fd;
	return 0;
}

int dn_sock_request(struct json_object *req, struct json_object **reply, int timeout_ms,
		    struct dn_err *e)
{
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	struct pollfd pfd = {.events = POLLIN};
	char *buf;
	ssize_t n;
	int fd, ret;

	ret = sock_connect(&fd);
	if (ret)
		return ret; /* the caller decides whether "no daemon" is an error */
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0) {
		ret = dn_err_set(e, -errno, "cannot talk to the disnvme daemon: %s",
				 strerror(errno));
		goto out_close;
	}
	pfd.fd = fd;
	ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0) {
		ret = dn_err_set(e, -ETIMEDOUT, "the disnvme daemon did not answer within %d s",
				 timeout_ms / 1000);
		goto out_close;
	}
	buf = malloc(DN_MSG_MAX + 1);
	if (!buf) {
		ret = dn_err_set(e, -ENOMEM, "out of memory");
		goto out_close;
	}
	n = recv(fd, buf, DN_MSG_MAX, 0);
	if (n <= 0) {
		ret = dn_err_set(e, -EPIPE,
				 "the disnvme daemon closed the connection without an "
				 "answer (see its log)");
		goto out_free;
	}
	buf[n] = '\0';
	*reply = json_tokener_parse(buf);
	ret = *reply ? 0 : dn_err_set(e, -EPROTO, "the disnvme daemon sent malformed JSON");
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

/* Reply fields */
static int reply_status(struct json_object *r, struct dn_err *e)
{
	struct json_object *st, *msg;
	int status;

	if (!json_object_object_get_ex(r, "status", &st))
		return dn_err_set(e, -EPROTO, "the disnvme daemon's reply has no status");
	status = json_object_get_int(st);
	if (status && json_object_object_get_ex(r, "error", &msg))
		return dn_err_set(e, status, "%s", json_object_get_string(msg));
	return status ? dn_err_set(e, status, "the daemon reports: %s", strerror(-status)) : 0;
}

/* After a request that ended the daemon's last controller: wait for it to be gone. */
static void wait_daemon_exit(struct json_object *r)
{
	struct json_object *ex, *pid;
	int64_t end = dn_now_ms() + 10000;

	if (!json_object_object_get_ex(r, "daemon_exiting", &ex) || !json_object_get_boolean(ex) ||
	    !json_object_object_get_ex(r, "pid", &pid))
		return;
	while (kill(json_object_get_int(pid), 0) == 0 && dn_now_ms() < end)
		usleep(20000);
}

static int spawn_daemon(struct dn_err *e)
{
	char self[4096];
	ssize_t n;
	pid_t pid;
	int64_t end;
	int fd, status;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return dn_err_set(e, -errno, "cannot find the disnvme executable: %s",
				  strerror(errno));
	self[n] = '\0';
	pid = fork();
	if (pid < 0)
		return dn_err_set(e, -errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* child: a new session, then a grandchild nobody waits for */
		setsid();
		if (fork() != 0)
			_exit(0);
		mkdir("/run/disnvme", 0755);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		fd = open("/run/disnvme/daemon.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0640);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(self, "disnvme", "daemon", "--auto-exit", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	end = dn_now_ms() + 10000;
	while (dn_now_ms() < end) {
		if (!sock_connect(&fd)) {
			close(fd);
			return 0;
		}
		usleep(20000);
	}
	return dn_err_set(e, -ETIMEDOUT,
			  "the disnvme daemon did not start (see "
			  "/run/disnvme/daemon.log)");
}

static int check_can_create_devices(struct dn_err *e)
{
	if (geteuid() != 0)
		return dn_err_set(e, -EPERM, "must run as root: it creates block devices");
	if (access("/dev/ublk-control", F_OK))
		return dn_err_set(e, -ENODEV,
				  "the kernel has no ublk support: /dev/ublk-control "
				  "is missing (modprobe ublk_drv)");
	return 0;
}

int dn_cmd_connect(int argc, char **argv)
{
	struct json_object *req, *reply = NULL, *devs;
	struct dn_host_identity h;
	struct dn_cli_args a;
	struct dn_err e = {0};
	size_t i;
	int ret;

	if (dn_cli_parse("connect", argc, argv, &a, &e)) {
		fprintf(stderr, "disnvme: %s\n", e.msg);
		return DN_EXIT_USAGE;
	}
	if (check_can_create_devices(&e) || dn_host_identity_get(a.hostnqn, a.hostid, &h, &e))
		goto out_fail;

	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("connect"));
	json_object_object_add(req, "traddr", json_object_new_string(a.traddr));
	json_object_object_add(req, "trsvcid", json_object_new_string(a.trsvcid));
	json_object_object_add(req, "subnqn", json_object_new_string(a.subnqn));
	json_object_object_add(req, "hostnqn", json_object_new_string(h.nqn));
	json_object_object_add(req, "hostid", json_object_new_string(h.id_str));
	json_object_object_add(req, "nr_io_queues", json_object_new_int(a.nr_io_queues));
	json_object_object_add(req, "queue_size", json_object_new_int(a.queue_size));
	json_object_object_add(req, "kato", json_object_new_int(a.kato));
	json_object_object_add(req, "reconnect_delay_ms",
			       json_object_new_int(a.reconnect_delay_ms));
	json_object_object_add(req, "ctrl_loss_tmo", json_object_new_int(a.ctrl_loss_tmo));
	json_object_object_add(req, "fast_io_fail_tmo", json_object_new_int(a.fast_io_fail_tmo));
	if (a.host_traddr)
		json_object_object_add(req, "host_traddr", json_object_new_string(a.host_traddr));
	if (a.duplicate_connect)
		json_object_object_add(req, "duplicate_connect", json_object_new_boolean(true));

	ret = dn_sock_request(req, &reply, CONNECT_REPLY_TIMEOUT_MS, &e);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		ret = spawn_daemon(&e);
		if (!ret)
			ret = dn_sock_request(req, &reply, CONNECT_REPLY_TIMEOUT_MS, &e);
	}
	json_object_put(req);
	if (ret) {
		dn_err_set(&e, ret, "cannot reach the disnvme daemon at %s: %s", dn_sock_path(),
			   strerror(-ret));
		goto out_fail;
	}
	if (reply_status(reply, &e)) {
		wait_daemon_exit(reply);
		json_object_put(reply);
		goto out_fail;
	}
	if (json_object_object_get_ex(reply, "devices", &devs))
		for (i = 0; i < json_object_array_length(devs); i++)
			printf("%s\n", json_object_get_string(json_object_array_get_idx(devs, i)));
	json_object_put(reply);
	return DN_EXIT_OK;

out_fail:
	fprintf(stderr, "disnvme connect: %s\n", e.msg);
	return DN_EXIT_FAIL;
}

void dn_list_print(FILE *out, struct json_object *reply, enum dn_out_fmt fmt)
{
	struct json_object *ctrls, *root;
	size_t i, j;

	if (!json_object_object_get_ex(reply, "controllers", &ctrls))
		ctrls = NULL;
	if (fmt == DN_OUT_JSON) {
		root = json_object_new_object();
		json_object_object_add(root, "controllers",
				       ctrls ? json_object_get(ctrls) : json_object_new_array());
		fprintf(out, "%s\n",
			json_object_to_json_string_ext(
				root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
		return;
	}
	for (i = 0; ctrls && i < json_object_array_length(ctrls); i++) {
		struct json_object *c = json_object_array_get_idx(ctrls, i), *v, *nss;

#define FIELD(name) (json_object_object_get_ex(c, name, &v) ? json_object_get_string(v) : "-")
		fprintf(out, "%s: %s %s traddr=%s,trsvcid=%s cntlid %s %s\n", FIELD("name"),
			FIELD("subsysnqn"), FIELD("transport"), FIELD("traddr"), FIELD("trsvcid"),
			FIELD("cntlid"), FIELD("state"));
		fprintf(out, "  hostnqn %s hostid %s\n", FIELD("hostnqn"), FIELD("hostid"));
#undef FIELD
		if (!json_object_object_get_ex(c, "namespaces", &nss))
			continue;
		for (j = 0; j < json_object_array_length(nss); j++) {
			struct json_object *n = json_object_array_get_idx(nss, j), *dv, *id, *sz,
					   *lbs;

			json_object_object_get_ex(n, "device", &dv);
			json_object_object_get_ex(n, "nsid", &id);
			json_object_object_get_ex(n, "size", &sz);
			json_object_object_get_ex(n, "lba_size", &lbs);
			fprintf(out, "  %s  nsid %d  %llu bytes  %d-byte blocks\n",
				json_object_get_string(dv), json_object_get_int(id),
				(unsigned long long)json_object_get_uint64(sz),
				json_object_get_int(lbs));
		}
	}
}

int dn_cmd_list(int argc, char **argv)
{
	struct json_object *req, *reply = NULL;
	struct dn_cli_args a;
	struct dn_err e = {0};
	int ret;

	if (dn_cli_parse("list", argc, argv, &a, &e)) {
		fprintf(stderr, "disnvme: %s\n", e.msg);
		return DN_EXIT_USAGE;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("list"));
	ret = dn_sock_request(req, &reply, CONNECT_REPLY_TIMEOUT_MS, &e);
	json_object_put(req);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		/* no daemon: nothing is connected */
		reply = json_object_new_object();
		ret = 0;
	}
	if (ret || reply_status(reply, &e)) {
		dn_err_set(&e, ret, "cannot reach the disnvme daemon: %s", strerror(-ret));
		fprintf(stderr, "disnvme list: %s\n", e.msg);
		json_object_put(reply);
		return DN_EXIT_FAIL;
	}
	dn_list_print(stdout, reply, a.fmt);
	json_object_put(reply);
	return DN_EXIT_OK;
}

/* none_ok: with no daemon there is nothing connected, and that is success (disconnect-all) */
static int simple_request(const char *what, struct json_object *req, bool none_ok)
{
	struct json_object *reply = NULL;
	struct dn_err e = {0};
	int ret;

	ret = dn_sock_request(req, &reply, 120000, &e);
	json_object_put(req);
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		if (none_ok)
			return DN_EXIT_OK;
		fprintf(stderr,
			"disnvme %s: no disnvme daemon is running, so nothing is "
			"connected\n",
			what);
		return DN_EXIT_FAIL;
	}
	if (ret)
		goto out_fail;
	ret = reply_status(reply, &e);
	wait_daemon_exit(reply);
	json_object_put(reply);
	if (ret)
		goto out_fail;
	return DN_EXIT_OK;
out_fail:
	fprintf(stderr, "disnvme %s: %s\n", what, e.msg);
	return DN_EXIT_FAIL;
}

int dn_cmd_disconnect(int argc, char **argv)
{
	struct json_object *req;
	struct dn_cli_args a;
	struct dn_err e = {0};

	if (dn_cli_parse("disconnect", argc, argv, &a, &e)) {
		fprintf(stderr, "disnvme: %s\n", e.msg);
		return DN_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "disnvme disconnect: must run as root: it removes block devices\n");
		return DN_EXIT_FAIL;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("disconnect"));
	if (a.subnqn)
		json_object_object_add(req, "subnqn", json_object_new_string(a.subnqn));
	if (a.device)
		json_object_object_add(req, "device", json_object_new_string(a.device));
	return simple_request("disconnect", req, false);
}

int dn_cmd_disconnect_all(int argc, char **argv)
{
	struct json_object *req;
	struct dn_cli_args a;
	struct dn_err e = {0};

	if (dn_cli_parse("disconnect-all", argc, argv, &a, &e)) {
		fprintf(stderr, "disnvme: %s\n", e.msg);
		return DN_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "disnvme disconnect-all: must run as root: it removes block "
				"devices\n");
		return DN_EXIT_FAIL;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("disconnect-all"));
	return simple_request("disconnect-all", req, true);
}
