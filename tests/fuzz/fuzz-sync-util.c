/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-sync-util: the parsers and texts of the sync engine's helpers
 * (libqresync/sync/sync_util.c).
 *
 * Input: one control byte, then a payload. The low two bits pick the
 * function; bit 0x80 first runs it once with the allocation numbered
 * 1 + ((control >> 2) & 7) failing, which must fail cleanly or succeed.
 *   0: sy_parse_appenduid() on the payload: QR_EPROTO with nothing kept,
 *      or UIDs whose order-preserving compact list parses back to the same
 *      UIDs;
 *   1: sy_parse_internaldate() on a NUL-terminated copy: -1, or a time that
 *      gmtime_r() prints back to a text parsing to the same time;
 *   2: sy_flags_normalise() on the tokens of the payload split at spaces and
 *      NUL bytes: sorted, unique, no \Recent, every other token kept,
 *      idempotent, and the union of the two halves equals the whole;
 *   3: sy_uidlist_text() on the payload as uint32 values: parses back to the
 *      same list and is greedy (no run could have been longer); the nonzero
 *      values among the first 512 as a set: sy_uidset_text() equals
 *      qr_uidset_format() and sy_pieces() cuts it in <= 4096-byte pieces at
 *      the last comma.
 * Any violation calls abort() so that libFuzzer records the input.
 */
#include "config.h"

#include <qresync/error.h>
#include <qresync/uidset.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sync/sync_p.h"
#include "util/alloc.h"
#include "util/dynbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* --- 0: APPENDUID -------------------------------------------------------- */

static void fuzz_appenduid(const char *p, size_t len, unsigned long failat)
{
    uint32_t uv = 0, uv2 = 0, *uids = NULL, *again = NULL;
    size_t n = 0, n2 = 0;
    qr_dynbuf text;
    int rc;

    if (failat) {
        qr_alloc_fail_at(failat, 0);
        rc = sy_parse_appenduid(p, len, &uv, &uids, &n);
        qr_alloc_fail_at(0, 0);
        REQUIRE(rc == 0 || rc == QR_EPROTO || rc == QR_ENOMEM);
        REQUIRE(rc == 0 || (uids == NULL && n == 0));
        qr_free(uids);
    }
    rc = sy_parse_appenduid(p, len, &uv, &uids, &n);
    REQUIRE(rc == 0 || rc == QR_EPROTO);
    if (rc != 0) {
        REQUIRE(uids == NULL && n == 0);
        return;
    }
    REQUIRE(uids != NULL && n >= 1 && n <= (size_t)1 << 20);
    /* "UIDVALIDITY LIST" parses back to the same UIDs */
    qr_dynbuf_init(&text, (size_t)1 << 26);
    REQUIRE(qr_dynbuf_addf(&text, "%u ", (unsigned)uv) == 0);
    REQUIRE(sy_uidlist_text(&text, uids, n) == 0);
    REQUIRE(sy_parse_appenduid(text.ptr, text.len, &uv2, &again, &n2) == 0);
    REQUIRE(uv2 == uv && n2 == n && memcmp(again, uids, n * sizeof(*uids)) == 0);
    qr_dynbuf_free(&text);
    qr_free(again);
    qr_free(uids);
}

/* --- 1: INTERNALDATE ----------------------------------------------------- */

static void fuzz_internaldate(const char *p, size_t len)
{
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char *copy = malloc(len + 1), back[64];
    int64_t t;
    struct tm tm;
    time_t tt;

    REQUIRE(copy != NULL);
    memcpy(copy, p, len);
    copy[len] = '\0';
    t = sy_parse_internaldate(copy);
    free(copy);
    if (t == -1)
        return;
    /* year 1 minus 99:59 .. year 9999 plus 99:59 */
    REQUIRE(t >= -62135596800 - 359940 && t <= 253402300799 + 359940);
    tt = (time_t)t;
    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL)
        return;
    if (tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return;
    snprintf(back, sizeof(back), "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, mon[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    REQUIRE(sy_parse_internaldate(back) == t);
}

/* --- 2: flag strings ----------------------------------------------------- */

#define MAX_TOKENS 256

/* Split s at spaces (NUL bytes stand for spaces); returns the count. */
static size_t split(const char *s, size_t len, qr_resp_str *t, size_t max)
{
    size_t i = 0, n = 0;

    while (i < len && n < max) {
        size_t j = i;

        while (j < len && s[j] != ' ' && s[j] != '\0')
            j++;
        /* empty tokens alternate between NIL and "" */
        t[n].ptr = j > i || (n & 1) ? s + i : NULL;
        t[n].len = j - i;
        n++;
        i = j + 1;
    }
    return n;
}

static int is_recent(const char *p, size_t len)
{
    return len == 7 && strncasecmp(p, "\\Recent", 7) == 0;
}

static int tok_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Whether the token (p, len) is a word of the normalised string s. */
static int has_word(const char *s, const char *p, size_t len)
{
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t wl = e ? (size_t)(e - s) : strlen(s);

        if (wl == len && memcmp(s, p, len) == 0)
            return 1;
        s += wl;
        if (*s == ' ')
            s++;
    }
    return 0;
}

/* s is sorted, unique, with single spaces and no \Recent. */
static void check_normalised(const char *s)
{
    const char *prev = NULL;
    size_t prevlen = 0;

    REQUIRE(s != NULL);
    if (*s == '\0')
        return;
    REQUIRE(s[0] != ' ' && s[strlen(s) - 1] != ' ');
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t wl = e ? (size_t)(e - s) : strlen(s);

        REQUIRE(wl > 0 && !is_recent(s, wl));
        if (prev)
            REQUIRE(tok_cmp(prev, prevlen, s, wl) < 0);
        prev = s;
        prevlen = wl;
        s += wl;
        if (*s == ' ')
            s++;
    }
}

static void fuzz_flags(const char *p, size_t len, unsigned long failat)
{
    qr_resp_str *t = malloc(MAX_TOKENS * sizeof(*t)), *t2 = malloc(MAX_TOKENS * sizeof(*t2));
    char *out, *again, *u, *a, *b;
    size_t n, n2, i;

    REQUIRE(t != NULL && t2 != NULL);
    n = split(p, len, t, MAX_TOKENS);
    if (failat) {
        qr_alloc_fail_at(failat, 0);
        out = sy_flags_normalise(t, n);
        qr_alloc_fail_at(0, 0);
        qr_free(out);
    }
    out = sy_flags_normalise(t, n);
    REQUIRE(out != NULL);
    check_normalised(out);
    for (i = 0; i < n; i++)
        if (t[i].ptr != NULL && t[i].len > 0 && !is_recent(t[i].ptr, t[i].len))
            REQUIRE(has_word(out, t[i].ptr, t[i].len));
        else if (t[i].ptr != NULL && t[i].len > 0)
            REQUIRE(!has_word(out, t[i].ptr, t[i].len));
    /* every word of out is an input token (nothing invented) */
    n2 = split(out, strlen(out), t2, MAX_TOKENS);
    for (i = 0; i < n2; i++) {
        size_t k;

        for (k = 0; k < n; k++)
            if (t[k].ptr && t[k].len == t2[i].len && memcmp(t[k].ptr, t2[i].ptr, t[k].len) == 0)
                break;
        REQUIRE(k < n);
    }
    /* idempotent */
    again = sy_flags_normalise(t2, n2);
    REQUIRE(again != NULL && strcmp(again, out) == 0);
    qr_free(again);
    /* union with itself and with nothing */
    u = sy_flags_union(out, out);
    REQUIRE(u != NULL && strcmp(u, out) == 0);
    qr_free(u);
    u = sy_flags_union("", out);
    REQUIRE(u != NULL && strcmp(u, out) == 0);
    qr_free(u);
    /* union of the two halves is the whole */
    a = sy_flags_normalise(t, n / 2);
    b = sy_flags_normalise(t + n / 2, n - n / 2);
    REQUIRE(a != NULL && b != NULL);
    if (failat) {
        qr_alloc_fail_at(failat, 0);
        u = sy_flags_union(a, b);
        qr_alloc_fail_at(0, 0);
        qr_free(u);
    }
    u = sy_flags_union(a, b);
    REQUIRE(u != NULL && strcmp(u, out) == 0);
    qr_free(u);
    u = sy_flags_union(b, a);
    REQUIRE(u != NULL && strcmp(u, out) == 0);
    qr_free(u);
    qr_free(a);
    qr_free(b);
    qr_free(out);
    free(t);
    free(t2);
}

/* --- 3: UID lists, sets and pieces --------------------------------------- */

typedef struct joined {
    qr_dynbuf text;
    const char *whole;
    size_t off; /* where the next piece must start in whole */
} joined;

static int join_piece(const char *s, void *ctx)
{
    joined *j = ctx;
    size_t len = strlen(s), rest = strlen(j->whole + j->off), k;

    REQUIRE(len >= 1 && len <= 4096 && s[0] != ',' && s[len - 1] != ',');
    REQUIRE(memcmp(j->whole + j->off, s, len) == 0);
    if (len < rest) {
        /* cut at the last comma at or before byte 4096 */
        REQUIRE(rest > 4096 && j->whole[j->off + len] == ',');
        for (k = len + 1; k <= 4096; k++)
            REQUIRE(j->whole[j->off + k] != ',');
        j->off += len + 1;
    } else {
        j->off += len;
    }
    if (j->text.len && qr_dynbuf_addc(&j->text, ',') < 0)
        abort();
    if (qr_dynbuf_add(&j->text, s, len) < 0)
        abort();
    return 0;
}

/* Read one "a" or "a:b" item of a compact list at *p. */
static void read_item(const char **p, uint32_t *a, uint32_t *b)
{
    char *end;
    unsigned long v = strtoul(*p, &end, 10);

    *a = *b = (uint32_t)v;
    if (*end == ':')
        *b = (uint32_t)strtoul(end + 1, &end, 10);
    *p = *end == ',' ? end + 1 : end;
}

/* No item of the list could have been extended by the next one. */
static void check_greedy(const char *s)
{
    uint32_t a, b, c, d;

    if (*s == '\0')
        return;
    read_item(&s, &a, &b);
    while (*s) {
        read_item(&s, &c, &d);
        REQUIRE(a != b || ((uint64_t)a + 1 != c && (uint64_t)c + 1 != a));
        REQUIRE(a >= b || (uint64_t)b + 1 != c);
        REQUIRE(a <= b || (uint64_t)c + 1 != b);
        a = c;
        b = d;
    }
}

#define SET_MAX 512

static void fuzz_uids(const uint8_t *p, size_t len, unsigned long failat)
{
    size_t n = len / 4, i;
    uint32_t *u = malloc((n ? n : 1) * sizeof(*u)), *back = NULL, uv = 0;
    size_t nback = 0;
    qr_dynbuf list, text;
    qr_buf fmt = QR_BUF_INIT;
    qr_uidset *set;
    joined j;
    int rc;

    REQUIRE(u != NULL);
    if (n)
        memcpy(u, p, n * sizeof(*u));
    if (failat) {
        qr_dynbuf_init(&list, (size_t)1 << 26);
        qr_alloc_fail_at(failat, 0);
        rc = sy_uidlist_text(&list, u, n);
        qr_alloc_fail_at(0, 0);
        REQUIRE(rc == 0 || rc == QR_ENOMEM);
        qr_dynbuf_free(&list);
    }
    qr_dynbuf_init(&list, (size_t)1 << 26);
    REQUIRE(qr_dynbuf_add(&list, "1 ", 2) == 0);
    REQUIRE(sy_uidlist_text(&list, u, n) == 0);
    if (n > 0) {
        REQUIRE(sy_parse_appenduid(list.ptr, list.len, &uv, &back, &nback) == 0);
        REQUIRE(uv == 1 && nback == n && memcmp(back, u, n * sizeof(*u)) == 0);
        qr_free(back);
    } else {
        REQUIRE(list.len == 2);
    }
    check_greedy(list.ptr + 2);
    qr_dynbuf_free(&list);

    /* the set from the first SET_MAX values (each add checks the set: quadratic) */
    REQUIRE(qr_uidset_new(&set) == 0);
    for (i = 0; i < n && i < SET_MAX; i++)
        if (u[i] != 0)
            REQUIRE(qr_uidset_add(set, u[i]) == 0);
    qr_dynbuf_init(&text, (size_t)1 << 26);
    REQUIRE(sy_uidset_text(&text, set) == 0);
    REQUIRE(qr_uidset_format(set, &fmt) == 0);
    REQUIRE(fmt.size == text.len && memcmp(fmt.ptr, qr_dynbuf_str(&text), fmt.size) == 0);
    qr_dynbuf_init(&j.text, (size_t)1 << 26);
    j.whole = qr_dynbuf_str(&text);
    j.off = 0;
    REQUIRE(sy_pieces(set, join_piece, &j) == 0);
    REQUIRE(j.off == text.len && j.text.len == text.len);
    REQUIRE(memcmp(qr_dynbuf_str(&j.text), qr_dynbuf_str(&text), text.len) == 0);
    if (failat) {
        qr_alloc_fail_at(failat, 0);
        j.off = 0;
        qr_dynbuf_reset(&j.text);
        rc = sy_pieces(set, join_piece, &j);
        qr_alloc_fail_at(0, 0);
        REQUIRE(rc == 0 || rc == QR_ENOMEM);
    }
    qr_dynbuf_free(&j.text);
    qr_dynbuf_free(&text);
    qr_buf_dispose(&fmt);
    qr_uidset_free(set);
    free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned long failat;
    const char *p;
    size_t len;

    if (size < 1)
        return 0;
    qr_alloc_fail_at(0, 0);
    failat = data[0] & 0x80 ? 1 + ((data[0] >> 2) & 7) : 0;
    p = (const char *)data + 1;
    len = size - 1;
    switch (data[0] & 3) {
    case 0:
        fuzz_appenduid(p, len, failat);
        break;
    case 1:
        fuzz_internaldate(p, len);
        break;
    case 2:
        fuzz_flags(p, len, failat);
        break;
    default:
        fuzz_uids(data + 1, len, failat);
        break;
    }
    return 0;
}
