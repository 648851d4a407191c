#!/usr/bin/env bash
# The README's first command's work, as a test: disnvme-target on soft-RoCE, disnvme connect,
# a ublk block device, data written and read back identical, clean disconnect and exit.
. "$DISNVME_SRC/tests/vm/main-job-guest.sh"
