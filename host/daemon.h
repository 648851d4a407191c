/* SPDX-License-Identifier: MIT */
/*
 * The daemon's control-socket protocol pieces that tests step without a daemon: decoding a
 * connect request into controller options (untrusted: every field checked) and the JSON a
 * controller is listed as.
 */
#ifndef DISNVME_HOST_DAEMON_H
#define DISNVME_HOST_DAEMON_H

#include <json-c/json.h>

#include "host/ctrl.h"

int dn_daemon_connect_opts(struct dn_ctrl_opts *o, struct json_object *req, struct dn_err *e);
struct json_object *dn_daemon_ctrl_json(struct dn_ctrl *c);

#endif
