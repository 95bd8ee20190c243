/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c: interimap, two-way synchronisation of two IMAP servers, a thin
 * program over libqresync's public API (include/qresync/sync.h does the
 * work).
 *
 * Start-up follows interimap.md §2.6: command line (§1.3 steps 1-8),
 * configuration, database path (which may create the data directory),
 * log prefix and log file, list-mailbox / list-select-opts /
 * ignore-mailbox, --target; then the database is opened and locked with
 * qr_sync_open() before any tunnel or connection starts, so that
 * "database is locked" comes first, as in the reference; then the two
 * connections are created (they connect concurrently once the engine
 * drives them) and attached with qr_sync_attach(). Then the
 * `>>> interimap VERSION` debug line, and the command: one pass of
 * qr_sync_run(), qr_sync_repair(), qr_sync_delete() or qr_sync_rename()
 * (the MAILBOX arguments are the options' patterns, --target the
 * targets), or watch mode.
 *
 * Watch mode (§14; --watch, --notify): qr_sync_run() then qr_sync_idle()
 * for the interval, forever; the summary line only after a pass that
 * changed something. Beyond the reference: once a pass has succeeded, a
 * pass or a wait that fails because a connection was lost (watch.h,
 * im_connection_lost()) does not end the program. It says
 * `WARNING: lost connection to SIDE (REASON); reconnecting in N s` (the
 * engine's ERROR line for it is held back and dropped, log.h), frees the
 * sync (releasing the database lock) and both connections (traffic
 * lines as at exit), sleeps with an exponential back-off (1, 2, 4 ...
 * 300 s, reset by a successful pass; qrt_backoff_next() and qrt_sleep()
 * of tools/common/retry.h), and creates everything again. The
 * first pass is not retried: a wrong host or tunnel command fails at once
 * (exit 1) as in the reference.
 *
 * Exit statuses (tools/common/exitcodes.h): 0 success; 1 usage errors and
 * run-time ERROR lines; 255 "die"-class errors (configuration,
 * environment, --target, database open and lock, internal errors).
 *
 * Cleanup (§15.3), on every path after the command line was parsed: the
 * sync is freed first (the API requires the connections to outlive it;
 * this rolls back what was not committed and closes the database), then
 * the local and the remote connection (no LOGOUT), each printing its
 * traffic statistics unless --quiet, then the `Cleaning up...` debug
 * line (which the reference prints even after usage errors), then the log
 * file is closed.
 *
 * Signals (§15.2), installed just before the database is opened: SIGINT
 * and SIGTERM are tools/common/stopsig.h's (sigaction() without
 * SA_RESTART), whose target is qr_sync_cancel() on the current sync
 * (qrt_stop_target(), changed with the signals blocked); the engine
 * returns QR_ECANCELED at its next safe point, and the program runs the
 * normal cleanup; SIGINT first logs "Interrupted system call"
 * (strerror(EINTR), the reference's $!) without prefix and exits 1,
 * SIGTERM exits 0. The handler also arms a one-second alarm that cancels
 * again until the program is back: a signal that lands between the
 * engine's last check and its poll() would otherwise wait for the next
 * event. A signal during a back-off sleep or between two passes stops the
 * program the same way; a second SIGINT or SIGTERM kills it at once (the
 * database is crash-safe). In watch mode SIGHUP (interimap's own handler
 * here) makes the log file reopen before its next line (logrotate).
 * SIGPIPE is ignored (the library reports write errors). Tunnel children
 * run with SIGINT blocked (libqresync/transport/tunnel.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qresync/qresync.h>

#include "args.h"
#include "config.h"
#include "exitcodes.h"
#include "ignore.h"
#include "ini.h"
#include "log.h"
#include "mailbox_list.h"
#include "options.h"
#include "outcome.h"
#include "report.h"
#include "retry.h"
#include "settings.h"
#include "stopsig.h"
#include "traffic.h"
#include "watch.h"
#include "xalloc.h"
#include "xdg.h"

/** Everything a run holds; freed by finish(). */
struct run {
    struct qrt_interimap_args args;    /* the command line */
    struct qrt_config *config;         /* the configuration, or NULL */
    struct qrt_interimap_settings set; /* typed settings (valid when config != NULL) */
    char *dbpath;                      /* resolved database path, owned */
    struct im_log log;                 /* the sink (valid when have_log) */
    int have_log;                      /* log initialised */
    struct qrt_pattern_list patterns;  /* parsed list-mailbox */
    char *select_opts;                 /* list-select-opts, uppercased, or NULL */
    struct qrt_ignore *ignore;         /* compiled ignore-mailbox, or NULL */
    struct qrt_err ignore_err;         /* a failed ignore-mailbox match */
    qr_conn *conn[2];                  /* local, remote; owned */
    int started[2];                    /* print the traffic line at cleanup */
    struct im_log_side side[2];        /* log payloads of the connections */
    qr_sync *sync;                     /* the engine, owned */
    struct im_progress progress;       /* the progress line */
    unsigned targets;                  /* --target bits (QRT_TARGET_*) */
};

static const char *const side_name[2] = {"local", "remote"};

/* Print a die-class message on stderr (the status line erased first). */
static int die(struct run *r, const char *msg, int status)
{
    if (r->have_log)
        im_log_status(&r->log, NULL);
    fprintf(stderr, "%s\n", msg);
    return status;
}

static int die_err(struct run *r, struct qrt_err *err)
{
    int status = die(r, err->msg ? err->msg : "error", err->status);

    qrt_err_clear(err);
    return status;
}

/* ---- signals ------------------------------------------------------------ */

static struct im_log *volatile g_log; /* the sink SIGHUP reopens, or NULL */
static sigset_t g_wake;               /* what cuts a back-off sleep: stopsig.h's, SIGHUP */

static void on_hup(int sig)
{
    (void)sig;
    if (g_log != NULL)
        g_log->reopen = 1;
}

/* SIGINT, SIGTERM (and SIGALRM) by stopsig.h; SIGHUP here, in watch mode. */
static void install_handlers(struct run *r)
{
    qrt_stop_install();
    g_wake = *qrt_stop_signals();
    if (r->args.watch) {
        struct sigaction sa;

        g_log = &r->log;
        sigaddset(&g_wake, SIGHUP);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_hup;
        sa.sa_mask = g_wake;
        sa.sa_flags = 0; /* no SA_RESTART, as the stop signals */
        sigaction(SIGHUP, &sa, NULL);
    }
}

/* The stop signals' target (async-signal-safe: only sets a flag). */
static void cancel_sync(void *obj)
{
    qr_sync_cancel(obj);
}

/* The sync the handlers cancel (at once if a stop signal came already). */
static void set_current_sync(qr_sync *s)
{
    qrt_stop_target(s != NULL ? cancel_sync : NULL, s);
}

/* The outcome of SIGINT (the reference logs $!, then exits 1) or SIGTERM (0). */
static int stopped(struct run *r)
{
    im_progress_done(&r->progress);
    if (qrt_stop_received() == SIGINT) {
        im_log_write(&r->log, IM_LOG, 0, NULL, NULL, strerror(EINTR));
        return QRT_EXIT_FAILURE;
    }
    return QRT_EXIT_OK;
}

static int read_config(struct run *r, struct qrt_err *err)
{
    static const char *const names[] = {"_", "local", "remote"};
    struct qrt_ini *ini = NULL;
    char *path = NULL;
    int rc = -1;

    if (qrt_xdg_config_file("interimap", r->args.config, &path, err) == 0 &&
        qrt_ini_read_file(path, &ini, err) == 0 &&
        qrt_config_build(QRT_TOOL_INTERIMAP, ini, names, 3, &r->config, err) == 0) {
        qrt_interimap_settings_get(r->config, &r->set);
        rc = 0;
    }
    qrt_ini_free(ini);
    free(path);
    return rc;
}

/* §2.6 steps 2-6; -1 to go on, else the exit status. */
static int startup(struct run *r)
{
    struct qrt_err err = QRT_ERR_INIT;
    const struct qrt_interimap_args *a = &r->args;
    int listing = a->command == QRT_CMD_SYNC || a->command == QRT_CMD_REPAIR;

    if (read_config(r, &err) < 0 ||
        qrt_xdg_data_file("interimap", r->set.database, &r->dbpath, &err) < 0)
        return die_err(r, &err);
    im_log_init(&r->log, r->set.log_prefix, a->quiet, STDERR_FILENO);
    r->have_log = 1;
    if (r->set.logfile != NULL && im_log_open_file(&r->log, r->set.logfile, &err) < 0)
        return die_err(r, &err);
    if (listing && a->n_mailboxes == 0) {
        if (r->set.list_mailbox != NULL &&
            qrt_list_mailbox_parse(r->set.list_mailbox, &r->patterns, &err) < 0)
            return die_err(r, &err);
        if (r->set.ignore_mailbox != NULL &&
            qrt_ignore_compile(r->set.ignore_mailbox, &r->ignore, &err) < 0)
            return die_err(r, &err);
    }
    if (listing)
        r->select_opts = qrt_list_select_opts(r->set.list_select_opts);
    if (qrt_interimap_targets(a, &r->targets, &err) < 0)
        return die_err(r, &err);
    return -1;
}

static const char *selected_local(void *arg)
{
    struct run *r = arg;

    return r->sync ? qr_sync_selected(r->sync, QR_SYNC_LOCAL) : NULL;
}

static const char *selected_remote(void *arg)
{
    struct run *r = arg;

    return r->sync ? qr_sync_selected(r->sync, QR_SYNC_REMOTE) : NULL;
}

static int ignore_cb(const char *name, size_t len, void *payload)
{
    struct run *r = payload;
    int m = qrt_ignore_match(r->ignore, name, len, &r->ignore_err);

    return m < 0 ? QR_EUSER : m;
}

/*
 * Create both connections. Returns -1 when both exist (the failed one,
 * if any, in *failed, -1 if none), else an exit status.
 */
static int create_conns(struct run *r, int *failed)
{
    static const char *const tags[2] = {"L", "R"};
    const struct qrt_conn_settings *cs[2] = {&r->set.local, &r->set.remote};
    static const im_log_selected_fn sel[2] = {selected_local, selected_remote};
    qr_conn_options o;

    *failed = -1;
    for (int i = 0; i < 2; i++) {
        r->side[i] = (struct im_log_side){&r->log, side_name[i], sel[i], r, r->args.debug > 0, {""}};
        im_conn_options(cs[i], r->args.debug, r->args.watch, tags[i], &r->side[i], &o);
        int rc = qr_conn_new(&r->conn[i], &o);

        if (rc < 0 && r->conn[i] == NULL) {
            char msg[160];

            snprintf(msg, sizeof(msg), "interimap: cannot create the %s connection: %s",
                     side_name[i], qr_strerror(rc));
            return die(r, msg, QRT_EXIT_FATAL);
        }
        if (rc < 0 && *failed < 0)
            *failed = i;
    }
    return -1;
}

/* A connection that failed at creation: "NAME: ERROR: MESSAGE", status 1. */
static int conn_failed(struct run *r, int i)
{
    const qr_error *e = qr_conn_last_error(r->conn[i]);

    r->started[0] = 1; /* the reference connects local first: it exists */
    r->started[i] = 1;
    im_log_printf(&r->log, IM_LOG, 0, side_name[i], NULL, "ERROR: %s",
                  e && e->message[0] ? e->message : "connection failed");
    return QRT_EXIT_FAILURE;
}

static void sync_options(struct run *r, qr_sync_options *so, const char **pats, size_t *lens)
{
    const struct qrt_interimap_args *a = &r->args;

    qr_sync_options_init(so, QR_SYNC_OPTIONS_VERSION);
    so->database = r->dbpath;
    so->list_reference[0] = r->set.local.list_reference;
    so->list_reference[1] = r->set.remote.list_reference;
    if (a->n_mailboxes > 0) {
        so->flags |= QR_SYNC_CLI_MAILBOXES;
        for (size_t i = 0; i < a->n_mailboxes; i++) {
            pats[i] = a->mailboxes[i];
            lens[i] = strlen(a->mailboxes[i]);
        }
        so->npatterns = a->n_mailboxes;
    } else {
        for (size_t i = 0; i < r->patterns.n; i++) {
            pats[i] = r->patterns.items[i].data;
            lens[i] = r->patterns.items[i].len;
        }
        so->npatterns = r->patterns.n;
    }
    so->patterns = pats;
    so->pattern_lens = lens;
    so->list_select_opts = r->select_opts;
    so->ignore = r->ignore ? ignore_cb : NULL;
    so->ignore_payload = r;
    so->log_fn = im_log_sync_cb;
    so->log_payload = &r->log;
    so->log_level = a->debug ? QR_LOG_DEBUG : QR_LOG_INFO;
    /* A terminal, not --quiet, and debug lines not on the same terminal. */
    if (!a->quiet && isatty(STDERR_FILENO) && (a->debug == 0 || r->log.file_fd >= 0)) {
        so->progress_fn = im_progress_cb;
        so->progress_payload = &r->progress;
    }
    if (a->watch)
        so->flags |= QR_SYNC_WATCH;
    if (a->notify)
        so->flags |= QR_SYNC_NOTIFY;
}

/* The sync object and its database lock (§2.6 step 8); 0 or a QR_E* code. */
static int new_sync(struct run *r)
{
    size_t n = r->args.n_mailboxes > r->patterns.n ? r->args.n_mailboxes : r->patterns.n;
    const char **pats = qrt_xcalloc(n + 1, sizeof(*pats));
    size_t *lens = qrt_xcalloc(n + 1, sizeof(*lens));
    qr_sync_options so;
    qr_sync *s = NULL;
    int rc;

    sync_options(r, &so, pats, lens);
    rc = qr_sync_new(&s, &so); /* copies the patterns */
    free(pats);
    free(lens);
    if (rc < 0)
        return rc;
    r->sync = s;
    set_current_sync(s);
    return qr_sync_open(s);
}

/* The text of a failed new_sync(): the library's detail, or its code. */
static void sync_error_text(struct run *r, int rc, char *buf, size_t size)
{
    const qr_error *e = r->sync ? qr_sync_last_error(r->sync) : NULL;

    if (r->sync == NULL)
        snprintf(buf, size, "interimap: %s", qr_strerror(rc));
    else
        snprintf(buf, size, "%s", e && e->message[0] ? e->message : qr_strerror(rc));
}

static int attach(struct run *r)
{
    int rc = qr_sync_attach(r->sync, r->conn[0], r->conn[1]);
    char msg[160];

    if (rc == 0)
        return -1;
    snprintf(msg, sizeof(msg), "interimap: %s", qr_strerror(rc));
    return die(r, msg, QRT_EXIT_FATAL);
}

/* Sync object, database lock, then the connections (§2.6 steps 8-9): the
 * lock is taken before any tunnel starts. -1 to go on. */
static int open_sync(struct run *r)
{
    char msg[512];
    int failed, rc;

    install_handlers(r);
    rc = new_sync(r);
    if (rc < 0) {
        sync_error_text(r, rc, msg, sizeof(msg));
        return die(r, msg, QRT_EXIT_FATAL);
    }
    rc = create_conns(r, &failed);
    if (rc >= 0)
        return rc;
    if (r->args.debug)
        im_log_printf(&r->log, IM_DEBUG, 0, NULL, NULL, ">>> interimap %s", qr_version());
    if (failed >= 0)
        return conn_failed(r, failed);
    return attach(r);
}

/* Free the sync (the lock goes with it), then both connections with their
 * traffic lines (§15.3 step 1). */
static void close_all(struct run *r)
{
    if (r->have_log)
        im_progress_done(&r->progress);
    set_current_sync(NULL);
    qr_sync_free(r->sync);
    r->sync = NULL;
    for (int i = 0; i < 2; i++) {
        qr_conn_traffic_stats t;
        int have = r->conn[i] != NULL && qr_conn_traffic(r->conn[i], &t) == 0;

        qr_conn_free(r->conn[i]);
        r->conn[i] = NULL;
        if (have && r->started[i] && r->have_log) {
            char *text = qrt_traffic_text(&t);

            im_log_write(&r->log, IM_LOG, IM_LOG_QUIET, side_name[i], NULL, text);
            free(text);
        }
        r->started[i] = 0;
    }
}

/* The exit status of a failed pass or command. */
static int run_status(struct run *r, int rc)
{
    qr_sync_component comp = qr_sync_error_component(r->sync);

    if (r->ignore_err.msg != NULL)
        return die_err(r, &r->ignore_err);
    /* The database failing is a die of the reference (DBI's RaiseError); its
     * refusals ("database: ERROR: Mailbox X exists. Run ...") are a fail: 1. */
    if (rc == QR_ESTORE || rc == QR_ELOCKED || rc == QR_ENOMEM ||
        (comp == QR_SYNC_COMP_DATABASE && rc != QR_ERROR))
        return QRT_EXIT_FATAL;
    /* "Non LIST-EXTENDED-capable IMAP server." is a die of the reference. */
    if (rc == QR_ECAPABILITY && comp == QR_SYNC_COMP_NONE)
        return QRT_EXIT_FATAL;
    return QRT_EXIT_FAILURE;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Whether a pass changed anything (watch mode prints its summary only then:
 * a mailbox whose stored UIDNEXT is 0 is selected at every pass). */
static int changed(const qr_sync_stats *st)
{
    return st->copied[0] + st->copied[1] + st->flags_updated[0] + st->flags_updated[1] +
               st->expunged[0] + st->expunged[1] + st->adopted >
           0;
}

/* One pass (§6 steps 2-12), or --repair (§13), and its summary; a QR_E* code. */
static int pass(struct run *r)
{
    const qr_sync_stats *st;
    struct timespec t0;
    int rc;

    /* The progress rate is per pass (watch mode sleeps between them). */
    im_progress_done(&r->progress);
    im_progress_init(&r->progress, &r->log);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = r->args.command == QRT_CMD_REPAIR ? qr_sync_repair(r->sync) : qr_sync_run(r->sync);
    im_progress_done(&r->progress);
    st = qr_sync_stats_get(r->sync);
    if (rc == 0 && !r->args.quiet && st != NULL && st->mailboxes > 0 &&
        (!r->args.watch || changed(st))) {
        char *text = im_summary_text(st, seconds_since(&t0));

        im_log_write(&r->log, IM_LOG, IM_LOG_QUIET, NULL, NULL, text);
        free(text);
    }
    return rc;
}

/* --target bits as the engine spells them. */
static unsigned sync_targets(unsigned t)
{
    return ((t & QRT_TARGET_LOCAL) ? QR_SYNC_TARGET_LOCAL : 0) |
           ((t & QRT_TARGET_REMOTE) ? QR_SYNC_TARGET_REMOTE : 0) |
           ((t & QRT_TARGET_DATABASE) ? QR_SYNC_TARGET_DATABASE : 0);
}

/* The status after an engine call returned rc, with its ERROR lines held. */
static int outcome(struct run *r, int rc)
{
    if (qrt_stop_received() != 0) {
        /* The cancellation we asked for is no error, nor a connection lost
         * meanwhile (systemd's SIGTERM also reaches the tunnel commands). */
        im_log_release(&r->log, rc != 0 && rc != QR_ECANCELED &&
                                    !im_connection_lost(rc, qr_sync_error_component(r->sync), 1));
        return stopped(r);
    }
    im_log_release(&r->log, 1);
    return rc < 0 ? run_status(r, rc) : QRT_EXIT_OK;
}

/* Without --watch: the command (§1.4), once. */
static int run_once(struct run *r)
{
    int rc;

    if (qrt_stop_received() != 0)
        return stopped(r);
    r->started[0] = r->started[1] = 1;
    im_log_hold(&r->log);
    switch (r->args.command) {
    case QRT_CMD_DELETE:
        rc = qr_sync_delete(r->sync, sync_targets(r->targets));
        break;
    case QRT_CMD_RENAME:
        rc = qr_sync_rename(r->sync, sync_targets(r->targets));
        break;
    case QRT_CMD_SYNC:
    case QRT_CMD_REPAIR:
    default:
        rc = pass(r);
        break;
    }
    return outcome(r, rc);
}

/* What reopen() says when the next attempt must wait. */
#define RETRY (-2)

/* "lost connection to SIDE (REASON)", owned. */
static char *lost_text(qr_sync_component comp, const qr_error *e, int code)
{
    const char *who = im_log_component_name(comp);
    char *text = NULL;

    if (asprintf(&text, "lost connection to %s (%s)", who ? who : "the servers",
                 e != NULL && e->message[0] ? e->message : qr_strerror(code)) < 0)
        qrt_oom();
    return text;
}

/*
 * Create everything again after a lost connection: the sync and its lock,
 * the connections, attached. -1 to go on with a pass; RETRY with *why
 * (owned) when it must be tried again later (a connection that failed at
 * once, the database locked by another run meanwhile); else the exit
 * status.
 */
static int reopen(struct run *r, char **why)
{
    char msg[512];
    int failed, rc;

    rc = new_sync(r);
    if (rc < 0) {
        sync_error_text(r, rc, msg, sizeof(msg));
        if (rc == QR_ELOCKED) {
            *why = qrt_xstrdup(msg);
            return RETRY;
        }
        return die(r, msg, QRT_EXIT_FATAL);
    }
    rc = create_conns(r, &failed);
    if (rc >= 0)
        return rc;
    if (failed >= 0) {
        const qr_error *e = qr_conn_last_error(r->conn[failed]);
        qr_sync_component comp = failed == 0 ? QR_SYNC_COMP_LOCAL : QR_SYNC_COMP_REMOTE;

        if (e != NULL && im_connection_lost(e->code, comp, 0)) {
            *why = lost_text(comp, e, e->code);
            return RETRY;
        }
        return conn_failed(r, failed);
    }
    return attach(r);
}

/* Say why, free everything, sleep, create everything again (until it works). */
static int reconnect(struct run *r, struct qrt_backoff *bo, char *why)
{
    for (;;) {
        unsigned delay = qrt_backoff_next(bo);
        int rc;

        im_log_printf(&r->log, IM_LOG, 0, NULL, NULL, "WARNING: %s; reconnecting in %u s", why,
                      delay);
        free(why);
        why = NULL;
        close_all(r);
        if (qrt_sleep(delay, &g_wake, qrt_stop_flag()))
            return stopped(r);
        rc = reopen(r, &why);
        if (rc != RETRY)
            return rc;
    }
}

/* --watch, --notify (§14): pass, wait, forever; reconnect after a lost
 * connection once a pass has succeeded. */
static int watch(struct run *r)
{
    struct qrt_backoff bo;
    int succeeded = 0;

    qrt_backoff_reset(&bo);
    for (;;) {
        qr_sync_component comp;
        int rc;

        im_log_reopen_pending(&r->log);
        if (qrt_stop_received() != 0)
            return stopped(r);
        r->started[0] = r->started[1] = 1;
        im_log_hold(&r->log);
        rc = pass(r);
        if (rc == 0 && qrt_stop_received() == 0) {
            succeeded = 1;
            qrt_backoff_reset(&bo);
            im_log_release(&r->log, 1);
            im_log_reopen_pending(&r->log);
            im_log_hold(&r->log);
            rc = qr_sync_idle(r->sync, (int)r->args.interval);
        }
        if (qrt_stop_received() != 0 || rc == 0) {
            rc = outcome(r, rc);
            if (qrt_stop_received() != 0)
                return rc;
            continue;
        }
        comp = qr_sync_error_component(r->sync);
        if (!succeeded || !im_connection_lost(rc, comp, 0))
            return outcome(r, rc);
        im_log_release(&r->log, 0);
        rc = reconnect(r, &bo, lost_text(comp, qr_sync_last_error(r->sync), rc));
        if (rc >= 0)
            return rc;
    }
}

/* §15.3, then free everything; returns status. */
static int finish(struct run *r, int status)
{
    if (r->have_log)
        im_log_release(&r->log, 1);
    close_all(r);
    if (r->args.debug && r->have_log)
        im_log_write(&r->log, IM_DEBUG, 0, NULL, NULL, "Cleaning up...");
    else if (r->args.debug)
        fputs("Cleaning up...\n", stderr);
    g_log = NULL;
    if (r->have_log)
        im_log_close(&r->log);
    qrt_ignore_free(r->ignore);
    qrt_err_clear(&r->ignore_err);
    free(r->select_opts);
    qrt_pattern_list_free(&r->patterns);
    free(r->dbpath);
    if (r->config != NULL)
        qrt_interimap_settings_free(&r->set);
    qrt_config_free(r->config);
    qrt_interimap_args_free(&r->args);
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
    qrt_interimap_args_parse(&r.args, argc, argv);
    rc = qrt_args_print_outcome(QRT_TOOL_INTERIMAP, r.args.what, &r.args.cli, &r.args.err,
                                argc > 0 ? argv[0] : "interimap");
    if (rc < 0)
        rc = startup(&r);
    if (rc < 0)
        im_progress_init(&r.progress, &r.log);
    if (rc < 0)
        rc = open_sync(&r);
    if (rc < 0)
        rc = r.args.watch ? watch(&r) : run_once(&r);
    return finish(&r, rc);
}
