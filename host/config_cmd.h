/* SPDX-License-Identifier: MIT */
/*
 * `disnvme config add|remove|list`: edit and show discovery.conf (the list connect-all and the
 * disnvme-connect-all timer work from) without the user editing it by hand.
 */
#ifndef DISNVME_HOST_CONFIG_CMD_H
#define DISNVME_HOST_CONFIG_CMD_H

/*
 * argv[0] is "config", argv[1] the action. Returns the exit status: 0 done, 1 failed (the
 * message on stderr says why; for list: some line of the file is not used), 2 bad command line.
 */
int dn_cmd_config(int argc, char **argv);

#endif
