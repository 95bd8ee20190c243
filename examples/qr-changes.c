/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr-changes: print what changed in a mailbox since the last run.
 *
 *     qr-changes CONFIG SECTION MAILBOX STATEFILE
 *
 * The first run (no STATEFILE) lists every message as new. Later runs
 * resynchronise with `SELECT MAILBOX (QRESYNC (...))` (RFC 7162) from the
 * saved state and print, one per line:
 *
 *     vanished UID               the message was expunged
 *     flags UID MODSEQ (FLAGS)   its flags changed
 *     new UID                    it arrived
 *
 * then save the new state. docs/writing-a-sync-agent.md walks through it.
 * Build: cc -o qr-changes qr-changes.c config.c $(pkg-config --cflags --libs libqresync)
 */
#define _POSIX_C_SOURCE 200809L /* fsync, fileno */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qresync/qresync.h>

#include "config.h"

/* Everything the callbacks need. */
typedef struct app {
    qr_mbox_engine *engine; /* folds every response into a change set */
    int feed_rc;            /* the first error the engine reported */
    size_t done;            /* completed commands: the loop runs until it grows */
    int status;             /* status of the last completed command */
} app;

/* Every untagged response goes to the engine: those of our commands
 * (on_untagged) and the unsolicited ones (EXISTS, VANISHED, FETCH that the
 * server may send at any time). The engine keeps what matters. */
static int feed(qr_session *s, const qr_resp *resp, void *payload)
{
    app *a = payload;
    int rc = qr_mbox_engine_feed(a->engine, resp);

    (void)s;
    if (rc != 0 && a->feed_rc == 0)
        a->feed_rc = rc;
    return 0;
}

static int select_done(qr_session *s, const qr_session_result *res,
                       const qr_imap_select_result *sel, void *payload)
{
    app *a = payload;

    (void)s;
    (void)sel; /* the engine saw the same data through feed() */
    a->status = res->status;
    a->done++;
    return 0;
}

static int fetch_done(qr_session *s, const qr_session_result *res, void *payload)
{
    app *a = payload;

    (void)s;
    a->status = res->status;
    a->done++;
    return 0;
}

/* The state file: four lines, e.g.
 *     uidvalidity 1700000000
 *     uidnext 5
 *     highestmodseq 12
 *     uids 1,3:4
 * Returns 1 when read, 0 when there is no file, -1 on error. */
static int load_state(const char *path, qr_mbox_state *st, qr_uidset *known)
{
    char uids[65536] = "";
    FILE *f = fopen(path, "r");
    int ok;

    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    ok = fscanf(f, "uidvalidity %" SCNu32 " uidnext %" SCNu32 " highestmodseq %" SCNu64 " uids ",
                &st->uidvalidity, &st->uidnext, &st->highestmodseq) == 3;
    if (ok && fgets(uids, sizeof(uids), f) != NULL)
        uids[strcspn(uids, "\n")] = '\0';
    fclose(f);
    if (!ok || (uids[0] != '\0' && qr_uidset_parse(known, uids, strlen(uids)) != 0))
        return -1;
    return 1;
}

/* Write to PATH.tmp, then rename: a crash leaves the old state or the
 * new one, never half of one. */
static int save_state(const char *path, const qr_mbox_state *st, const qr_uidset *known)
{
    char tmp[4096];
    qr_buf text = QR_BUF_INIT;
    FILE *f;
    int ok;

    if (qr_uidset_format(known, &text) != 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    ok = f != NULL;
    if (ok)
        ok = fprintf(f,
                     "uidvalidity %" PRIu32 "\nuidnext %" PRIu32 "\nhighestmodseq %" PRIu64
                     "\nuids %s\n",
                     st->uidvalidity, st->uidnext, st->highestmodseq,
                     text.ptr != NULL ? text.ptr : "") > 0;
    if (f != NULL && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        ok = 0;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    qr_buf_dispose(&text);
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

/* Print the change set; update the set of known UIDs. */
static int report(const qr_changes *ch, const qr_kwtable *kw, qr_uidset *known)
{
    const qr_flag_update *u;
    qr_uidset_iter it;
    uint32_t uid;
    size_t i, n;

    qr_uidset_iter_init(&it, qr_changes_vanished(ch));
    while (qr_uidset_iter_next(&it, &uid))
        printf("vanished %" PRIu32 "\n", uid);
    u = qr_changes_updates(ch, &n);
    for (i = 0; i < n; i++) {
        qr_buf flags = QR_BUF_INIT;

        /* With QRESYNC the server sends FLAGS with every change; a real
         * agent would UID FETCH (FLAGS) those without (flags_known == 0). */
        if (u[i].flags_known &&
            qr_flagset_format(&u[i].flags, kw, QR_FLAGSET_FORMAT_PARENS, &flags) != 0)
            return -1;
        printf("flags %" PRIu32 " %" PRIu64 " %s\n", u[i].uid, u[i].modseq,
               u[i].flags_known ? flags.ptr : "?");
        qr_buf_dispose(&flags);
    }
    qr_uidset_iter_init(&it, qr_changes_new_uids(ch));
    while (qr_uidset_iter_next(&it, &uid))
        printf("new %" PRIu32 "\n", uid);
    if (qr_uidset_difference(known, qr_changes_vanished(ch)) != 0 ||
        qr_uidset_union(known, qr_changes_new_uids(ch)) != 0)
        return -1;
    return 0;
}

/* Print one line for a failed library call; returns rc. */
static int check(int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "qr-changes: %s: %s\n", what, qr_strerror(rc));
    return rc;
}

/* Run the loop until one more command completed; 0 when it succeeded. */
static int wait_command(qr_loop *loop, qr_conn *c, app *a, const char *what)
{
    size_t target = a->done + 1;
    int rc = qr_loop_run_count(loop, &a->done, target, -1);

    if (rc == 0)
        rc = a->status;
    if (rc == 0)
        rc = a->feed_rc;
    if (rc != 0) {
        const qr_error *e =
            a->feed_rc != 0 ? qr_mbox_engine_last_error(a->engine) : qr_conn_last_error(c);
        fprintf(stderr, "qr-changes: %s: %s (%s)\n", what, e->message, qr_strerror(rc));
    }
    return rc;
}

int main(int argc, char **argv)
{
    qr_mbox_state saved = QR_MBOX_STATE_INIT;
    qr_qresync_params params;
    qr_conn_options o;
    ex_config cfg;
    app a = {NULL, 0, 0, 0};
    qr_kwtable *kw = NULL;
    qr_uidset *known = NULL, *range = NULL;
    qr_changes *ch = NULL;
    qr_conn *c = NULL;
    qr_loop *loop = NULL;
    int have_state, rc = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: qr-changes CONFIG SECTION MAILBOX STATEFILE\n");
        return 2;
    }
    memset(&params, 0, sizeof(params));
    if (ex_config_load(&cfg, argv[1], argv[2], &o) != 0)
        return 1;
    if (check(qr_uidset_new(&known), "uidset") || check(qr_uidset_new(&range), "uidset") ||
        check(qr_kwtable_new(&kw), "kwtable"))
        goto out;
    have_state = load_state(argv[4], &saved, known);
    if (have_state < 0) {
        fprintf(stderr, "qr-changes: %s: cannot read the state\n", argv[4]);
        goto out;
    }

    /* The engine starts from the saved state (NULL: everything is new). */
    if (check(qr_mbox_engine_new(&a.engine, have_state ? &saved : NULL, kw), "engine"))
        goto out;

    /* QRESYNC must be ENABLEd once per connection; the connection does it
     * during its setup, and fails with QR_ECAPABILITY if the server cannot. */
    o.enable = "QRESYNC";
    o.on_unsolicited = feed;
    o.payload = &a;
    if (qr_conn_new(&c, &o) != 0) {
        fprintf(stderr, "qr-changes: %s\n", c != NULL ? qr_conn_last_error(c)->message : "?");
        goto out;
    }
    ex_config_free(&cfg); /* qr_conn_new() copied the strings */
    if (check(qr_loop_new(&loop), "loop") || check(qr_loop_add(loop, c), "loop"))
        goto out;

    /* SELECT MAILBOX (QRESYNC (uidvalidity modseq known-uids ...)); a plain
     * SELECT without a state. Commands submitted before the connection is
     * set up simply wait: the loop below connects, logs in, then sends. */
    if (have_state && check(qr_mbox_qresync_params(&params, &saved, known), "QRESYNC"))
        goto out;
    if (check(qr_mbox_engine_begin_select(a.engine, 0), "engine") ||
        check(qr_imap_select(qr_conn_session(c), argv[3], 0, &params, feed, select_done, &a),
              "SELECT") ||
        wait_command(loop, c, &a, "SELECT") != 0)
        goto out;

    /* The new messages are those from the saved UIDNEXT up to the UIDNEXT
     * the server just announced; messages arriving later are for next time. */
    {
        uint32_t from = have_state ? saved.uidnext : 1;
        uint32_t to = qr_mbox_engine_state(a.engine)->uidnext;

        if (to > from) {
            qr_cmd *cmd = NULL;

            if (check(qr_uidset_add_range(range, from, to - 1), "uidset") ||
                check(qr_cmd_new(&cmd, "UID FETCH", 0), "UID FETCH"))
                goto out;
            qr_cmd_add_uidset(cmd, range);
            qr_cmd_add_raw(cmd, "(UID FLAGS MODSEQ)");
            /* builder errors are sticky: qr_imap_raw() refuses a bad command */
            if (qr_imap_raw(qr_conn_session(c), cmd, QR_CLAIM_AUTO, feed, fetch_done, &a) != 0) {
                qr_cmd_free(cmd);
                fprintf(stderr, "qr-changes: UID FETCH: %s\n", qr_conn_last_error(c)->message);
                goto out;
            }
            if (wait_command(loop, c, &a, "UID FETCH") != 0)
                goto out;
        }
    }

    /* Take the change set: vanished, flag updates, new UIDs, next state. */
    if (check(qr_mbox_engine_take(a.engine, 0, &ch), "changes"))
        goto out;
    if (qr_changes_flags(ch) & (QR_CHANGES_NOMODSEQ | QR_CHANGES_RESCAN)) {
        fprintf(stderr, "qr-changes: %s: no MODSEQ or sequence EXPUNGE: a full rescan is needed\n",
                argv[3]);
        goto out;
    }
    if (check(report(ch, kw, known), "changes") || fflush(stdout) != 0)
        goto out;
    /* Save only now, and only what the server said (qr_changes_state()). */
    if (save_state(argv[4], qr_changes_state(ch), known) != 0) {
        fprintf(stderr, "qr-changes: %s: cannot save the state\n", argv[4]);
        goto out;
    }
    rc = 0;

out:
    if (loop != NULL && c != NULL)
        qr_loop_remove(loop, c);
    if (c != NULL && rc == 0 && qr_conn_close_wait(c, 10000) != 0)
        rc = 1;
    qr_conn_free(c); /* before the engine: its callbacks may still feed it */
    qr_loop_free(loop);
    qr_changes_free(ch);
    qr_mbox_engine_free(a.engine);
    qr_mbox_qresync_params_dispose(&params);
    qr_uidset_free(range);
    qr_uidset_free(known);
    qr_kwtable_free(kw);
    ex_config_free(&cfg);
    return rc;
}
