/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scenario tables for the QRESYNC engine (libqresync/mbox/engine.c).
 *
 * Each scenario is a cached state plus the bytes a server sends, written as
 * a transcript and fed through the real response parser (whole, and one
 * byte at a time: both must give the same result), and the exact expected
 * change set and next state. Then: routing around [CLOSED] with two
 * engines, successive takes, sticky errors, the QRESYNC SELECT parameters
 * (and the command bytes), and an allocation-failure loop.
 * The randomised comparison against a full-scan model is test-mbox-model.c.
 */
#include "config.h"

#include <qresync/cmd.h>
#include <qresync/error.h>
#include <qresync/mbox.h>

#include "../tap.h"
#include "mbox-util.h"
#include "util/alloc.h"

#define UV 1795879967u
#define ST(uv, next, hms)                                                                          \
    {                                                                                              \
        QR_MBOX_STATE_VERSION, (uv), (next), (hms), 0, 0, 0                                        \
    }

/* The SELECT responses of a QRESYNC server (EXISTS, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ). */
#define SELECT_HEAD(exists, uidnext, hms)                                                          \
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)\r\n"                          \
    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)] Flags "     \
    "permitted.\r\n"                                                                               \
    "* " exists " EXISTS\r\n"                                                                      \
    "* OK [UIDVALIDITY 1795879967] UIDs valid\r\n"                                                 \
    "* OK [UIDNEXT " uidnext "] Predicted next UID\r\n"                                            \
    "* OK [HIGHESTMODSEQ " hms "] Highest\r\n"
#define SELECT_OK "000003 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"

typedef struct scenario {
    const char *name;     /* what it shows */
    int has_cached;       /* 0: first sync (no saved state) */
    qr_mbox_state cached; /* the saved state */
    unsigned int closed;  /* closed_expected for begin_select */
    const char *wire;     /* the server's bytes */
    int feed_rc;          /* expected first engine error */
    unsigned int take;    /* take flags */
    const char *changes;  /* expected mbox_render() */
    const char *state;    /* expected mbox_render_state() of the next state */
    qr_mbox_phase phase;  /* expected phase at the end */
} scenario;

static const scenario scenarios[] = {
    {"first sync: no saved state, every UID is new", 0, ST(0, 0, 0), 0,
     SELECT_HEAD("3", "4", "5") SELECT_OK
     "* 1 FETCH (UID 1 MODSEQ (2) FLAGS (\\Seen))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (4) FLAGS ())\r\n"
     "* 3 FETCH (UID 3 MODSEQ (5) FLAGS (\\Recent $Label1))\r\n"
     "000004 OK Fetch completed.\r\n",
     0, 0, "V= N=1:3 U= F=0", "1795879967/4/5/3/0", QR_MBOX_ACTIVE},

    {"no change", 1, ST(UV, 4, 5), 0, SELECT_HEAD("3", "4", "5") SELECT_OK, 0, 0, "V= N= U= F=0",
     "1795879967/4/5/3/0", QR_MBOX_ACTIVE},

    {"flag changes with MODSEQ", 1, ST(UV, 4, 5), 0,
     SELECT_HEAD("3", "4", "8") "* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged) MODSEQ (7))\r\n"
                                "* 3 FETCH (UID 3 MODSEQ (8) FLAGS ($Label1 \\Seen))\r\n" SELECT_OK,
     0, 0, "V= N= U=1/7 (\\Flagged \\Seen);3/8 ($Label1 \\Seen) F=0", "1795879967/4/8/3/0",
     QR_MBOX_ACTIVE},

    {"VANISHED (EARLIER) from SELECT QRESYNC does not touch EXISTS", 1, ST(UV, 6, 10), 0,
     SELECT_HEAD("2", "6", "12") "* VANISHED (EARLIER) 1:2,4\r\n"
                                 "* 2 FETCH (UID 5 FLAGS (\\Answered) MODSEQ (12))\r\n" SELECT_OK,
     0, 0, "V=1:2,4 N= U=5/12 (\\Answered) F=0", "1795879967/6/12/2/0", QR_MBOX_ACTIVE},

    {"live VANISHED during a FETCH lowers EXISTS", 1, ST(UV, 4, 5), 0,
     SELECT_HEAD("3", "4", "5") SELECT_OK "* 2 FETCH (UID 2 MODSEQ (6) FLAGS (\\Seen))\r\n"
                                          "* VANISHED 3\r\n"
                                          "* 1 FETCH (UID 1 MODSEQ (7) FLAGS (\\Draft))\r\n"
                                          "000004 OK Fetch completed.\r\n",
     0, 0, "V=3 N= U=1/7 (\\Draft);2/6 (\\Seen) F=0", "1795879967/4/7/2/0", QR_MBOX_ACTIVE},

    {"flag change then expunge of the same UID: the expunge wins", 1, ST(UV, 4, 5), 0,
     SELECT_HEAD("3", "4", "5") SELECT_OK "* 2 FETCH (UID 2 MODSEQ (6) FLAGS (\\Seen))\r\n"
                                          "* VANISHED 2\r\n",
     0, 0, "V=2 N= U= F=0", "1795879967/4/6/2/0", QR_MBOX_ACTIVE},

    {"expunge then a late flag change of the same UID: the expunge wins", 1, ST(UV, 4, 5), 0,
     SELECT_HEAD("3", "4", "5") SELECT_OK "* VANISHED 2\r\n"
                                          "* 2 FETCH (UID 2 MODSEQ (6) FLAGS (\\Seen))\r\n",
     0, 0, "V=2 N= U= F=0", "1795879967/4/6/2/0", QR_MBOX_ACTIVE},

    {"UIDVALIDITY change gives QR_EUIDVALIDITY", 1, ST(100, 4, 5), 0,
     SELECT_HEAD("3", "4", "5") SELECT_OK, QR_EUIDVALIDITY, 0, NULL, NULL, QR_MBOX_ACTIVE},

    {"[NOMODSEQ] is reported; FLAGS without MODSEQ are kept", 1, ST(UV, 3, 0), 0,
     "* 2 EXISTS\r\n"
     "* OK [UIDVALIDITY 1795879967] UIDs valid\r\n"
     "* OK [UIDNEXT 3] Predicted next UID\r\n"
     "* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n" SELECT_OK
     "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n"
     "* 2 FETCH (UID 2 FLAGS ())\r\n",
     0, 0, "V= N= U=1/0 (\\Seen);2/0 () F=1", "1795879967/3/0/2/1", QR_MBOX_ACTIVE},

    {"[CLOSED] boundary: the previous mailbox's responses are ignored", 1, ST(UV, 4, 5), 1,
     "* 9 FETCH (UID 9 MODSEQ (30) FLAGS (\\Deleted))\r\n"
     "* VANISHED 2\r\n"
     "* 10 EXISTS\r\n"
     "* OK [UIDVALIDITY 7] other mailbox\r\n"
     "* OK [CLOSED] Previous mailbox closed.\r\n" SELECT_HEAD("3", "4", "5") SELECT_OK,
     0, 0, "V= N= U= F=0", "1795879967/4/5/3/0", QR_MBOX_ACTIVE},

    {"two pipelined switches: wait for the second [CLOSED]", 1, ST(UV, 4, 5), 2,
     "* VANISHED 1\r\n"
     "* OK [CLOSED] Previous mailbox closed.\r\n"
     "* 1 EXISTS\r\n"
     "* OK [UIDVALIDITY 9] another\r\n"
     "* VANISHED 2\r\n"
     "000002 OK [READ-WRITE] Select completed.\r\n"
     "* OK [CLOSED] Previous mailbox closed.\r\n" SELECT_HEAD(
         "3", "4", "5") "* VANISHED (EARLIER) 3\r\n" SELECT_OK,
     0, 0, "V=3 N= U= F=0", "1795879967/4/5/3/0", QR_MBOX_ACTIVE},

    {"no [CLOSED] yet: everything still ignored", 1, ST(UV, 4, 5), 1,
     SELECT_HEAD("3", "4", "5") "* VANISHED 1\r\n", 0, 0, "V= N= U= F=0", "1795879967/4/5/-/0",
     QR_MBOX_AWAIT_CLOSED},

    {"an active engine that sees [CLOSED] stops folding", 1, ST(UV, 4, 5), 0,
     "* VANISHED 1\r\n"
     "* OK [CLOSED] Previous mailbox closed.\r\n"
     "* VANISHED 2\r\n"
     "* 3 FETCH (UID 3 MODSEQ (9) FLAGS (\\Seen))\r\n",
     0, 0, "V=1 N= U= F=0", "1795879967/4/5/-/0", QR_MBOX_CLOSED},

    {"new messages above UIDNEXT; UIDNEXT and HIGHESTMODSEQ from what was seen", 1, ST(UV, 4, 5), 0,
     "* 5 EXISTS\r\n"
     "* OK [UIDVALIDITY 1795879967] UIDs valid\r\n"
     "* 2 FETCH (UID 2 MODSEQ (6) FLAGS (\\Seen))\r\n"
     "* 4 FETCH (UID 4 MODSEQ (7) FLAGS (\\Recent))\r\n"
     "* 5 FETCH (UID 6 MODSEQ (9) FLAGS (\\Recent))\r\n" SELECT_OK,
     0, 0, "V= N=4,6 U=2/6 (\\Seen) F=0", "1795879967/7/9/5/0", QR_MBOX_ACTIVE},

    {"nothing received: the next state keeps the cached values", 1, ST(UV, 4, 5), 0,
     "* 3 EXISTS\r\n" SELECT_OK, 0, 0, "V= N= U= F=0", "1795879967/4/5/3/0", QR_MBOX_ACTIVE},

    {"stale MODSEQ (not above the cached one) is filtered and does not lower it", 1, ST(UV, 4, 5),
     0,
     "* 1 FETCH (UID 1 MODSEQ (3) FLAGS (\\Seen))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (5) FLAGS (\\Seen))\r\n",
     0, 0, "V= N= U= F=0", "1795879967/4/5/-/0", QR_MBOX_ACTIVE},

    {"QR_MBOX_TAKE_ALL keeps stale MODSEQs (full flag scan)", 1, ST(UV, 4, 5), 0,
     "* 1 FETCH (UID 1 MODSEQ (3) FLAGS (\\Seen))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (5) FLAGS (\\Seen))\r\n",
     0, QR_MBOX_TAKE_ALL, "V= N= U=1/3 (\\Seen);2/5 (\\Seen) F=0", "1795879967/4/5/-/0",
     QR_MBOX_ACTIVE},

    {"64-bit MODSEQ edges are exact", 1, ST(UV, 4, 9223372036854775807u), 0,
     "* OK [HIGHESTMODSEQ 18446744073709551614] Highest\r\n"
     "* 1 FETCH (UID 1 MODSEQ (9223372036854775807) FLAGS (\\Seen))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (9223372036854775808) FLAGS (\\Seen))\r\n"
     "* 3 FETCH (UID 3 MODSEQ (18446744073709551615) FLAGS (\\Draft))\r\n",
     0, 0, "V= N= U=2/9223372036854775808 (\\Seen);3/18446744073709551615 (\\Draft) F=0",
     "1795879967/4/18446744073709551615/-/0", QR_MBOX_ACTIVE},

    {"[HIGHESTMODSEQ] sets the value but never below a MODSEQ seen", 1, ST(UV, 4, 20), 0,
     "* 1 FETCH (UID 1 MODSEQ (25) FLAGS (\\Seen))\r\n"
     "* OK [HIGHESTMODSEQ 15] Highest\r\n",
     0, 0, "V= N= U=1/25 (\\Seen) F=8", "1795879967/4/25/-/0", QR_MBOX_ACTIVE},

    {"keywords are interned case-insensitively, first spelling printed", 1, ST(UV, 4, 5), 0,
     "* 1 FETCH (UID 1 MODSEQ (6) FLAGS ($Junk))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (7) FLAGS ($JUNK \\SEEN))\r\n"
     "* 3 FETCH (UID 3 MODSEQ (8) FLAGS (\\Important $junk Zeta))\r\n",
     0, 0, "V= N= U=1/6 ($Junk);2/7 ($Junk \\Seen);3/8 ($Junk Zeta \\Important) F=0",
     "1795879967/4/8/-/0", QR_MBOX_ACTIVE},

    {"duplicate FETCH for a UID: the highest MODSEQ wins", 1, ST(UV, 4, 5), 0,
     "* 1 FETCH (UID 1 MODSEQ (7) FLAGS (\\Seen))\r\n"
     "* 1 FETCH (UID 1 MODSEQ (9) FLAGS (\\Seen \\Flagged))\r\n"
     "* 1 FETCH (UID 1 MODSEQ (8) FLAGS (\\Deleted))\r\n"
     "* 1 FETCH (UID 1 MODSEQ (9))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (6))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (6) FLAGS (\\Answered))\r\n"
     "* 3 FETCH (UID 3 MODSEQ (6) FLAGS (\\Answered))\r\n"
     "* 3 FETCH (UID 3 MODSEQ (7))\r\n",
     0, 0, "V= N= U=1/9 (\\Flagged \\Seen);2/6 (\\Answered);3/7 ? F=0", "1795879967/4/9/-/0",
     QR_MBOX_ACTIVE},

    {"[MODIFIED] and FETCH without FLAGS ask for a re-fetch", 1, ST(UV, 10, 5), 0,
     "* 4 FETCH (UID 4 MODSEQ (12))\r\n"
     "* 2 FETCH (UID 2 MODSEQ (11) FLAGS (\\Seen))\r\n"
     "000007 OK [MODIFIED 2:3,7,12:14] Conditional STORE failed\r\n",
     0, 0, "V= N= U=2/11 (\\Seen);3/0 ?;4/12 ?;7/0 ? F=0", "1795879967/10/12/-/0", QR_MBOX_ACTIVE},

    {"EXPUNGE by sequence number asks for a rescan", 1, ST(UV, 4, 5), 0,
     "* 3 EXISTS\r\n"
     "* 2 EXPUNGE\r\n"
     "* 3 EXISTS\r\n",
     0, 0, "V= N= U= F=6", "1795879967/4/5/3/0", QR_MBOX_ACTIVE},

    {"VANISHED of new UIDs drops them without reporting them", 1, ST(UV, 4, 5), 0,
     "* 4 FETCH (UID 4 MODSEQ (6) FLAGS ())\r\n"
     "* 5 FETCH (UID 5 MODSEQ (7) FLAGS ())\r\n"
     "* VANISHED 1,4\r\n",
     0, 0, "V=1 N=5 U= F=0", "1795879967/6/7/-/0", QR_MBOX_ACTIVE},

    {"UID 4294967295 saturates UIDNEXT", 1, ST(UV, 4294967290u, 5), 0,
     "* 9 FETCH (UID 4294967295 MODSEQ (6) FLAGS ())\r\n", 0, 0, "V= N=4294967295 U= F=0",
     "1795879967/4294967295/6/-/0", QR_MBOX_ACTIVE},

    {"UIDNEXT 0 is a protocol error", 1, ST(UV, 4, 5), 0, "* OK [UIDNEXT 0] x\r\n", QR_EPROTO, 0,
     NULL, NULL, QR_MBOX_ACTIVE},

    {"unrelated responses and FETCH without UID are ignored", 1, ST(UV, 4, 5), 0,
     "* 3 EXISTS\r\n"
     "* 4 FETCH (FLAGS (\\Seen))\r\n"
     "* CAPABILITY IMAP4rev1\r\n"
     "* LIST () \"/\" INBOX\r\n"
     "* NO [UIDNEXT 99] a NO does not count\r\n"
     "* 4 RECENT\r\n",
     0, 0, "V= N= U= F=0", "1795879967/4/5/4/0", QR_MBOX_ACTIVE},
};

/* Run a scenario with the bytes fed in slices of `step` (0: whole). */
static void run_scenario(const scenario *sc, size_t step)
{
    qr_kwtable *kw = NULL;
    qr_mbox_engine *e = NULL;
    qr_changes *c = NULL;
    char got[2048], st[128];
    int erc = 0, rc, bad_before = tap_current_bad;

    tap_current_bad = 0;
    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_new(&e, sc->has_cached ? &sc->cached : NULL, kw), 0);
    if (e == NULL)
        return;
    CHECK_INT_EQ(qr_mbox_engine_begin_select(e, sc->closed), 0);
    CHECK_INT_EQ(mbox_feed_bytes(e, sc->wire, strlen(sc->wire), step, &erc), 0);
    CHECK_INT_EQ(erc, sc->feed_rc);
    CHECK_INT_EQ(qr_mbox_engine_phase(e), sc->phase);
    rc = qr_mbox_engine_take(e, sc->take, &c);
    if (sc->feed_rc != 0) {
        CHECK_INT_EQ(rc, sc->feed_rc);
        CHECK(c == NULL);
        CHECK_INT_EQ(qr_mbox_engine_last_error(e)->code, sc->feed_rc);
    } else {
        CHECK_INT_EQ(rc, 0);
        if (c) {
            mbox_render(c, kw, got, sizeof(got));
            CHECK_STR_EQ(got, sc->changes);
            mbox_render_state(qr_changes_state(c), st, sizeof(st));
            CHECK_STR_EQ(st, sc->state);
            mbox_render_state(qr_mbox_engine_state(e), st, sizeof(st));
            CHECK_STR_EQ(st, sc->state);
        }
    }
    if (tap_current_bad)
        printf("#   scenario: %s (step %zu)\n", sc->name, step);
    tap_current_bad |= bad_before;
    qr_changes_free(c);
    qr_mbox_engine_free(e);
    qr_kwtable_free(kw);
}

static void test_scenarios_whole(void)
{
    size_t i;

    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run_scenario(&scenarios[i], 0);
}

static void test_scenarios_byte_by_byte(void)
{
    size_t i;

    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run_scenario(&scenarios[i], 1);
}

static void test_uidvalidity_message_names_both_values(void)
{
    static const char wire[] = "* OK [UIDVALIDITY 200] x\r\n* 1 FETCH (UID 1 FLAGS ())\r\n";
    qr_mbox_state cached = ST(100, 4, 5);
    qr_kwtable *kw = NULL;
    qr_mbox_engine *e = NULL;
    int erc = 0;

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_new(&e, &cached, kw), 0);
    CHECK_INT_EQ(mbox_feed_bytes(e, wire, strlen(wire), 0, &erc), 0);
    CHECK_INT_EQ(erc, QR_EUIDVALIDITY);
    CHECK_STR_EQ(qr_mbox_engine_last_error(e)->message, "UIDVALIDITY changed (100 != 200)");
    /* sticky */
    CHECK_INT_EQ(qr_mbox_engine_begin_select(e, 0), QR_EUIDVALIDITY);
    qr_mbox_engine_free(e);
    qr_kwtable_free(kw);
}

/* Feed one transcript to two engines, as a session routes responses. */
static void test_closed_routes_each_response_to_one_engine(void)
{
    static const char wire[] = "* 2 FETCH (UID 2 MODSEQ (40) FLAGS (\\Seen))\r\n"
                               "* VANISHED 3\r\n"
                               "* OK [CLOSED] Previous mailbox closed.\r\n"
                               "* 2 EXISTS\r\n"
                               "* OK [UIDVALIDITY 50] x\r\n"
                               "* VANISHED (EARLIER) 1\r\n"
                               "* 2 FETCH (UID 5 MODSEQ (8) FLAGS (\\Draft))\r\n";
    qr_mbox_state sa = ST(40, 10, 30), sb = ST(50, 6, 7);
    qr_kwtable *kw = NULL;
    qr_mbox_engine *a = NULL, *b = NULL;
    qr_changes *ca = NULL, *cb = NULL;
    qr_parser *p = NULL;
    qr_parser_options o = QR_PARSER_OPTIONS_INIT;
    mbox_feed fa = {NULL, 0, 0}, fb = {NULL, 0, 0};
    size_t used = 0, i;
    char got[512];

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_new(&a, &sa, kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_new(&b, &sb, kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_begin_select(b, 1), 0);
    fa.e = a;
    fb.e = b;
    o.callbacks.on_response = mbox_on_response;
    /* a tiny router: every response to both */
    for (i = 0; i < 2; i++) {
        o.payload = i == 0 ? &fa : &fb;
        CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
        CHECK_INT_EQ(qr_parser_feed(p, wire, strlen(wire), &used), 0);
        qr_parser_free(p);
    }
    CHECK_INT_EQ(fa.rc, 0);
    CHECK_INT_EQ(fb.rc, 0);
    CHECK_INT_EQ(qr_mbox_engine_phase(a), QR_MBOX_CLOSED);
    CHECK_INT_EQ(qr_mbox_engine_phase(b), QR_MBOX_ACTIVE);
    CHECK_INT_EQ(qr_mbox_engine_take(a, 0, &ca), 0);
    CHECK_INT_EQ(qr_mbox_engine_take(b, 0, &cb), 0);
    mbox_render(ca, kw, got, sizeof(got));
    CHECK_STR_EQ(got, "V=3 N= U=2/40 (\\Seen) F=0");
    mbox_render(cb, kw, got, sizeof(got));
    CHECK_STR_EQ(got, "V=1 N= U=5/8 (\\Draft) F=0");
    qr_changes_free(ca);
    qr_changes_free(cb);
    qr_mbox_engine_free(a);
    qr_mbox_engine_free(b);
    qr_kwtable_free(kw);
}

static void test_successive_takes_are_relative_to_the_last(void)
{
    static const char w1[] = "* OK [UIDNEXT 6] x\r\n* OK [HIGHESTMODSEQ 9] x\r\n"
                             "* 1 FETCH (UID 1 MODSEQ (9) FLAGS (\\Seen))\r\n"
                             "* 4 FETCH (UID 4 MODSEQ (8) FLAGS ())\r\n";
    static const char w2[] = "* 4 FETCH (UID 4 MODSEQ (10) FLAGS (\\Flagged))\r\n"
                             "* 1 FETCH (UID 1 MODSEQ (9) FLAGS (\\Seen))\r\n"
                             "* VANISHED 5\r\n"
                             "* 6 FETCH (UID 6 MODSEQ (11) FLAGS ())\r\n";
    qr_mbox_state cached = ST(UV, 4, 5);
    qr_kwtable *kw = NULL;
    qr_mbox_engine *e = NULL;
    qr_changes *c = NULL;
    char got[512], st[128];
    int erc = 0;

    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_new(&e, &cached, kw), 0);
    CHECK_INT_EQ(mbox_feed_bytes(e, w1, strlen(w1), 0, &erc), 0);
    CHECK_INT_EQ(qr_mbox_engine_take(e, 0, &c), 0);
    mbox_render(c, kw, got, sizeof(got));
    CHECK_STR_EQ(got, "V= N=4 U=1/9 (\\Seen) F=0");
    mbox_render_state(qr_changes_base(c), st, sizeof(st));
    CHECK_STR_EQ(st, "1795879967/4/5/-/0");
    CHECK(qr_changes_find(c, 1) != NULL && qr_changes_find(c, 1)->modseq == 9);
    CHECK(qr_changes_find(c, 2) == NULL);
    qr_changes_free(c);
    /* second round: UID 4 is now known, 5 vanished before it was seen, 6 new */
    CHECK_INT_EQ(mbox_feed_bytes(e, w2, strlen(w2), 0, &erc), 0);
    CHECK_INT_EQ(qr_mbox_engine_take(e, 0, &c), 0);
    mbox_render(c, kw, got, sizeof(got));
    CHECK_STR_EQ(got, "V=5 N=6 U=4/10 (\\Flagged) F=0");
    mbox_render_state(qr_changes_base(c), st, sizeof(st));
    CHECK_STR_EQ(st, "1795879967/6/9/-/0");
    mbox_render_state(qr_changes_state(c), st, sizeof(st));
    CHECK_STR_EQ(st, "1795879967/7/11/-/0");
    qr_changes_free(c);
    /* nothing more */
    CHECK_INT_EQ(qr_mbox_engine_take(e, 0, &c), 0);
    mbox_render(c, kw, got, sizeof(got));
    CHECK_STR_EQ(got, "V= N= U= F=0");
    qr_changes_free(c);
    qr_mbox_engine_free(e);
    qr_kwtable_free(kw);
}

static void test_argument_checks(void)
{
    qr_mbox_state bad = ST(1, 2, 3);
    qr_kwtable *kw = NULL;
    qr_mbox_engine *e = NULL;
    qr_changes *c = NULL;
    qr_mbox_state st;

    bad.version = 99;
    CHECK_INT_EQ(qr_kwtable_new(&kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_new(NULL, NULL, kw), QR_EINVAL);
    CHECK_INT_EQ(qr_mbox_engine_new(&e, NULL, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_mbox_engine_new(&e, &bad, kw), QR_EINVAL);
    CHECK(e == NULL);
    CHECK_INT_EQ(qr_mbox_engine_new(&e, NULL, kw), 0);
    CHECK_INT_EQ(qr_mbox_engine_feed(e, NULL), QR_EINVAL);
    CHECK_INT_EQ(qr_mbox_engine_take(e, 0x10, &c), QR_EINVAL);
    CHECK_INT_EQ(qr_mbox_engine_begin_select(NULL, 0), QR_EINVAL);
    CHECK_INT_EQ(qr_mbox_state_init(&st, 2), QR_EINVAL);
    CHECK_INT_EQ(qr_mbox_state_init(&st, QR_MBOX_STATE_VERSION), 0);
    CHECK_UINT_EQ(st.uidnext, 0);
    CHECK_INT_EQ(qr_mbox_engine_phase(NULL), QR_MBOX_CLOSED);
    CHECK_INT_EQ(qr_mbox_engine_last_error(e)->code, QR_OK);
    qr_mbox_engine_free(e);
    qr_mbox_engine_free(NULL);
    qr_changes_free(NULL);
    qr_kwtable_free(kw);
}

/* ---- QRESYNC SELECT parameters --------------------------------------- */

/* The SELECT command for a saved state and known UIDs, rendered. */
static void check_select(const qr_mbox_state *saved, const char *known, const char *want)
{
    qr_uidset *k = NULL;
    qr_qresync_params p;
    qr_cmd *cmd = NULL;
    qr_buf out = QR_BUF_INIT;

    CHECK_INT_EQ(qr_uidset_new(&k), 0);
    if (known[0])
        CHECK_INT_EQ(qr_uidset_parse(k, known, strlen(known)), 0);
    CHECK_INT_EQ(qr_mbox_qresync_params(&p, saved, k), 0);
    CHECK_INT_EQ(qr_cmd_new(&cmd, "SELECT", 0), 0);
    CHECK_INT_EQ(qr_cmd_add_mailbox(cmd, "INBOX"), 0);
    CHECK_INT_EQ(qr_mbox_qresync_append(cmd, &p), 0);
    CHECK_INT_EQ(qr_cmd_render(cmd, NULL, QR_CMD_LITERAL_PLUS, QR_LOG_INFO, &out), 0);
    CHECK_STR_EQ(out.ptr, want);
    qr_buf_dispose(&out);
    qr_cmd_free(cmd);
    qr_mbox_qresync_params_dispose(&p);
    qr_uidset_free(k);
}

static void test_select_parameters_match_the_reference(void)
{
    qr_mbox_state s1 = ST(UV, 4, 5), s2 = ST(UV, 5, 11), s0 = ST(UV, 1, 5), sz = ST(UV, 4, 0);

    /* interimap §12.2 and §16 */
    check_select(&s1, "1:3", "SELECT INBOX (QRESYNC (1795879967 5 1:3 (1:3 1:3)))");
    check_select(&s2, "1:2,4", "SELECT INBOX (QRESYNC (1795879967 11 1:4 (1:3 1:2,4)))");
    /* no sample without known UIDs; 1:1 and a:a spelled out */
    check_select(&s1, "", "SELECT INBOX (QRESYNC (1795879967 5 1:3))");
    {
        qr_mbox_state s = ST(UV, 2, 5);
        check_select(&s, "1", "SELECT INBOX (QRESYNC (1795879967 5 1:1 (1:1 1)))");
    }
    /* plain SELECT when UIDNEXT <= 1 or HIGHESTMODSEQ is 0 */
    check_select(&s0, "1:3", "SELECT INBOX");
    check_select(&sz, "1:3", "SELECT INBOX");
}

static void test_select_sample_limits(void)
{
    qr_mbox_state s = ST(7, 5000, 9);
    qr_uidset *k = NULL;
    qr_qresync_params p;
    qr_buf b = QR_BUF_INIT;
    uint32_t u;

    /* 2000 known UIDs in one run: only the 1024 highest are read */
    CHECK_INT_EQ(qr_uidset_new(&k), 0);
    CHECK_INT_EQ(qr_uidset_add_range(k, 1, 2000), 0);
    CHECK_INT_EQ(qr_mbox_qresync_params(&p, &s, k), 0);
    CHECK_INT_EQ(p.use_qresync, 1);
    CHECK_UINT_EQ(p.known_last, 4999);
    CHECK_UINT_EQ(p.seq_first, 977);
    CHECK_UINT_EQ(p.seq_last, 2000);
    CHECK_INT_EQ(qr_uidset_format(p.sample_uids, &b), 0);
    CHECK_STR_EQ(b.ptr, "977:2000");
    qr_buf_dispose(&b);
    qr_mbox_qresync_params_dispose(&p);

    /* every other UID: runs of one; the text stops once past 256 bytes */
    qr_uidset_clear(k);
    for (u = 1001; u <= 1999; u += 2)
        CHECK_INT_EQ(qr_uidset_add(k, u), 0);
    CHECK_INT_EQ(qr_mbox_qresync_params(&p, &s, k), 0);
    /* 4-digit runs: 5 bytes each with the comma (4 for the first); the
     * 52nd makes 259 > 256, so 52 UIDs: 1897..1999 */
    CHECK_UINT_EQ(p.seq_last, 500);
    CHECK_UINT_EQ(p.seq_first, 500 - 52 + 1);
    CHECK_UINT_EQ(qr_uidset_count(p.sample_uids), 52);
    CHECK_INT_EQ(qr_uidset_contains(p.sample_uids, 1897), 1);
    CHECK_INT_EQ(qr_uidset_contains(p.sample_uids, 1895), 0);
    qr_mbox_qresync_params_dispose(&p);
    qr_mbox_qresync_params_dispose(NULL);
    qr_uidset_free(k);
}

/* ---- allocation failures --------------------------------------------- */

static const char alloc_wire[] =
    SELECT_HEAD("5", "9", "20") "* VANISHED (EARLIER) 1:2,5\r\n"
                                "* 3 FETCH (UID 3 MODSEQ (21) FLAGS ($A \\Seen $B))\r\n"
                                "* 4 FETCH (UID 4 MODSEQ (22) FLAGS ($C))\r\n"
                                "* 6 FETCH (UID 6 MODSEQ (23))\r\n"
                                "* 9 FETCH (UID 9 MODSEQ (24) FLAGS ())\r\n"
                                "* VANISHED 4,10\r\n"
                                "000008 OK [MODIFIED 7:8] x\r\n" SELECT_OK;

/* Allocations made by the last alloc_run() before it rendered. */
static unsigned long alloc_points;

/* One full run; returns the first error of any step. */
static int alloc_run(char *got, size_t cap)
{
    qr_mbox_state cached = ST(UV, 9, 20);
    qr_kwtable *kw = NULL;
    qr_mbox_engine *e = NULL;
    qr_changes *c = NULL;
    int rc, erc = 0;

    got[0] = '\0';
    rc = qr_kwtable_new(&kw);
    if (rc == 0)
        rc = qr_mbox_engine_new(&e, &cached, kw);
    if (rc == 0)
        rc = mbox_feed_bytes(e, alloc_wire, strlen(alloc_wire), 0, &erc);
    if (rc == 0)
        rc = erc;
    if (rc == 0) {
        rc = qr_mbox_engine_take(e, 0, &c);
        if (rc == QR_ENOMEM) {
            /* take is not sticky: retrying works once memory is back */
            qr_alloc_fail_at(0, 0);
            rc = qr_mbox_engine_take(e, 0, &c);
            CHECK_INT_EQ(rc, 0);
        }
    }
    alloc_points = qr_alloc_count();
    qr_alloc_fail_at(0, 0);
    if (c)
        mbox_render(c, kw, got, cap);
    qr_changes_free(c);
    qr_mbox_engine_free(e);
    qr_kwtable_free(kw);
    return rc;
}

static void test_allocation_failures(void)
{
    const char *want = "V=1:2,4:5 N=9 U=3/21 ($A $B \\Seen);6/23 ?;7/0 ?;8/0 ? F=0";
    unsigned long points, n;
    char got[512];
    int rc;

    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(alloc_run(got, sizeof(got)), 0);
    CHECK_STR_EQ(got, want);
    points = alloc_points;
    CHECK(points >= 10);
    for (n = 1; n <= points; n++) {
        qr_alloc_fail_at(n, 0);
        rc = alloc_run(got, sizeof(got));
        /* QR_ENOMEM from the parser, the table or the engine (sticky), or
         * a complete and exact change set after a retried take */
        if (rc == 0)
            CHECK_STR_EQ(got, want);
        else
            CHECK_INT_EQ(rc, QR_ENOMEM);
        qr_alloc_fail_at(0, 0);
    }
}

int main(void)
{
    TAP_RUN(test_scenarios_whole);
    TAP_RUN(test_scenarios_byte_by_byte);
    TAP_RUN(test_uidvalidity_message_names_both_values);
    TAP_RUN(test_closed_routes_each_response_to_one_engine);
    TAP_RUN(test_successive_takes_are_relative_to_the_last);
    TAP_RUN(test_argument_checks);
    TAP_RUN(test_select_parameters_match_the_reference);
    TAP_RUN(test_select_sample_limits);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
