/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-uidset: the UID-set parsers, formatter and set algebra.
 *
 * Input: one control byte, then text. The control byte picks the split
 * point for the incremental parser and the budget for format_split. The
 * text is one set, or two sets separated by '|'. Checked properties:
 *   - qr_uidset_parse() and the incremental parser (fed in two slices at
 *     the chosen point, and byte by byte for short inputs) agree on success
 *     or failure and on the set;
 *   - format(parse(x)) re-parses to the same set and is a fixed point;
 *   - format_split pieces fit the budget and rebuild the set;
 *   - union, difference and intersection of two parsed sets satisfy the
 *     counting identities and agree with contains() around every range end.
 * Any violation calls abort() so that libFuzzer records the input.
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/uidset.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/uidset_p.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Incremental parse of s in slices cut at `split` (and every byte if bytewise). */
static int parse_incremental(qr_uidset *set, const char *s, size_t len, size_t split, int bytewise)
{
    qr_uidset_parser p;
    size_t off = 0, used;
    int rc = 0;

    qr_uidset_parser_init(&p);
    while (off < len && rc == 0) {
        size_t n = bytewise ? 1 : (off < split ? split - off : len - off);
        rc = qr_uidset_parser_feed(&p, set, s + off, n, &used);
        REQUIRE(qr_uidset_check_(set));
        if (rc == 0 && used != n)
            return QR_EINVAL; /* a stop byte inside the text */
        off += n;
    }
    return rc ? rc : qr_uidset_parser_finish(&p, set);
}

/* Parse s both ways; return the set (NULL when the text is not a set). */
static qr_uidset *parse_checked(const char *s, size_t len, size_t split)
{
    qr_uidset *whole, *inc;
    int rc;

    if (qr_uidset_new(&whole) < 0 || qr_uidset_new(&inc) < 0)
        abort();
    rc = qr_uidset_parse(whole, s, len);
    REQUIRE(rc == 0 || rc == QR_EINVAL);
    REQUIRE(parse_incremental(inc, s, len, split, 0) == rc);
    if (rc == 0)
        REQUIRE(qr_uidset_equal(whole, inc));
    if (len < 256) {
        qr_uidset_clear(inc);
        REQUIRE(parse_incremental(inc, s, len, 0, 1) == rc);
        if (rc == 0)
            REQUIRE(qr_uidset_equal(whole, inc));
    }
    qr_uidset_free(inc);
    if (rc != 0) {
        REQUIRE(qr_uidset_count(whole) == 0); /* a failed parse adds nothing */
        qr_uidset_free(whole);
        return NULL;
    }
    return whole;
}

/* Split pieces: within budget, and together the whole text. */
typedef struct joined {
    qr_dynbuf text;
    size_t budget;
} joined;

static int join_piece(const char *s, size_t len, void *payload)
{
    joined *j = payload;

    REQUIRE(len > 0 && len <= j->budget && s[0] != ',' && s[len - 1] != ',');
    if (j->text.len && qr_dynbuf_addc(&j->text, ',') < 0)
        abort();
    if (qr_dynbuf_add(&j->text, s, len) < 0)
        abort();
    return 0;
}

static void check_text_form(const qr_uidset *set, size_t budget)
{
    qr_buf text = QR_BUF_INIT, again = QR_BUF_INIT;
    qr_uidset *back;
    joined j;

    REQUIRE(qr_uidset_format(set, &text) == 0);
    REQUIRE(qr_uidset_new(&back) == 0);
    REQUIRE(qr_uidset_parse(back, text.ptr, text.size) == 0);
    REQUIRE(qr_uidset_equal(set, back));
    REQUIRE(qr_uidset_format(back, &again) == 0);
    REQUIRE(again.size == text.size && memcmp(again.ptr, text.ptr, text.size) == 0);
    qr_dynbuf_init(&j.text, text.size + 1);
    j.budget = budget;
    REQUIRE(qr_uidset_format_split(set, budget, join_piece, &j) == 0);
    REQUIRE(j.text.len == text.size && memcmp(qr_dynbuf_str(&j.text), text.ptr, text.size) == 0);
    qr_dynbuf_free(&j.text);
    qr_buf_dispose(&text);
    qr_buf_dispose(&again);
    qr_uidset_free(back);
}

/* dst = a OP b, with a copied first. */
static qr_uidset *combine(const qr_uidset *a, const qr_uidset *b,
                          int (*op)(qr_uidset *dst, const qr_uidset *src))
{
    qr_uidset *dst;

    REQUIRE(qr_uidset_copy(&dst, a) == 0);
    REQUIRE(op(dst, b) == 0);
    REQUIRE(qr_uidset_check_(dst));
    return dst;
}

/* contains() of the results agrees with the operands at x. */
static void check_point(const qr_uidset *a, const qr_uidset *b, const qr_uidset *u,
                        const qr_uidset *d, const qr_uidset *i, uint64_t x)
{
    uint32_t v;
    int in_a, in_b;

    if (x == 0 || x > UINT32_MAX)
        return;
    v = (uint32_t)x;
    in_a = qr_uidset_contains(a, v);
    in_b = qr_uidset_contains(b, v);
    REQUIRE(qr_uidset_contains(u, v) == (in_a || in_b));
    REQUIRE(qr_uidset_contains(d, v) == (in_a && !in_b));
    REQUIRE(qr_uidset_contains(i, v) == (in_a && in_b));
}

static void check_algebra(const qr_uidset *a, const qr_uidset *b)
{
    qr_uidset *u = combine(a, b, qr_uidset_union);
    qr_uidset *d = combine(a, b, qr_uidset_difference);
    qr_uidset *i = combine(a, b, qr_uidset_intersection);
    qr_uidset *di = combine(d, i, qr_uidset_union);
    const qr_uidset *sets[2] = {a, b};
    size_t s, k, n;

    REQUIRE(qr_uidset_count(u) + qr_uidset_count(i) == qr_uidset_count(a) + qr_uidset_count(b));
    REQUIRE(qr_uidset_count(d) + qr_uidset_count(i) == qr_uidset_count(a));
    REQUIRE(qr_uidset_equal(di, a)); /* (a - b) | (a & b) == a */
    for (s = 0; s < 2; s++) {
        const qr_range *r = qr_uidset_ranges(sets[s], &n);
        for (k = 0; k < n; k++) {
            check_point(a, b, u, d, i, (uint64_t)r[k].lo - 1);
            check_point(a, b, u, d, i, r[k].lo);
            check_point(a, b, u, d, i, r[k].hi);
            check_point(a, b, u, d, i, (uint64_t)r[k].hi + 1);
        }
    }
    qr_uidset_free(u);
    qr_uidset_free(d);
    qr_uidset_free(i);
    qr_uidset_free(di);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text, *bar;
    size_t len, split, budget;
    qr_uidset *a, *b = NULL;

    if (size < 1)
        return 0;
    qr_alloc_fail_at(0, 0);
    split = data[0];
    budget = 21 + data[0] % 64;
    text = (const char *)data + 1;
    len = size - 1;
    bar = memchr(text, '|', len);
    if (bar) {
        size_t alen = (size_t)(bar - text);
        a = parse_checked(text, alen, split < alen ? split : alen);
        b = parse_checked(bar + 1, len - alen - 1, split % (len - alen));
    } else {
        a = parse_checked(text, len, split < len ? split : len);
    }
    if (a)
        check_text_form(a, budget);
    if (b)
        check_text_form(b, budget);
    if (a && b) {
        check_algebra(a, b);
        check_algebra(b, a);
    }
    qr_uidset_free(a);
    qr_uidset_free(b);
    return 0;
}
