/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-api: linked against libqresync.so only (no internal objects), it
 * calls every exported function once, through the public headers, as an
 * outside program would.
 */
#include <qresync/qresync.h>
#include <string.h>

#include "../tap.h"

static void test_version_matches_headers(void)
{
    CHECK_STR_EQ(qr_version(), QR_VERSION_STRING);
    CHECK_INT_EQ(QR_VERSION_NUMBER,
                 QR_VERSION_MAJOR * 10000 + QR_VERSION_MINOR * 100 + QR_VERSION_PATCH);
}

static void test_errors_through_the_shared_library(void)
{
    CHECK_STR_EQ(qr_strerror(QR_EAUTH), "authentication failed");
    CHECK_INT_EQ(qr_error_is_fatal(QR_ECOMPRESS), 1);
    CHECK_INT_EQ(qr_error_is_fatal(QR_ECAPABILITY), 0);
}

static void test_buf_dispose_accepts_empty_and_borrowed(void)
{
    qr_buf empty = QR_BUF_INIT;
    char mine[] = "not the library's";
    qr_buf borrowed;

    qr_buf_dispose(&empty);
    qr_buf_dispose(NULL);
    borrowed.ptr = mine;
    borrowed.size = strlen(mine);
    borrowed.reserved = 0; /* not owned: dispose must not free it */
    qr_buf_dispose(&borrowed);
    CHECK(borrowed.ptr == NULL);
    CHECK_UINT_EQ(borrowed.size, 0);
}

int main(void)
{
    TAP_RUN(test_version_matches_headers);
    TAP_RUN(test_errors_through_the_shared_library);
    TAP_RUN(test_buf_dispose_accepts_empty_and_borrowed);
    return tap_done();
}
