/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Randomised comparison of the QRESYNC engine against a naive full-scan
 * model.
 *
 * For each seed: generate a mailbox M0 (UIDs, flags, MODSEQs) and the state
 * a client saved for it; apply random flag changes, expunges and appends,
 * each with the next MODSEQ, part before the client's SELECT and part while
 * it is selected; write the bytes a QRESYNC server would send (SELECT with
 * EXISTS, UIDVALIDITY, maybe UIDNEXT and HIGHESTMODSEQ, VANISHED (EARLIER)
 * of the expunged known UIDs, or of every missing UID below the saved
 * UIDNEXT for a "sloppy" server, FETCH of everything whose MODSEQ is above
 * the saved one, in random order and sometimes twice; then live EXISTS,
 * FETCH and VANISHED as the changes happen); feed them through the real
 * parser in random slices; and compare the engine's change set with the
 * difference of two full scans (M0 against the final mailbox M1):
 *   vanished = M0 - M1 (plus the reported never-existing UIDs when sloppy),
 *   new      = UIDs of M1 at or above the saved UIDNEXT,
 *   updates  = UIDs of M0 and M1 whose MODSEQ changed, with M1's flags,
 * and the next state with what the server actually reported.
 *
 * Seeds 1..N (N = 400, or QR_MBOX_SEEDS); QR_MBOX_SEED=s runs only seed s.
 * A failing seed is printed so that it can be replayed.
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/mbox.h>

#include "../tap.h"
#include "mbox-util.h"

#define MAXU    600 /* most UIDs a generated mailbox reaches */
#define NKW     6   /* keywords the generator uses */
#define WIRECAP 262144

static const char *const kw_names[NKW] = {"$Label1", "$Junk",   "NonJunk",
                                          "Zeta",    "$label2", "\\Important"};
static const char *const sys_names[5] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                                         "\\Draft"};

/* One message. */
typedef struct msg {
    uint32_t uid;    /* its UID */
    uint64_t modseq; /* MODSEQ of its last change */
    unsigned sys;    /* system flag bits 0..4 */
    unsigned kw;     /* keyword bits 0..NKW-1 */
} msg;

/* A mailbox: messages in UID order. */
typedef struct mbox {
    msg m[MAXU]; /* the messages, sorted by uid */
    size_t n;    /* how many */
    uint32_t uidnext;
    uint64_t hms;
} mbox;

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return n ? (uint32_t)((rng * 2685821657736338717ull) >> 33) % n : 0;
}

/* The spelling of each keyword in this run (random case, fixed per run). */
static char spelling[NKW][16];

static void pick_spellings(void)
{
    size_t k, i;

    for (k = 0; k < NKW; k++) {
        strcpy(spelling[k], kw_names[k]);
        for (i = 1; spelling[k][i]; i++)
            if (rnd(4) == 0 && spelling[k][i] >= 'a' && spelling[k][i] <= 'z')
                spelling[k][i] = (char)(spelling[k][i] - 32);
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Flags as the reference prints them: names sorted bytewise. */
static void model_flags(const msg *m, char *out, size_t cap)
{
    const char *names[5 + NKW];
    size_t n = 0, k;

    for (k = 0; k < 5; k++)
        if (m->sys & (1u << k))
            names[n++] = sys_names[k];
    for (k = 0; k < NKW; k++)
        if (m->kw & (1u << k))
            names[n++] = spelling[k];
    qsort(names, n, sizeof(names[0]), str_cmp);
    out[0] = '\0';
    mbox_cat(out, cap, "(");
    for (k = 0; k < n; k++) {
        if (k)
            mbox_cat(out, cap, " ");
        mbox_cat(out, cap, names[k]);
    }
    mbox_cat(out, cap, ")");
}

/* The FLAGS list as a server sends it (random order of names). */
static void wire_flags(const msg *m, char *out, size_t cap)
{
    const char *names[5 + NKW];
    size_t n = 0, k;

    for (k = 0; k < 5; k++)
        if (m->sys & (1u << k))
            names[n++] = sys_names[k];
    for (k = 0; k < NKW; k++)
        if (m->kw & (1u << k))
            names[n++] = spelling[k];
    for (k = n; k > 1; k--) {
        size_t j = rnd((uint32_t)k);
        const char *t = names[k - 1];
        names[k - 1] = names[j];
        names[j] = t;
    }
    out[0] = '\0';
    for (k = 0; k < n; k++) {
        if (k)
            mbox_cat(out, cap, " ");
        mbox_cat(out, cap, names[k]);
    }
}

static msg *find(mbox *b, uint32_t uid, size_t *pos)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        if (b->m[i].uid == uid) {
            if (pos)
                *pos = i;
            return &b->m[i];
        }
    return NULL;
}

/* What the synthesized stream reported (for the expected next state). */
typedef struct seen {
    uint32_t max_uid;    /* highest UID in any FETCH or VANISHED */
    uint64_t max_modseq; /* highest MODSEQ in any FETCH */
    int grew;            /* a live EXISTS grew */
} seen;

static void emit(char *wire, const char *s)
{
    mbox_cat(wire, WIRECAP, s);
}

/* Every FETCH emitted, so that stale copies can be replayed out of order. */
static msg hist[8192];
static size_t nhist;

static void emit_fetch(char *wire, const msg *m, size_t seq, seen *sn)
{
    char flags[256], line[512];

    if (nhist < sizeof(hist) / sizeof(hist[0]))
        hist[nhist++] = *m;
    wire_flags(m, flags, sizeof(flags));
    if (rnd(2))
        snprintf(line, sizeof(line), "* %zu FETCH (UID %lu MODSEQ (%llu) FLAGS (%s))\r\n", seq,
                 (unsigned long)m->uid, (unsigned long long)m->modseq, flags);
    else
        snprintf(line, sizeof(line), "* %zu FETCH (FLAGS (%s) UID %lu MODSEQ (%llu))\r\n", seq,
                 flags, (unsigned long)m->uid, (unsigned long long)m->modseq);
    emit(wire, line);
    if (m->uid > sn->max_uid)
        sn->max_uid = m->uid;
    if (m->modseq > sn->max_modseq)
        sn->max_modseq = m->modseq;
}

static void random_flags(msg *m)
{
    m->sys = rnd(32);
    m->kw = rnd(1u << NKW);
}

static void expunge_at(mbox *b, size_t pos, char *wire, int live, seen *sn)
{
    char line[64];

    if (live) {
        snprintf(line, sizeof(line), "* VANISHED %lu\r\n", (unsigned long)b->m[pos].uid);
        emit(wire, line);
        if (b->m[pos].uid > sn->max_uid)
            sn->max_uid = b->m[pos].uid;
    }
    memmove(&b->m[pos], &b->m[pos + 1], (b->n - pos - 1) * sizeof(msg));
    b->n--;
    b->hms++; /* an expunge takes a MODSEQ too */
}

static void append(mbox *b, char *wire, int live, seen *sn)
{
    char line[64];
    msg *m = &b->m[b->n++];

    m->uid = b->uidnext++;
    random_flags(m);
    m->modseq = ++b->hms;
    if (live) {
        snprintf(line, sizeof(line), "* %zu EXISTS\r\n", b->n);
        emit(wire, line);
        sn->grew = 1;
        emit_fetch(wire, m, b->n, sn);
    }
}

/* One random operation on b; live: also emit what the server says. */
static void random_op(mbox *b, char *wire, int live, seen *sn)
{
    uint32_t what = rnd(10);
    int can_append = b->uidnext < MAXU;

    /* a server racing its responses: an older FETCH, maybe of a UID
     * expunged since, arrives late (the engine must keep the newest and
     * let the expunge win) */
    if (live && nhist > 0 && rnd(4) == 0) {
        msg old = hist[rnd((uint32_t)nhist)];
        emit_fetch(wire, &old, 1, sn);
    }

    if (b->n == 0 || (what >= 8 && can_append)) {
        if (can_append)
            append(b, wire, live, sn);
        return;
    }
    if (what < 5) {
        msg *m = &b->m[rnd((uint32_t)b->n)];
        random_flags(m);
        m->modseq = ++b->hms;
        if (live)
            emit_fetch(wire, m, (size_t)(m - b->m) + 1, sn);
        return;
    }
    expunge_at(b, rnd((uint32_t)b->n), wire, live, sn);
}

/* The SELECT (QRESYNC) part of the stream, for mailbox `s` and saved (uidnext0, hms0). */
static void emit_select(char *wire, const mbox *m0, const mbox *s, uint32_t uidnext0, uint64_t hms0,
                        int sloppy, int send_uidnext, int send_hms, seen *sn)
{
    char line[128];
    size_t order[MAXU], i, n = 0;
    qr_uidset *v = NULL;
    qr_buf b = QR_BUF_INIT;
    uint32_t uid;

    snprintf(line, sizeof(line), "* %zu EXISTS\r\n* OK [UIDVALIDITY 77] Ok\r\n", s->n);
    emit(wire, line);
    if (send_uidnext) {
        snprintf(line, sizeof(line), "* OK [UIDNEXT %lu] Ok\r\n", (unsigned long)s->uidnext);
        emit(wire, line);
    }
    if (send_hms) {
        snprintf(line, sizeof(line), "* OK [HIGHESTMODSEQ %llu] Ok\r\n",
                 (unsigned long long)s->hms);
        emit(wire, line);
    }
    qr_uidset_new(&v);
    for (uid = 1; uid < uidnext0; uid++)
        if (!find((mbox *)s, uid, NULL) && (sloppy || find((mbox *)m0, uid, NULL)))
            qr_uidset_add(v, uid);
    if (qr_uidset_count(v) > 0) {
        qr_uidset_format(v, &b);
        emit(wire, "* VANISHED (EARLIER) ");
        emit(wire, b.ptr);
        emit(wire, "\r\n");
        qr_buf_dispose(&b);
        {
            const qr_range *r = qr_uidset_ranges(v, &i);
            if (r[i - 1].hi > sn->max_uid)
                sn->max_uid = r[i - 1].hi;
        }
    }
    qr_uidset_free(v);
    for (i = 0; i < s->n; i++)
        if (s->m[i].modseq > hms0)
            order[n++] = i;
    for (i = n; i > 1; i--) {
        size_t j = rnd((uint32_t)i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (i = 0; i < n; i++) {
        emit_fetch(wire, &s->m[order[i]], order[i] + 1, sn);
        if (rnd(8) == 0) /* a duplicate */
            emit_fetch(wire, &s->m[order[i]], order[i] + 1, sn);
    }
    emit(wire, "A3 OK [READ-WRITE] Select completed.\r\n");
}

/* The expected rendering: full scans of m0 and m1. */
static void expected(const mbox *m0, const mbox *m1, uint32_t uidnext0, int sloppy, int grew,
                     char *out, size_t cap)
{
    qr_uidset *v = NULL, *nw = NULL;
    char flags[256], tmp[64];
    size_t i, k = 0;
    uint32_t uid;

    qr_uidset_new(&v);
    qr_uidset_new(&nw);
    for (uid = 1; uid < uidnext0; uid++)
        if (!find((mbox *)m1, uid, NULL) && (sloppy || find((mbox *)m0, uid, NULL)))
            qr_uidset_add(v, uid);
    for (i = 0; i < m1->n; i++)
        if (m1->m[i].uid >= uidnext0)
            qr_uidset_add(nw, m1->m[i].uid);
    out[0] = '\0';
    mbox_cat(out, cap, "V=");
    mbox_cat_set(out, cap, v);
    mbox_cat(out, cap, " N=");
    mbox_cat_set(out, cap, nw);
    mbox_cat(out, cap, " U=");
    for (i = 0; i < m1->n; i++) {
        const msg *a = find((mbox *)m0, m1->m[i].uid, NULL);
        if (a == NULL || a->modseq == m1->m[i].modseq)
            continue;
        model_flags(&m1->m[i], flags, sizeof(flags));
        snprintf(tmp, sizeof(tmp), "%s%lu/%llu ", k++ ? ";" : "", (unsigned long)m1->m[i].uid,
                 (unsigned long long)m1->m[i].modseq);
        mbox_cat(out, cap, tmp);
        mbox_cat(out, cap, flags);
    }
    snprintf(tmp, sizeof(tmp), " F=%x", grew ? QR_CHANGES_EXISTS_GREW : 0u);
    mbox_cat(out, cap, tmp);
    qr_uidset_free(v);
    qr_uidset_free(nw);
}

static mbox m0, ms, m1;
static char wire[WIRECAP];

/* Run one seed; returns 0 when the engine matches the model. */
static int run_seed(uint64_t seed)
{
    qr_mbox_state cached = QR_MBOX_STATE_INIT, want_st = QR_MBOX_STATE_INIT;
    uint32_t uidnext0, uid, nops, split, k;
    uint64_t hms0;
    int sloppy, send_uidnext, send_hms, erc = 0, ok = 1;
    qr_kwtable *kw = NULL;
    qr_mbox_engine *e = NULL;
    qr_changes *c = NULL;
    char got[65536], want[65536], gs[128], ws[128];
    seen sn = {0, 0, 0};

    rng = seed * 0x9E3779B97F4A7C15ull + 1;
    pick_spellings();
    memset(&m0, 0, sizeof(m0));
    uidnext0 = 1 + rnd(300);
    hms0 = 1 + rnd(1000);
    if (rnd(10) == 0)
        hms0 += 18446744073709550000ull - 2000; /* near the 64-bit edge */
    for (uid = 1; uid < uidnext0; uid++) {
        if (rnd(10) < 3)
            continue;
        m0.m[m0.n].uid = uid;
        random_flags(&m0.m[m0.n]);
        m0.m[m0.n++].modseq = hms0 - rnd((uint32_t)(hms0 < 1000 ? hms0 : 1000));
        if (m0.m[m0.n - 1].modseq == 0)
            m0.m[m0.n - 1].modseq = 1;
    }
    m0.uidnext = uidnext0;
    m0.hms = hms0;
    sloppy = rnd(4) == 0;
    send_uidnext = rnd(5) != 0;
    send_hms = rnd(5) != 0;
    nops = rnd(80);
    split = rnd(nops + 1);

    ms = m0;
    wire[0] = '\0';
    nhist = 0;
    for (k = 0; k < split; k++)
        random_op(&ms, wire, 0, &sn);
    emit_select(wire, &m0, &ms, uidnext0, hms0, sloppy, send_uidnext, send_hms, &sn);
    m1 = ms;
    for (k = split; k < nops; k++)
        random_op(&m1, wire, 1, &sn);

    cached.uidvalidity = 77;
    cached.uidnext = uidnext0;
    cached.highestmodseq = hms0;
    qr_kwtable_new(&kw);
    qr_mbox_engine_new(&e, &cached, kw);
    qr_mbox_engine_begin_select(e, 0);
    if (mbox_feed_bytes(e, wire, strlen(wire), rnd(3) ? 1 + rnd(64) : 0, &erc) != 0 || erc != 0 ||
        qr_mbox_engine_take(e, 0, &c) != 0) {
        printf("# seed %llu: feed/take failed (engine %d)\n", (unsigned long long)seed, erc);
        ok = 0;
    } else {
        mbox_render(c, kw, got, sizeof(got));
        expected(&m0, &m1, uidnext0, sloppy, sn.grew, want, sizeof(want));
        want_st.uidvalidity = 77;
        want_st.uidnext = uidnext0;
        if (send_uidnext && ms.uidnext > want_st.uidnext)
            want_st.uidnext = ms.uidnext;
        if (sn.max_uid + 1 > want_st.uidnext)
            want_st.uidnext = sn.max_uid + 1;
        want_st.highestmodseq = send_hms ? ms.hms : hms0;
        if (sn.max_modseq > want_st.highestmodseq)
            want_st.highestmodseq = sn.max_modseq;
        want_st.exists = (uint32_t)m1.n;
        want_st.exists_known = 1;
        mbox_render_state(qr_changes_state(c), gs, sizeof(gs));
        mbox_render_state(&want_st, ws, sizeof(ws));
        if (strcmp(got, want) != 0 || strcmp(gs, ws) != 0) {
            printf("# seed %llu (sloppy %d, uidnext %d, hms %d)\n", (unsigned long long)seed,
                   sloppy, send_uidnext, send_hms);
            printf("#   got:  %.2000s\n#   want: %.2000s\n", got, want);
            printf("#   state got %s want %s\n", gs, ws);
            ok = 0;
        }
    }
    qr_changes_free(c);
    qr_mbox_engine_free(e);
    qr_kwtable_free(kw);
    return ok ? 0 : -1;
}

static void test_engine_matches_full_scan_model(void)
{
    const char *one = getenv("QR_MBOX_SEED"), *count = getenv("QR_MBOX_SEEDS");
    uint64_t s, n = count ? strtoull(count, NULL, 10) : 400;
    int failures = 0;

    if (one) {
        CHECK_INT_EQ(run_seed(strtoull(one, NULL, 10)), 0);
        return;
    }
    for (s = 1; s <= n && failures < 5; s++)
        failures += run_seed(s) != 0;
    printf("# %llu seeds\n", (unsigned long long)(s - 1));
    CHECK_INT_EQ(failures, 0);
}

int main(void)
{
    TAP_RUN(test_engine_matches_full_scan_model);
    return tap_done();
}
