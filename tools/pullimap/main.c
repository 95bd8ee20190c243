/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c: pullimap, pull new messages from an IMAP mailbox and hand them
 * to an SMTP or LMTP server; a thin program over libqresync's public API
 * (include/qresync/pull.h does the IMAP side and the state file,
 * include/qresync/smtp.h the delivery, through deliver.c).
 *
 * Start-up (pullimap.md §4.1): the command line (§1); the configuration,
 * its SECTION only (§2); the state file's path under
 * $XDG_DATA_HOME/pullimap/ (the folder is created 0700); the envelope
 * recipient (deliver-rcpt, or the effective user's name); then the state
 * file is opened and locked (qr_pull_new(), qr_pull_open()) before
 * anything connects, so a second instance stops at once with `Can't lock
 * PATH: ...`; then the connection is created (qr_conn_new(), no ENABLE,
 * TCP keep-alive with --idle) and given to the pull (qr_pull_attach()).
 *
 * One-shot: qr_pull_run() (read the state file, SELECT, pull, deliver,
 * mark \Seen, purge), qr_pull_logout(), the summary line, the traffic
 * line, status 0. --idle[=SECS]: the same first pull, then qr_pull_idle()
 * forever; after a deferred delivery the next IDLE lasts at most five
 * minutes, so that the engine's retry comes soon. Beyond the reference,
 * which stopped at the first error and counted on systemd's
 * Restart=always: once the first pull succeeded, a lost IMAP connection is answered by one line
 * `WARNING: lost connection (REASON); reconnecting in N s`, the pull (its lock released) and the
 * connection (its traffic line) are freed, and after 1, 2, 4 ... 300 s
 * (reset by a successful pull) everything is made again: the state file
 * reopened and locked, a fresh connection, a fresh pull.
 *
 * Messages (log.h): everything on stderr. The "die" messages of the
 * reference (configuration, state file: `Can't open PATH: ...`, `Can't
 * lock PATH: ...`, `Corrupted state file!`, `read: ...`, ...) have no
 * prefix and exit 255; `ERROR:` lines carry the `SECTION: ` prefix and
 * exit 1, as do usage errors. The engine's ERROR lines are held while it
 * runs and shown once the program knows what the failure is.
 *
 * Signals (tools/common/stopsig.h): SIGINT and SIGTERM call
 * qr_pull_cancel() on the current pull; the engine stops at its next
 * safe point, the state file as consistent as after a crash, and the
 * program ends as usual: traffic line, status 0 for SIGTERM, 1 for
 * SIGINT; a second signal kills at once. A signal during the
 * reconnection back-off ends the sleep. SIGPIPE is ignored (write errors
 * are reported by the library).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qresync/pull.h>
#include <qresync/qresync.h>
#include <qresync/smtp.h>

#include "args.h"
#include "config.h"
#include "connopts.h"
#include "deliver.h"
#include "exitcodes.h"
#include "ini.h"
#include "log.h"
#include "retry.h"
#include "outcome.h"
#include "settings.h"
#include "stopsig.h"
#include "traffic.h"
#include "xalloc.h"
#include "xdg.h"

/** Everything a run holds; freed by finish(). */
struct run {
    struct qrt_pullimap_args args;    /* the command line */
    struct qrt_config *config;        /* the configuration, or NULL */
    struct qrt_pullimap_settings set; /* typed settings (valid when config != NULL) */
    char *statefile;                  /* resolved state file path, owned */
    char *rcpt;                       /* the envelope recipient, owned */
    struct pl_log log;                /* the sink (valid when have_log) */
    int have_log;                     /* log initialised */
    struct pl_deliver deliver;        /* the delivery side */
    qr_pull *pull;                    /* the engine, owned, or NULL */
    qr_conn *conn;                    /* the IMAP connection, owned, or NULL */
    qr_pull_stats mark;               /* the counters at the start of the current step */
    long long mark_ms;                /* monotonic ms at that start */
};

/* ---- signals (tools/common/stopsig.h) ---------------------------------- */

static void cancel_pull(void *p)
{
    qr_pull_cancel(p);
}

/* SIGTERM ends with 0, SIGINT with 1. */
static int stopped(void)
{
    return qrt_stop_received() == SIGINT ? QRT_EXIT_FAILURE : QRT_EXIT_OK;
}

/* ---- start-up ----------------------------------------------------------- */

static int die(const char *msg, int status)
{
    fprintf(stderr, "%s\n", msg);
    return status;
}

static int die_err(struct qrt_err *err)
{
    int status = die(err->msg ? err->msg : "error", err->status ? err->status : QRT_EXIT_FATAL);

    qrt_err_clear(err);
    return status;
}

/* The configuration (§2): the default section overlaid by SECTION. */
static int read_config(struct run *r, struct qrt_err *err)
{
    struct qrt_ini *ini = NULL;
    char *path = NULL;
    int rc = -1;

    if (qrt_xdg_config_file("pullimap", r->args.config, &path, err) == 0 &&
        qrt_ini_read_file(path, &ini, err) == 0 &&
        qrt_config_build(QRT_TOOL_PULLIMAP, ini, &r->args.section, 1, &r->config, err) == 0 &&
        qrt_pullimap_settings_get(r->config, &r->set, err) < 0) {
        qrt_config_free(r->config);
        r->config = NULL;
    }
    if (r->config != NULL)
        rc = 0;
    qrt_ini_free(ini);
    free(path);
    return rc;
}

/* deliver-rcpt, or the name of the effective user (getpwuid(geteuid()));
 * not needed with --no-delivery. */
static int recipient(struct run *r, struct qrt_err *err)
{
    const struct passwd *pw;

    if (r->args.no_delivery)
        return 0;
    if (r->set.deliver_rcpt != NULL) {
        r->rcpt = qrt_xstrdup(r->set.deliver_rcpt);
        return 0;
    }
    errno = 0;
    pw = getpwuid(geteuid());
    if (pw == NULL || pw->pw_name == NULL || pw->pw_name[0] == '\0')
        return qrt_err_set(
            err, QRT_EXIT_FATAL, "Can't find the name of user %lu for deliver-rcpt%s%s",
            (unsigned long)geteuid(), errno ? ": " : "", errno ? strerror(errno) : "");
    r->rcpt = qrt_xstrdup(pw->pw_name);
    return 0;
}

static const char *selected(void *arg)
{
    struct run *r = arg;

    return r->pull ? qr_pull_selected(r->pull) : NULL;
}

/* Configuration, state file path, recipient, sink; -1 to go on. */
static int startup(struct run *r)
{
    struct qrt_err err = QRT_ERR_INIT;
    const struct qrt_pullimap_args *a = &r->args;

    if (read_config(r, &err) < 0 ||
        qrt_xdg_data_file("pullimap", r->set.statefile, &r->statefile, &err) < 0 ||
        recipient(r, &err) < 0)
        return die_err(&err);
    pl_log_init(&r->log, a->section, a->quiet, a->debug, STDERR_FILENO);
    r->log.selected = selected;
    r->log.selected_arg = r;
    r->have_log = 1;
    pl_deliver_init(&r->deliver, &r->set, r->rcpt, a->no_delivery, a->debug, &r->log);
    return -1;
}

/* ---- the pull and its connection ---------------------------------------- */

/* Whether a failure of the pull is one of the reference's "die" errors
 * about the state file: no prefix, status 255. */
static int state_file_error(const char *msg)
{
    static const char *const starts[] = {"Can't open ",   "Can't lock ", "Corrupted state file",
                                         "read: ",        "write: ",     "seek: ",
                                         "Couldn't seek", "truncate: ",  "fcntl "};

    for (size_t i = 0; msg != NULL && i < sizeof(starts) / sizeof(starts[0]); i++)
        if (strncmp(msg, starts[i], strlen(starts[i])) == 0)
            return 1;
    return 0;
}

static const char *pull_error(const struct run *r, int rc)
{
    const qr_error *e = r->pull ? qr_pull_last_error(r->pull) : NULL;

    if (e != NULL && e->message != NULL && e->message[0] != '\0')
        return e->message;
    return qr_strerror(rc);
}

/* The pull object and its locked state file: 0 or a QR_E* code (the
 * message in pull_error()). */
static int new_pull(struct run *r)
{
    qr_pull_options o;
    int rc;

    qr_pull_options_init(&o, QR_PULL_OPTIONS_VERSION);
    o.flags = (r->args.idle ? QR_PULL_IDLE : 0) | (r->args.no_delivery ? QR_PULL_NO_DELIVERY : 0);
    o.statefile = r->statefile;
    o.mailbox = r->set.mailbox;
    o.purge = r->set.purge;
    o.purge_after = r->set.purge_after;
    o.deliver = pl_deliver_message;
    o.end = pl_deliver_end;
    o.payload = &r->deliver;
    o.log_fn = pl_log_pull_cb;
    o.log_payload = &r->log;
    o.log_level = r->args.debug ? QR_LOG_DEBUG : QR_LOG_INFO;
    rc = qr_pull_new(&r->pull, &o);
    if (rc < 0)
        return rc;
    qrt_stop_target(cancel_pull, r->pull);
    return qr_pull_open(r->pull);
}

/* new_pull() failed: the reference's die, status 255. */
static int pull_open_failed(struct run *r, int rc)
{
    if (r->pull == NULL) {
        fprintf(stderr, "pullimap: %s\n", qr_strerror(rc));
        return QRT_EXIT_FATAL;
    }
    return die(pull_error(r, rc), QRT_EXIT_FATAL);
}

/* The connection, attached to the pull: 0 or a QR_E* code. */
static int new_conn(struct run *r)
{
    qr_conn_options o;
    int rc;

    qrt_conn_options_fill(&r->set.conn, r->args.debug, r->args.idle, &o);
    o.enable = NULL; /* no QRESYNC: plain SELECT, as the reference */
    o.log_fn = pl_log_conn_cb;
    o.log_payload = &r->log;
    rc = qr_conn_new(&r->conn, &o);
    if (rc == 0)
        rc = qr_pull_attach(r->pull, r->conn);
    return rc;
}

/* new_conn() failed: `SECTION: ERROR: MESSAGE`, status 1, as the
 * reference when its connection could not be set up. */
static int conn_failed(struct run *r, int rc)
{
    const qr_error *e = r->conn ? qr_conn_last_error(r->conn) : NULL;

    if (r->conn == NULL || qr_conn_state_get(r->conn) != QR_CONN_FAILED) {
        fprintf(stderr, "pullimap: cannot create the connection: %s\n", qr_strerror(rc));
        return QRT_EXIT_FATAL;
    }
    pl_log_printf(&r->log, 0, "ERROR: %s",
                  e && e->message && e->message[0] ? e->message : qr_strerror(rc));
    return QRT_EXIT_FAILURE;
}

/* Free the pull (its lock goes with it), an SMTP connection left open, and
 * the IMAP connection with its traffic line (unless --quiet; between two
 * reconnection attempts only when it carried something). */
static void close_all(struct run *r, int always)
{
    qr_conn_traffic_stats t;

    qrt_stop_target(NULL, NULL);
    qr_pull_free(r->pull);
    r->pull = NULL;
    pl_deliver_close(&r->deliver);
    if (r->conn != NULL && qr_conn_traffic(r->conn, &t) == 0 &&
        (always || t.plain_in + t.plain_out > 0)) {
        char *text = qrt_traffic_text(&t);

        pl_log_write(&r->log, PL_LOG_QUIET, text);
        free(text);
    }
    qr_conn_free(r->conn);
    r->conn = NULL;
}

/* ---- running ------------------------------------------------------------ */

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Remember the counters before a step (for its summary). */
static void mark(struct run *r)
{
    const qr_pull_stats *st = qr_pull_stats_get(r->pull);

    if (st != NULL)
        r->mark = *st;
    else
        memset(&r->mark, 0, sizeof(r->mark));
    r->mark_ms = now_ms();
    pl_deliver_mark(&r->deliver);
}

/* The summary of the step since mark(), when it delivered something. In
 * idle mode the time counts from the first message, not from the start
 * of the wait. */
static void summary(struct run *r)
{
    const qr_pull_stats *st = qr_pull_stats_get(r->pull);
    struct pl_summary s;
    long long t0 = r->mark_ms;
    char *text;

    if (st == NULL || st->delivered <= r->mark.delivered || r->args.quiet)
        return;
    if (r->args.idle && r->deliver.first_ms >= 0)
        t0 = r->deliver.first_ms;
    s.delivered = st->delivered - r->mark.delivered;
    s.bytes = st->delivered_bytes - r->mark.delivered_bytes;
    s.deferred = st->deferred - r->mark.deferred;
    s.purged = st->purged - r->mark.purged;
    s.seconds = (double)(now_ms() - t0) / 1000.0;
    s.no_delivery = r->args.no_delivery;
    text = pl_summary_text(&s);
    pl_log_write(&r->log, PL_LOG_QUIET, text);
    free(text);
}

/* What a failed engine call means. */
enum failure { F_STOPPED, F_DELIVERY, F_DIE, F_LOST, F_ERROR };

static enum failure classify(struct run *r, int rc)
{
    if (qrt_stop_received() != 0)
        return F_STOPPED;
    if (r->deliver.failed)
        return F_DELIVERY;
    if (rc == QR_ENOMEM || state_file_error(pull_error(r, rc)))
        return F_DIE;
    return qrt_connection_lost(rc, 0) ? F_LOST : F_ERROR;
}

/* Show the held lines for a failure that ends the program; its status. */
static int fail(struct run *r, int rc, enum failure f)
{
    switch (f) {
    case F_STOPPED:
        pl_log_release(&r->log, rc == QR_ECANCELED ? PL_RELEASE_DROP : PL_RELEASE_ERROR);
        return stopped();
    case F_DELIVERY:
        /* deliver.c said it; the engine's "stopped by the callback" adds nothing. */
        pl_log_release(&r->log, PL_RELEASE_DROP);
        return QRT_EXIT_FAILURE;
    case F_DIE:
        if (pl_log_release(&r->log, PL_RELEASE_DIE) == 0)
            die(pull_error(r, rc), 0);
        return QRT_EXIT_FATAL;
    case F_LOST:
    case F_ERROR:
        break;
    }
    if (pl_log_release(&r->log, PL_RELEASE_ERROR) == 0)
        pl_log_printf(&r->log, PL_LOG_MAILBOX, "ERROR: %s", pull_error(r, rc));
    return QRT_EXIT_FAILURE;
}

/* The first pull (§4.1 steps 3-7); 0 or a QR_E* code, ERROR lines held. */
static int first_pull(struct run *r)
{
    mark(r);
    pl_log_hold(&r->log);
    return qr_pull_run(r->pull);
}

/* Without --idle: pull once, LOGOUT (§4.1 step 8). */
static int run_once(struct run *r)
{
    int rc = first_pull(r);

    if (rc == 0 && qrt_stop_received() == 0)
        rc = qr_pull_logout(r->pull);
    if (rc < 0)
        return fail(r, rc, classify(r, rc));
    pl_log_release(&r->log, PL_RELEASE_ERROR);
    summary(r);
    return qrt_stop_received() != 0 ? stopped() : QRT_EXIT_OK;
}

/* Open and lock the state file again, connect again, pull (after a lost
 * connection). -1 when the pull went well; RETRY with *why (owned) to wait
 * and try again; else the exit status. */
#define RETRY (-2)

static int reopen(struct run *r, char **why)
{
    int rc = new_pull(r);

    *why = NULL;
    if (rc == QR_ELOCKED) {
        /* A one-shot run by hand meanwhile: wait for it. */
        *why = qrt_xstrdup(pull_error(r, rc));
        return RETRY;
    }
    if (rc < 0)
        return pull_open_failed(r, rc);
    rc = new_conn(r);
    if (rc < 0 && r->conn != NULL && qrt_connection_lost(rc, 0)) {
        const qr_error *e = qr_conn_last_error(r->conn);

        *why = qrt_xstrdup(e && e->message && e->message[0] ? e->message : qr_strerror(rc));
        return RETRY;
    }
    if (rc < 0)
        return conn_failed(r, rc);
    rc = first_pull(r);
    if (rc == 0) {
        pl_log_release(&r->log, PL_RELEASE_ERROR);
        summary(r);
        return -1;
    }
    if (classify(r, rc) != F_LOST)
        return fail(r, rc, classify(r, rc));
    pl_log_release(&r->log, PL_RELEASE_DROP);
    *why = qrt_xstrdup(pull_error(r, rc));
    return RETRY;
}

/* Say why, free everything, wait, make everything again, until it works. */
static int reconnect(struct run *r, char *why)
{
    struct qrt_backoff bo;

    qrt_backoff_reset(&bo);
    for (;;) {
        unsigned delay = qrt_backoff_next(&bo);
        int rc;

        pl_log_printf(&r->log, 0, "WARNING: lost connection (%s); reconnecting in %u s", why,
                      delay);
        free(why);
        close_all(r, 0);
        if (qrt_sleep(delay, qrt_stop_signals(), qrt_stop_flag()))
            return stopped();
        rc = reopen(r, &why);
        if (rc != RETRY)
            return rc;
    }
}

/* The longest IDLE after a deferred delivery: the engine pulls again after
 * every IDLE while a message waits, so this is the retry interval. */
#define RETRY_IDLE_SECONDS 300L

/* How long the next IDLE may last: the --idle value, or at most
 * RETRY_IDLE_SECONDS when the step since mark() deferred a message. */
static int idle_seconds(const struct run *r)
{
    const qr_pull_stats *st = qr_pull_stats_get(r->pull);
    long secs = r->args.idle_timeout;

    if (st != NULL && st->deferred > r->mark.deferred && secs > RETRY_IDLE_SECONDS)
        secs = RETRY_IDLE_SECONDS;
    return secs > INT_MAX ? INT_MAX : (int)secs;
}

/* --idle (§7): IDLE, pull, purge, forever. */
static int run_idle(struct run *r)
{
    int rc = first_pull(r);

    if (rc < 0)
        return fail(r, rc, classify(r, rc));
    pl_log_release(&r->log, PL_RELEASE_ERROR);
    summary(r);
    for (;;) {
        int secs = idle_seconds(r);
        enum failure f;

        if (qrt_stop_received() != 0)
            return stopped();
        mark(r);
        pl_log_hold(&r->log);
        rc = qr_pull_idle(r->pull, secs);
        if (rc == 0) {
            pl_log_release(&r->log, PL_RELEASE_ERROR);
            summary(r);
            continue;
        }
        f = classify(r, rc);
        if (f != F_LOST)
            return fail(r, rc, f);
        pl_log_release(&r->log, PL_RELEASE_DROP);
        rc = reconnect(r, qrt_xstrdup(pull_error(r, rc)));
        if (rc >= 0)
            return rc;
    }
}

/* Cleanup on every path; returns status. */
static int finish(struct run *r, int status)
{
    if (r->have_log) {
        pl_log_release(&r->log, PL_RELEASE_ERROR);
        close_all(r, 1);
        pl_log_close(&r->log);
    }
    free(r->rcpt);
    free(r->statefile);
    if (r->config != NULL)
        qrt_pullimap_settings_free(&r->set);
    qrt_config_free(r->config);
    qrt_pullimap_args_free(&r->args);
    return status;
}

int main(int argc, char *argv[])
{
    struct run r;
    int rc;

    memset(&r, 0, sizeof(r));
    signal(SIGPIPE, SIG_IGN);
    if (qrt_env_sanitize() < 0)
        qrt_oom();
    qrt_pullimap_args_parse(&r.args, argc, argv);
    rc = qrt_args_print_outcome(QRT_TOOL_PULLIMAP, r.args.what, &r.args.cli, &r.args.err,
                                argc > 0 ? argv[0] : "pullimap");
    if (rc < 0)
        rc = startup(&r);
    if (rc < 0) {
        qrt_stop_install();
        rc = new_pull(&r);
        rc = rc < 0 ? pull_open_failed(&r, rc) : -1;
    }
    if (rc < 0) {
        rc = new_conn(&r);
        rc = rc < 0 ? conn_failed(&r, rc) : -1;
    }
    if (rc < 0)
        rc = r.args.idle ? run_idle(&r) : run_once(&r);
    return finish(&r, rc);
}
