/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-interimap-log.c: interimap's log sink and report texts
 * (tools/interimap/log.c, report.c): the log-file timestamp with a fixed
 * time, the prefix, --quiet, the routing of the two channels, the
 * library's callbacks, the status line, the summary and progress texts.
 * The helpers they use from tools/common/ (the wire-line text, the
 * traffic line) are tested in test-common.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"
#include "capture.h"
#include "exitcodes.h"
#include "log.h"
#include "report.h"

/* 2025-11-28 15:40:34 UTC and 5003 µs. */
static void fixed_clock(struct timeval *tv)
{
    tv->tv_sec = 1764344434;
    tv->tv_usec = 5003;
}

struct fixture {
    struct im_log lg;
    int err;  /* what would be stderr */
    int file; /* the log file, or -1 */
};

static void setup(struct fixture *f, const char *prefix, int quiet, int with_file)
{
    f->err = capture_fd();
    f->file = with_file ? capture_fd() : -1;
    im_log_init(&f->lg, prefix, quiet, f->err);
    f->lg.file_fd = f->file;
    f->lg.clock = fixed_clock;
}

static void teardown(struct fixture *f)
{
    im_log_close(&f->lg); /* closes f->file */
    close(f->err);
}

static void test_timestamp(void)
{
    struct timeval tv = {1764344434, 5003};
    char buf[64];

    CHECK_UINT_EQ(im_log_timestamp(buf, sizeof(buf), &tv), 20);
    CHECK_STR_EQ(buf, "Nov 28 15:40:34.5003"); /* unpadded microseconds, as the reference */
    tv.tv_usec = 995003;
    im_log_timestamp(buf, sizeof(buf), &tv);
    CHECK_STR_EQ(buf, "Nov 28 15:40:34.995003");
    tv.tv_sec = 1772528707; /* 2026-03-03 09:05:07: %e pads the day with a space */
    tv.tv_usec = 0;
    im_log_timestamp(buf, sizeof(buf), &tv);
    CHECK_STR_EQ(buf, "Mar  3 09:05:07.0");
    CHECK_UINT_EQ(im_log_timestamp(buf, 10, &tv), 0); /* too small */
}

static void test_prefix(void)
{
    struct fixture f;

    setup(&f, NULL, 0, 0);
    im_log_write(&f.lg, IM_LOG, 0, NULL, NULL, "Creating new schema");
    im_log_write(&f.lg, IM_LOG, 0, "local", NULL, "Created mailbox x");
    im_log_write(&f.lg, IM_LOG, 0, "local", "INBOX", "Added 1 UID(s) 1 <- 1");
    im_log_write(&f.lg, IM_LOG, 0, "remote", "a\x1b[2Jb", "x"); /* server bytes escaped */
    CHECK_CAPTURED(f.err, "Creating new schema\n"
                          "local: Created mailbox x\n"
                          "local(INBOX): Added 1 UID(s) 1 <- 1\n"
                          "remote(a\\x1b[2Jb): x\n");
    teardown(&f);

    setup(&f, "%?m?<%m>&-? [%n] ", 0, 0);
    im_log_write(&f.lg, IM_LOG, 0, NULL, NULL, "a");
    im_log_write(&f.lg, IM_DEBUG, 0, "database", "Sent", "b");
    im_log_printf(&f.lg, IM_LOG, 0, "local", NULL, "n=%d", 5);
    CHECK_CAPTURED(f.err, "- [] a\n<Sent> [database] b\n- [local] n=5\n");
    teardown(&f);
}

static void test_channels_without_file(void)
{
    struct fixture f;

    setup(&f, NULL, 0, 0);
    im_log_write(&f.lg, IM_LOG, 0, "local", NULL, "info");
    im_log_write(&f.lg, IM_DEBUG, 0, "local", NULL, "C: L1 NOOP");
    CHECK_CAPTURED(f.err, "local: info\nlocal: C: L1 NOOP\n");
    teardown(&f);
}

static void test_channels_with_file(void)
{
    struct fixture f;

    setup(&f, NULL, 0, 1);
    im_log_write(&f.lg, IM_LOG, 0, "local", "INBOX", "WARNING: w");
    im_log_write(&f.lg, IM_DEBUG, 0, NULL, NULL, ">>> interimap 0.1.0");
    im_log_write(&f.lg, IM_DEBUG, 0, "remote", NULL, "S: * OK");
    CHECK_CAPTURED(f.err, "local(INBOX): WARNING: w\n"); /* debug lines only in the file */
    CHECK_CAPTURED(f.file, "Nov 28 15:40:34.5003 local(INBOX): WARNING: w\n"
                           "Nov 28 15:40:34.5003 >>> interimap 0.1.0\n"
                           "Nov 28 15:40:34.5003 remote: S: * OK\n");
    teardown(&f);
}

static void test_quiet(void)
{
    struct fixture f;
    qr_sync_log_line line = {QR_LOG_INFO, QR_SYNC_COMP_LOCAL, "INBOX", "Added 1 UID(s) 1 <- 1",
                             21,          QR_SYNC_LOG_QUIET};

    setup(&f, NULL, 1, 1);
    im_log_write(&f.lg, IM_LOG, IM_LOG_QUIET, "local", NULL, "IMAP traffic (bytes): recv 0");
    im_log_write(&f.lg, IM_LOG, 0, "database", NULL, "Created mailbox INBOX");
    im_log_sync_cb(&line, &f.lg); /* quiet line: dropped */
    line.flags = 0;
    line.text = "Resuming interrupted sync for INBOX";
    line.len = strlen(line.text);
    line.component = QR_SYNC_COMP_NONE;
    line.mailbox = NULL;
    im_log_sync_cb(&line, &f.lg);
    CHECK_CAPTURED(f.err, "database: Created mailbox INBOX\nResuming interrupted sync for INBOX\n");
    CHECK_CAPTURED(f.file, "Nov 28 15:40:34.5003 database: Created mailbox INBOX\n"
                           "Nov 28 15:40:34.5003 Resuming interrupted sync for INBOX\n");
    teardown(&f);

    setup(&f, NULL, 0, 0); /* without --quiet the same line is printed */
    line = (qr_sync_log_line){QR_LOG_INFO, QR_SYNC_COMP_REMOTE, "INBOX", "Added 2 UID(s)",
                              10,          QR_SYNC_LOG_QUIET};
    im_log_sync_cb(&line, &f.lg); /* len is honoured */
    CHECK_CAPTURED(f.err, "remote(INBOX): Added 2 UI\n");
    teardown(&f);
}

static void test_sync_cb_levels(void)
{
    struct fixture f;
    qr_sync_log_line line = {QR_LOG_DEBUG, QR_SYNC_COMP_DATABASE, NULL, "Clean state!", 12, 0};

    setup(&f, NULL, 0, 1);
    im_log_sync_cb(&line, &f.lg);
    line.level = QR_LOG_ERROR;
    line.component = QR_SYNC_COMP_NONE;
    line.text = "ERROR: INBOX can't be deleted";
    line.len = strlen(line.text);
    im_log_sync_cb(&line, &f.lg);
    CHECK_CAPTURED(f.err, "ERROR: INBOX can't be deleted\n");
    CHECK_CAPTURED(f.file, "Nov 28 15:40:34.5003 database: Clean state!\n"
                           "Nov 28 15:40:34.5003 ERROR: INBOX can't be deleted\n");
    teardown(&f);
    CHECK(im_log_component_name(QR_SYNC_COMP_NONE) == NULL);
    CHECK_STR_EQ(im_log_component_name(QR_SYNC_COMP_LOCAL), "local");
    CHECK_STR_EQ(im_log_component_name(QR_SYNC_COMP_REMOTE), "remote");
    CHECK_STR_EQ(im_log_component_name(QR_SYNC_COMP_DATABASE), "database");
}

static const char *selected_inbox(void *arg)
{
    return *(int *)arg ? "INBOX" : NULL;
}

static void conn_line(struct im_log_side *side, qr_log_level level, qr_log_category cat,
                      const char *text)
{
    im_log_conn_cb(level, cat, text, strlen(text), side);
}

static void test_conn_cb(void)
{
    struct fixture f;
    int selected = 0;
    struct im_log_side side;

    setup(&f, NULL, 0, 1);
    side = (struct im_log_side){&f.lg, "local", selected_inbox, &selected, 1, {""}};
    conn_line(&side, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: L1 LOGIN <redacted> <redacted>");
    conn_line(&side, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "S: L1 OK Logged in");
    selected = 1;
    conn_line(&side, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "* 1 EXISTS");
    conn_line(&side, QR_LOG_DEBUG, QR_LOG_EVENT, "SSL protocol: TLSv1.3");
    conn_line(&side, QR_LOG_ERROR, QR_LOG_EVENT, "tunnel x: 0 bytes read");
    conn_line(&side, QR_LOG_WARNING, QR_LOG_EVENT, "Fingerprint doesn't match!");
    conn_line(&side, QR_LOG_INFO, QR_LOG_EVENT, "[ALERT] disk full");
    CHECK_CAPTURED(f.err, "local(INBOX): WARNING: Fingerprint doesn't match!\n"
                          "local(INBOX): [ALERT] disk full\n");
    CHECK_CAPTURED(f.file,
                   "Nov 28 15:40:34.5003 local: C: xxx LOGIN [REDACTED]\n"
                   "Nov 28 15:40:34.5003 local: S: xxx OK Logged in\n"
                   "Nov 28 15:40:34.5003 local(INBOX): S: * 1 EXISTS\n"
                   "Nov 28 15:40:34.5003 local(INBOX): SSL protocol: TLSv1.3\n"
                   "Nov 28 15:40:34.5003 local(INBOX): ERROR: tunnel x: 0 bytes read\n"
                   "Nov 28 15:40:34.5003 local(INBOX): WARNING: Fingerprint doesn't match!\n"
                   "Nov 28 15:40:34.5003 local(INBOX): [ALERT] disk full\n");
    teardown(&f);

    setup(&f, NULL, 1, 0); /* --quiet keeps warnings and alerts; no getter: no %m */
    side = (struct im_log_side){&f.lg, "remote", NULL, NULL, 0, {""}};
    conn_line(&side, QR_LOG_WARNING, QR_LOG_EVENT, "w");
    conn_line(&side, QR_LOG_INFO, QR_LOG_EVENT, "[ALERT] a");
    CHECK_CAPTURED(f.err, "remote: WARNING: w\nremote: [ALERT] a\n");
    teardown(&f);

    /* Without --debug the connection's ERROR events are dropped: the engine
     * reports the failure itself (it would be printed twice). */
    setup(&f, NULL, 0, 0);
    side = (struct im_log_side){&f.lg, "local", NULL, NULL, 0, {""}};
    conn_line(&side, QR_LOG_ERROR, QR_LOG_EVENT, "tunnel x: 0 bytes read");
    CHECK_CAPTURED(f.err, "");
    teardown(&f);
    setup(&f, NULL, 0, 1);
    side = (struct im_log_side){&f.lg, "local", NULL, NULL, 0, {""}};
    conn_line(&side, QR_LOG_ERROR, QR_LOG_EVENT, "tunnel x: 0 bytes read");
    CHECK_CAPTURED(f.err, "");
    CHECK_CAPTURED(f.file, "");
    teardown(&f);
}

static void sync_line(struct im_log *lg, qr_log_level level, qr_sync_component comp,
                      const char *mailbox, const char *text)
{
    qr_sync_log_line line = {level, comp, mailbox, text, strlen(text), 0};

    im_log_sync_cb(&line, lg);
}

static void test_hold(void)
{
    struct fixture f;

    /* Held ERROR lines are dropped on request... */
    setup(&f, NULL, 0, 1);
    im_log_hold(&f.lg);
    sync_line(&f.lg, QR_LOG_ERROR, QR_SYNC_COMP_REMOTE, NULL, "ERROR: 0 bytes read (got EOF)");
    sync_line(&f.lg, QR_LOG_DEBUG, QR_SYNC_COMP_NONE, NULL, "trace"); /* does not flush */
    CHECK_CAPTURED(f.err, "");
    im_log_release(&f.lg, 0);
    im_log_write(&f.lg, IM_LOG, 0, NULL, NULL, "WARNING: lost connection");
    CHECK_CAPTURED(f.err, "WARNING: lost connection\n");
    CHECK_CAPTURED(f.file, "Nov 28 15:40:34.5003 trace\n"
                           "Nov 28 15:40:34.5003 WARNING: lost connection\n");

    /* ... or printed, in order, with their component and mailbox */
    im_log_hold(&f.lg);
    sync_line(&f.lg, QR_LOG_INFO, QR_SYNC_COMP_LOCAL, "a", "Added 1 UID(s) 1 <- 1");
    sync_line(&f.lg, QR_LOG_ERROR, QR_SYNC_COMP_LOCAL, "a", "ERROR: NO [x] y");
    sync_line(&f.lg, QR_LOG_ERROR, QR_SYNC_COMP_NONE, NULL, "ERROR: second");
    CHECK_CAPTURED(f.err, "local(a): Added 1 UID(s) 1 <- 1\n");
    im_log_release(&f.lg, 1);
    CHECK_CAPTURED(f.err, "local(a): ERROR: NO [x] y\nERROR: second\n");
    CHECK_CAPTURED(f.file, "Nov 28 15:40:34.5003 local(a): Added 1 UID(s) 1 <- 1\n"
                           "Nov 28 15:40:34.5003 local(a): ERROR: NO [x] y\n"
                           "Nov 28 15:40:34.5003 ERROR: second\n");

    /* An informational line after a held one prints it first. */
    im_log_hold(&f.lg);
    sync_line(&f.lg, QR_LOG_ERROR, QR_SYNC_COMP_REMOTE, NULL, "ERROR: x");
    sync_line(&f.lg, QR_LOG_WARNING, QR_SYNC_COMP_NONE, NULL, "WARNING: y");
    CHECK_CAPTURED(f.err, "remote: ERROR: x\nWARNING: y\n");
    im_log_release(&f.lg, 0);
    CHECK_CAPTURED(f.err, "");
    CHECK_CAPTURED(f.file, "Nov 28 15:40:34.5003 remote: ERROR: x\n"
                           "Nov 28 15:40:34.5003 WARNING: y\n");

    /* Not holding: written at once; im_log_close() frees what is held. */
    sync_line(&f.lg, QR_LOG_ERROR, QR_SYNC_COMP_NONE, NULL, "ERROR: z");
    CHECK_CAPTURED(f.err, "ERROR: z\n");
    im_log_hold(&f.lg);
    sync_line(&f.lg, QR_LOG_ERROR, QR_SYNC_COMP_NONE, NULL, "ERROR: never");
    teardown(&f);
}

static void test_status_line(void)
{
    struct fixture f;

    setup(&f, NULL, 0, 1);
    im_log_status(&f.lg, "local <- remote: 1/2 msgs");
    im_log_status(&f.lg, "x");
    im_log_write(&f.lg, IM_LOG, 0, NULL, NULL, "line");
    im_log_status(&f.lg, NULL); /* nothing shown: nothing written */
    im_log_status(&f.lg, "ab");
    im_log_close(&f.lg); /* erases it */
    CHECK_CAPTURED(f.err, "\rlocal <- remote: 1/2 msgs"
                          "\rx                        "
                          "\r \r"
                          "line\n"
                          "\rab"
                          "\r  \r");
    close(f.err);
    CHECK(f.lg.file_fd == -1);
}

static void test_open_file(void)
{
    char dir[] = "/tmp/qrt-imlog-dir-XXXXXX";
    char path[64], bad[96], buf[192];
    struct qrt_err err = QRT_ERR_INIT;
    struct im_log lg;
    int fd, flags;
    ssize_t n;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/log", dir);
    snprintf(bad, sizeof(bad), "%s/missing/log", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    CHECK(write(fd, "old\n", 4) == 4);
    close(fd);

    im_log_init(&lg, NULL, 0, -1);
    lg.clock = fixed_clock;
    CHECK_INT_EQ(im_log_open_file(&lg, bad, &err), -1);
    snprintf(buf, sizeof(buf), "Can't open %s: No such file or directory", bad);
    CHECK_STR_EQ(err.msg, buf);
    CHECK_INT_EQ(err.status, QRT_EXIT_FATAL);
    qrt_err_clear(&err);

    CHECK_INT_EQ(im_log_open_file(&lg, path, &err), 0);
    flags = fcntl(lg.file_fd, F_GETFD);
    CHECK(flags >= 0 && (flags & FD_CLOEXEC));
    CHECK(fcntl(lg.file_fd, F_GETFL) & O_APPEND);
    im_log_write(&lg, IM_DEBUG, 0, NULL, NULL, "Cleaning up...");
    im_log_close(&lg);

    fd = open(path, O_RDONLY);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    CHECK_STR_EQ(buf, "old\nNov 28 15:40:34.5003 Cleaning up...\n");
    unlink(path);
    rmdir(dir);
}

static char *slurp(const char *path)
{
    static char buf[512];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* SIGHUP in watch mode: the handler sets `reopen`, the next line reopens. */
static void test_reopen(void)
{
    char dir[] = "/tmp/qrt-imlog-rot-XXXXXX";
    char path[64], moved[64], buf[192];
    struct qrt_err err = QRT_ERR_INIT;
    struct im_log lg;
    int err_fd = capture_fd();

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/log", dir);
    snprintf(moved, sizeof(moved), "%s/log.1", dir);
    im_log_init(&lg, NULL, 0, err_fd);
    lg.clock = fixed_clock;
    CHECK_INT_EQ(im_log_open_file(&lg, path, &err), 0);
    im_log_write(&lg, IM_DEBUG, 0, NULL, NULL, "one");
    CHECK(rename(path, moved) == 0);                   /* logrotate */
    im_log_write(&lg, IM_DEBUG, 0, NULL, NULL, "two"); /* not asked yet: old file */
    lg.reopen = 1;
    im_log_write(&lg, IM_DEBUG, 0, NULL, NULL, "three");
    CHECK_INT_EQ(lg.reopen, 0);
    CHECK_STR_EQ(slurp(moved), "Nov 28 15:40:34.5003 one\nNov 28 15:40:34.5003 two\n");
    CHECK_STR_EQ(slurp(path), "Nov 28 15:40:34.5003 three\n");
    im_log_reopen_pending(&lg); /* nothing pending: nothing happens */
    CHECK_STR_EQ(slurp(path), "Nov 28 15:40:34.5003 three\n");

    /* The directory is gone: keep the previous file, and say so. */
    CHECK(unlink(path) == 0 && unlink(moved) == 0 && rmdir(dir) == 0);
    lg.reopen = 1;
    im_log_write(&lg, IM_DEBUG, 0, NULL, NULL, "four");
    CHECK(lg.file_fd >= 0);
    snprintf(buf, sizeof(buf), "WARNING: Can't open %s: No such file or directory\n", path);
    CHECK_CAPTURED(err_fd, buf);
    im_log_close(&lg);
    CHECK(lg.path == NULL);
    close(err_fd);
}

static void test_summary(void)
{
    qr_sync_stats s;
    char *text;

    memset(&s, 0, sizeof(s));
    s.mailboxes = 3;
    s.copied[0] = 10;
    s.copied[1] = 2;
    s.copied_bytes[0] = 3 * 1048576;
    s.copied_bytes[1] = 1048576 / 2;
    s.flags_updated[0] = 4;
    s.flags_updated[1] = 1;
    s.expunged[1] = 7;
    text = im_summary_text(&s, 1.234);
    CHECK_STR_EQ(text, "Summary: 3 mailboxes synced, 12 messages copied (local <- remote 10, "
                       "local -> remote 2, 3.5 MiB), 5 flag updates, 7 expunged in 1.23 s");
    free(text);
}

static void test_progress_text(void)
{
    char b[128];

    CHECK_UINT_EQ(im_progress_text(b, sizeof(b), 0, 1234, 5000, 12897484, 4299161.6), 52);
    CHECK_STR_EQ(b, "local <- remote: 1234/5000 msgs, 12.3 MiB, 4.1 MiB/s");
    im_progress_text(b, sizeof(b), 1, 7, 0, 0, -1);
    CHECK_STR_EQ(b, "local -> remote: 7 msgs, 0.0 MiB");
    im_progress_text(b, sizeof(b), 1, 9, 8, 1048576, -1); /* more than announced */
    CHECK_STR_EQ(b, "local -> remote: 9 msgs, 1.0 MiB");
    CHECK_UINT_EQ(im_progress_text(b, 10, 0, 1, 2, 3, 4), 0);
}

static long long fake_ms;

static long long fake_clock(void)
{
    return fake_ms;
}

static void test_progress_cb(void)
{
    struct fixture f;
    struct im_progress p;
    qr_sync_stats s;

    setup(&f, NULL, 0, 1);
    im_progress_init(&p, &f.lg);
    p.clock_ms = fake_clock;
    memset(&s, 0, sizeof(s));
    fake_ms = 10000;
    s.to_copy = 5;
    s.copied[0] = 1;
    s.copied_bytes[0] = 1048576;
    im_progress_cb(&s, "INBOX", &p); /* drawn */
    fake_ms += 100;
    s.copied[0] = 2;
    im_progress_cb(&s, "INBOX", &p); /* too soon: not drawn */
    CHECK_CAPTURED(f.err, "\rlocal <- remote: 1/5 msgs, 1.0 MiB");
    fake_ms += 1900;
    s.copied[1] = 1;
    s.copied_bytes[1] = 2 * 1048576;
    s.to_copy = 3;
    /* New mailbox (counted from here); both ways moved: the shown one stays; rate after 1 s. */
    im_progress_cb(&s, "Sent", &p);
    CHECK_CAPTURED(f.err, "\rlocal <- remote: 0/3 msgs, 1.0 MiB, 1.0 MiB/s");
    fake_ms += 200;
    s.copied[1] = 2;
    im_progress_cb(&s, "Sent", &p); /* only the other way moved: switch */
    CHECK_CAPTURED(f.err, "\rlocal -> remote: 2/3 msgs, 2.0 MiB, 0.9 MiB/s");
    im_progress_done(&p);
    CHECK(p.mailbox == NULL);
    CHECK_UINT_EQ(f.lg.status.len, 0);
    CHECK_CAPTURED(f.err, "\r                                             \r");
    CHECK_CAPTURED(f.file, ""); /* never in the log file */
    teardown(&f);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    TAP_RUN(test_timestamp);
    TAP_RUN(test_prefix);
    TAP_RUN(test_channels_without_file);
    TAP_RUN(test_channels_with_file);
    TAP_RUN(test_quiet);
    TAP_RUN(test_sync_cb_levels);
    TAP_RUN(test_conn_cb);
    TAP_RUN(test_status_line);
    TAP_RUN(test_open_file);
    TAP_RUN(test_reopen);
    TAP_RUN(test_hold);
    TAP_RUN(test_summary);
    TAP_RUN(test_progress_text);
    TAP_RUN(test_progress_cb);
    return tap_done();
}
