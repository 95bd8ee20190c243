/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-interimap-watch.c: interimap's watch-mode helper
 * (tools/interimap/watch.c): which failures are a lost connection (the
 * program reconnects) and which end the program. The back-off sequence
 * and the sleep that a signal cuts short without losing it are
 * tools/common/retry.c's, tested in test-common.c.
 */
#include <qresync/error.h>

#include "../tap.h"
#include "watch.h"

static void test_connection_codes(void)
{
    static const int lost[] = {QR_EOF, QR_EIO, QR_ETLS, QR_EBYE, QR_ECOMPRESS, QR_EAGAIN};
    static const qr_sync_component sides[] = {QR_SYNC_COMP_LOCAL, QR_SYNC_COMP_REMOTE,
                                              QR_SYNC_COMP_NONE};

    for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
        for (size_t j = 0; j < 3; j++) {
            CHECK_INT_EQ(im_connection_lost(lost[i], sides[j], 0), 1);
            /* our own cancellation does not change what a lost stream is */
            CHECK_INT_EQ(im_connection_lost(lost[i], sides[j], 1), 1);
        }
}

static void test_cancelled(void)
{
    /* commands aborted because their connection died */
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_REMOTE, 0), 1);
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_NONE, 0), 1);
    /* the cancellation a signal asked for */
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_REMOTE, 1), 0);
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_NONE, 1), 0);
}

static void test_not_connection(void)
{
    static const int fatal[] = {
        QR_OK,      QR_ERROR, QR_ENOMEM, QR_EINVAL,      QR_EPROTO,       QR_ELIMIT,
        QR_ENO,     QR_EBAD,  QR_EAUTH,  QR_ECAPABILITY, QR_EUIDVALIDITY, QR_ESTORE,
        QR_ELOCKED, QR_EUSER, QR_PAUSE,  -1000,
    };

    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        CHECK_INT_EQ(im_connection_lost(fatal[i], QR_SYNC_COMP_LOCAL, 0), 0);
        CHECK_INT_EQ(im_connection_lost(fatal[i], QR_SYNC_COMP_REMOTE, 0), 0);
        CHECK_INT_EQ(im_connection_lost(fatal[i], QR_SYNC_COMP_NONE, 0), 0);
    }
    /* an I/O error of the database is a disk problem, not a connection */
    CHECK_INT_EQ(im_connection_lost(QR_EIO, QR_SYNC_COMP_DATABASE, 0), 0);
    CHECK_INT_EQ(im_connection_lost(QR_EOF, QR_SYNC_COMP_DATABASE, 0), 0);
    CHECK_INT_EQ(im_connection_lost(QR_ECANCELED, QR_SYNC_COMP_DATABASE, 0), 0);
}

int main(void)
{
    TAP_RUN(test_connection_codes);
    TAP_RUN(test_cancelled);
    TAP_RUN(test_not_connection);
    return tap_done();
}
