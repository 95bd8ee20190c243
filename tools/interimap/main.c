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
 * `>>> interimap VERSION` debug line, and one pass of qr_sync_run().
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
 * Signals: SIGPIPE is ignored (the library reports write errors). SIGINT
 * and SIGTERM keep their default action for now: the engine has no
 * cancellation hook, and the database is crash-safe by design.
 */
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
#include "report.h"
#include "settings.h"
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

/* §1.3: what the command line alone decides; -1 to go on. */
static int early_exit(struct run *r, const char *argv0)
{
    const struct qrt_cli *cli = &r->args.cli;
    char *v;

    for (size_t i = 0; i < cli->n_errors; i++)
        fprintf(stderr, "%s\n", cli->errors[i]);
    switch (r->args.what) {
    case QRT_ARGS_VERSION:
        v = qrt_version_text(argv0, qr_version());
        fputs(v, stdout);
        free(v);
        return QRT_EXIT_OK;
    case QRT_ARGS_HELP:
        fputs(qrt_usage_long(QRT_TOOL_INTERIMAP), stderr);
        return QRT_EXIT_OK;
    case QRT_ARGS_USAGE:
        fputs(qrt_usage_short(QRT_TOOL_INTERIMAP), stderr);
        return QRT_EXIT_USAGE;
    case QRT_ARGS_FATAL:
        return die_err(r, &r->args.err);
    case QRT_ARGS_RUN:
        break;
    }
    return -1;
}

/*
 * The commands the engine cannot run yet (issue 7): refused with one line
 * after the reference's validation. Remove with its call once they exist.
 */
static int unsupported_command(const struct qrt_interimap_args *a)
{
    const char *what = a->command == QRT_CMD_REPAIR   ? "--repair"
                       : a->command == QRT_CMD_DELETE ? "--delete"
                       : a->command == QRT_CMD_RENAME ? "--rename"
                       : a->notify                    ? "--notify"
                       : a->watch                     ? "--watch"
                                                      : NULL;

    if (what == NULL)
        return -1;
    fprintf(stderr, "interimap: %s is not supported by this version yet\n", what);
    return QRT_EXIT_FATAL;
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
    unsigned targets;

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
    if (qrt_interimap_targets(a, &targets, &err) < 0)
        return die_err(r, &err);
    return unsupported_command(a);
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
        r->side[i] = (struct im_log_side){&r->log, side_name[i], sel[i], r};
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
}

/* Sync object, database lock, then the connections (§2.6 steps 8-9): the
 * lock is taken before any tunnel starts. -1 to go on. */
static int open_sync(struct run *r)
{
    size_t n = r->args.n_mailboxes > r->patterns.n ? r->args.n_mailboxes : r->patterns.n;
    const char **pats = qrt_xcalloc(n + 1, sizeof(*pats));
    size_t *lens = qrt_xcalloc(n + 1, sizeof(*lens));
    qr_sync_options so;
    int failed, rc;

    sync_options(r, &so, pats, lens);
    rc = qr_sync_new(&r->sync, &so);
    if (rc < 0) {
        char msg[160];

        snprintf(msg, sizeof(msg), "interimap: %s", qr_strerror(rc));
        rc = die(r, msg, QRT_EXIT_FATAL);
        goto out;
    }
    rc = qr_sync_open(r->sync);
    if (rc < 0) {
        const qr_error *e = qr_sync_last_error(r->sync);

        rc = die(r, e && e->message[0] ? e->message : qr_strerror(rc), QRT_EXIT_FATAL);
        goto out;
    }
    rc = create_conns(r, &failed);
    if (rc >= 0)
        goto out;
    if (r->args.debug)
        im_log_printf(&r->log, IM_DEBUG, 0, NULL, NULL, ">>> interimap %s", qr_version());
    if (failed >= 0) {
        rc = conn_failed(r, failed);
        goto out;
    }
    rc = qr_sync_attach(r->sync, r->conn[0], r->conn[1]);
    if (rc < 0) {
        char msg[160];

        snprintf(msg, sizeof(msg), "interimap: %s", qr_strerror(rc));
        rc = die(r, msg, QRT_EXIT_FATAL);
        goto out;
    }
    rc = -1;
out:
    free(pats);
    free(lens);
    return rc;
}

/* The exit status of a failed pass. */
static int run_status(struct run *r, int rc)
{
    qr_sync_component comp = qr_sync_error_component(r->sync);

    if (r->ignore_err.msg != NULL)
        return die_err(r, &r->ignore_err);
    if (rc == QR_ESTORE || rc == QR_ELOCKED || rc == QR_ENOMEM || comp == QR_SYNC_COMP_DATABASE)
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

/* One pass (§6 steps 2-12). */
static int synchronise(struct run *r)
{
    struct timespec t0;
    int rc;

    r->started[0] = r->started[1] = 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = qr_sync_run(r->sync);
    im_progress_done(&r->progress);
    if (rc < 0)
        return run_status(r, rc);
    const qr_sync_stats *st = qr_sync_stats_get(r->sync);
    if (!r->args.quiet && st != NULL && st->mailboxes > 0) {
        char *text = im_summary_text(st, seconds_since(&t0));

        im_log_write(&r->log, IM_LOG, IM_LOG_QUIET, NULL, NULL, text);
        free(text);
    }
    return QRT_EXIT_OK;
}

/* §15.3, then free everything; returns status. */
static int finish(struct run *r, int status)
{
    if (r->have_log)
        im_progress_done(&r->progress);
    qr_sync_free(r->sync);
    for (int i = 0; i < 2; i++) {
        qr_conn_traffic_stats t;
        int have = r->conn[i] != NULL && qr_conn_traffic(r->conn[i], &t) == 0;

        qr_conn_free(r->conn[i]);
        if (have && r->started[i] && r->have_log) {
            char *text = im_traffic_text(&t);

            im_log_write(&r->log, IM_LOG, IM_LOG_QUIET, side_name[i], NULL, text);
            free(text);
        }
    }
    if (r->args.debug && r->have_log)
        im_log_write(&r->log, IM_DEBUG, 0, NULL, NULL, "Cleaning up...");
    else if (r->args.debug)
        fputs("Cleaning up...\n", stderr);
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
    rc = early_exit(&r, argc > 0 ? argv[0] : "interimap");
    if (rc < 0)
        rc = startup(&r);
    if (rc < 0)
        im_progress_init(&r.progress, &r.log);
    if (rc < 0)
        rc = open_sync(&r);
    if (rc < 0)
        rc = synchronise(&r);
    return finish(&r, rc);
}
