/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.c: the failure classifier of watch mode (watch.h): the common
 * lost-connection test of tools/common/retry.c, minus the database's
 * failures. Pure code: tests/tools/test-interimap-watch.c runs it.
 */
#include "watch.h"
#include "retry.h"

int im_connection_lost(int code, qr_sync_component comp, int cancelled)
{
    /* QR_EIO of the database is a disk error, not a lost connection. */
    if (comp == QR_SYNC_COMP_DATABASE)
        return 0;
    return qrt_connection_lost(code, cancelled);
}
