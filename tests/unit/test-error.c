/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for result codes and the per-handle error slot. */
#include "config.h"

#include <errno.h>
#include <qresync/error.h>

#include "../tap.h"
#include "util/error.h"

static void test_strerror_texts(void)
{
    CHECK_STR_EQ(qr_strerror(QR_OK), "success");
    CHECK_STR_EQ(qr_strerror(QR_ENOMEM), "out of memory");
    CHECK_STR_EQ(qr_strerror(QR_EPROTO), "protocol error");
    CHECK_STR_EQ(qr_strerror(QR_ELOCKED), "state database is locked");
    CHECK_STR_EQ(qr_strerror(QR_PAUSE), "paused");
    CHECK_STR_EQ(qr_strerror(-999), "unknown error");
    CHECK_STR_EQ(qr_strerror(77), "unknown error");
}

static void test_every_code_has_its_own_text(void)
{
    int a, b;

    for (a = QR_EUSER; a <= QR_PAUSE; a++)
        for (b = a + 1; b <= QR_PAUSE; b++)
            if (strcmp(qr_strerror(a), qr_strerror(b)) == 0)
                printf("# same text for %d and %d\n", a, b), tap_current_bad = 1;
    for (a = QR_EUSER; a <= QR_PAUSE; a++)
        CHECK(strcmp(qr_strerror(a), "unknown error") != 0);
}

static void test_fatal_classification(void)
{
    CHECK_INT_EQ(qr_error_is_fatal(QR_EPROTO), 1);
    CHECK_INT_EQ(qr_error_is_fatal(QR_EOF), 1);
    CHECK_INT_EQ(qr_error_is_fatal(QR_ETLS), 1);
    CHECK_INT_EQ(qr_error_is_fatal(QR_EBYE), 1);
    CHECK_INT_EQ(qr_error_is_fatal(QR_ENO), 0);
    CHECK_INT_EQ(qr_error_is_fatal(QR_ELIMIT), 0);
    CHECK_INT_EQ(qr_error_is_fatal(QR_OK), 0);
    CHECK_INT_EQ(qr_error_is_fatal(QR_PAUSE), 0);
    CHECK_INT_EQ(qr_error_is_fatal(-999), 0);
}

static void test_slot_records_code_message_and_detail(void)
{
    qr_errslot slot;
    const qr_error *e;
    int rc;

    qr_errslot_clear(&slot);
    e = qr_errslot_get(&slot);
    CHECK_INT_EQ(e->code, QR_OK);
    CHECK_STR_EQ(e->message, "");
    CHECK(e->resp_code == NULL);

    rc = qr_err_set(&slot, QR_ENO, "SELECT %s failed", "INBOX");
    CHECK_INT_EQ(rc, QR_ENO);
    qr_errslot_set_resp(&slot, "NONEXISTENT", "Mailbox doesn't exist");
    e = qr_errslot_get(&slot);
    CHECK_INT_EQ(e->code, QR_ENO);
    CHECK_STR_EQ(e->message, "SELECT INBOX failed");
    CHECK_STR_EQ(e->resp_code, "NONEXISTENT");
    CHECK_STR_EQ(e->resp_text, "Mailbox doesn't exist");
    CHECK_INT_EQ(e->sys_errno, 0);
#if QR_ENABLE_ERROR_ORIGIN
    CHECK(e->origin != NULL && strstr(e->origin, "test-error.c:") != NULL);
#else
    CHECK(e->origin == NULL);
#endif

    /* a new error resets everything of the old one */
    qr_err_set(&slot, QR_EIO, "connect to %s", "127.0.0.1:143");
    qr_errslot_set_errno(&slot, ECONNREFUSED);
    e = qr_errslot_get(&slot);
    CHECK_INT_EQ(e->code, QR_EIO);
    CHECK_INT_EQ(e->sys_errno, ECONNREFUSED);
    CHECK_STR_EQ(e->message, "connect to 127.0.0.1:143: Connection refused");
    CHECK(e->resp_code == NULL);
    CHECK(e->resp_text == NULL);

    qr_err_set(&slot, QR_ESTORE, "database");
    qr_errslot_set_lib_code(&slot, 5);
    CHECK_INT_EQ(qr_errslot_get(&slot)->lib_code, 5);
    qr_errslot_clear(&slot);
    CHECK_INT_EQ(qr_errslot_get(&slot)->lib_code, 0);
}

static void test_long_texts_are_cut_not_overflowed(void)
{
    qr_errslot slot;
    char big[5000];
    const qr_error *e;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    qr_errslot_clear(&slot);
    qr_err_set(&slot, QR_EPROTO, "%s", big);
    qr_errslot_set_resp(&slot, big, big);
    e = qr_errslot_get(&slot);
    CHECK_UINT_EQ(strlen(e->message), QR_ERR_MESSAGE_MAX - 1);
    CHECK_STR_EQ(e->message + QR_ERR_MESSAGE_MAX - 4, "...");
    CHECK_UINT_EQ(strlen(e->resp_code), QR_ERR_RESP_CODE_MAX - 1);
    CHECK_UINT_EQ(strlen(e->resp_text), QR_ERR_RESP_TEXT_MAX - 1);
    CHECK_STR_EQ(e->resp_text + QR_ERR_RESP_TEXT_MAX - 4, "...");
    qr_errslot_set_errno(&slot, EPIPE);
    CHECK_UINT_EQ(strlen(qr_errslot_get(&slot)->message), QR_ERR_MESSAGE_MAX - 1);
}

int main(void)
{
    TAP_RUN(test_strerror_texts);
    TAP_RUN(test_every_code_has_its_own_text);
    TAP_RUN(test_fatal_classification);
    TAP_RUN(test_slot_records_code_message_and_detail);
    TAP_RUN(test_long_texts_are_cut_not_overflowed);
    return tap_done();
}
