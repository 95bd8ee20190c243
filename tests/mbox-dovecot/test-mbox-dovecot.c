/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mbox-dovecot: the QRESYNC engine against real Dovecot (suite
 * dovecot). Run as `rig.py run --stores 1 --skip-exit 0 -- test-mbox-dovecot`.
 *
 * For each seed, in a fresh mailbox of the rig's store:
 *  1. a second connection (d2) APPENDs N random messages (system flags and
 *     keywords) and expunges a few, so that the UID space has gaps; the
 *     first connection (d1) does full scan A (SELECT + UID FETCH 1:*
 *     (UID FLAGS MODSEQ)): the saved state and the known UIDs;
 *  2. d1 either UNSELECTs or stays selected (then the QRESYNC SELECT must
 *     skip the old mailbox's responses up to `[CLOSED]`, and d1 itself may
 *     change flags before it: changes the engine must still see);
 *     d2 (a separate tunnel session, so really out of band) makes random
 *     flag changes (+FLAGS, -FLAGS, FLAGS, several times on few UIDs),
 *     expunges and appends, and sometimes the rig's CLI (doveadm) adds a
 *     keyword;
 *  3. d1 sends SELECT mbox (QRESYNC (...)) built by
 *     qr_mbox_qresync_append() from scan A, with every response (untagged
 *     and tagged) fed to a qr_mbox_engine after begin_select; d2 then makes
 *     live changes (flags, expunges of old messages, appends) while d1 is
 *     selected; d1 sends NOOP and UID FETCH <saved UIDNEXT>:* (UID FLAGS
 *     MODSEQ), as the reference does (interimap spec 12.2-12.3); the
 *     change set is taken;
 *  4. d2 does full scan B, and the change set must be the difference of
 *     the scans: vanished contains A-B, holds nothing of B and nothing at
 *     or above A's UIDNEXT (UIDs that never existed below it are allowed,
 *     RFC 7162); new UIDs are exactly B's UIDs at or above A's UIDNEXT;
 *     the flag updates are exactly the UIDs of A and B whose MODSEQ in B
 *     is above A's HIGHESTMODSEQ (every UID whose flags differ is one of
 *     them), each with B's flags and MODSEQ; the next state has B's
 *     UIDVALIDITY, EXISTS and HIGHESTMODSEQ (exactly, even after live
 *     expunges: Dovecot puts [HIGHESTMODSEQ] in tagged OKs), and B's
 *     UIDNEXT (unless a message was appended and expunged live between
 *     two of d1's commands: d1 never hears of it, so UIDNEXT may stay
 *     below B's, but not below B's highest UID + 1); no RESCAN,
 *     NOMODSEQ or MODSEQ_BACKWARDS. The flags of new messages are not in
 *     a change set (only their UIDs), so they are not compared.
 * Then a mailbox deleted and re-created under the saved state must make
 * the engine return QR_EUIDVALIDITY.
 *
 * Seeds 1..N (N = 30 or QR_MBOX_DOVECOT_SEEDS); QR_MBOX_DOVECOT_SEED=s
 * runs only seed s. One TAP line per seed, with the diff on failure.
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/mbox.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "../unit/mbox-util.h"
#include "dc-util.h"

#define NKW    5
#define MAXUID 512

static const char *const kw_names[NKW] = {"$Label1", "$Junk", "NonJunk", "Zeta", "$Forwarded"};
static const char *const sys_names[5] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                                         "\\Draft"};

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return n ? (uint32_t)((rng * 2685821657736338717ull) >> 33) % n : 0;
}

/* A random flag list (at least `min` names) into names[0..9]. */
static size_t random_flags(const char **names, size_t min)
{
    size_t n = 0, i;

    for (i = 0; i < 5; i++)
        if (rnd(3) == 0)
            names[n++] = sys_names[i];
    for (i = 0; i < NKW; i++)
        if (rnd(3) == 0)
            names[n++] = kw_names[i];
    if (n < min)
        names[n++] = rnd(2) ? kw_names[rnd(NKW)] : sys_names[rnd(5)];
    return n;
}

/* The test's view of one seed: connections, table and live UIDs. */
typedef struct seed_ctx {
    dc_conn *d1, *d2;
    qr_kwtable *kw;
    char mbox[32];
    uint32_t alive[MAXUID]; /* UIDs believed present */
    size_t nalive;
    uint32_t hot[4];  /* few UIDs changed again and again */
    int live_expunge; /* an expunge happened while d1 was selected */
    int live_append;
    uint32_t live_floor; /* UIDNEXT when d1's SELECT completed; 0 before */
    int live_new_gone;   /* a message appended live was expunged live too */
    int rig_ops;         /* changes made through the rig's CLI */
    int rc;              /* first failed operation */
} seed_ctx;

static void note_rc(seed_ctx *x, int rc, const char *what)
{
    if (rc != 0 && x->rc == 0) {
        x->rc = rc;
        printf("# %s failed: %d\n", what, rc);
    }
}

static void op_append(seed_ctx *x, dc_conn *d)
{
    const char *names[10];
    size_t n = random_flags(names, 0);
    uint32_t uid = 0;

    note_rc(x, dc_append(d, x->mbox, names, n, &uid), "APPEND");
    if (uid != 0 && x->nalive < MAXUID)
        x->alive[x->nalive++] = uid;
}

static uint32_t pick_uid(seed_ctx *x)
{
    if (x->nalive == 0)
        return 0;
    if (rnd(2) == 0) {
        uint32_t u = x->hot[rnd(4)];
        size_t i;

        for (i = 0; i < x->nalive; i++)
            if (x->alive[i] == u)
                return u;
    }
    return x->alive[rnd((uint32_t)x->nalive)];
}

static void op_store(seed_ctx *x, dc_conn *d)
{
    static const char *const ops[3] = {"+FLAGS.SILENT", "-FLAGS.SILENT", "FLAGS.SILENT"};
    const char *names[10];
    uint32_t uid = pick_uid(x);
    size_t n;

    if (uid == 0)
        return;
    n = random_flags(names, 1);
    note_rc(x, dc_store(d, uid, ops[rnd(3)], names, n), "UID STORE");
}

static void op_expunge(seed_ctx *x, dc_conn *d)
{
    const char *del = "\\Deleted";
    char num[16];
    size_t i;
    uint32_t uid = pick_uid(x);

    if (uid == 0)
        return;
    note_rc(x, dc_store(d, uid, "+FLAGS.SILENT", &del, 1), "UID STORE \\Deleted");
    if (x->live_floor != 0 && uid >= x->live_floor)
        x->live_new_gone = 1;
    snprintf(num, sizeof(num), "%lu", (unsigned long)uid);
    note_rc(x, dc_simple(d, "UID EXPUNGE", num), "UID EXPUNGE");
    for (i = 0; i < x->nalive; i++)
        if (x->alive[i] == uid) {
            x->alive[i] = x->alive[--x->nalive];
            break;
        }
}

/* A keyword added by the rig's CLI (doveadm, a third session). */
static void op_rig(seed_ctx *x)
{
    char cmd[1024];
    uint32_t uid = pick_uid(x);

    if (uid == 0 || getenv("QR_RIG_CLI") == NULL)
        return;
    snprintf(cmd, sizeof(cmd),
             "python3 '%s' mail --dir '%s' store0 flags add %s %lu '%s' >/dev/null",
             getenv("QR_RIG_CLI"), getenv("QR_RIG_DIR"), x->mbox, (unsigned long)uid,
             kw_names[rnd(NKW)]);
    note_rc(x, system(cmd) == 0 ? 0 : QR_ERROR, "rig.py mail flags add");
    x->rig_ops++;
}

/* k random changes on d2 (d2 has the mailbox selected). */
static void random_changes(seed_ctx *x, size_t k, int live)
{
    size_t i;

    for (i = 0; i < k && x->rc == 0; i++) {
        uint32_t r = rnd(10);

        if (r < 6) {
            op_store(x, x->d2);
        } else if (r < 8) {
            op_expunge(x, x->d2);
            x->live_expunge |= live;
        } else {
            op_append(x, x->d2);
            x->live_append |= live;
        }
    }
}

/* Print a scan as one diagnostic line. */
static void print_scan(const char *label, const dc_scan *s, qr_kwtable *kw)
{
    size_t i;

    printf("# %s: uidvalidity=%lu uidnext=%lu hms=%llu exists=%lu:", label,
           (unsigned long)s->uidvalidity, (unsigned long)s->uidnext, (unsigned long long)s->hms,
           (unsigned long)s->exists);
    for (i = 0; i < s->n; i++) {
        qr_buf b = QR_BUF_INIT;

        qr_flagset_format(&s->m[i].flags, kw, QR_FLAGSET_FORMAT_PARENS, &b);
        printf(" %lu/%llu%s", (unsigned long)s->m[i].uid, (unsigned long long)s->m[i].modseq,
               b.ptr != NULL ? b.ptr : "()");
        qr_buf_dispose(&b);
    }
    printf("\n");
}

/* vanished: contains A-B, nothing of B, nothing at or above A's UIDNEXT. */
static void check_vanished(const dc_scan *a, const dc_scan *b, const qr_changes *ch)
{
    const qr_uidset *v = qr_changes_vanished(ch);
    qr_uidset_iter it;
    uint32_t uid;
    size_t i;

    for (i = 0; i < a->n; i++)
        if (dc_scan_find(b, a->m[i].uid) == NULL && !qr_uidset_contains(v, a->m[i].uid)) {
            printf("# expunged UID %lu not in vanished\n", (unsigned long)a->m[i].uid);
            CHECK(0);
        }
    qr_uidset_iter_init(&it, v);
    while (qr_uidset_iter_next(&it, &uid)) {
        if (dc_scan_find(b, uid) != NULL || uid >= a->uidnext) {
            printf("# vanished UID %lu is still there or new\n", (unsigned long)uid);
            CHECK(0);
        }
    }
}

/* new: exactly B's UIDs at or above A's UIDNEXT. */
static void check_new(const dc_scan *a, const dc_scan *b, const qr_changes *ch)
{
    qr_uidset *want = NULL;
    size_t i;

    if (qr_uidset_new(&want) != 0)
        return;
    for (i = 0; i < b->n; i++)
        if (b->m[i].uid >= a->uidnext)
            qr_uidset_add(want, b->m[i].uid);
    if (!qr_uidset_equal(want, qr_changes_new_uids(ch))) {
        char w[4096] = "", g[4096] = "";

        mbox_cat_set(w, sizeof(w), want);
        mbox_cat_set(g, sizeof(g), qr_changes_new_uids(ch));
        printf("# new UIDs: want %s got %s\n", w, g);
        CHECK(0);
    }
    qr_uidset_free(want);
}

/* One update against B. */
static void check_update(const dc_scan *a, const dc_scan *b, const qr_flag_update *u)
{
    const dc_msg *mb = dc_scan_find(b, u->uid);

    if (dc_scan_find(a, u->uid) == NULL || mb == NULL) {
        printf("# update of UID %lu that is not in both scans\n", (unsigned long)u->uid);
        CHECK(0);
        return;
    }
    if (mb->modseq <= a->hms) {
        printf("# update of UID %lu unchanged since A (modseq %llu)\n", (unsigned long)u->uid,
               (unsigned long long)mb->modseq);
        CHECK(0);
    }
    CHECK_INT_EQ(u->flags_known, 1);
    CHECK_UINT_EQ(u->modseq, mb->modseq);
    if (u->flags_known && !qr_flagset_equal(&u->flags, &mb->flags, 0)) {
        printf("# UID %lu: flags differ from scan B\n", (unsigned long)u->uid);
        CHECK(0);
    }
}

/* updates: exactly the UIDs of A and B changed since A, with B's values. */
static void check_updates(const dc_scan *a, const dc_scan *b, const qr_changes *ch)
{
    const qr_flag_update *u;
    size_t n = 0, i;

    u = qr_changes_updates(ch, &n);
    for (i = 0; i < n; i++)
        check_update(a, b, &u[i]);
    for (i = 0; i < a->n; i++) {
        const dc_msg *mb = dc_scan_find(b, a->m[i].uid);

        if (mb == NULL)
            continue;
        if ((mb->modseq > a->hms || !qr_flagset_equal(&mb->flags, &a->m[i].flags, 0)) &&
            qr_changes_find(ch, mb->uid) == NULL) {
            printf("# UID %lu changed (modseq %llu > %llu) but has no update\n",
                   (unsigned long)mb->uid, (unsigned long long)mb->modseq,
                   (unsigned long long)a->hms);
            CHECK(0);
        }
    }
}

/*
 * A message appended and expunged while d1 was selected, between two of
 * its commands, is never announced to d1 (Dovecot sends neither EXISTS nor
 * VANISHED for it): the UIDNEXT built from the data received may then be
 * below the server's, but never below one more than the highest UID.
 */
static void check_uidnext(const dc_scan *b, const qr_mbox_state *st, int live_new_gone)
{
    uint32_t floor = b->n ? b->m[b->n - 1].uid + 1 : 1;

    if (!live_new_gone) {
        CHECK_UINT_EQ(st->uidnext, b->uidnext);
    } else {
        CHECK(st->uidnext <= b->uidnext);
        CHECK(st->uidnext >= floor);
    }
}

static void check_state(const dc_scan *b, const qr_changes *ch, int live_new_gone)
{
    const qr_mbox_state *st = qr_changes_state(ch);
    unsigned int fl = qr_changes_flags(ch);
    uint64_t maxms = 0;
    size_t i;

    CHECK_UINT_EQ(st->uidvalidity, b->uidvalidity);
    check_uidnext(b, st, live_new_gone);
    for (i = 0; i < b->n; i++)
        if (b->m[i].modseq > maxms)
            maxms = b->m[i].modseq;
    /* exact even after live expunges (no MODSEQ of their own): Dovecot
     * 2.3 puts [HIGHESTMODSEQ] in the tagged OK of NOOP and FETCH */
    CHECK_UINT_EQ(st->highestmodseq, b->hms);
    CHECK(st->highestmodseq >= maxms);
    CHECK_INT_EQ(st->exists_known, 1);
    CHECK_UINT_EQ(st->exists, b->n);
    CHECK_INT_EQ(fl & (QR_CHANGES_RESCAN | QR_CHANGES_MODSEQ_BACKWARDS | QR_CHANGES_NOMODSEQ), 0);
}

static void compare(const dc_scan *a, const dc_scan *b, const qr_changes *ch, qr_kwtable *kw,
                    const seed_ctx *x)
{
    int was_bad = tap_current_bad;
    char line[16384];

    tap_current_bad = 0;
    check_vanished(a, b, ch);
    check_new(a, b, ch);
    check_updates(a, b, ch);
    check_state(b, ch, x->live_new_gone);
    if (tap_current_bad) {
        mbox_render(ch, kw, line, sizeof(line));
        printf("# engine: %s\n", line);
        printf("# engine next: uidnext=%lu hms=%llu exists=%lu\n",
               (unsigned long)qr_changes_state(ch)->uidnext,
               (unsigned long long)qr_changes_state(ch)->highestmodseq,
               (unsigned long)qr_changes_state(ch)->exists);
        print_scan("A", a, kw);
        print_scan("B", b, kw);
    }
    tap_current_bad |= was_bad;
}

/* Step 1: the mailbox with random messages and a few gaps; scan A on d1. */
static void populate(seed_ctx *x, dc_scan *a, qr_uidset *known)
{
    size_t n = 1 + rnd(40), i;

    memset(a, 0, sizeof(*a));
    note_rc(x, dc_mailbox_cmd(x->d2, "CREATE", x->mbox), "CREATE");
    for (i = 0; i < n && x->rc == 0; i++)
        op_append(x, x->d2);
    for (i = 0; i < 4; i++)
        x->hot[i] = x->nalive ? x->alive[rnd((uint32_t)x->nalive)] : 0;
    if (x->rc == 0 && rnd(2) == 0) {
        note_rc(x, dc_select(x->d2, x->mbox), "SELECT");
        for (i = rnd(4); i > 0 && x->rc == 0; i--)
            op_expunge(x, x->d2);
    }
    if (x->rc == 0)
        note_rc(x, dc_scan_take(x->d1, x->mbox, x->kw, a), "scan A");
    for (i = 0; i < a->n; i++)
        qr_uidset_add(known, a->m[i].uid);
}

/* Step 3: the QRESYNC SELECT on d1, fed to the engine from its start. */
static void qresync_select(seed_ctx *x, qr_mbox_engine *e, const qr_mbox_state *saved,
                           const qr_uidset *known, unsigned int closed)
{
    qr_qresync_params p;
    qr_cmd *cmd = NULL;
    dc_result res;
    int rc;

    rc = qr_mbox_qresync_params(&p, saved, rnd(4) ? known : NULL);
    if (rc == 0)
        rc = qr_cmd_new(&cmd, "SELECT", 0);
    if (rc == 0) {
        qr_cmd_add_mailbox(cmd, x->mbox);
        rc = qr_mbox_qresync_append(cmd, &p);
    }
    if (rc == 0)
        rc = qr_mbox_engine_begin_select(e, closed);
    if (rc == 0) {
        x->d1->eng = e;
        rc = dc_run(x->d1, cmd, DC_CLAIM_ALL, dc_feed_engine, x->d1, &res);
        cmd = NULL;
    }
    qr_cmd_free(cmd);
    qr_mbox_qresync_params_dispose(&p);
    note_rc(x, rc, "SELECT (QRESYNC)");
}

/* Step 3 after the SELECT: live changes, NOOP, UID FETCH of new UIDs. */
static void live_and_fetch(seed_ctx *x, const qr_mbox_state *saved, const qr_mbox_engine *e)
{
    char args[64];
    qr_cmd *cmd = NULL;
    dc_result res;

    x->live_floor = qr_mbox_engine_state(e)->uidnext;
    if (rnd(2) == 0) {
        random_changes(x, rnd(6), 1);
        if (x->rc == 0)
            note_rc(x, dc_simple(x->d1, "NOOP", NULL), "NOOP");
    }
    snprintf(args, sizeof(args), "%lu:* (UID FLAGS MODSEQ)", (unsigned long)saved->uidnext);
    if (x->rc == 0 && qr_cmd_new(&cmd, "UID FETCH", 0) == 0) {
        qr_cmd_add_raw(cmd, args);
        note_rc(x, dc_run(x->d1, cmd, DC_CLAIM_ALL, dc_feed_engine, x->d1, &res), "UID FETCH");
    }
}

/* Step 2: changes between scan A and the QRESYNC SELECT. */
static unsigned int changes_before(seed_ctx *x)
{
    unsigned int closed = 0;

    if (rnd(2) == 0)
        note_rc(x, dc_simple(x->d1, "UNSELECT", NULL), "UNSELECT");
    else
        closed = 1;
    if (x->rc == 0)
        note_rc(x, dc_select(x->d2, x->mbox), "SELECT d2");
    random_changes(x, rnd(12), 0);
    if (closed && rnd(2) == 0)
        op_store(x, x->d1); /* through the selected d1 itself */
    if (x->rc == 0 && rnd(6) == 0)
        op_rig(x);
    return closed;
}

static void run_seed(dc_conn *d1, dc_conn *d2, qr_kwtable *kw, unsigned int seed)
{
    seed_ctx x;
    dc_scan a, b;
    qr_uidset *known = NULL;
    qr_mbox_engine *e = NULL;
    qr_changes *ch = NULL;
    qr_mbox_state saved = QR_MBOX_STATE_INIT;
    unsigned int closed;
    int rc;

    memset(&x, 0, sizeof(x));
    memset(&b, 0, sizeof(b));
    x.d1 = d1;
    x.d2 = d2;
    x.kw = kw;
    snprintf(x.mbox, sizeof(x.mbox), "seed%u", seed);
    rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0x100000001B3ull);
    d1->feed_rc = 0;
    qr_uidset_new(&known);
    populate(&x, &a, known);
    saved.uidvalidity = a.uidvalidity;
    saved.uidnext = a.uidnext;
    saved.highestmodseq = a.hms;
    closed = changes_before(&x);
    rc = qr_mbox_engine_new(&e, &saved, kw);
    note_rc(&x, rc, "engine_new");
    if (x.rc == 0)
        qresync_select(&x, e, &saved, known, closed);
    live_and_fetch(&x, &saved, e);
    d1->eng = NULL;
    if (d1->feed_rc != 0)
        printf("# engine feed: %d %s\n", d1->feed_rc, qr_mbox_engine_last_error(e)->message);
    CHECK_INT_EQ(d1->feed_rc, 0);
    if (x.rc == 0)
        note_rc(&x, qr_mbox_engine_take(e, 0, &ch), "take");
    if (x.rc == 0)
        note_rc(&x, dc_scan_take(d2, x.mbox, kw, &b), "scan B");
    CHECK_INT_EQ(x.rc, 0);
    if (x.rc == 0) {
        size_t nu = 0;

        qr_changes_updates(ch, &nu);
        printf("# seed %u: A %zu msgs, B %zu, vanished %llu, updates %zu, new %llu, closed %u,"
               " live expunge %d append %d new-gone %d, rig %d\n",
               seed, a.n, b.n, (unsigned long long)qr_uidset_count(qr_changes_vanished(ch)), nu,
               (unsigned long long)qr_uidset_count(qr_changes_new_uids(ch)), closed, x.live_expunge,
               x.live_append, x.live_new_gone, x.rig_ops);
        compare(&a, &b, ch, kw, &x);
    }
    qr_changes_free(ch);
    qr_mbox_engine_free(e);
    qr_uidset_free(known);
    dc_scan_dispose(&a);
    dc_scan_dispose(&b);
}

/* The mailbox is deleted and re-created: QR_EUIDVALIDITY from the SELECT. */
static void run_uidvalidity(dc_conn *d1, dc_conn *d2, qr_kwtable *kw)
{
    seed_ctx x;
    dc_scan a, b;
    qr_uidset *known = NULL;
    qr_mbox_engine *e = NULL;
    qr_mbox_state saved = QR_MBOX_STATE_INIT;
    size_t i;

    memset(&x, 0, sizeof(x));
    x.d1 = d1;
    x.d2 = d2;
    x.kw = kw;
    snprintf(x.mbox, sizeof(x.mbox), "uidvalidity");
    rng = 42;
    d1->feed_rc = 0;
    qr_uidset_new(&known);
    populate(&x, &a, known);
    saved.uidvalidity = a.uidvalidity;
    saved.uidnext = a.uidnext;
    saved.highestmodseq = a.hms;
    note_rc(&x, dc_simple(d1, "UNSELECT", NULL), "UNSELECT");
    note_rc(&x, dc_simple(d2, "UNSELECT", NULL), "UNSELECT d2");
    note_rc(&x, dc_mailbox_cmd(d2, "DELETE", x.mbox), "DELETE");
    note_rc(&x, dc_mailbox_cmd(d2, "CREATE", x.mbox), "CREATE");
    for (i = 0; i < 3; i++)
        op_append(&x, d2);
    note_rc(&x, qr_mbox_engine_new(&e, &saved, kw), "engine_new");
    if (x.rc == 0)
        qresync_select(&x, e, &saved, known, 0);
    d1->eng = NULL;
    CHECK_INT_EQ(x.rc, 0);
    note_rc(&x, dc_scan_take(d2, x.mbox, kw, &b), "scan B");
    CHECK(b.uidvalidity != 0 && b.uidvalidity != a.uidvalidity);
    CHECK_INT_EQ(d1->feed_rc, QR_EUIDVALIDITY);
    CHECK_INT_EQ(qr_mbox_engine_last_error(e)->code, QR_EUIDVALIDITY);
    CHECK_INT_EQ(qr_mbox_engine_feed(e, NULL), QR_EINVAL);
    qr_mbox_engine_free(e);
    qr_uidset_free(known);
    dc_scan_dispose(&a);
    dc_scan_dispose(&b);
}

static void tap_line(const char *name)
{
    tap_count++;
    if (tap_current_bad)
        tap_failures++;
    printf("%sok %d - %s\n", tap_current_bad ? "not " : "", tap_count, name);
    fflush(stdout);
    tap_current_bad = 0;
}

int main(void)
{
    dc_conn d1, d2;
    qr_kwtable *kw = NULL;
    const char *ns = getenv("QR_MBOX_DOVECOT_SEEDS"), *one = getenv("QR_MBOX_DOVECOT_SEED");
    unsigned int nseeds = ns != NULL ? (unsigned int)strtoul(ns, NULL, 10) : 30, s;
    char name[64];

    if (qr_kwtable_new(&kw) != 0 || dc_open(&d1, kw) != 0 || dc_open(&d2, kw) != 0) {
        printf("not ok 1 - connect to the rig's store\n1..1\n");
        return 1;
    }
    for (s = 1; s <= nseeds; s++) {
        unsigned int seed = one != NULL ? (unsigned int)strtoul(one, NULL, 10) : s;

        run_seed(&d1, &d2, kw, seed);
        snprintf(name, sizeof(name), "seed %u", seed);
        tap_line(name);
        if (one != NULL)
            break;
    }
    run_uidvalidity(&d1, &d2, kw);
    tap_line("uidvalidity change gives QR_EUIDVALIDITY");
    dc_close(&d1);
    dc_close(&d2);
    qr_kwtable_free(kw);
    return tap_done();
}
