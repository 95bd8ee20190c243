/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the sync engine's pure helpers (libqresync/sync/sync_util.c):
 * flag strings (interimap.md §12.3), the uid -> flags map, compact UID sets
 * and order-preserving compact lists (imap-client.md §7.4), 4096-byte
 * chunking, mailbox name conversions (interimap.md conventions), delimiter
 * texts, APPENDUID (imap-client.md §10.8), INTERNALDATE, the (lUID, rUID)
 * pair list, and every allocating helper under allocation failure.
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/uidset.h>

#include "../tap.h"
#include "sync/sync_p.h"
#include "util/alloc.h"
#include "util/dynbuf.h"

#define MAXUID 4294967295u

/* --- flag strings -------------------------------------------------------- */

/* Normalise the NULL-terminated list of C strings in `in`. */
static char *normalise_strs(const char *const *in)
{
    qr_resp_str v[16];
    size_t n = 0;

    for (n = 0; in[n] != NULL && n < 16; n++) {
        v[n].ptr = in[n];
        v[n].len = strlen(in[n]);
    }
    return sy_flags_normalise(v, n);
}

static void test_flags_normalise(void)
{
    static const struct {
        const char *in[8];
        const char *want;
    } cases[] = {
        {{NULL}, ""},
        {{"\\Seen", NULL}, "\\Seen"},
        {{"\\Recent", NULL}, ""},
        {{"\\recent", "\\RECENT", "\\ReCeNt", NULL}, ""},
        {{"\\Recent", "\\Seen", NULL}, "\\Seen"},
        {{"\\Seen", "\\RECENT", NULL}, "\\Seen"},
        {{"\\Flagged", "$Label1", NULL}, "$Label1 \\Flagged"},
        {{"\\Seen", "\\Answered", "\\Seen", NULL}, "\\Answered \\Seen"},
        {{"\\Seen", "\\Seen", "\\Seen", NULL}, "\\Seen"},
        {{"b", "a", "B", "A", NULL}, "A B a b"},
        {{"ab", "a", NULL}, "a ab"},
        {{"\\Recentx", "\\Recen", "Recent", NULL}, "Recent \\Recen \\Recentx"},
        {{"\xc3\xa9t\xc3\xa9", "zz", "$Junk", NULL}, "$Junk zz \xc3\xa9t\xc3\xa9"},
        {{"\\Seen", "", "\\Draft", NULL}, "\\Draft \\Seen"},
        {{"\\Deleted", "\\Answered", "\\Recent", "$Forwarded", "\\Flagged", "\\Answered", NULL},
         "$Forwarded \\Answered \\Deleted \\Flagged"},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *got = normalise_strs(cases[c].in);

        CHECK_STR_EQ(got, cases[c].want);
        qr_free(got);
    }
}

static void test_flags_normalise_nil_and_len(void)
{
    /* NIL (ptr NULL) is ignored; len is honoured, not strlen */
    qr_resp_str v[4] = {{NULL, 0}, {"\\SeenXYZ", 5}, {"$a", 2}, {NULL, 7}};
    char *got = sy_flags_normalise(v, 4);

    CHECK_STR_EQ(got, "$a \\Seen");
    qr_free(got);
    got = sy_flags_normalise(NULL, 0);
    CHECK_STR_EQ(got, "");
    qr_free(got);
}

static void test_flags_union(void)
{
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"", "", ""},
        {"\\Seen", "", "\\Seen"},
        {"", "\\Seen", "\\Seen"},
        {"\\Seen", "\\Seen", "\\Seen"},
        {"z", "a", "a z"},
        {"\\Flagged \\Seen", "$Label1 \\Seen", "$Label1 \\Flagged \\Seen"},
        {"$Label1 \\Flagged", "\\Answered \\Flagged", "$Label1 \\Answered \\Flagged"},
        {"\\Seen", "\\Recent", "\\Seen"},
        {"\\Seen", "\\recent \\Draft", "\\Draft \\Seen"},
        {"a  b", " c ", "a b c"},
        {"a b c", "c b a", "a b c"},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *got = sy_flags_union(cases[c].a, cases[c].b);

        CHECK_STR_EQ(got, cases[c].want);
        qr_free(got);
    }
}

static void test_flags_alloc_failures(void)
{
    static const char *const in[] = {"\\Seen", "$Label1", "\\Recent", "\\Flagged", NULL};
    unsigned long points, n;
    char *got;

    qr_alloc_fail_at(0, 0);
    got = normalise_strs(in);
    points = qr_alloc_count();
    CHECK_STR_EQ(got, "$Label1 \\Flagged \\Seen");
    qr_free(got);
    CHECK_UINT_EQ(points, 2);
    for (n = 1; n <= points; n++) {
        qr_alloc_fail_at(n, 0);
        got = normalise_strs(in);
        CHECK(got == NULL);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        qr_free(got);
    }

    qr_alloc_fail_at(0, 0);
    got = sy_flags_union("\\Seen \\Flagged", "$Junk \\Seen");
    points = qr_alloc_count();
    CHECK_STR_EQ(got, "$Junk \\Flagged \\Seen");
    qr_free(got);
    CHECK_UINT_EQ(points, 2);
    for (n = 1; n <= points; n++) {
        qr_alloc_fail_at(n, 0);
        got = sy_flags_union("\\Seen \\Flagged", "$Junk \\Seen");
        CHECK(got == NULL);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        qr_free(got);
    }
}

/* --- the uid -> flags map ------------------------------------------------ */

static void test_flagmap(void)
{
    static const uint32_t order[] = {50, 10, 30, 20, 40, 1, MAXUID};
    sy_flagmap m = {NULL, 0, 0};
    size_t i;
    sy_mod *e;

    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        char flags[32];

        snprintf(flags, sizeof(flags), "f%u", (unsigned)order[i]);
        CHECK_INT_EQ(sy_flagmap_put(&m, order[i], order[i] * 10ull, qr_strdup(flags)), 0);
    }
    CHECK_UINT_EQ(m.n, 7);
    for (i = 1; i < m.n; i++)
        CHECK(m.v[i - 1].uid < m.v[i].uid);
    e = sy_flagmap_find(&m, 30);
    CHECK(e != NULL);
    if (e) {
        CHECK_UINT_EQ(e->modseq, 300);
        CHECK_STR_EQ(e->flags, "f30");
    }
    CHECK(sy_flagmap_find(&m, 31) == NULL);
    CHECK(sy_flagmap_find(&m, 0) == NULL);
    e = sy_flagmap_find(&m, MAXUID);
    CHECK(e != NULL && strcmp(e->flags, "f4294967295") == 0);

    /* replacing keeps the count and frees the old flags (ASan) */
    CHECK_INT_EQ(sy_flagmap_put(&m, 30, 7, qr_strdup("\\Seen")), 0);
    CHECK_INT_EQ(sy_flagmap_put(&m, 20, 8, NULL), 0);
    CHECK_UINT_EQ(m.n, 7);
    e = sy_flagmap_find(&m, 30);
    CHECK(e != NULL && e->modseq == 7 && strcmp(e->flags, "\\Seen") == 0);
    e = sy_flagmap_find(&m, 20);
    CHECK(e != NULL && e->modseq == 8 && e->flags == NULL);

    sy_flagmap_remove(&m, 1);
    sy_flagmap_remove(&m, 30);
    sy_flagmap_remove(&m, 31); /* absent: nothing happens */
    sy_flagmap_remove(&m, MAXUID);
    CHECK_UINT_EQ(m.n, 4);
    CHECK_UINT_EQ(m.v[0].uid, 10);
    CHECK_UINT_EQ(m.v[1].uid, 20);
    CHECK_UINT_EQ(m.v[2].uid, 40);
    CHECK_UINT_EQ(m.v[3].uid, 50);
    CHECK(sy_flagmap_find(&m, 30) == NULL);
    sy_flagmap_dispose(&m);
    CHECK(m.v == NULL && m.n == 0 && m.alloc == 0);
    sy_flagmap_dispose(&m); /* twice is harmless */
}

static void test_flagmap_alloc_failure(void)
{
    sy_flagmap m = {NULL, 0, 0};
    uint32_t uid;
    char *f;

    qr_alloc_fail_at(1, 0);
    f = malloc(4); /* not counted: plain malloc */
    strcpy(f, "\\X");
    CHECK_INT_EQ(sy_flagmap_put(&m, 5, 1, f), QR_ENOMEM);
    qr_alloc_fail_at(0, 0);
    CHECK_UINT_EQ(m.n, 0);
    free(f);

    /* fill the first block (64) then fail the growth */
    for (uid = 64; uid >= 1; uid--)
        CHECK_INT_EQ(sy_flagmap_put(&m, uid * 2, uid, NULL), 0);
    CHECK_UINT_EQ(m.n, 64);
    f = qr_strdup("\\Y");
    qr_alloc_fail_at(1, 0);
    CHECK_INT_EQ(sy_flagmap_put(&m, 3, 9, f), QR_ENOMEM);
    qr_alloc_fail_at(0, 0);
    CHECK_UINT_EQ(m.n, 64);
    CHECK(sy_flagmap_find(&m, 3) == NULL);
    CHECK_UINT_EQ(m.v[0].uid, 2);
    CHECK_UINT_EQ(m.v[63].uid, 128);
    CHECK_INT_EQ(sy_flagmap_put(&m, 3, 9, f), 0); /* and it works afterwards */
    CHECK_UINT_EQ(m.n, 65);
    CHECK_UINT_EQ(m.v[1].uid, 3);
    sy_flagmap_dispose(&m);
}

/* --- UID texts ----------------------------------------------------------- */

static void test_uidlist_text(void)
{
    static const struct {
        uint32_t u[10];
        size_t n;
        const char *want;
    } cases[] = {
        {{0}, 0, ""},
        {{7}, 1, "7"},
        {{5, 4, 3}, 3, "5:3"},
        {{1, 2, 3, 2, 1}, 5, "1:3,2:1"},
        {{3, 3, 4}, 3, "3,3:4"},
        {{1, 2}, 2, "1:2"},
        {{2, 1}, 2, "2:1"},
        {{1, 3, 5}, 3, "1,3,5"},
        {{5, 4, 3, 7}, 4, "5:3,7"},
        {{1, 2, 3, 4, 3, 2, 1}, 7, "1:4,3:1"},
        {{10, 11, 9, 8}, 4, "10:11,9:8"},
        {{7, 7, 7}, 3, "7,7,7"},
        {{9, 8, 10, 11, 12}, 5, "9:8,10:12"},
        {{4294967294u, MAXUID}, 2, "4294967294:4294967295"},
        {{MAXUID, 4294967294u, 4294967293u}, 3, "4294967295:4294967293"},
        {{1, 0}, 2, "1:0"},
        {{0, 1}, 2, "0:1"},
        /* no wrap-around between 4294967295 and 0 */
        {{MAXUID, 0}, 2, "4294967295,0"},
        {{0, MAXUID}, 2, "0,4294967295"},
        {{MAXUID, 0, 1}, 3, "4294967295,0:1"},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qr_dynbuf b;

        qr_dynbuf_init(&b, 1024);
        CHECK_INT_EQ(sy_uidlist_text(&b, cases[c].u, cases[c].n), 0);
        CHECK_STR_EQ(qr_dynbuf_str(&b), cases[c].want);
        qr_dynbuf_free(&b);
    }
}

static void test_uidlist_text_appends(void)
{
    static const uint32_t u[] = {3, 2, 1, 8};
    qr_dynbuf b;

    qr_dynbuf_init(&b, 1024);
    CHECK_INT_EQ(qr_dynbuf_add(&b, "Added 4 UID(s) ", 15), 0);
    CHECK_INT_EQ(sy_uidlist_text(&b, u, 4), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "Added 4 UID(s) 3:1,8");
    qr_dynbuf_free(&b);

    /* a cap too small: QR_ELIMIT, the buffer keeps what fitted */
    qr_dynbuf_init(&b, 4);
    CHECK_INT_EQ(sy_uidlist_text(&b, u, 4), QR_ELIMIT);
    CHECK_STR_EQ(qr_dynbuf_str(&b), "3:1,");
    qr_dynbuf_free(&b);
}

/* A set of the given ranges, {0, 0} ends. */
static qr_uidset *set_of_ranges(const qr_range *r)
{
    qr_uidset *set = NULL;

    CHECK_INT_EQ(qr_uidset_new(&set), 0);
    for (; set != NULL && r->lo != 0; r++)
        CHECK_INT_EQ(qr_uidset_add_range(set, r->lo, r->hi), 0);
    return set;
}

static void test_uidset_text(void)
{
    static const struct {
        qr_range r[8];
        const char *want;
    } cases[] = {
        {{{0, 0}}, ""},
        {{{7, 7}}, "7"},
        {{{3, 3}, {1, 1}, {2, 2}, {2, 2}, {7, 7}, {9, 9}, {10, 10}}, "1:3,7,9:10"},
        {{{1, 3}, {7, 7}, {9, 10}}, "1:3,7,9:10"},
        {{{10, 9}, {3, 1}, {7, 7}}, "1:3,7,9:10"},
        {{{1, MAXUID}}, "1:4294967295"},
        {{{MAXUID, MAXUID}}, "4294967295"},
        {{{1, 1}, {MAXUID, MAXUID}}, "1,4294967295"},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qr_uidset *set = set_of_ranges(cases[c].r);
        qr_dynbuf b;

        qr_dynbuf_init(&b, 1024);
        CHECK_INT_EQ(sy_uidset_text(&b, set), 0);
        CHECK_STR_EQ(qr_dynbuf_str(&b), cases[c].want);
        qr_dynbuf_free(&b);
        qr_uidset_free(set);
    }
}

static void test_uid_texts_alloc_failures(void)
{
    static const qr_range r[] = {{1, 3}, {7, 7}, {9, 10}, {20, 40}, {50, 50}, {0, 0}};
    uint32_t u[600];
    unsigned long points, n;
    qr_uidset *set = set_of_ranges(r);
    qr_dynbuf b, full;
    size_t i;
    int rc;

    /* many UIDs apart so that the buffer grows several times */
    for (i = 0; i < 600; i++)
        u[i] = (uint32_t)(1000000 + 2 * i);
    qr_alloc_fail_at(0, 0);
    qr_dynbuf_init(&full, 1 << 20);
    CHECK_INT_EQ(sy_uidlist_text(&full, u, 600), 0);
    points = qr_alloc_count();
    CHECK_UINT_EQ(full.len, 600 * 8 - 1);
    CHECK(points >= 2);
    for (n = 1; n <= points; n++) {
        qr_dynbuf_init(&b, 1 << 20);
        qr_alloc_fail_at(n, 0);
        rc = sy_uidlist_text(&b, u, 600);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        /* what was written is a prefix of the whole text */
        CHECK(b.len < full.len && memcmp(qr_dynbuf_str(&b), full.ptr, b.len) == 0);
        qr_dynbuf_free(&b);
    }
    qr_dynbuf_free(&full);

    qr_alloc_fail_at(0, 0);
    qr_dynbuf_init(&b, 1024);
    CHECK_INT_EQ(sy_uidset_text(&b, set), 0);
    points = qr_alloc_count();
    CHECK_STR_EQ(qr_dynbuf_str(&b), "1:3,7,9:10,20:40,50");
    qr_dynbuf_free(&b);
    CHECK(points >= 1);
    for (n = 1; n <= points; n++) {
        qr_dynbuf_init(&b, 1024);
        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(sy_uidset_text(&b, set), QR_ENOMEM);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        qr_dynbuf_free(&b);
    }
    qr_uidset_free(set);
}

/* --- chunking (imap-client.md §7.4) -------------------------------------- */

#define PIECES_MAX 1024

typedef struct pieces {
    qr_dynbuf joined; /* the pieces joined with ',' */
    size_t count;
    size_t len[PIECES_MAX];
    int fail_at; /* return QR_EUSER on this call (1-based), 0 never */
} pieces;

static int collect_piece(const char *text, void *ctx)
{
    pieces *p = ctx;
    size_t len = strlen(text);

    if (p->count < PIECES_MAX)
        p->len[p->count] = len;
    p->count++;
    if (p->fail_at != 0 && p->count == (size_t)p->fail_at)
        return QR_EUSER;
    if (p->joined.len > 0 && qr_dynbuf_addc(&p->joined, ',') != 0)
        return QR_ENOMEM;
    return qr_dynbuf_add(&p->joined, text, len);
}

/* The compact text of set. */
static char *full_text(const qr_uidset *set)
{
    qr_dynbuf b;
    char *r;

    qr_dynbuf_init(&b, (size_t)1 << 24);
    CHECK_INT_EQ(sy_uidset_text(&b, set), 0);
    r = strdup(qr_dynbuf_str(&b));
    qr_dynbuf_free(&b);
    return r;
}

/*
 * Run sy_pieces on set and check: every piece is at most 4096 bytes, none
 * starts or ends with a comma, each cut is the last comma at or before
 * byte 4096 of what remained, and the pieces joined are the whole text.
 */
static void check_pieces(const qr_uidset *set, pieces *p)
{
    char *text = full_text(set);
    size_t off = 0, i;

    memset(p, 0, sizeof(*p));
    qr_dynbuf_init(&p->joined, (size_t)1 << 24);
    CHECK_INT_EQ(sy_pieces(set, collect_piece, p), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&p->joined), text);
    for (i = 0; i < p->count && i < PIECES_MAX && text != NULL; i++) {
        size_t len = p->len[i], rest = strlen(text + off), k;

        CHECK(len >= 1 && len <= 4096);
        if (i + 1 < p->count) {
            CHECK(rest > 4096);
            CHECK(text[off + len] == ',');
            for (k = len + 1; k <= 4096 && k < rest; k++)
                CHECK(text[off + k] != ','); /* no later comma within reach */
            off += len + 1;
        } else {
            CHECK_UINT_EQ(len, rest);
        }
    }
    free(text);
}

/* A set whose text is: `first`, then k four-digit UIDs (1000, 1002, ...), then `last` (0: none). */
static qr_uidset *set_for_text(uint32_t first, size_t k, uint32_t last)
{
    qr_uidset *set = NULL;
    size_t i;

    CHECK_INT_EQ(qr_uidset_new(&set), 0);
    if (set == NULL)
        return NULL;
    if (first)
        CHECK_INT_EQ(qr_uidset_add(set, first), 0);
    for (i = 0; i < k; i++)
        CHECK_INT_EQ(qr_uidset_add(set, (uint32_t)(1000 + 2 * i)), 0);
    if (last)
        CHECK_INT_EQ(qr_uidset_add(set, last), 0);
    return set;
}

static void test_pieces_boundaries(void)
{
    static const struct {
        uint32_t first;
        size_t k;
        uint32_t last;
        size_t textlen;   /* the whole text */
        size_t count;     /* pieces */
        size_t first_len; /* bytes of the first piece */
    } cases[] = {
        /* 818 x "dddd," = 4090 bytes (the last without comma: 4089) */
        {0, 818, 20000, 4095, 1, 4095},   /* 4089 + ",20000" */
        {0, 818, 200000, 4096, 1, 4096},  /* 4089 + ",200000" */
        {0, 818, 2000000, 4097, 2, 4089}, /* cut at the comma at 4089 */
        {0, 819, 0, 4094, 1, 4094},       /* "dddd" x 819 */
        {1, 819, 0, 4096, 1, 4096},       /* "1," + 819 x 4 digits + commas */
        {1, 820, 0, 4101, 2, 4096},       /* a comma exactly at offset 4096 */
        {10, 820, 0, 4102, 2, 4092},      /* comma at 4097: the one at 4092 */
        {0, 1700, 0, 8499, 3, 4094},      /* several pieces */
        {0, 0, MAXUID, 10, 1, 10},        /* one UID */
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qr_uidset *set = set_for_text(cases[c].first, cases[c].k, cases[c].last);
        char *text = full_text(set);
        pieces p;

        CHECK_UINT_EQ(text ? strlen(text) : 0, cases[c].textlen);
        check_pieces(set, &p);
        CHECK_UINT_EQ(p.count, cases[c].count);
        CHECK_UINT_EQ(p.len[0], cases[c].first_len);
        qr_dynbuf_free(&p.joined);
        free(text);
        qr_uidset_free(set);
    }
}

static void test_pieces_ranges_and_empty(void)
{
    static const qr_range huge[] = {{1, MAXUID}, {0, 0}};
    static const qr_range top[] = {{4294967290u, MAXUID}, {0, 0}};
    qr_uidset *set = set_of_ranges(huge), *big, *back;
    pieces p;
    uint32_t uid;

    /* a single huge range is one short piece */
    check_pieces(set, &p);
    CHECK_UINT_EQ(p.count, 1);
    CHECK_STR_EQ(qr_dynbuf_str(&p.joined), "1:4294967295");
    qr_dynbuf_free(&p.joined);
    qr_uidset_free(set);

    set = set_of_ranges(top);
    check_pieces(set, &p);
    CHECK_UINT_EQ(p.count, 1);
    CHECK_STR_EQ(qr_dynbuf_str(&p.joined), "4294967290:4294967295");
    qr_dynbuf_free(&p.joined);
    qr_uidset_free(set);

    /* the empty set gives no piece at all */
    CHECK_INT_EQ(qr_uidset_new(&set), 0);
    check_pieces(set, &p);
    CHECK_UINT_EQ(p.count, 0);
    qr_dynbuf_free(&p.joined);
    qr_uidset_free(set);

    /* ranges of mixed widths, a large set: the pieces rebuild the set */
    CHECK_INT_EQ(qr_uidset_new(&big), 0);
    for (uid = 1; uid < 200000; uid += 3 + uid % 7)
        CHECK_INT_EQ(qr_uidset_add_range(big, uid, uid + (uid % 3)), 0);
    CHECK_INT_EQ(qr_uidset_add_range(big, 4000000000u, MAXUID), 0);
    check_pieces(big, &p);
    CHECK(p.count > 10 && p.count < PIECES_MAX);
    CHECK_INT_EQ(qr_uidset_new(&back), 0);
    CHECK_INT_EQ(qr_uidset_parse(back, p.joined.ptr, p.joined.len), 0);
    CHECK(qr_uidset_equal(big, back));
    qr_dynbuf_free(&p.joined);
    qr_uidset_free(back);
    qr_uidset_free(big);
}

static void test_pieces_callback_error_and_alloc(void)
{
    qr_uidset *set = set_for_text(0, 2000, 0);
    unsigned long points, n;
    pieces p;

    /* a failing callback stops the walk and its code comes back */
    memset(&p, 0, sizeof(p));
    qr_dynbuf_init(&p.joined, 1 << 20);
    p.fail_at = 2;
    CHECK_INT_EQ(sy_pieces(set, collect_piece, &p), QR_EUSER);
    CHECK_UINT_EQ(p.count, 2);
    CHECK_UINT_EQ(p.joined.len, p.len[0]);
    qr_dynbuf_free(&p.joined);

    /* the text is built whole first: a failed allocation calls nothing */
    qr_alloc_fail_at(0, 0);
    memset(&p, 0, sizeof(p));
    qr_dynbuf_init(&p.joined, 1 << 20);
    CHECK_INT_EQ(qr_dynbuf_reserve(&p.joined, 1 << 16), 0);
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(sy_pieces(set, collect_piece, &p), 0);
    points = qr_alloc_count();
    CHECK_UINT_EQ(p.count, 3);
    qr_dynbuf_free(&p.joined);
    CHECK(points >= 2);
    for (n = 1; n <= points; n++) {
        memset(&p, 0, sizeof(p));
        qr_dynbuf_init(&p.joined, 1 << 20);
        CHECK_INT_EQ(qr_dynbuf_reserve(&p.joined, 1 << 16), 0);
        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(sy_pieces(set, collect_piece, &p), QR_ENOMEM);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        CHECK_UINT_EQ(p.count, 0);
        qr_dynbuf_free(&p.joined);
    }
    qr_uidset_free(set);
}

/* --- APPENDUID (imap-client.md §10.8) ------------------------------------ */

static void test_appenduid(void)
{
    static const struct {
        const char *args;
        uint32_t uidvalidity;
        uint32_t u[8];
        size_t n;
    } cases[] = {
        {"1795879967 1:3", 1795879967u, {1, 2, 3}, 3},
        {"7 5:3", 7, {5, 4, 3}, 3},
        {"7 1,3:4", 7, {1, 3, 4}, 3},
        {"7 9", 7, {9}, 1},
        {"7 3,1,2", 7, {3, 1, 2}, 3},
        {"7 2,2", 7, {2, 2}, 2},
        {"7 1:1", 7, {1}, 1},
        {"7 4:5,3:1", 7, {4, 5, 3, 2, 1}, 5},
        {"7 4294967295", 7, {MAXUID}, 1},
        {"7 4294967294:4294967295", 7, {4294967294u, MAXUID}, 2},
        {"7 4294967295:4294967293", 7, {MAXUID, 4294967294u, 4294967293u}, 3},
        {"4294967295 1", MAXUID, {1}, 1},
        {"0007 0010", 7, {10}, 1},
    };
    size_t c, i;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uint32_t uv = 0, *uids = NULL;
        size_t n = 99;
        int rc = sy_parse_appenduid(cases[c].args, strlen(cases[c].args), &uv, &uids, &n);

        CHECK_INT_EQ(rc, 0);
        CHECK_UINT_EQ(uv, cases[c].uidvalidity);
        CHECK_UINT_EQ(n, cases[c].n);
        for (i = 0; rc == 0 && i < n && i < cases[c].n; i++)
            CHECK_UINT_EQ(uids[i], cases[c].u[i]);
        if (rc != 0)
            printf("#   args: %s\n", cases[c].args);
        qr_free(uids);
    }
}

static void test_appenduid_len_is_honoured(void)
{
    const char *args = "7 1:3 junk";
    uint32_t uv = 0, *uids = NULL;
    size_t n = 0;

    CHECK_INT_EQ(sy_parse_appenduid(args, 5, &uv, &uids, &n), 0);
    CHECK_UINT_EQ(uv, 7);
    CHECK_UINT_EQ(n, 3);
    CHECK(uids != NULL && uids[0] == 1 && uids[2] == 3);
    qr_free(uids);
    CHECK_INT_EQ(sy_parse_appenduid(args, 3, &uv, &uids, &n), 0);
    CHECK_UINT_EQ(n, 1);
    qr_free(uids);
    CHECK_INT_EQ(sy_parse_appenduid(args, strlen(args), &uv, &uids, &n), QR_EPROTO);
    CHECK(uids == NULL);
    /* an embedded NUL is not the end */
    CHECK_INT_EQ(sy_parse_appenduid("7 1\0", 4, &uv, &uids, &n), QR_EPROTO);
    CHECK(uids == NULL);
}

static void test_appenduid_malformed(void)
{
    static const char *const bad[] = {
        "",
        "abc",
        "7",
        "7 ",
        "7 x",
        "x 1",
        " 7 1",
        "7  1",
        "7\t1",
        "7 1 ",
        "7 1,",
        "7 ,1",
        "7 1,,2",
        "7 1:",
        "7 :3",
        "7 1::3",
        "7 1:3x",
        "7 1:3,x",
        "7 1:3,5:4,junk",
        "7 1;2",
        "7 -1",
        "7 +1",
        "7 1:*",
        "7 *",
        "-7 1",
        "4294967296 1",
        "99999999999999999999 1",
        "7 4294967296",
        "7 1:4294967296",
        "7 1,2,4294967296",
        "7 1:4294967295", /* 4294967295 UIDs: over the limit */
        "7 1:1048577",
        "7 1:1048576,1",
    };
    size_t c;

    for (c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        uint32_t uv = 0, dummy = 0, *uids = &dummy;
        size_t n = 99;
        int rc = sy_parse_appenduid(bad[c], strlen(bad[c]), &uv, &uids, &n);

        CHECK_INT_EQ(rc, QR_EPROTO);
        CHECK(uids == NULL);
        CHECK_UINT_EQ(n, 0);
        if (rc != QR_EPROTO)
            printf("#   args: \"%s\"\n", bad[c]);
        if (rc == 0)
            qr_free(uids);
    }
}

static void test_appenduid_limit(void)
{
    uint32_t uv = 0, *uids = NULL;
    size_t n = 0;

    /* exactly 2^20 UIDs is accepted */
    CHECK_INT_EQ(sy_parse_appenduid("7 1048576:1", 11, &uv, &uids, &n), 0);
    CHECK_UINT_EQ(n, 1048576);
    CHECK(uids != NULL && uids[0] == 1048576 && uids[1048575] == 1);
    qr_free(uids);
}

static void test_appenduid_alloc_failures(void)
{
    const char *args = "7 1,2:3,4:10,11:40,100:41";
    unsigned long points, n;
    uint32_t uv, *uids = NULL;
    size_t cnt = 0;

    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(sy_parse_appenduid(args, strlen(args), &uv, &uids, &cnt), 0);
    points = qr_alloc_count();
    CHECK_UINT_EQ(cnt, 100);
    CHECK(uids != NULL && uids[40] == 100 && uids[99] == 41);
    qr_free(uids);
    CHECK(points >= 3);
    for (n = 1; n <= points; n++) {
        uids = &uv;
        cnt = 5;
        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(sy_parse_appenduid(args, strlen(args), &uv, &uids, &cnt), QR_ENOMEM);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        CHECK(uids == NULL);
        CHECK_UINT_EQ(cnt, 0);
    }
}

/* --- INTERNALDATE -------------------------------------------------------- */

static void test_internaldate(void)
{
    static const struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"28-Nov-2026 15:32:47 +0000", 1795879967},
        {"28-Nov-2026 15:32:47 -0500", 1795879967 + 5 * 3600},
        {"28-Nov-2026 15:32:47 +0130", 1795879967 - 5400},
        {"28-Nov-2026 15:32:47 -0030", 1795879967 + 1800},
        {"01-Jan-1970 00:00:00 +0000", 0},
        {" 1-Jan-1970 00:00:00 +0000", 0},
        {"01-Jan-1970 01:00:00 +0100", 0},
        {"01-Jan-1970 00:00:00 -0100", 3600},
        {"01-Jan-1970 00:00:00 +0100", -3600},
        {"31-Dec-1969 23:59:58 +0000", -2},
        {"29-Feb-2024 12:00:00 +0000", 1709208000},
        {"29-Feb-2000 00:00:00 +0000", 951782400},
        {"31-Dec-2099 23:59:59 +0000", 4102444799},
        {"01-Mar-2100 00:00:00 +0000", 4107542400},
        {"01-Jan-0001 00:00:00 +0000", -62135596800},
        {"31-Dec-9999 23:59:59 +0000", 253402300799},
        {"31-Jan-2026 00:00:00 +0000", 1769817600},
        {"30-Apr-2026 00:00:00 +0000", 1777507200},
        {"28-Feb-2026 23:59:59 +0000", 1772323199},
        {"01-Mar-2026 00:00:00 +0000", 1772323200},
        {"28-Nov-2026 15:32:47 +9959", 1795879967 - 99 * 3600 - 59 * 60},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        int64_t got = sy_parse_internaldate(cases[c].text);

        CHECK_INT_EQ(got, cases[c].want);
        if (got != cases[c].want)
            printf("#   text: \"%s\"\n", cases[c].text);
    }
}

static void test_internaldate_invalid(void)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "28-Nov-2026",
        "28-Nov-2026 15:32:47",
        "28-Nov-2026 15:32:47 ",
        "28-Nov-2026 15:32:47 0000",
        "28-Nov-2026 15:32:47 *0000",
        "28-Nov-2026 15:32:47 +-500",
        "28-Nov-2026 15:32 +0000",
        "28 Nov 2026 15:32:47 +0000",
        "00-Nov-2026 15:32:47 +0000",
        "32-Nov-2026 15:32:47 +0000",
        "-1-Nov-2026 15:32:47 +0000",
        "28-Foo-2026 15:32:47 +0000",
        "28-No-2026 15:32:47 +0000",
        "28-Nov-0000 15:32:47 +0000",
        "28-Nov-10000 15:32:47 +0000",
        "28-Nov-2026 24:00:00 +0000",
        "28-Nov-2026 15:60:00 +0000",
        "28-Nov-2026 15:32:61 +0000",
        "28-Nov-2026 -1:32:47 +0000",
        /* days past the end of their month */
        "29-Feb-2025 00:00:00 +0000",
        "29-Feb-2100 00:00:00 +0000",
        "30-Feb-2024 00:00:00 +0000",
        "31-Apr-2026 00:00:00 +0000",
        "31-Jun-2026 00:00:00 +0000",
        "31-Sep-2026 00:00:00 +0000",
        "31-Nov-2026 00:00:00 +0000",
        /* zone minutes past 59 */
        "28-Nov-2026 15:32:47 +0060",
        "28-Nov-2026 15:32:47 -0199",
    };
    size_t c;

    for (c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        int64_t got = sy_parse_internaldate(bad[c]);

        CHECK_INT_EQ(got, -1);
        if (got != -1)
            printf("#   text: \"%s\"\n", bad[c]);
    }
}

/* --- names (interimap.md conventions) ------------------------------------ */

static void make_side(sy_side *sd, char *ref, int delim)
{
    memset(sd, 0, sizeof(*sd));
    sd->delim = delim;
    sd->ref = ref;
    sd->reflen = strlen(ref);
}

static void test_internal_name(void)
{
    static const struct {
        const char *ref;
        int delim;
        const char *name;
        size_t len;
        const char *want; /* NULL: outside the reference */
        size_t wantlen;
    } cases[] = {
        {"perso/", '/', "perso/a/b", 9, "a\0b", 3},
        {"perso/", '/', "perso/INBOX", 11, "INBOX", 5},
        {"perso/", '/', "perso/a//b/", 11, "a\0\0b\0", 5},
        {"perso/", '/', "perso/", 6, "", 0},
        {"perso/", '/', "perso", 5, NULL, 0},
        {"perso/", '/', "Perso/a", 7, NULL, 0},
        {"perso/", '/', "other/a", 7, NULL, 0},
        {"perso/", '/', "", 0, NULL, 0},
        {"perso/", '/', "perso/a/b", 8, "a\0", 2}, /* len, not strlen */
        {"", '.', "a.b.c", 5, "a\0b\0c", 5},
        {"", '.', "a/b", 3, "a/b", 3},
        {"", '.', "", 0, "", 0},
        {"", -1, "a/b.c", 5, "a/b.c", 5}, /* NIL: flat */
        {"", '\\', "a\\b", 3, "a\0b", 3},
        {"INBOX.", '.', "INBOX.x.y", 9, "x\0y", 3},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char ref[32];
        sy_side sd;
        size_t len = 12345;
        char *got;

        snprintf(ref, sizeof(ref), "%s", cases[c].ref);
        make_side(&sd, ref, cases[c].delim);
        got = sy_internal_name(&sd, cases[c].name, cases[c].len, &len);
        if (cases[c].want == NULL) {
            CHECK(got == NULL);
            CHECK_UINT_EQ(len, 12345);
        } else {
            CHECK(got != NULL);
            if (got != NULL) {
                CHECK_MEM_EQ(got, len, cases[c].want, cases[c].wantlen);
                CHECK(got[len] == '\0');
            }
        }
        qr_free(got);
    }
}

static void test_server_name(void)
{
    static const struct {
        const char *ref;
        int delim;
        const char *iname;
        size_t ilen;
        const char *want;
        size_t wantlen;
    } cases[] = {
        {"perso/", '/', "a\0b", 3, "perso/a/b", 9},
        {"perso/", '/', "INBOX", 5, "perso/INBOX", 11},
        {"perso/", '/', "", 0, "perso/", 6},
        {"", '.', "a\0b\0c", 5, "a.b.c", 5},
        {"", '.', "a/b", 3, "a/b", 3},
        {"", '\\', "a\0b", 3, "a\\b", 3},
        {"", -1, "a\0b", 3, "a\0b", 3}, /* NIL: nothing to put back */
        {"", -2, "a\0b", 3, "a\0b", 3},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char ref[32];
        sy_side sd;
        size_t len = 0;
        char *got;

        snprintf(ref, sizeof(ref), "%s", cases[c].ref);
        make_side(&sd, ref, cases[c].delim);
        got = sy_server_name(&sd, cases[c].iname, cases[c].ilen, &len);
        CHECK(got != NULL);
        if (got != NULL) {
            CHECK_MEM_EQ(got, len, cases[c].want, cases[c].wantlen);
            CHECK(got[len] == '\0');
        }
        qr_free(got);
    }
}

static void test_names_round_trip_and_pretty(void)
{
    static struct qr_sync s; /* large: static, zeroed */
    char lref[] = "perso/", rref[] = "";
    const char *server = "perso/a/b/c";
    size_t ilen = 0, slen = 0;
    char *in, *back, *pretty;

    memset(&s, 0, sizeof(s));
    make_side(&s.side[QR_SYNC_LOCAL], lref, '/');
    make_side(&s.side[QR_SYNC_REMOTE], rref, '.');
    s.side[QR_SYNC_LOCAL].sync = s.side[QR_SYNC_REMOTE].sync = &s;

    in = sy_internal_name(&s.side[QR_SYNC_LOCAL], server, strlen(server), &ilen);
    CHECK(in != NULL);
    if (in == NULL)
        return;
    CHECK_MEM_EQ(in, ilen, "a\0b\0c", 5);
    back = sy_server_name(&s.side[QR_SYNC_LOCAL], in, ilen, &slen);
    CHECK(back != NULL && slen == strlen(server) && memcmp(back, server, slen) == 0);
    qr_free(back);
    /* the same mailbox on the remote: its own reference and delimiter */
    back = sy_server_name(&s.side[QR_SYNC_REMOTE], in, ilen, &slen);
    CHECK(back != NULL);
    if (back)
        CHECK_MEM_EQ(back, slen, "a.b.c", 5);
    qr_free(back);

    /* pretty: the LOCAL delimiter, no reference */
    pretty = sy_pretty(&s, in, ilen);
    CHECK_STR_EQ(pretty, "a/b/c");
    qr_free(pretty);
    s.side[QR_SYNC_LOCAL].delim = '.';
    s.side[QR_SYNC_REMOTE].delim = '/';
    pretty = sy_pretty(&s, in, ilen);
    CHECK_STR_EQ(pretty, "a.b.c");
    qr_free(pretty);
    s.side[QR_SYNC_LOCAL].delim = -1; /* NIL: '/' */
    pretty = sy_pretty(&s, in, ilen);
    CHECK_STR_EQ(pretty, "a/b/c");
    qr_free(pretty);
    pretty = sy_pretty(&s, "", 0);
    CHECK_STR_EQ(pretty, "");
    qr_free(pretty);
    qr_free(in);
}

static void test_names_alloc_failures(void)
{
    static struct qr_sync s;
    char ref[] = "perso/";
    size_t len = 77;

    memset(&s, 0, sizeof(s));
    make_side(&s.side[QR_SYNC_LOCAL], ref, '/');
    qr_alloc_fail_at(1, 0);
    CHECK(sy_internal_name(&s.side[QR_SYNC_LOCAL], "perso/a/b", 9, &len) == NULL);
    CHECK(qr_alloc_failed());
    CHECK_UINT_EQ(len, 77);
    qr_alloc_fail_at(1, 0);
    CHECK(sy_server_name(&s.side[QR_SYNC_LOCAL], "a\0b", 3, &len) == NULL);
    CHECK(qr_alloc_failed());
    CHECK_UINT_EQ(len, 77);
    qr_alloc_fail_at(1, 0);
    CHECK(sy_pretty(&s, "a\0b", 3) == NULL);
    CHECK(qr_alloc_failed());
    qr_alloc_fail_at(0, 0);
}

static void test_delim_text(void)
{
    static const struct {
        int delim;
        const char *want;
    } cases[] = {
        {'/', "\"/\""}, {'.', "\".\""}, {'\\', "\"\\\\\""}, {'"', "\"\\\"\""}, {-1, "NIL"},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char buf[16];

        memset(buf, 'x', sizeof(buf));
        sy_delim_text(cases[c].delim, buf, sizeof(buf));
        CHECK_STR_EQ(buf, cases[c].want);
    }
    {
        char small[3];

        sy_delim_text('\\', small, sizeof(small)); /* truncated, still terminated */
        CHECK_STR_EQ(small, "\"\\");
    }
}

/* --- (lUID, rUID) pairs -------------------------------------------------- */

static void test_pairs_cb(void)
{
    sy_pairs p = {NULL, NULL, 0, 0};
    uint32_t i;

    for (i = 1; i <= 200; i++)
        CHECK_INT_EQ(sy_pairs_cb(&p, i, i, 1000 + i), 0);
    CHECK_UINT_EQ(p.n, 200);
    CHECK(p.alloc >= 200);
    for (i = 0; i < 200; i++) {
        CHECK_UINT_EQ(p.l[i], i + 1);
        CHECK_UINT_EQ(p.r[i], 1001 + i);
    }
    qr_free(p.l);
    qr_free(p.r);
}

static void test_pairs_cb_alloc_failures(void)
{
    unsigned long points, n;
    sy_pairs p = {NULL, NULL, 0, 0};
    uint32_t i;

    qr_alloc_fail_at(0, 0);
    for (i = 1; i <= 200; i++)
        (void)sy_pairs_cb(&p, -1, i, i);
    points = qr_alloc_count();
    qr_free(p.l);
    qr_free(p.r);
    CHECK_UINT_EQ(points, 6); /* 64, 128, 256, two arrays each */
    for (n = 1; n <= points; n++) {
        int rc = 0;

        memset(&p, 0, sizeof(p));
        qr_alloc_fail_at(n, 0);
        for (i = 1; i <= 200 && rc == 0; i++)
            rc = sy_pairs_cb(&p, -1, i, 2 * i);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        /* the pairs kept are intact, and adding goes on afterwards */
        CHECK_UINT_EQ(p.n, i - 2);
        CHECK_INT_EQ(sy_pairs_cb(&p, -1, 999, 998), 0);
        CHECK(p.l[p.n - 1] == 999 && p.r[p.n - 1] == 998);
        if (p.n >= 2)
            CHECK(p.l[p.n - 2] == p.n - 1 && p.r[p.n - 2] == 2 * (p.n - 1));
        qr_free(p.l);
        qr_free(p.r);
    }
}

int main(void)
{
    TAP_RUN(test_flags_normalise);
    TAP_RUN(test_flags_normalise_nil_and_len);
    TAP_RUN(test_flags_union);
    TAP_RUN(test_flags_alloc_failures);
    TAP_RUN(test_flagmap);
    TAP_RUN(test_flagmap_alloc_failure);
    TAP_RUN(test_uidlist_text);
    TAP_RUN(test_uidlist_text_appends);
    TAP_RUN(test_uidset_text);
    TAP_RUN(test_uid_texts_alloc_failures);
    TAP_RUN(test_pieces_boundaries);
    TAP_RUN(test_pieces_ranges_and_empty);
    TAP_RUN(test_pieces_callback_error_and_alloc);
    TAP_RUN(test_appenduid);
    TAP_RUN(test_appenduid_len_is_honoured);
    TAP_RUN(test_appenduid_malformed);
    TAP_RUN(test_appenduid_limit);
    TAP_RUN(test_appenduid_alloc_failures);
    TAP_RUN(test_internaldate);
    TAP_RUN(test_internaldate_invalid);
    TAP_RUN(test_internal_name);
    TAP_RUN(test_server_name);
    TAP_RUN(test_names_round_trip_and_pretty);
    TAP_RUN(test_names_alloc_failures);
    TAP_RUN(test_delim_text);
    TAP_RUN(test_pairs_cb);
    TAP_RUN(test_pairs_cb_alloc_failures);
    return tap_done();
}
