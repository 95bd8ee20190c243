/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-common.c: the helpers both programs share for running against a
 * server (tools/common/): the traffic line (traffic.c), trace lines
 * (wirelog.c), connection options from settings (connopts.c), the
 * lost-connection test, back-off and interruptible sleep (retry.c), the
 * end of command-line handling (outcome.c), whole writes (fdwrite.c) and
 * the stop signals (stopsig.c).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <qresync/error.h>

#include "../tap.h"
#include "capture.h"
#include "connopts.h"
#include "exitcodes.h"
#include "fdwrite.h"
#include "outcome.h"
#include "retry.h"
#include "settings.h"
#include "stopsig.h"
#include "traffic.h"
#include "wirelog.h"

static void check_bytes(uint64_t n, const char *want)
{
    char buf[32];

    CHECK_STR_EQ(qrt_traffic_bytes(buf, sizeof(buf), n), want);
}

static void test_traffic_bytes(void)
{
    check_bytes(0, "0");
    check_bytes(309, "309");
    check_bytes(1023, "1023");
    check_bytes(1024, "1.00K");
    check_bytes(1219, "1.19K");
    check_bytes(301363, "294.30K");
    check_bytes(1048575, "1024.00K");
    check_bytes(1048576, "1.00M");
    check_bytes(3 * 1048576 + 524288, "3.50M");
    check_bytes(1073741824, "1.00G");
    check_bytes(5ull * 1099511627776ull, "5120.00G");
}

static void test_traffic_text(void)
{
    qr_conn_traffic_stats t;
    char *s;

    memset(&t, 0, sizeof(t));
    s = qrt_traffic_text(&t);
    CHECK_STR_EQ(s, "IMAP traffic (bytes): recv 0 sent 0");
    free(s);
    t.plain_in = 1219;
    t.plain_out = 309;
    s = qrt_traffic_text(&t);
    CHECK_STR_EQ(s, "IMAP traffic (bytes): recv 1.19K sent 309");
    free(s);
    t.wire_in = 5000; /* TLS overhead is not shown */
    s = qrt_traffic_text(&t);
    CHECK_STR_EQ(s, "IMAP traffic (bytes): recv 1.19K sent 309");
    free(s);
    /* COMPRESS active: both parts get their compressed size and factor. */
    t.compressed = 1;
    t.plain_in = 301363;
    t.compr_in = 148357;
    t.plain_out = 240;
    t.compr_out = 239;
    s = qrt_traffic_text(&t);
    CHECK_STR_EQ(s, "IMAP traffic (bytes): recv 294.30K (compr. 144.88K, factor 0.49) sent 240 "
                    "(compr. 239, factor 1.00)");
    free(s);
    /* ... except a count of 0. */
    t.plain_out = t.compr_out = 0;
    s = qrt_traffic_text(&t);
    CHECK_STR_EQ(s, "IMAP traffic (bytes): recv 294.30K (compr. 144.88K, factor 0.49) sent 0");
    free(s);
    t.compr_out = 2; /* whatever the link carried */
    s = qrt_traffic_text(&t);
    CHECK_STR_EQ(s, "IMAP traffic (bytes): recv 294.30K (compr. 144.88K, factor 0.49) sent 0");
    free(s);
}

static void check_wire(qr_log_category c, const char *in, const char *want)
{
    char *s = qrt_wire_text(c, in, strlen(in));

    CHECK_STR_EQ(s, want);
    free(s);
}

static void test_wire_text(void)
{
    check_wire(QR_LOG_WIRE_OUT, "C: 000001 SELECT INBOX", "C: 000001 SELECT INBOX");
    check_wire(QR_LOG_WIRE_OUT, "QUIT", "C: QUIT");
    check_wire(QR_LOG_WIRE_IN, "221 bye", "S: 221 bye");
    check_wire(QR_LOG_WIRE_IN, "S: * OK", "S: * OK");
    check_wire(QR_LOG_WIRE_IN, "", "S: ");
    check_wire(QR_LOG_WIRE_OUT, "C: 000001 LOGIN <redacted> <redacted>",
               "C: 000001 LOGIN [REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: AUTH PLAIN <redacted>", "C: AUTH PLAIN [REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: <redacted>", "C: [REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: a <redacted> b <redacted>", "C: a [REDACTED] b [REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: a <redacted>  <redacted>", "C: a [REDACTED]  [REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: <redacted", "C: <redacted");
    /* interimap's lines (interimap.md §4.5). */
    check_wire(QR_LOG_WIRE_OUT, "C: L1 LOGIN <redacted> <redacted>", "C: L1 LOGIN [REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: L1 AUTHENTICATE PLAIN <redacted>",
               "C: L1 AUTHENTICATE PLAIN [REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: L2 LOGIN {3+}<redacted> x", "C: L2 LOGIN {3+}[REDACTED] x");
    check_wire(QR_LOG_WIRE_OUT, "C: L3 SELECT INBOX", "C: L3 SELECT INBOX");
    check_wire(QR_LOG_WIRE_OUT, "L4 NOOP", "C: L4 NOOP");
    check_wire(QR_LOG_WIRE_OUT, "C: L5 LOGIN joe secret", "C: L5 LOGIN joe secret"); /* TRACE */
    check_wire(QR_LOG_WIRE_OUT, "C: <redacted><redacted>", "C: [REDACTED][REDACTED]");
    check_wire(QR_LOG_WIRE_OUT, "C: x <redacted", "C: x <redacted");
    check_wire(QR_LOG_WIRE_OUT, "", "C: ");
    /* Server lines are never rewritten; events are copied. */
    check_wire(QR_LOG_WIRE_IN, "S: <redacted>", "S: <redacted>");
    check_wire(QR_LOG_EVENT, "setup: ready", "setup: ready");
}

static void test_conn_options(void)
{
    struct qrt_conn_settings s;
    qr_conn_options o;

    memset(&s, 0, sizeof(s));
    s.type = "tunnel";
    s.host = "localhost";
    s.port = "993";
    s.command = "doveadm exec imap";
    s.auth = "PLAIN LOGIN";
    s.starttls = 1;
    s.compress = 1;
    s.null_stderr = 1;
    s.ssl_verify = 1;
    qrt_conn_options_fill(&s, 0, 1, &o);
    CHECK_INT_EQ(o.type, QR_CONN_TUNNEL);
    CHECK(o.port == NULL);
    CHECK_STR_EQ(o.command, "doveadm exec imap");
    CHECK_INT_EQ(o.keepalive, 0);
    CHECK_INT_EQ(o.null_stderr, 1);
    CHECK_INT_EQ(o.compress, 1);
    CHECK_INT_EQ(o.log_level, QR_LOG_INFO);
    CHECK(o.enable == NULL && o.log_fn == NULL);

    s.type = "imap";
    s.port = "143";
    s.username = "u";
    s.password = "p";
    s.starttls = 0;
    s.compress = 0;
    s.ssl_verify = 0;
    s.ssl_cafile = "/ca.pem";
    s.ssl_hostname = "";
    s.ssl_fingerprint = "sha256$00";
    s.ssl_protocol_min = "TLSv1.2";
    s.ssl_ciphersuites = "";
    qrt_conn_options_fill(&s, 1, 1, &o);
    CHECK_INT_EQ(o.type, QR_CONN_IMAP);
    CHECK_STR_EQ(o.host, "localhost");
    CHECK_STR_EQ(o.port, "143");
    CHECK_INT_EQ(o.keepalive, 1);
    CHECK_INT_EQ(o.starttls, 0);
    CHECK_INT_EQ(o.compress, 0);
    CHECK_STR_EQ(o.username, "u");
    CHECK_STR_EQ(o.password, "p");
    CHECK_STR_EQ(o.auth, "PLAIN LOGIN");
    CHECK_INT_EQ(o.ssl_verify, 0);
    CHECK_STR_EQ(o.ssl_cafile, "/ca.pem");
    CHECK_STR_EQ(o.ssl_hostname, "");
    CHECK_STR_EQ(o.ssl_fingerprint, "sha256$00");
    CHECK_STR_EQ(o.ssl_protocol_min, "TLSv1.2");
    CHECK_STR_EQ(o.ssl_ciphersuites, "");
    CHECK_INT_EQ(o.log_level, QR_LOG_DEBUG);

    s.type = "imaps";
    qrt_conn_options_fill(&s, 3, 0, &o);
    CHECK_INT_EQ(o.type, QR_CONN_IMAPS);
    CHECK_INT_EQ(o.keepalive, 0);
    CHECK_INT_EQ(o.log_level, QR_LOG_TRACE);
    CHECK_INT_EQ(qrt_debug_level(2), QR_LOG_TRACE);
}

static void test_connection_lost(void)
{
    static const int lost[] = {QR_EOF, QR_EIO, QR_ETLS, QR_EBYE, QR_ECOMPRESS, QR_EAGAIN};
    static const int not_lost[] = {QR_ENO,         QR_EBAD,   QR_EPROTO, QR_EAUTH,
                                   QR_ECAPABILITY, QR_ERROR,  QR_ENOMEM, QR_EUIDVALIDITY,
                                   QR_EUSER,       QR_EINVAL, QR_ELOCKED};

    for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
        CHECK_INT_EQ(qrt_connection_lost(lost[i], 0), 1);
    for (size_t i = 0; i < sizeof(not_lost) / sizeof(not_lost[0]); i++)
        CHECK_INT_EQ(qrt_connection_lost(not_lost[i], 0), 0);
    CHECK_INT_EQ(qrt_connection_lost(QR_ECANCELED, 0), 1);
    CHECK_INT_EQ(qrt_connection_lost(QR_ECANCELED, 1), 0);
    CHECK_INT_EQ(qrt_connection_lost(QR_EIO, 1), 1);
}

static void test_backoff(void)
{
    static const unsigned want[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300};
    struct qrt_backoff b;

    qrt_backoff_reset(&b);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK_UINT_EQ(qrt_backoff_next(&b), want[i]);
    for (int i = 0; i < 100; i++)
        CHECK_UINT_EQ(qrt_backoff_next(&b), QRT_BACKOFF_MAX);
    /* A success starts again from 1 s. */
    qrt_backoff_reset(&b);
    CHECK_UINT_EQ(qrt_backoff_next(&b), 1);
    CHECK_UINT_EQ(qrt_backoff_next(&b), 2);
    CHECK_UINT_EQ(qrt_backoff_next(&b), 4);
    qrt_backoff_reset(&b);
    CHECK_UINT_EQ(qrt_backoff_next(&b), 1);
}

static volatile sig_atomic_t stop_flag;

static void on_usr1(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_sleep(void)
{
    struct sigaction sa;
    struct timespec t0;
    sigset_t wake, now;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigemptyset(&wake);
    sigaddset(&wake, SIGUSR1);

    /* Time up. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(qrt_sleep(1, &wake, &stop_flag), 0);
    CHECK(elapsed(&t0) >= 0.99 && elapsed(&t0) < 3);

    /* A stop already asked for: no wait at all. */
    stop_flag = 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(qrt_sleep(60, &wake, &stop_flag), 1);
    CHECK(elapsed(&t0) < 1);

    /* A signal pending before the wait (blocked meanwhile) is not lost. */
    stop_flag = 0;
    sigprocmask(SIG_BLOCK, &wake, NULL);
    raise(SIGUSR1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(qrt_sleep(60, &wake, &stop_flag), 1);
    CHECK(elapsed(&t0) < 1);
    /* The mask is back as it was: SIGUSR1 still blocked. */
    sigprocmask(SIG_SETMASK, NULL, &now);
    CHECK_INT_EQ(sigismember(&now, SIGUSR1), 1);
    sigprocmask(SIG_UNBLOCK, &wake, NULL);
}

static void record_stop(int sig)
{
    stop_flag = sig;
}

static void wake_only(int sig)
{
    (void)sig; /* wakes the sleep up without stopping it (as interimap's SIGHUP) */
}

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* A signal that arrives during the sleep, with the caller's mask empty. */
static void test_sleep_signals(void)
{
    struct itimerval in_200ms = {{0, 0}, {0, 200000}};
    struct timespec t0;
    sigset_t wake, mask;

    sigemptyset(&wake);
    sigaddset(&wake, SIGUSR1);
    sigaddset(&wake, SIGUSR2);
    handle(SIGUSR1, record_stop);
    handle(SIGUSR2, wake_only);

    /* No time at all. */
    stop_flag = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(qrt_sleep(0, &wake, &stop_flag), 0);
    CHECK(elapsed(&t0) < 0.5);

    /* Already stopped: at once. */
    stop_flag = SIGTERM;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(qrt_sleep(300, &wake, &stop_flag), 1);
    CHECK(elapsed(&t0) < 0.5);

    /* The caller's mask is given back as it was. */
    stop_flag = 0;
    CHECK_INT_EQ(qrt_sleep(0, &wake, &stop_flag), 0);
    sigprocmask(SIG_BLOCK, NULL, &mask);
    CHECK(!sigismember(&mask, SIGUSR1));
    CHECK(!sigismember(&mask, SIGUSR2));

    /* A stop signal during the sleep (a timer) ends it... */
    handle(SIGALRM, record_stop);
    sigaddset(&wake, SIGALRM);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    setitimer(ITIMER_REAL, &in_200ms, NULL);
    CHECK_INT_EQ(qrt_sleep(300, &wake, &stop_flag), 1);
    CHECK(elapsed(&t0) >= 0.15 && elapsed(&t0) < 5);
    CHECK_INT_EQ(stop_flag, SIGALRM);

    /* ... one that only wakes it up does not. */
    stop_flag = 0;
    handle(SIGALRM, wake_only);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    setitimer(ITIMER_REAL, &in_200ms, NULL);
    CHECK_INT_EQ(qrt_sleep(1, &wake, &stop_flag), 0);
    CHECK(elapsed(&t0) >= 0.99); /* woken up early, and slept on */
}

/* Run qrt_args_print_outcome() on a pullimap command line written with
 * "|" between the words; stdout and stderr captured together. */
static int outcome(const char *line, char **out)
{
    struct qrt_pullimap_args a;
    char *copy = strdup(line), *argv[8], *save = NULL;
    int argc = 0, fd = capture_fd(), save1 = dup(1), save2 = dup(2), rc;

    for (char *w = strtok_r(copy, "|", &save); w != NULL && argc < 7;
         w = strtok_r(NULL, "|", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    fflush(stdout);
    dup2(fd, 1);
    dup2(fd, 2);
    qrt_pullimap_args_parse(&a, argc, argv);
    rc = qrt_args_print_outcome(QRT_TOOL_PULLIMAP, a.what, &a.cli, &a.err, "/x/pullimap");
    fflush(stdout);
    dup2(save1, 1);
    dup2(save2, 2);
    close(save1);
    close(save2);
    qrt_pullimap_args_free(&a);
    free(copy);
    *out = capture_take(fd);
    close(fd);
    return rc;
}

static void test_outcome(void)
{
    char *out;

    CHECK_INT_EQ(outcome("pullimap|acct", &out), -1);
    CHECK_STR_EQ(out, "");
    free(out);
    CHECK_INT_EQ(outcome("pullimap|--bogus|_", &out), QRT_EXIT_USAGE);
    CHECK_STR_EQ(out, "Unknown option: bogus\nUsage: pullimap [OPTIONS] SECTION\n"
                      "Try 'pullimap --help' or consult the manpage for more information.\n");
    free(out);
    CHECK_INT_EQ(outcome("pullimap|-h", &out), QRT_EXIT_OK);
    CHECK_STR_EQ(out, "Usage: pullimap [OPTIONS] SECTION\nConsult the manpage for more "
                      "information.\n");
    free(out);
    CHECK_INT_EQ(outcome("pullimap|--version", &out), QRT_EXIT_OK);
    CHECK(strncmp(out, "/x/pullimap version ", 20) == 0);
    free(out);
}

static void test_write_all(void)
{
    int fd = capture_fd();

    qrt_write_all(fd, "one line\n", 9);
    qrt_write_all(fd, "", 0);
    qrt_write_all(-1, "lost", 4); /* errors are dropped */
    CHECK_CAPTURED(fd, "one line\n");
    close(fd);
}

static int cancels;

static void count_cancel(void *obj)
{
    cancels += *(int *)obj;
}

/* Last: once a stop signal came, the alarm keeps cancelling every second. */
static void test_stop_signals(void)
{
    int weight = 1;
    struct timespec t0;

    qrt_stop_install();
    CHECK_INT_EQ(qrt_stop_received(), 0);
    CHECK_INT_EQ(sigismember(qrt_stop_signals(), SIGTERM), 1);
    CHECK_INT_EQ(sigismember(qrt_stop_signals(), SIGALRM), 1);
    qrt_stop_target(count_cancel, &weight);
    CHECK_INT_EQ(cancels, 0);
    raise(SIGTERM);
    CHECK_INT_EQ(qrt_stop_received(), SIGTERM);
    CHECK_INT_EQ(*qrt_stop_flag(), SIGTERM);
    CHECK_INT_EQ(cancels, 1);
    /* A new target is cancelled at once. */
    weight = 10;
    qrt_stop_target(count_cancel, &weight);
    CHECK_INT_EQ(cancels, 11);
    /* And again by the alarm. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (cancels == 11 && elapsed(&t0) < 3)
        pause();
    CHECK_INT_EQ(cancels, 21);
    qrt_stop_target(NULL, NULL);
    alarm(0);
}

/* The reference's `xxx` tag around a redacted login, the SASL exchange hidden. */
static void hide(struct qrt_wire_auth *st, const char *in, const char *out)
{
    char *line = strdup(in);
    int drop = qrt_wire_hide_auth(st, &line);

    if (out == NULL)
        CHECK_INT_EQ(drop, 1);
    else {
        CHECK_INT_EQ(drop, 0);
        CHECK_STR_EQ(line, out);
    }
    free(line);
}

static void test_wire_hide_auth(void)
{
    struct qrt_wire_auth st;

    memset(&st, 0, sizeof(st));
    hide(&st, "C: L1 ENABLE QRESYNC", "C: L1 ENABLE QRESYNC");
    hide(&st, "C: R3 AUTHENTICATE PLAIN [REDACTED]", "C: xxx AUTHENTICATE PLAIN [REDACTED]");
    hide(&st, "S: + ", NULL);
    hide(&st, "C: [REDACTED]", NULL);
    hide(&st, "S: * CAPABILITY IMAP4rev1", "S: * CAPABILITY IMAP4rev1");
    hide(&st, "C: R4 NOOP", "C: R4 NOOP"); /* pipelined behind it: shown */
    hide(&st, "S: R3 OK [CAPABILITY IMAP4rev1] Logged in",
         "S: xxx OK [CAPABILITY IMAP4rev1] Logged in");
    /* afterwards nothing is touched */
    hide(&st, "S: R4 OK done", "S: R4 OK done");
    hide(&st, "C: R5 NOOP", "C: R5 NOOP");
    hide(&st, "C: L10 LOGIN [REDACTED]", "C: xxx LOGIN [REDACTED]");
    hide(&st, "S: L10 NO [AUTHENTICATIONFAILED] bad", "S: xxx NO [AUTHENTICATIONFAILED] bad");
    /* --debug --debug: no marker, nothing changes */
    hide(&st, "C: L2 LOGIN alice secret", "C: L2 LOGIN alice secret");
    hide(&st, "S: L2 OK Logged in", "S: L2 OK Logged in");
}

int main(void)
{
    TAP_RUN(test_traffic_bytes);
    TAP_RUN(test_traffic_text);
    TAP_RUN(test_wire_text);
    TAP_RUN(test_wire_hide_auth);
    TAP_RUN(test_conn_options);
    TAP_RUN(test_connection_lost);
    TAP_RUN(test_backoff);
    TAP_RUN(test_sleep);
    TAP_RUN(test_sleep_signals);
    TAP_RUN(test_outcome);
    TAP_RUN(test_write_all);
    TAP_RUN(test_stop_signals);
    return tap_done();
}
