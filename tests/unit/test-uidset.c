/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for qr_uidset (libqresync/util/uidset*.c): merging, removal,
 * set algebra, text form, splitting under a byte budget, iteration, the
 * incremental parser at every split point, a megabyte VANISHED list,
 * a differential test against a bitmap model, and allocation failures.
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/uidset.h>

#include "../tap.h"
#include "util/alloc.h"
#include "util/dynbuf.h"
#include "util/uidset_p.h"

#define MAXUID 4294967295u

/* The text form of set, in a static buffer (tests only). */
static const char *text_of(const qr_uidset *set)
{
    static char text[4096];
    qr_buf b = QR_BUF_INIT;

    if (qr_uidset_format(set, &b) != 0 || b.size >= sizeof(text)) {
        qr_buf_dispose(&b);
        return "<format failed>";
    }
    memcpy(text, b.ptr, b.size + 1);
    qr_buf_dispose(&b);
    return text;
}

/* Check that set is canonical and reads `want`. */
#define CHECK_SET(set, want)                                                                       \
    do {                                                                                           \
        CHECK(qr_uidset_check_(set));                                                              \
        CHECK_STR_EQ(text_of(set), want);                                                          \
    } while (0)

/* A new set holding the UIDs of text ("" for an empty set). */
static qr_uidset *set_of(const char *text)
{
    qr_uidset *set = NULL;

    CHECK_INT_EQ(qr_uidset_new(&set), 0);
    if (set && text[0])
        CHECK_INT_EQ(qr_uidset_parse(set, text, strlen(text)), 0);
    return set;
}

static void test_add_merges_ranges(void)
{
    static const struct {
        qr_range add[6]; /* added in order, until {0, 0} */
        const char *want;
    } cases[] = {
        {{{1, 1}, {2, 2}, {3, 3}}, "1:3"},
        {{{1, 3}, {4, 4}}, "1:4"},
        {{{5, 5}, {1, 3}}, "1:3,5"},
        {{{5, 5}, {3, 3}, {4, 4}}, "3:5"},
        {{{1, 5}, {3, 8}}, "1:8"},
        {{{3, 8}, {1, 5}}, "1:8"},
        {{{10, 20}, {1, 30}}, "1:30"},
        {{{1, 30}, {10, 20}}, "1:30"},
        {{{9, 9}, {1, 1}, {5, 5}, {3, 3}, {7, 7}}, "1,3,5,7,9"},
        {{{1, 1}, {3, 3}, {5, 5}, {7, 7}, {2, 6}}, "1:7"},
        {{{1, 1}, {3, 3}, {9, 9}, {6, 4}}, "1,3:6,9"},
        {{{8, 3}}, "3:8"},
        {{{20, 30}, {10, 19}}, "10:30"},
        {{{20, 30}, {31, 40}}, "20:40"},
        {{{20, 30}, {10, 18}}, "10:18,20:30"},
        {{{MAXUID, MAXUID}, {MAXUID - 1, MAXUID - 1}}, "4294967294:4294967295"},
        {{{MAXUID, MAXUID}, {1, MAXUID - 1}}, "1:4294967295"},
        {{{MAXUID, MAXUID}, {MAXUID, MAXUID}}, "4294967295"},
        {{{MAXUID, 1}, {5, 5}}, "1:4294967295"},
    };
    size_t c, k;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qr_uidset *set = set_of("");
        for (k = 0; k < 6 && cases[c].add[k].lo; k++)
            CHECK_INT_EQ(qr_uidset_add_range(set, cases[c].add[k].lo, cases[c].add[k].hi), 0);
        CHECK_SET(set, cases[c].want);
        qr_uidset_free(set);
    }
}

static void test_zero_is_rejected(void)
{
    qr_uidset *set = set_of("1:3");

    CHECK_INT_EQ(qr_uidset_add(set, 0), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_add_range(set, 0, 5), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_add_range(set, 5, 0), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_remove(set, 0), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_remove_range(set, 0, 2), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_contains(set, 0), 0);
    CHECK_SET(set, "1:3");
    qr_uidset_free(set);
    qr_uidset_free(NULL);
}

static void test_remove_splits_and_trims(void)
{
    static const struct {
        const char *initial;
        uint32_t a, b;
        const char *want;
    } cases[] = {
        {"1:10", 5, 5, "1:4,6:10"},
        {"1:10", 1, 1, "2:10"},
        {"1:10", 10, 10, "1:9"},
        {"1:10", 1, 10, ""},
        {"1:10", 3, 8, "1:2,9:10"},
        {"1:10", 8, 3, "1:2,9:10"},
        {"1:3,5:7,9:11", 2, 10, "1,11"},
        {"1:3,5:7,9:11", 4, 4, "1:3,5:7,9:11"},
        {"1:3,5:7,9:11", 5, 7, "1:3,9:11"},
        {"1:3,5:7,9:11", 1, 100, ""},
        {"5:7", 100, 1, ""},
        {"5:7", 8, 20, "5:7"},
        {"", 1, 5, ""},
        {"1:4294967295", MAXUID, MAXUID, "1:4294967294"},
        {"1:4294967295", 2, MAXUID - 1, "1,4294967295"},
        {"1:4294967295", 1, MAXUID, ""},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qr_uidset *set = set_of(cases[c].initial);
        CHECK_INT_EQ(qr_uidset_remove_range(set, cases[c].a, cases[c].b), 0);
        CHECK_SET(set, cases[c].want);
        qr_uidset_free(set);
    }
}

static void test_union_difference_intersection(void)
{
    static const struct {
        const char *a, *b, *uni, *diff, *inter;
    } cases[] = {
        {"1:5", "3:8", "1:8", "1:2", "3:5"},
        {"1:5", "6:8", "1:8", "1:5", ""},
        {"6:8", "1:5", "1:8", "6:8", ""},
        {"1:3,10:12", "5:7", "1:3,5:7,10:12", "1:3,10:12", ""},
        {"1:100", "2,4,50:60,100", "1:100", "1,3,5:49,61:99", "2,4,50:60,100"},
        {"2,4,50:60,100", "1:100", "1:100", "", "2,4,50:60,100"},
        {"", "1:3", "1:3", "", ""},
        {"1:3", "", "1:3", "1:3", ""},
        {"", "", "", "", ""},
        {"1:10,20:30", "5:25", "1:30", "1:4,26:30", "5:10,20:25"},
        {"1:4294967295", "7,4294967295", "1:4294967295", "1:6,8:4294967294", "7,4294967295"},
        {"2,4,6", "1,3,5,7", "1:7", "2,4,6", ""},
        {"5:10", "1:3,7,9:20", "1:3,5:20", "5:6,8", "7,9:10"},
        {"1:3,7:9", "4:6", "1:9", "1:3,7:9", ""},
        {"1:3", "100:200", "1:3,100:200", "1:3", ""},
        {"1:10,12:20", "5:15", "1:20", "1:4,16:20", "5:10,12:15"},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qr_uidset *a = set_of(cases[c].a), *b = set_of(cases[c].b), *d;

        CHECK_INT_EQ(qr_uidset_copy(&d, a), 0);
        CHECK_INT_EQ(qr_uidset_union(d, b), 0);
        CHECK_SET(d, cases[c].uni);
        qr_uidset_free(d);

        CHECK_INT_EQ(qr_uidset_copy(&d, a), 0);
        CHECK_INT_EQ(qr_uidset_difference(d, b), 0);
        CHECK_SET(d, cases[c].diff);
        qr_uidset_free(d);

        CHECK_INT_EQ(qr_uidset_copy(&d, a), 0);
        CHECK_INT_EQ(qr_uidset_intersection(d, b), 0);
        CHECK_SET(d, cases[c].inter);
        qr_uidset_free(d);

        CHECK_SET(a, cases[c].a); /* sources unchanged */
        CHECK_SET(b, cases[c].b);
        qr_uidset_free(a);
        qr_uidset_free(b);
    }
}

static void test_operations_with_itself(void)
{
    qr_uidset *set = set_of("1:3,7");

    CHECK_INT_EQ(qr_uidset_union(set, set), 0);
    CHECK_SET(set, "1:3,7");
    CHECK_INT_EQ(qr_uidset_intersection(set, set), 0);
    CHECK_SET(set, "1:3,7");
    CHECK_INT_EQ(qr_uidset_difference(set, set), 0);
    CHECK_SET(set, "");
    qr_uidset_free(set);
}

static void test_contains_count_ranges(void)
{
    qr_uidset *set = set_of("3:5,9,4294967295"), *empty = set_of(""), *full = set_of("");
    static const struct {
        uint32_t uid;
        int in;
    } probes[] = {{0, 0}, {1, 0}, {2, 0}, {3, 1},  {4, 1},           {5, 1},
                  {6, 0}, {8, 0}, {9, 1}, {10, 0}, {4294967294u, 0}, {MAXUID, 1}};
    const qr_range *r;
    size_t i, n = 99;

    for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        CHECK_INT_EQ(qr_uidset_contains(set, probes[i].uid), probes[i].in);
    CHECK_INT_EQ(qr_uidset_contains(empty, 1), 0);
    CHECK_UINT_EQ(qr_uidset_count(set), 5);
    CHECK_UINT_EQ(qr_uidset_count(empty), 0);
    CHECK_INT_EQ(qr_uidset_add_range(full, 1, MAXUID), 0);
    CHECK_UINT_EQ(qr_uidset_count(full), 4294967295u);
    CHECK_INT_EQ(qr_uidset_contains(full, MAXUID), 1);

    r = qr_uidset_ranges(set, &n);
    CHECK_UINT_EQ(n, 3);
    CHECK(r != NULL);
    if (r && n == 3) {
        CHECK_UINT_EQ(r[0].lo, 3);
        CHECK_UINT_EQ(r[0].hi, 5);
        CHECK_UINT_EQ(r[1].lo, 9);
        CHECK_UINT_EQ(r[1].hi, 9);
        CHECK_UINT_EQ(r[2].lo, MAXUID);
        CHECK_UINT_EQ(r[2].hi, MAXUID);
    }
    CHECK(qr_uidset_ranges(empty, &n) == NULL);
    CHECK_UINT_EQ(n, 0);

    qr_uidset_clear(set);
    CHECK_SET(set, "");
    CHECK_UINT_EQ(qr_uidset_count(set), 0);
    CHECK_INT_EQ(qr_uidset_add(set, 42), 0); /* usable after clear */
    CHECK_SET(set, "42");
    qr_uidset_free(set);
    qr_uidset_free(empty);
    qr_uidset_free(full);
}

static void test_copy_and_equal(void)
{
    qr_uidset *a = set_of("1:5,9"), *b = set_of("9,1:5"), *c = set_of("1:5"), *d;

    CHECK_INT_EQ(qr_uidset_equal(a, b), 1);
    CHECK_INT_EQ(qr_uidset_equal(a, c), 0);
    CHECK_INT_EQ(qr_uidset_copy(&d, a), 0);
    CHECK_INT_EQ(qr_uidset_equal(a, d), 1);
    CHECK_INT_EQ(qr_uidset_add(d, 100), 0); /* the copy is independent */
    CHECK_SET(a, "1:5,9");
    CHECK_SET(d, "1:5,9,100");
    qr_uidset_clear(c);
    qr_uidset_free(d);
    CHECK_INT_EQ(qr_uidset_copy(&d, c), 0); /* copy of an empty set */
    CHECK_INT_EQ(qr_uidset_equal(c, d), 1);
    CHECK_SET(d, "");
    qr_uidset_free(a);
    qr_uidset_free(b);
    qr_uidset_free(c);
    qr_uidset_free(d);
}

static void test_parse_normalises(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"1", "1"},
        {"1:5,7,9:12", "1:5,7,9:12"},
        {"3,1,2", "1:3"},
        {"5:1", "1:5"},
        {"1:1", "1"},
        {"1:2,2:3", "1:3"},
        {"7,7,7", "7"},
        {"4294967295", "4294967295"},
        {"4294967295:1", "1:4294967295"},
        {"10:20,1:5,15:30,6:9", "1:30"},
        {"100,1:2,50", "1:2,50,100"},
    };
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        qr_uidset *set = set_of("");
        CHECK_INT_EQ(qr_uidset_parse(set, cases[c].in, strlen(cases[c].in)), 0);
        CHECK_SET(set, cases[c].want);
        qr_uidset_free(set);
    }
}

static void test_parse_adds_to_existing_set(void)
{
    qr_uidset *set = set_of("1:3,20");

    CHECK_INT_EQ(qr_uidset_parse(set, "4,10,21:22", 10), 0);
    CHECK_SET(set, "1:4,10,20:22");
    /* only len bytes are read */
    CHECK_INT_EQ(qr_uidset_parse(set, "30,junk", 2), 0);
    CHECK_SET(set, "1:4,10,20:22,30");
    qr_uidset_free(set);
}

static void test_parse_rejects_bad_text(void)
{
    static const char *const bad[] = {"",      ",",    "1,",   ",1",         "1,,2",        "1::2",
                                      "1:2:3", ":1",   "1:",   "0",          "0:5",         "5:0",
                                      "01",    "1:05", "007",  "4294967296", "99999999999", "*",
                                      "1:*",   "*:5",  " 1",   "1 ",         "1, 2",        "a",
                                      "1a",    "-1",   "+1",   "1;2",        "1.5",         "1-3",
                                      "(1)",   "1:0",  "10:0", "42949672950"};
    qr_uidset *set = set_of("100:200");
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT_EQ(qr_uidset_parse(set, bad[i], strlen(bad[i])), QR_EINVAL);
        CHECK_SET(set, "100:200");
    }
    CHECK_INT_EQ(qr_uidset_parse(set, "1\0", 2), QR_EINVAL); /* embedded NUL */
    CHECK_INT_EQ(qr_uidset_parse(set, NULL, 0), QR_EINVAL);
    CHECK_SET(set, "100:200");
    qr_uidset_free(set);
}

static void test_format_and_append_to(void)
{
    qr_uidset *set = set_of("1:5,7,9:12,4294967294:4294967295");
    qr_buf out = QR_BUF_INIT;
    qr_dynbuf d;

    CHECK_INT_EQ(qr_uidset_format(set, &out), 0);
    CHECK_STR_EQ(out.ptr, "1:5,7,9:12,4294967294:4294967295");
    CHECK_UINT_EQ(out.size, 32);
    qr_buf_dispose(&out);

    qr_dynbuf_init(&d, 40);
    CHECK_INT_EQ(qr_dynbuf_add(&d, "UID ", 4), 0);
    CHECK_INT_EQ(qr_uidset_append_to(set, &d), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&d), "UID 1:5,7,9:12,4294967294:4294967295");
    /* past the cap: QR_ELIMIT and the buffer as it was */
    CHECK_INT_EQ(qr_uidset_append_to(set, &d), QR_ELIMIT);
    CHECK_STR_EQ(qr_dynbuf_str(&d), "UID 1:5,7,9:12,4294967294:4294967295");
    qr_dynbuf_free(&d);

    qr_uidset_clear(set);
    CHECK_INT_EQ(qr_uidset_format(set, &out), 0);
    CHECK(out.ptr != NULL);
    CHECK_STR_EQ(out.ptr, "");
    CHECK_UINT_EQ(out.size, 0);
    qr_buf_dispose(&out);
    qr_dynbuf_init(&d, 10);
    CHECK_INT_EQ(qr_uidset_append_to(set, &d), 0);
    CHECK_STR_EQ(qr_dynbuf_str(&d), "");
    qr_dynbuf_free(&d);
    qr_uidset_free(set);
}

/* Collects pieces as "p1|p2|..."; returns stop_rc at call number stop_at. */
typedef struct pieces {
    char text[16384];
    size_t len;
    int calls;
    int stop_at;
    int stop_rc;
    size_t budget;
    int too_long;
} pieces;

static int collect(const char *s, size_t len, void *payload)
{
    pieces *p = payload;

    p->calls++;
    if (len > p->budget || len == 0 || s[0] == ',' || s[len - 1] == ',')
        p->too_long = 1;
    if (p->len && p->len < sizeof(p->text) - 1)
        p->text[p->len++] = '|';
    if (p->len + len < sizeof(p->text)) {
        memcpy(p->text + p->len, s, len);
        p->len += len;
    }
    p->text[p->len] = '\0';
    return p->calls == p->stop_at ? p->stop_rc : 0;
}

static void test_format_split_under_budget(void)
{
    static const struct {
        size_t budget;
        int rc;
        const char *want;
    } cases[] = {
        {20, QR_EINVAL, ""},
        {0, QR_EINVAL, ""},
        {21, 0, "1:5,7,9:12|100000:200000|4294967294:4294967295"},
        {23, 0, "1:5,7,9:12|100000:200000|4294967294:4294967295"},
        {24, 0, "1:5,7,9:12,100000:200000|4294967294:4294967295"},
        {45, 0, "1:5,7,9:12,100000:200000|4294967294:4294967295"},
        {46, 0, "1:5,7,9:12,100000:200000,4294967294:4294967295"},
        {1000, 0, "1:5,7,9:12,100000:200000,4294967294:4294967295"},
    };
    qr_uidset *set = set_of("1:5,7,9:12,100000:200000,4294967294:4294967295");
    qr_uidset *empty = set_of("");
    size_t c;
    pieces p;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        memset(&p, 0, sizeof(p));
        p.budget = cases[c].budget;
        CHECK_INT_EQ(qr_uidset_format_split(set, cases[c].budget, collect, &p), cases[c].rc);
        CHECK_STR_EQ(p.text, cases[c].want);
        CHECK_INT_EQ(p.too_long, 0);
    }
    /* an empty set gives no piece */
    memset(&p, 0, sizeof(p));
    p.budget = 100;
    CHECK_INT_EQ(qr_uidset_format_split(empty, 100, collect, &p), 0);
    CHECK_INT_EQ(p.calls, 0);
    /* a callback's non-zero value stops the walk and is returned */
    memset(&p, 0, sizeof(p));
    p.budget = 21;
    p.stop_at = 2;
    p.stop_rc = 7;
    CHECK_INT_EQ(qr_uidset_format_split(set, 21, collect, &p), 7);
    CHECK_INT_EQ(p.calls, 2);
    CHECK_STR_EQ(p.text, "1:5,7,9:12|100000:200000");
    qr_uidset_free(set);
    qr_uidset_free(empty);
}

/* Every budget from 21 to 80 on a bigger set: pieces fit and re-parse to the set. */
static void test_format_split_pieces_rebuild_the_set(void)
{
    qr_uidset *set = set_of(""), *back;
    size_t budget;
    uint32_t u;

    for (u = 1; u < 3000; u += 7)
        CHECK_INT_EQ(qr_uidset_add_range(set, u * 1000, u * 1000 + u % 5), 0);
    CHECK_INT_EQ(qr_uidset_add_range(set, MAXUID - 1, MAXUID), 0);
    for (budget = 21; budget <= 80; budget++) {
        pieces p;
        memset(&p, 0, sizeof(p));
        p.budget = budget;
        back = set_of("");
        CHECK_INT_EQ(qr_uidset_format_split(set, budget, collect, &p), 0);
        CHECK_INT_EQ(p.too_long, 0);
        /* "p1|p2" with '|' read as ',' is the whole set */
        {
            size_t i;
            for (i = 0; i < p.len; i++)
                if (p.text[i] == '|')
                    p.text[i] = ',';
        }
        CHECK_INT_EQ(qr_uidset_parse(back, p.text, p.len), 0);
        if (p.len < sizeof(p.text) - 1)
            CHECK_INT_EQ(qr_uidset_equal(back, set), 1);
        qr_uidset_free(back);
    }
    qr_uidset_free(set);
}

static void test_iteration(void)
{
    static const uint32_t want[] = {1, 2, 3, 7, 4294967294u, MAXUID};
    qr_uidset *set = set_of("1:3,7,4294967294:4294967295"), *empty = set_of("");
    qr_uidset_iter it;
    uint32_t uid = 0;
    size_t n = 0;

    qr_uidset_iter_init(&it, set);
    while (qr_uidset_iter_next(&it, &uid)) {
        if (n < 6)
            CHECK_UINT_EQ(uid, want[n]);
        n++;
    }
    CHECK_UINT_EQ(n, 6);
    CHECK_INT_EQ(qr_uidset_iter_next(&it, &uid), 0); /* stays at the end */
    qr_uidset_iter_init(&it, empty);
    CHECK_INT_EQ(qr_uidset_iter_next(&it, &uid), 0);
    qr_uidset_free(set);
    qr_uidset_free(empty);
}

/* Outcome of one incremental parse. */
typedef struct parse_result {
    int rc;    /* first non-zero code, or finish's code */
    size_t at; /* absolute offset where feeding stopped (error or stop byte) */
    char text[4096];
} parse_result;

/*
 * Feed s[0..len) in slices cut at cuts[0..ncuts) (increasing offsets), then
 * finish if the whole input went in or a stop byte was met.
 */
static void parse_split(const char *s, size_t len, const size_t *cuts, size_t ncuts,
                        parse_result *out)
{
    qr_uidset *set = set_of("");
    qr_uidset_parser p;
    size_t start = 0, k;

    qr_uidset_parser_init(&p);
    out->rc = 0;
    out->at = len;
    for (k = 0; k <= ncuts && out->rc == 0; k++) {
        size_t end = k < ncuts ? cuts[k] : len, used = 0;
        out->rc = qr_uidset_parser_feed(&p, set, s + start, end - start, &used);
        CHECK(qr_uidset_check_(set));
        if (out->rc != 0 || used < end - start) {
            out->at = start + used;
            break;
        }
        start = end;
    }
    if (out->rc == 0)
        out->rc = qr_uidset_parser_finish(&p, set);
    snprintf(out->text, sizeof(out->text), "%s", text_of(set));
    qr_uidset_free(set);
}

static const struct {
    const char *in;
    int rc;
    size_t at; /* where feeding stops */
    const char *want;
} parser_cases[] = {
    {"1:3,7,9:12", 0, 10, "1:3,7,9:12"},
    {"1:3,5 rest", 0, 5, "1:3,5"},
    {"4294967295:4294967290)", 0, 21, "4294967290:4294967295"},
    {"9,7,5,3,1", 0, 9, "1,3,5,7,9"},
    {"10:20,1:5,15:30,6:9", 0, 19, "1:30"},
    {"5,6,1,2,100:90,3", 0, 16, "1:3,5:6,90:100"},
    {"1,3,2,4,100,50,99,98", 0, 20, "1:4,50,98:100"},
    {"", QR_EINVAL, 0, ""},
    {")", QR_EINVAL, 0, ""},
    {"5:", QR_EINVAL, 2, ""},
    {"1,", QR_EINVAL, 2, "1"},
    {"1,2,3:", QR_EINVAL, 6, "1:2"},
    {"1::2", QR_EINVAL, 2, ""},
    {"1,2,,3", QR_EINVAL, 4, "1:2"},
    {",1", QR_EINVAL, 0, ""},
    {"7,0", QR_EINVAL, 2, "7"},
    {"7,05", QR_EINVAL, 2, "7"},
    {"3,4294967296", QR_EINVAL, 11, "3"},
    {"3,42949672950", QR_EINVAL, 12, "3"},
    {"1:2:3", QR_EINVAL, 3, ""},
    {"9,1,5:0", QR_EINVAL, 6, "1,9"},
};

/* Whole, one byte at a time, and cut at every single point: same outcome. */
static void test_parser_same_result_at_every_split(void)
{
    size_t c, k;

    for (c = 0; c < sizeof(parser_cases) / sizeof(parser_cases[0]); c++) {
        const char *in = parser_cases[c].in;
        size_t len = strlen(in), bytewise[64];
        parse_result r;

        parse_split(in, len, NULL, 0, &r);
        CHECK_INT_EQ(r.rc, parser_cases[c].rc);
        CHECK_UINT_EQ(r.at, parser_cases[c].at);
        CHECK_STR_EQ(r.text, parser_cases[c].want);

        for (k = 1; k < len && k <= 64; k++)
            bytewise[k - 1] = k;
        parse_split(in, len, bytewise, len ? len - 1 : 0, &r);
        CHECK_INT_EQ(r.rc, parser_cases[c].rc);
        CHECK_UINT_EQ(r.at, parser_cases[c].at);
        CHECK_STR_EQ(r.text, parser_cases[c].want);

        for (k = 0; k <= len; k++) {
            parse_split(in, len, &k, 1, &r);
            CHECK_INT_EQ(r.rc, parser_cases[c].rc);
            CHECK_UINT_EQ(r.at, parser_cases[c].at);
            CHECK_STR_EQ(r.text, parser_cases[c].want);
        }
    }
}

static void test_parser_errors_are_sticky(void)
{
    qr_uidset *set = set_of("");
    qr_uidset_parser p;
    size_t used = 99;

    qr_uidset_parser_init(&p);
    CHECK_INT_EQ(qr_uidset_parser_feed(&p, set, "1,,", 3, &used), QR_EINVAL);
    CHECK_UINT_EQ(used, 2);
    CHECK_INT_EQ(qr_uidset_parser_feed(&p, set, "2", 1, &used), QR_EINVAL);
    CHECK_UINT_EQ(used, 0);
    CHECK_INT_EQ(qr_uidset_parser_finish(&p, set), QR_EINVAL);
    CHECK_SET(set, "1");

    /* after a successful finish the parser wants init again */
    qr_uidset_parser_init(&p);
    CHECK_INT_EQ(qr_uidset_parser_feed(&p, set, "5", 1, &used), 0);
    CHECK_INT_EQ(qr_uidset_parser_finish(&p, set), 0);
    CHECK_INT_EQ(qr_uidset_parser_feed(&p, set, "6", 1, &used), QR_EINVAL);
    CHECK_INT_EQ(qr_uidset_parser_finish(&p, set), QR_EINVAL);
    CHECK_SET(set, "1,5");
    /* an empty slice changes nothing */
    qr_uidset_parser_init(&p);
    CHECK_INT_EQ(qr_uidset_parser_feed(&p, set, "", 0, &used), 0);
    CHECK_UINT_EQ(used, 0);
    CHECK_INT_EQ(qr_uidset_parser_feed(&p, set, "2", 1, &used), 0);
    CHECK_INT_EQ(qr_uidset_parser_finish(&p, set), 0);
    CHECK_SET(set, "1:2,5");
    qr_uidset_free(set);
}

/* Text of n ascending elements "10k+1:10k+5,10k+8", about len bytes. */
static char *vanished_text(size_t want_len, size_t *len, uint64_t *count, size_t *ranges)
{
    qr_dynbuf d;
    uint32_t k;

    qr_dynbuf_init(&d, want_len + 64);
    *count = 0;
    *ranges = 0;
    for (k = 0; d.len < want_len; k++) {
        uint32_t base = 10 * k + 1000000;
        if (qr_dynbuf_addf(&d, "%s%" PRIu32 ":%" PRIu32 ",%" PRIu32, k ? "," : "", base + 1,
                           base + 5, base + 8) != 0)
            break;
        *count += 6;
        *ranges += 2;
    }
    *len = d.len;
    return d.ptr;
}

/* Feed text in slices of `chunk` bytes and finish. */
static int feed_chunks(qr_uidset *set, const char *text, size_t len, size_t chunk)
{
    qr_uidset_parser p;
    size_t off, used;
    int rc = 0;

    qr_uidset_parser_init(&p);
    for (off = 0; off < len && rc == 0; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        rc = qr_uidset_parser_feed(&p, set, text + off, n, &used);
        if (rc == 0 && used != n)
            rc = QR_ERROR;
    }
    return rc ? rc : qr_uidset_parser_finish(&p, set);
}

/* A megabyte VANISHED (EARLIER) list, ascending then descending. */
static void test_parser_megabyte_vanished_list(void)
{
    qr_uidset *whole = set_of(""), *chunked = set_of(""), *desc = set_of("");
    size_t len = 0, nranges = 0, i, n;
    uint64_t count = 0;
    char *text = vanished_text((size_t)1 << 20, &len, &count, &nranges);
    char *rev;
    const qr_range *r;
    qr_buf back = QR_BUF_INIT;

    CHECK(len >= (size_t)1 << 20);
    CHECK_INT_EQ(feed_chunks(whole, text, len, len), 0);
    CHECK_INT_EQ(feed_chunks(chunked, text, len, 4093), 0);
    CHECK_UINT_EQ(qr_uidset_count(whole), count);
    r = qr_uidset_ranges(whole, &n);
    CHECK_UINT_EQ(n, nranges);
    if (r && n) {
        CHECK_UINT_EQ(r[0].lo, 1000001);
        CHECK_UINT_EQ(r[0].hi, 1000005);
        CHECK_UINT_EQ(r[n - 1].lo, r[n - 1].hi);
    }
    CHECK_INT_EQ(qr_uidset_equal(whole, chunked), 1);
    CHECK_INT_EQ(qr_uidset_format(whole, &back), 0);
    CHECK_MEM_EQ(back.ptr, back.size, text, len); /* canonical text round-trips */
    qr_buf_dispose(&back);

    /* the same elements in descending order, fed in slices */
    rev = malloc(len + 1);
    if (rev) {
        size_t end = len, o = 0;
        while (end > 0) {
            size_t start = end;
            while (start > 0 && text[start - 1] != ',')
                start--;
            if (o)
                rev[o++] = ',';
            memcpy(rev + o, text + start, end - start);
            o += end - start;
            end = start ? start - 1 : 0;
        }
        CHECK_UINT_EQ(o, len);
        CHECK_INT_EQ(feed_chunks(desc, rev, o, 4093), 0);
        CHECK_INT_EQ(qr_uidset_equal(whole, desc), 1);
        qr_uidset_clear(desc);
        CHECK_INT_EQ(feed_chunks(desc, rev, o, o), 0);
        CHECK_INT_EQ(qr_uidset_equal(whole, desc), 1);
    }
    for (i = 0; i < 3; i++) /* the set is canonical */
        CHECK(qr_uidset_check_(i == 0 ? whole : i == 1 ? chunked : desc));
    free(rev);
    qr_free(text);
    qr_uidset_free(whole);
    qr_uidset_free(chunked);
    qr_uidset_free(desc);
}

/* Deterministic xorshift generator for the model test. */
static uint32_t rng_state = 2463534242u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state % n;
}

#define MODEL_MAX 96

/* A random UID from 1..MODEL_MAX, or one of the three largest. */
static uint32_t rnd_uid(void)
{
    uint32_t v = rnd(MODEL_MAX + 3);

    return v < MODEL_MAX ? v + 1 : MAXUID - (v - MODEL_MAX);
}

/* Model slot of a UID from rnd_uid(). */
static size_t slot(uint32_t uid)
{
    return uid <= MODEL_MAX ? uid : MODEL_MAX + 1 + (MAXUID - uid);
}

/* Fill a set and its bitmap model with random ranges. */
static void random_set(qr_uidset *set, unsigned char *model)
{
    int k, n = (int)rnd(6);

    qr_uidset_clear(set);
    memset(model, 0, MODEL_MAX + 4);
    for (k = 0; k < n; k++) {
        uint32_t a = rnd_uid(), b = rnd_uid(), u;
        uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
        if (hi > MODEL_MAX && lo <= MODEL_MAX)
            hi = lo; /* keep the model small: no range across the gap */
        CHECK_INT_EQ(rnd(2) ? qr_uidset_add_range(set, lo, hi) : qr_uidset_add_range(set, hi, lo),
                     0);
        for (u = lo;; u++) {
            model[slot(u)] = 1;
            if (u == hi)
                break;
        }
    }
}

static int model_equal(const qr_uidset *set, const unsigned char *model)
{
    uint64_t n = 0;
    size_t i;

    for (i = 1; i <= MODEL_MAX; i++) {
        n += model[i];
        if (qr_uidset_contains(set, (uint32_t)i) != model[i])
            return 0;
    }
    for (i = 0; i < 3; i++) {
        n += model[MODEL_MAX + 1 + i];
        if (qr_uidset_contains(set, MAXUID - (uint32_t)i) != model[MODEL_MAX + 1 + i])
            return 0;
    }
    return qr_uidset_check_(set) && qr_uidset_count(set) == n;
}

/* Random add/remove/union/difference/intersection against a bitmap. */
static void test_random_operations_match_a_bitmap_model(void)
{
    unsigned char ma[MODEL_MAX + 4], mb[MODEL_MAX + 4];
    qr_uidset *a = set_of(""), *b = set_of("");
    int round, bad = 0;
    size_t i;

    for (round = 0; round < 20000 && !bad; round++) {
        uint32_t x = rnd_uid(), y = rnd_uid(), op = rnd(5);
        random_set(a, ma);
        random_set(b, mb);
        if (op == 0 && x <= MODEL_MAX && y <= MODEL_MAX) {
            CHECK_INT_EQ(qr_uidset_remove_range(a, x, y), 0);
            for (i = x < y ? x : y; i <= (x < y ? y : x); i++)
                ma[i] = 0;
        } else {
            CHECK_INT_EQ(op == 1   ? qr_uidset_union(a, b)
                         : op == 2 ? qr_uidset_difference(a, b)
                         : op == 3 ? qr_uidset_intersection(a, b)
                                   : qr_uidset_remove(a, x),
                         0);
            for (i = 0; i < sizeof(ma); i++)
                ma[i] = op == 1   ? (ma[i] | mb[i])
                        : op == 2 ? (ma[i] & !mb[i])
                        : op == 3 ? (ma[i] & mb[i])
                                  : (i == slot(x) ? 0 : ma[i]);
        }
        if (!model_equal(a, ma) || !model_equal(b, mb)) {
            printf("# round %d op %u: got %s\n", round, (unsigned)op, text_of(a));
            bad = 1;
        }
    }
    CHECK_INT_EQ(bad, 0);
    qr_uidset_free(a);
    qr_uidset_free(b);
}

/* Eight ranges, so the array (capacity 8 after a parse) is full. */
#define FULL8 "10:12,20:22,30:32,40:42,50:52,60:62,70:72,80:82"

static int op_insert(qr_uidset *set)
{
    return qr_uidset_add(set, 15);
}

static int op_append(qr_uidset *set)
{
    return qr_uidset_add_range(set, 100, 90);
}

static int op_split(qr_uidset *set)
{
    return qr_uidset_remove(set, 11);
}

static const char *binop_text;                                /* operand of op_binop */
static int (*binop_fn)(qr_uidset *dst, const qr_uidset *src); /* the operation */
static qr_uidset *binop_src;                                  /* prepared operand */

static int op_binop(qr_uidset *set)
{
    return binop_fn(set, binop_src);
}

static int op_parse(qr_uidset *set)
{
    return qr_uidset_parse(set, binop_text, strlen(binop_text));
}

/*
 * Count the allocations op makes on a fresh set built from `initial`, then
 * fail each in turn: QR_ENOMEM and the set unchanged every time; finally
 * the clean run gives `want`.
 */
static void alloc_loop(const char *initial, int (*op)(qr_uidset *set), const char *want)
{
    unsigned long n, points;
    qr_uidset *set = set_of(initial);

    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(op(set), 0);
    points = qr_alloc_count();
    CHECK_SET(set, want);
    qr_uidset_free(set);
    CHECK(points >= 1);
    for (n = 1; n <= points; n++) {
        int rc;
        set = set_of(initial);
        qr_alloc_fail_at(n, 0);
        rc = op(set);
        CHECK(qr_alloc_failed());
        qr_alloc_fail_at(0, 0);
        CHECK_INT_EQ(rc, QR_ENOMEM);
        CHECK_SET(set, initial);
        qr_uidset_free(set);
    }
}

static void test_allocation_failures_leave_set_unchanged(void)
{
    static const struct {
        const char *operand;
        int (*fn)(qr_uidset *dst, const qr_uidset *src);
        const char *want;
    } binops[] = {
        {"15,25", qr_uidset_union, "10:12,15,20:22,25,30:32,40:42,50:52,60:62,70:72,80:82"},
        {"100,200", qr_uidset_union, FULL8 ",100,200"},
        {"11,21", qr_uidset_difference, "10,12,20,22,30:32,40:42,50:52,60:62,70:72,80:82"},
        {"11:21", qr_uidset_intersection, "11:12,20:21"},
    };
    size_t i;

    alloc_loop(FULL8, op_insert, "10:12,15,20:22,30:32,40:42,50:52,60:62,70:72,80:82");
    alloc_loop(FULL8, op_append, FULL8 ",90:100");
    alloc_loop(FULL8, op_split, "10,12,20:22,30:32,40:42,50:52,60:62,70:72,80:82");
    alloc_loop("", op_append, "90:100");
    for (i = 0; i < sizeof(binops) / sizeof(binops[0]); i++) {
        binop_src = set_of(binops[i].operand);
        binop_fn = binops[i].fn;
        alloc_loop(FULL8, op_binop, binops[i].want);
        qr_uidset_free(binop_src);
    }
    binop_text = "15,25,3:1";
    alloc_loop(FULL8, op_parse, "1:3,10:12,15,20:22,25,30:32,40:42,50:52,60:62,70:72,80:82");
    alloc_loop("", op_parse, "1:3,15,25");
}

static void test_allocation_failures_in_constructors_and_writers(void)
{
    qr_uidset *set = set_of(FULL8), *out = (qr_uidset *)&out;
    qr_buf b = QR_BUF_INIT;
    unsigned long n;
    pieces p;

    qr_alloc_fail_at(1, 0);
    CHECK_INT_EQ(qr_uidset_new(&out), QR_ENOMEM);
    CHECK(out == NULL);
    for (n = 1; n <= 2; n++) { /* the struct, then the array */
        out = (qr_uidset *)&out;
        qr_alloc_fail_at(n, 0);
        CHECK_INT_EQ(qr_uidset_copy(&out, set), QR_ENOMEM);
        CHECK(out == NULL);
    }
    qr_alloc_fail_at(1, 0);
    CHECK_INT_EQ(qr_uidset_format(set, &b), QR_ENOMEM);
    CHECK(b.ptr == NULL);
    CHECK_UINT_EQ(b.size, 0);
    memset(&p, 0, sizeof(p));
    p.budget = 30;
    qr_alloc_fail_at(1, 0);
    CHECK_INT_EQ(qr_uidset_format_split(set, 30, collect, &p), QR_ENOMEM);
    CHECK_INT_EQ(p.calls, 0);
    qr_alloc_fail_at(0, 0);
    CHECK_SET(set, FULL8);
    qr_uidset_free(set);
}

/*
 * The incremental parser after QR_ENOMEM: the set is canonical, the byte
 * that failed was not consumed, and feeding again from it gives the result
 * of a clean parse. Ascending and descending input (the batch path).
 */
static void test_parser_retries_after_allocation_failure(void)
{
    static const char *const inputs[] = {
        "1:3,5,7:9,11,13:15,17,19:21,23,25:27,29,31,33,35,37,39,41,43",
        "43,41,39,37,35,33,31,29,25:27,23,19:21,17,13:15,11,7:9,5,1:3",
        "9,7,1:3,50:40,100,5",
    };
    size_t i;

    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        const char *in = inputs[i];
        size_t len = strlen(in);
        unsigned long n, points;
        qr_uidset *clean = set_of("");

        qr_alloc_fail_at(0, 0);
        CHECK_INT_EQ(feed_chunks(clean, in, len, len), 0);
        points = qr_alloc_count();
        CHECK(points >= 2);
        for (n = 1; n <= points; n++) {
            qr_uidset *set = set_of("");
            qr_uidset_parser p;
            size_t off = 0, used = 0;
            int rc, failures = 0;

            qr_uidset_parser_init(&p);
            qr_alloc_fail_at(n, 0);
            while ((rc = qr_uidset_parser_feed(&p, set, in + off, len - off, &used)) == QR_ENOMEM) {
                CHECK(qr_uidset_check_(set));
                off += used;
                failures++;
            }
            CHECK_INT_EQ(rc, 0);
            rc = qr_uidset_parser_finish(&p, set);
            if (rc == QR_ENOMEM) {
                failures++;
                rc = qr_uidset_parser_finish(&p, set);
            }
            qr_alloc_fail_at(0, 0);
            CHECK_INT_EQ(rc, 0);
            CHECK_INT_EQ(failures, 1);
            CHECK_INT_EQ(qr_uidset_equal(set, clean), 1);
            qr_uidset_free(set);
        }
        qr_uidset_free(clean);
    }
}

int main(void)
{
    TAP_RUN(test_add_merges_ranges);
    TAP_RUN(test_zero_is_rejected);
    TAP_RUN(test_remove_splits_and_trims);
    TAP_RUN(test_union_difference_intersection);
    TAP_RUN(test_operations_with_itself);
    TAP_RUN(test_contains_count_ranges);
    TAP_RUN(test_copy_and_equal);
    TAP_RUN(test_parse_normalises);
    TAP_RUN(test_parse_adds_to_existing_set);
    TAP_RUN(test_parse_rejects_bad_text);
    TAP_RUN(test_format_and_append_to);
    TAP_RUN(test_format_split_under_budget);
    TAP_RUN(test_format_split_pieces_rebuild_the_set);
    TAP_RUN(test_iteration);
    TAP_RUN(test_parser_same_result_at_every_split);
    TAP_RUN(test_parser_errors_are_sticky);
    TAP_RUN(test_parser_megabyte_vanished_list);
    TAP_RUN(test_random_operations_match_a_bitmap_model);
    TAP_RUN(test_allocation_failures_leave_set_unchanged);
    TAP_RUN(test_allocation_failures_in_constructors_and_writers);
    TAP_RUN(test_parser_retries_after_allocation_failure);
    return tap_done();
}
