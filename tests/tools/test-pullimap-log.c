/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-pullimap-log.c: pullimap's message sink (tools/pullimap/log.c):
 * the fixed prefix with the section and the selected mailbox, --quiet,
 * the three library callbacks (pull, IMAP connection, SMTP client), the
 * held ERROR lines and their three releases, one-line server text and the
 * summary line.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "capture.h"
#include "log.h"

static const char *mailbox;

static const char *get_mailbox(void *arg)
{
    (void)arg;
    return mailbox;
}

static void setup(struct pl_log *lg, int fd, int quiet, int debug)
{
    pl_log_init(lg, "acct", quiet, debug, fd);
    lg->selected = get_mailbox;
    mailbox = NULL;
}

#define CB(fn, lg, level, cat, text) fn(level, cat, text, strlen(text), lg)

static void test_write(void)
{
    struct pl_log lg;
    int fd = capture_fd();

    setup(&lg, fd, 0, 0);
    pl_log_write(&lg, 0, "IMAP traffic (bytes): recv 1.19K sent 309");
    CHECK_CAPTURED(fd, "acct: IMAP traffic (bytes): recv 1.19K sent 309\n");
    mailbox = "INBOX";
    pl_log_write(&lg, PL_LOG_MAILBOX, "x");
    pl_log_write(&lg, 0, "y");
    pl_log_write(&lg, PL_LOG_NOPREFIX | PL_LOG_MAILBOX, "Corrupted state file!");
    CHECK_CAPTURED(fd, "acct(INBOX): x\nacct: y\nCorrupted state file!\n");
    /* Control bytes of a configured mailbox name are escaped. */
    mailbox = "a\tb";
    pl_log_printf(&lg, PL_LOG_MAILBOX | PL_LOG_QUIET, "UID %d", 3);
    CHECK_CAPTURED(fd, "acct(a\\x09b): UID 3\n");
    pl_log_close(&lg);

    setup(&lg, fd, 1, 0);
    pl_log_write(&lg, PL_LOG_QUIET, "IMAP traffic (bytes): recv 0 sent 0");
    pl_log_write(&lg, 0, "WARNING: w");
    CHECK_CAPTURED(fd, "acct: WARNING: w\n");
    pl_log_close(&lg);
    close(fd);
}

static void test_pull_cb(void)
{
    struct pl_log lg;
    int fd = capture_fd();

    setup(&lg, fd, 0, 1);
    mailbox = "INBOX";
    CB(pl_log_pull_cb, &lg, QR_LOG_INFO, QR_LOG_EVENT, "UID 1 from <a@b> (d)");
    CB(pl_log_pull_cb, &lg, QR_LOG_WARNING, QR_LOG_EVENT, "odd");
    CB(pl_log_pull_cb, &lg, QR_LOG_WARNING, QR_LOG_EVENT, "WARNING: odder");
    CB(pl_log_pull_cb, &lg, QR_LOG_DEBUG, QR_LOG_EVENT, "Update last clean state for INBOX: ()");
    mailbox = NULL;
    CB(pl_log_pull_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "not held");
    CHECK_CAPTURED(fd,
                   "acct(INBOX): UID 1 from <a@b> (d)\nacct(INBOX): WARNING: odd\n"
                   "acct(INBOX): WARNING: odder\n"
                   "acct(INBOX): Update last clean state for INBOX: ()\nacct: ERROR: not held\n");
    pl_log_close(&lg);

    /* --quiet drops INFO only. */
    setup(&lg, fd, 1, 0);
    CB(pl_log_pull_cb, &lg, QR_LOG_INFO, QR_LOG_EVENT, "Removing 1 UID(s) 5");
    CB(pl_log_pull_cb, &lg, QR_LOG_WARNING, QR_LOG_EVENT, "w");
    CHECK_CAPTURED(fd, "acct: WARNING: w\n");
    pl_log_close(&lg);
    close(fd);
}

static void test_hold(void)
{
    struct pl_log lg;
    int fd = capture_fd();

    setup(&lg, fd, 0, 0);
    pl_log_hold(&lg);
    mailbox = "INBOX";
    CB(pl_log_pull_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "ERROR: UIDVALIDITY changed! (1 != 2)");
    mailbox = NULL;
    CB(pl_log_pull_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "second: the first one is kept");
    CB(pl_log_pull_cb, &lg, QR_LOG_INFO, QR_LOG_EVENT, "info passes");
    CHECK_CAPTURED(fd, "acct: info passes\n");
    CHECK_INT_EQ(pl_log_release(&lg, PL_RELEASE_ERROR), 1);
    CHECK_CAPTURED(fd, "acct(INBOX): ERROR: UIDVALIDITY changed! (1 != 2)\n");
    CHECK_INT_EQ(pl_log_release(&lg, PL_RELEASE_ERROR), 0);

    pl_log_hold(&lg);
    CB(pl_log_pull_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "Corrupted state file!");
    CHECK_INT_EQ(pl_log_release(&lg, PL_RELEASE_DIE), 1);
    CHECK_CAPTURED(fd, "Corrupted state file!\n");

    pl_log_hold(&lg);
    CB(pl_log_pull_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "connection reset");
    CHECK_INT_EQ(pl_log_release(&lg, PL_RELEASE_DROP), 1);
    CHECK_CAPTURED(fd, "");
    /* Not holding any more: shown at once. */
    CB(pl_log_pull_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "now");
    CHECK_CAPTURED(fd, "acct: ERROR: now\n");
    /* Closing drops what is held. */
    pl_log_hold(&lg);
    CB(pl_log_pull_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "never");
    pl_log_close(&lg);
    CHECK_CAPTURED(fd, "");
    close(fd);
}

static void test_conn_cb(void)
{
    struct pl_log lg;
    int fd = capture_fd();

    setup(&lg, fd, 1, 0);
    mailbox = "INBOX";
    CB(pl_log_conn_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "dropped without --debug");
    CB(pl_log_conn_cb, &lg, QR_LOG_INFO, QR_LOG_EVENT, "[ALERT] shown even quiet");
    CB(pl_log_conn_cb, &lg, QR_LOG_WARNING, QR_LOG_EVENT, "w");
    CHECK_CAPTURED(fd, "acct(INBOX): [ALERT] shown even quiet\nacct(INBOX): WARNING: w\n");
    pl_log_close(&lg);

    setup(&lg, fd, 0, 1);
    CB(pl_log_conn_cb, &lg, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: A1 LOGIN <redacted> <redacted>");
    CB(pl_log_conn_cb, &lg, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "* PREAUTH");
    mailbox = "INBOX";
    CB(pl_log_conn_cb, &lg, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "A2 IDLE");
    CB(pl_log_conn_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "read: reset");
    CHECK_CAPTURED(fd, "acct: C: xxx LOGIN [REDACTED]\nacct: S: * PREAUTH\nacct(INBOX): C: A2 IDLE\n"
                       "acct(INBOX): ERROR: read: reset\n");
    pl_log_close(&lg);
    close(fd);
}

static void test_smtp_cb(void)
{
    struct pl_log lg;
    int fd = capture_fd();

    setup(&lg, fd, 0, 1);
    mailbox = "INBOX";
    CB(pl_log_smtp_cb, &lg, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "S: 220 fake ESMTP");
    CB(pl_log_smtp_cb, &lg, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "EHLO localhost.localdomain");
    CB(pl_log_smtp_cb, &lg, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: AUTH PLAIN <redacted>");
    CB(pl_log_smtp_cb, &lg, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: [...]");
    CB(pl_log_smtp_cb, &lg, QR_LOG_WARNING, QR_LOG_EVENT, "w");
    CB(pl_log_smtp_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "e");
    CHECK_CAPTURED(fd,
                   "S: 220 fake ESMTP\nC: EHLO localhost.localdomain\nC: AUTH PLAIN [REDACTED]\n"
                   "C: [...]\nacct(INBOX): WARNING: w\nERROR: e\n");
    pl_log_close(&lg);

    setup(&lg, fd, 0, 0);
    CB(pl_log_smtp_cb, &lg, QR_LOG_ERROR, QR_LOG_EVENT, "e");
    CHECK_CAPTURED(fd, "");
    pl_log_close(&lg);
    close(fd);
}

static void test_clean(void)
{
    static const char text[] = "first line\r\nsecond\nthird\r\x01\x7f end";
    char *s = pl_log_clean(text, sizeof(text) - 1);

    CHECK_STR_EQ(s, "first line second third \\x01\\x7f end");
    free(s);
    s = pl_log_clean("ab", 1);
    CHECK_STR_EQ(s, "a");
    free(s);
}

static void test_summary(void)
{
    struct pl_summary s = {3, 3 * 1048576 / 2, 1, 2, 0.456, 0};
    char *t = pl_summary_text(&s);

    CHECK_STR_EQ(t, "Summary: 3 messages delivered (1.5 MiB), 1 deferred, 2 purged in 0.46 s");
    free(t);
    s.no_delivery = 1;
    t = pl_summary_text(&s);
    CHECK_STR_EQ(t, "Summary: 3 messages marked without delivery, 2 purged in 0.46 s");
    free(t);
}

int main(void)
{
    TAP_RUN(test_write);
    TAP_RUN(test_pull_cb);
    TAP_RUN(test_hold);
    TAP_RUN(test_conn_cb);
    TAP_RUN(test_smtp_cb);
    TAP_RUN(test_clean);
    TAP_RUN(test_summary);
    return tap_done();
}
