/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small pure helpers of the sync engine: flag strings as the reference
 * normalises them, compact UID sets and lists, mailbox name conversions
 * (interimap.md conventions), APPENDUID parsing, chunked UID commands.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sync/sync_p.h"
#include "util/alloc.h"

void sy_flagmap_dispose(sy_flagmap *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        qr_free(m->v[i].flags);
    qr_free(m->v);
    m->v = NULL;
    m->n = m->alloc = 0;
}

static size_t flagmap_pos(const sy_flagmap *m, uint32_t uid)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->v[mid].uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

sy_mod *sy_flagmap_find(const sy_flagmap *m, uint32_t uid)
{
    size_t p = flagmap_pos(m, uid);

    return p < m->n && m->v[p].uid == uid ? &m->v[p] : NULL;
}

int sy_flagmap_put(sy_flagmap *m, uint32_t uid, uint64_t modseq, char *flags)
{
    size_t p = flagmap_pos(m, uid);

    if (p < m->n && m->v[p].uid == uid) {
        qr_free(m->v[p].flags);
        m->v[p].modseq = modseq;
        m->v[p].flags = flags;
        return 0;
    }
    if (m->n == m->alloc) {
        size_t na = m->alloc ? m->alloc * 2 : 64;
        sy_mod *nv = qr_reallocarray(m->v, na, sizeof(*nv));

        if (nv == NULL)
            return QR_ENOMEM;
        m->v = nv;
        m->alloc = na;
    }
    /* appends in increasing order are the common case */
    if (p < m->n)
        memmove(&m->v[p + 1], &m->v[p], (m->n - p) * sizeof(*m->v));
    m->v[p].uid = uid;
    m->v[p].modseq = modseq;
    m->v[p].flags = flags;
    m->n++;
    return 0;
}

void sy_flagmap_remove(sy_flagmap *m, uint32_t uid)
{
    size_t p = flagmap_pos(m, uid);

    if (p < m->n && m->v[p].uid == uid) {
        qr_free(m->v[p].flags);
        memmove(&m->v[p], &m->v[p + 1], (m->n - p - 1) * sizeof(*m->v));
        m->n--;
    }
}

/* --- flag strings -------------------------------------------------------- */

typedef struct flagtok {
    const char *p;
    size_t len;
} flagtok;

static int tok_cmp(const void *a, const void *b)
{
    const flagtok *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);

    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int is_recent(const char *p, size_t len)
{
    return len == 7 && strncasecmp(p, "\\Recent", 7) == 0;
}

/* Sort, drop duplicates and \Recent, join. */
static char *join_tokens(flagtok *t, size_t n)
{
    size_t i, total = 1, k = 0;
    char *out;

    qsort(t, n, sizeof(*t), tok_cmp);
    for (i = 0; i < n; i++)
        total += t[i].len + 1;
    out = qr_malloc(total);
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (t[i].len == 0 || is_recent(t[i].p, t[i].len))
            continue;
        if (i > 0 && tok_cmp(&t[i], &t[i - 1]) == 0)
            continue;
        if (k > 0)
            out[k++] = ' ';
        memcpy(out + k, t[i].p, t[i].len);
        k += t[i].len;
    }
    out[k] = '\0';
    return out;
}

char *sy_flags_normalise(const qr_resp_str *flags, size_t n)
{
    flagtok *t;
    char *out;
    size_t i;

    t = qr_mallocarray(n ? n : 1, sizeof(*t));
    if (t == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        t[i].p = flags[i].ptr ? flags[i].ptr : "";
        t[i].len = flags[i].ptr ? flags[i].len : 0;
    }
    out = join_tokens(t, n);
    qr_free(t);
    return out;
}

static size_t split_tokens(const char *s, flagtok *t, size_t k)
{
    while (*s != '\0') {
        const char *e = strchr(s, ' ');
        size_t len = e ? (size_t)(e - s) : strlen(s);

        if (len > 0) {
            t[k].p = s;
            t[k].len = len;
            k++;
        }
        s += len;
        if (*s == ' ')
            s++;
    }
    return k;
}

char *sy_flags_union(const char *a, const char *b)
{
    size_t n = 2, k;
    const char *p;
    flagtok *t;
    char *out;

    for (p = a; *p; p++)
        n += *p == ' ';
    for (p = b; *p; p++)
        n += *p == ' ';
    t = qr_mallocarray(n, sizeof(*t));
    if (t == NULL)
        return NULL;
    k = split_tokens(a, t, 0);
    k = split_tokens(b, t, k);
    out = join_tokens(t, k);
    qr_free(t);
    return out;
}

/* --- UID texts ----------------------------------------------------------- */

int sy_uidset_text(qr_dynbuf *out, const qr_uidset *set)
{
    size_t n, i;
    const qr_range *r = qr_uidset_ranges(set, &n);
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = qr_dynbuf_addc(out, ',');
        if (rc == 0 && r[i].lo == r[i].hi)
            rc = qr_dynbuf_addf(out, "%u", (unsigned)r[i].lo);
        else if (rc == 0)
            rc = qr_dynbuf_addf(out, "%u:%u", (unsigned)r[i].lo, (unsigned)r[i].hi);
    }
    return rc;
}

int sy_uidlist_text(qr_dynbuf *out, const uint32_t *u, size_t n)
{
    size_t i = 0;
    int rc = 0;

    while (i < n && rc == 0) {
        size_t j = i;
        int dir = 0;

        /* in 64 bits: 4294967295 then 0 is no run */
        if (i + 1 < n &&
            ((uint64_t)u[i + 1] == (uint64_t)u[i] + 1 || (u[i] > 0 && u[i + 1] == u[i] - 1))) {
            dir = (uint64_t)u[i + 1] == (uint64_t)u[i] + 1 ? 1 : -1;
            j = i + 1;
            while (j + 1 < n && (int64_t)u[j + 1] == (int64_t)u[j] + dir)
                j++;
        }
        if (i > 0)
            rc = qr_dynbuf_addc(out, ',');
        if (rc == 0 && j == i)
            rc = qr_dynbuf_addf(out, "%u", (unsigned)u[i]);
        else if (rc == 0)
            rc = qr_dynbuf_addf(out, "%u:%u", (unsigned)u[i], (unsigned)u[j]);
        i = j + 1;
    }
    return rc;
}

/* --- names --------------------------------------------------------------- */

char *sy_internal_name(const sy_side *sd, const char *name, size_t len, size_t *out_len)
{
    char *r;
    size_t i;

    if (len < sd->reflen || memcmp(name, sd->ref, sd->reflen) != 0)
        return NULL;
    name += sd->reflen;
    len -= sd->reflen;
    r = qr_memdup0(name, len);
    if (r == NULL)
        return NULL;
    if (sd->delim >= 0)
        for (i = 0; i < len; i++)
            if ((unsigned char)r[i] == (unsigned)sd->delim)
                r[i] = '\0';
    *out_len = len;
    return r;
}

char *sy_server_name(const sy_side *sd, const char *iname, size_t ilen, size_t *out_len)
{
    char *r = qr_malloc(sd->reflen + ilen + 1);
    size_t i;

    if (r == NULL)
        return NULL;
    memcpy(r, sd->ref, sd->reflen);
    for (i = 0; i < ilen; i++)
        r[sd->reflen + i] = iname[i] == '\0' && sd->delim >= 0 ? (char)sd->delim : iname[i];
    r[sd->reflen + ilen] = '\0';
    *out_len = sd->reflen + ilen;
    return r;
}

char *sy_pretty(const struct qr_sync *s, const char *iname, size_t ilen)
{
    char *r = qr_memdup0(iname, ilen);
    int d = s->side[QR_SYNC_LOCAL].delim;
    size_t i;

    if (r == NULL)
        return NULL;
    for (i = 0; i < ilen; i++)
        if (r[i] == '\0')
            r[i] = d >= 0 ? (char)d : '/';
    return r;
}

void sy_delim_text(int delim, char *buf, size_t cap)
{
    if (delim < 0)
        snprintf(buf, cap, "NIL");
    else if (delim == '"' || delim == '\\')
        snprintf(buf, cap, "\"\\%c\"", delim);
    else
        snprintf(buf, cap, "\"%c\"", delim);
}

int sy_cmd_mailbox(qr_cmd *cmd, const char *name, size_t len)
{
    return qr_cmd_add_astring(cmd, name, len);
}

/* --- APPENDUID ----------------------------------------------------------- */

static int parse_u32(const char **p, const char *end, uint32_t *out)
{
    uint64_t v = 0;
    const char *q = *p;

    if (q >= end || *q < '0' || *q > '9')
        return -1;
    while (q < end && *q >= '0' && *q <= '9') {
        v = v * 10 + (uint64_t)(*q - '0');
        if (v > 0xffffffffu)
            return -1;
        q++;
    }
    *p = q;
    *out = (uint32_t)v;
    return 0;
}

int sy_parse_appenduid(const char *args, size_t len, uint32_t *uidvalidity, uint32_t **uids,
                       size_t *n)
{
    const char *p = args, *end = args + len;
    uint32_t *v = NULL;
    size_t cnt = 0, alloc = 0;

    *uids = NULL;
    *n = 0;
    if (parse_u32(&p, end, uidvalidity) != 0 || p >= end || *p != ' ')
        return QR_EPROTO;
    p++;
    for (;;) {
        uint32_t a, b;
        uint64_t k, m;

        if (parse_u32(&p, end, &a) != 0)
            goto bad;
        b = a;
        if (p < end && *p == ':') {
            p++;
            if (parse_u32(&p, end, &b) != 0)
                goto bad;
        }
        m = a <= b ? (uint64_t)b - a + 1 : (uint64_t)a - b + 1;
        if (cnt + m > 1u << 20)
            goto bad;
        if (cnt + m > alloc) {
            size_t na = (size_t)(cnt + m) * 2;
            uint32_t *nv = qr_reallocarray(v, na, sizeof(*nv));

            if (nv == NULL) {
                qr_free(v);
                return QR_ENOMEM;
            }
            v = nv;
            alloc = na;
        }
        for (k = 0; k < m; k++)
            v[cnt++] = a <= b ? (uint32_t)(a + k) : (uint32_t)(a - k);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        break;
    }
    if (p != end)
        goto bad;
    *uids = v;
    *n = cnt;
    return 0;
bad:
    qr_free(v);
    return QR_EPROTO;
}

/* --- chunked UID commands ------------------------------------------------ */

int sy_pieces(const qr_uidset *set, int (*fn)(const char *text, void *ctx), void *ctx)
{
    qr_dynbuf txt;
    size_t off = 0;
    int rc;

    qr_dynbuf_init(&txt, (size_t)1 << 30);
    rc = sy_uidset_text(&txt, set);
    while (rc == 0 && off < txt.len) {
        size_t piece = txt.len - off;
        char save;

        if (piece > 4096) {
            size_t k = 4096;

            while (k > 0 && txt.ptr[off + k] != ',')
                k--;
            piece = k > 0 ? k : piece;
        }
        save = txt.ptr[off + piece];
        txt.ptr[off + piece] = '\0';
        rc = fn(txt.ptr + off, ctx);
        txt.ptr[off + piece] = save;
        off += piece;
        if (off < txt.len && txt.ptr[off] == ',')
            off++;
    }
    qr_dynbuf_free(&txt);
    return rc;
}

typedef struct split_ctx {
    sy_side *sd;
    const char *name, *tail;
    uint32_t claims;
    qr_session_done_fn done;
    qr_session_untagged_fn on_untagged;
    void *payload;
    size_t *count;
} split_ctx;

static int split_one(const char *text, void *ctx)
{
    split_ctx *c = ctx;
    qr_cmd *cmd = NULL;
    int rc;

    rc = qr_cmd_new(&cmd, c->name, 0);
    if (rc == 0)
        rc = qr_cmd_add_raw(cmd, text);
    if (rc == 0 && c->tail != NULL && *c->tail != '\0')
        rc = qr_cmd_add_raw(cmd, c->tail);
    if (rc != 0) {
        qr_cmd_free(cmd);
        return sy_fail(c->sd->sync, rc, sy_comp(c->sd), NULL, "%s: %s", c->name, qr_strerror(rc));
    }
    rc = sy_submit(c->sd, cmd, c->claims, c->done, c->on_untagged, c->payload);
    if (rc == 0 && c->count != NULL)
        (*c->count)++;
    return rc;
}

int sy_submit_split(sy_side *sd, const char *name, const qr_uidset *set, const char *tail,
                    uint32_t claims, qr_session_done_fn done, qr_session_untagged_fn on_untagged,
                    void *payload, size_t *count)
{
    split_ctx c = {sd, name, tail, claims, done, on_untagged, payload, count};

    return sy_pieces(set, split_one, &c);
}

int sy_pairs_cb(void *payload, int64_t idx, uint32_t luid, uint32_t ruid)
{
    sy_pairs *p = payload;

    (void)idx;
    if (p->n == p->alloc) {
        size_t na = p->alloc ? p->alloc * 2 : 64;
        uint32_t *a = qr_reallocarray(p->l, na, sizeof(*a)), *b;

        if (a == NULL)
            return QR_ENOMEM;
        p->l = a;
        b = qr_reallocarray(p->r, na, sizeof(*b));
        if (b == NULL)
            return QR_ENOMEM;
        p->r = b;
        p->alloc = na;
    }
    p->l[p->n] = luid;
    p->r[p->n] = ruid;
    p->n++;
    return 0;
}

/* --- INTERNALDATE ------------------------------------------------------- */

/* "28-Nov-2026 15:32:47 +0000" -> seconds since 1970 (UTC); -1 if bad. */
int64_t sy_parse_internaldate(const char *t)
{
    static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int d, y, hh, mm, ss, tz, m;
    char ms[4], sign;
    int64_t days;

    if (sscanf(t, " %d-%3s-%d %d:%d:%d %c%4d", &d, ms, &y, &hh, &mm, &ss, &sign, &tz) != 8)
        return -1;
    if (d < 1 || d > 31 || y < 1 || y > 9999 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
        ss > 60 || tz < 0 || tz > 9959 || tz % 100 > 59 || (sign != '+' && sign != '-'))
        return -1;
    for (m = 0; m < 12; m++)
        if (strncasecmp(mon + 3 * m, ms, 3) == 0)
            break;
    if (m == 12)
        return -1;
    /* no 31-Apr or 29-Feb-2025 */
    if (d > mdays[m] || (m == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
        return -1;
    {
        int yy = y - (m < 2);
        int era = (yy >= 0 ? yy : yy - 399) / 400;
        int yoe = yy - era * 400;
        int mp = (m + 10) % 12; /* March = 0 */
        int doy = (153 * mp + 2) / 5 + d - 1;
        int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        days = (int64_t)era * 146097 + doe - 719468;
    }
    return days * 86400 + hh * 3600 + mm * 60 + ss -
           (sign == '-' ? -1 : 1) * ((tz / 100) * 3600 + (tz % 100) * 60);
}
