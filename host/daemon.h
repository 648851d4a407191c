/* SPDX-License-Identifier: MIT */
/*
 * The daemon's control-socket protocol pieces that tests step without a daemon: decoding a
 * connect request into controller options (untrusted: every field checked), the JSON a
 * controller is listed as, and the controller table that requests on several threads share.
 */
#ifndef DISNVME_HOST_DAEMON_H
#define DISNVME_HOST_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <json-c/json.h>

#include "host/ctrl.h"

#define DN_DAEMON_MAX_CTRLS 64

int dn_daemon_connect_opts(struct dn_ctrl_opts *o, struct json_object *req, struct dn_err *e);
struct json_object *dn_daemon_ctrl_json(struct dn_ctrl *c);

/*
 * The daemon's controllers. A connect takes seconds (address resolution, the admin queue, the
 * initial scan) and runs on its own thread: its controller is reserved here first, so that a
 * second connect to the same subsystem is refused while the first is still in progress, and is
 * published (listed, disconnectable) once it has its devices. A disconnect that matches a
 * connect in progress cancels it: the connect deletes what it made and answers with an error.
 * Nothing here blocks on a controller: whoever takes a controller out deletes it after unlock.
 */
struct dn_ctrl_table {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a cancelled connect has ended; a hold was let go */
	struct dn_ctrl *ctrls[DN_DAEMON_MAX_CTRLS];
	int nr_ctrls;
	struct dn_ctrl *connecting[DN_DAEMON_MAX_CTRLS];
	bool cancelled[DN_DAEMON_MAX_CTRLS];
	int nr_connecting;
	int nr_cancelled; /* connects cancelled and not yet ended */
	int next_instance;
	bool closed; /* the daemon is ending: no more reserves */
};

void dn_table_init(struct dn_ctrl_table *t);
/* Reserve c for a connect: -EALREADY (the same subsystem, address and host is connected or
 * connecting, unless dup_ok), -ENOSPC, -ESHUTDOWN once closed; sets c->instance. */
int dn_table_reserve(struct dn_ctrl_table *t, struct dn_ctrl *c, bool dup_ok, struct dn_err *e);
/* true when a disconnect has cancelled c's connect */
bool dn_table_cancelled(struct dn_ctrl_table *t, struct dn_ctrl *c);
/* The connect succeeded: list c. false when it was cancelled (c stays reserved: delete it,
 * then dn_table_release()). */
bool dn_table_publish(struct dn_ctrl_table *t, struct dn_ctrl *c);
/* A reserved connect is over without being published (it failed, or was cancelled and c is
 * deleted). */
void dn_table_release(struct dn_ctrl_table *t, struct dn_ctrl *c);
/*
 * Take the listed controllers that match (all; or of subsystem subnqn; or serving device
 * dev) out of the table into out[] for the caller to delete, and cancel the connects in
 * progress that match (all, or subnqn). Returns how many were taken; *nr_cancelled: how many
 * connects were cancelled.
 */
int dn_table_take(struct dn_ctrl_table *t, bool all, const char *subnqn, const char *dev,
		  struct dn_ctrl **out, int *nr_cancelled);
/*
 * A request that uses a listed controller without the lock holds it: found by a device it
 * serves (a live one first), with that device's namespace ID. NULL when no listed controller
 * serves dev. Whoever takes a held controller out waits for dn_table_unhold() before deleting
 * it (dn_table_wait_unheld()).
 */
struct dn_ctrl *dn_table_hold_dev(struct dn_ctrl_table *t, const char *dev, uint32_t *nsid);
void dn_table_unhold(struct dn_ctrl_table *t, struct dn_ctrl *c);
void dn_table_wait_unheld(struct dn_ctrl_table *t, struct dn_ctrl *c);
/* Take the controllers that gave up (DEAD) out of the table, as dn_table_take(). */
int dn_table_take_dead(struct dn_ctrl_table *t, struct dn_ctrl **out);
/* Wait until every cancelled connect has ended (its devices are gone). */
void dn_table_wait_cancelled(struct dn_ctrl_table *t);
/* No controller listed and no connect in progress */
bool dn_table_empty(struct dn_ctrl_table *t);
/*
 * Auto-exit: when the table is empty, close it (every later reserve fails) and return true,
 * in one step, so that a connect cannot slip in between the decision and the exit.
 */
bool dn_table_close_if_empty(struct dn_ctrl_table *t);
/* The daemon ends: every later reserve fails. */
void dn_table_close(struct dn_ctrl_table *t);
bool dn_table_closed(struct dn_ctrl_table *t);
/* The listed controllers, as the list request answers */
struct json_object *dn_table_json(struct dn_ctrl_table *t);

#endif
