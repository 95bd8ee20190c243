/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The FETCH handler: `* n FETCH (name value ...)` to a qr_resp_fetch.
 *
 * What it is. By the time the CRLF arrives, the grammar has the attribute
 * list as a tree in which every body value (BODY[...], BINARY[...],
 * RFC822...) is already a QR_VALUE_BODY node: its bytes went to the body
 * sink while the line was read. This handler walks the name/value pairs,
 * fills the typed fields it knows (UID, FLAGS, MODSEQ, INTERNALDATE with
 * its parsed time and zone, RFC822.SIZE, ENVELOPE with its address
 * lists), lists the bodies, and leaves every item (known or not) in
 * `items` for callers that want more (BODYSTRUCTURE, X-GM-*, ...).
 *
 * Invariants. The attribute list has an even number of elements (the
 * grammar checks it when the list closes). Values of known items with the
 * wrong shape are QR_EPROTO at their stream position; unknown items are
 * never errors.
 */
#include "config.h"

#include <string.h>

#include "proto/proto_p.h"

/* ---- INTERNALDATE --------------------------------------------------- */

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    size_t k;

    for (k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -1;
        v = v * 10 + (s[k] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"). */
static int parse_date(const char *s, size_t n, int64_t *t, int *tz)
{
    static const char months[] = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC";
    int day, mon = -1, year, hh, mm, ss, zh, zm, k;
    char m[4];

    if (n != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' || s[17] != ':' ||
        s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
        return -1;
    if (digits(s[0] == ' ' ? s + 1 : s, s[0] == ' ' ? 1 : 2, &day) != 0)
        return -1;
    for (k = 0; k < 3; k++)
        m[k] = (char)(s[3 + k] >= 'a' && s[3 + k] <= 'z' ? s[3 + k] - 'a' + 'A' : s[3 + k]);
    m[3] = '\0';
    for (k = 0; k < 12; k++)
        if (memcmp(months + 3 * k, m, 3) == 0)
            mon = k + 1;
    if (mon < 0 || digits(s + 7, 4, &year) || digits(s + 12, 2, &hh) || digits(s + 15, 2, &mm) ||
        digits(s + 18, 2, &ss) || digits(s + 22, 2, &zh) || digits(s + 24, 2, &zm))
        return -1;
    if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zm > 59)
        return -1;
    *tz = (s[21] == '-' ? -1 : 1) * (zh * 60 + zm);
    *t = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)*tz * 60;
    return 0;
}

/* ---- ENVELOPE ------------------------------------------------------- */

static int addrlist(qr_parser *p, const qr_resp_value *v, qr_resp_addrlist *out)
{
    qr_resp_address *items;
    const qr_resp_value *a, *f;
    size_t k;
    int rc = 0;

    out->items = NULL;
    out->count = 0;
    if (v != NULL && v->type == QR_VALUE_NIL)
        return 0;
    rc = qr_get_list(p, v, "ENVELOPE address list");
    if (rc != 0 || v->number == 0)
        return rc;
    items = qr_arena_alloc(p, (size_t)v->number * sizeof(*items));
    if (items == NULL)
        return p->failed;
    for (a = v->child, k = 0; a != NULL && rc == 0; a = a->next, k++) {
        rc = qr_get_list(p, a, "ENVELOPE address");
        if (rc == 0 && a->number != 4)
            rc = qr_parser_fail(p, QR_EPROTO, a->offset, "an address has four fields");
        if (rc != 0)
            return rc;
        f = a->child;
        rc = qr_get_nstring(p, f, &items[k].name, "address name");
        if (rc == 0)
            rc = qr_get_nstring(p, f->next, &items[k].adl, "address adl");
        if (rc == 0)
            rc = qr_get_nstring(p, f->next->next, &items[k].mailbox, "address mailbox");
        if (rc == 0)
            rc = qr_get_nstring(p, f->next->next->next, &items[k].host, "address host");
    }
    out->items = items;
    out->count = k;
    return rc;
}

static int envelope(qr_parser *p, const qr_resp_value *v, qr_resp_fetch *f)
{
    qr_resp_envelope *e;
    qr_resp_addrlist *lists[6];
    const qr_resp_value *x;
    int rc = qr_get_list(p, v, "ENVELOPE"), k;

    if (rc == 0 && v->number != 10)
        rc = qr_parser_fail(p, QR_EPROTO, v->offset, "ENVELOPE has ten fields");
    if (rc != 0)
        return rc;
    e = qr_arena_alloc(p, sizeof(*e));
    if (e == NULL)
        return p->failed;
    memset(e, 0, sizeof(*e));
    lists[0] = &e->from;
    lists[1] = &e->sender;
    lists[2] = &e->reply_to;
    lists[3] = &e->to;
    lists[4] = &e->cc;
    lists[5] = &e->bcc;
    x = v->child;
    rc = qr_get_nstring(p, x, &e->date, "ENVELOPE date");
    if (rc == 0)
        rc = qr_get_nstring(p, x = x->next, &e->subject, "ENVELOPE subject");
    for (k = 0; k < 6 && rc == 0; k++)
        rc = addrlist(p, x = x->next, lists[k]);
    if (rc == 0)
        rc = qr_get_nstring(p, x = x->next, &e->in_reply_to, "ENVELOPE in-reply-to");
    if (rc == 0)
        rc = qr_get_nstring(p, x->next, &e->message_id, "ENVELOPE message-id");
    f->envelope = e;
    f->present |= QR_FETCH_ENVELOPE;
    return rc;
}

/* ---- items ---------------------------------------------------------- */

static int item_modseq(qr_parser *p, const qr_resp_value *v, qr_resp_fetch *f)
{
    int rc = qr_get_list(p, v, "MODSEQ");

    if (rc == 0 && v->number != 1)
        rc = qr_parser_fail(p, QR_EPROTO, v->offset, "MODSEQ takes one number");
    if (rc == 0)
        rc = qr_need_number(p, v->child, UINT64_MAX, &f->modseq, "MODSEQ");
    f->present |= QR_FETCH_MODSEQ;
    return rc;
}

static int item_internaldate(qr_parser *p, const qr_resp_value *v, qr_resp_fetch *f)
{
    if (v->type != QR_VALUE_STRING ||
        parse_date(v->str.ptr, v->str.len, &f->internaldate_time, &f->internaldate_tz) != 0)
        return qr_parser_fail(p, QR_EPROTO, v->offset, "bad INTERNALDATE");
    f->internaldate = v->str;
    f->present |= QR_FETCH_INTERNALDATE;
    return 0;
}

static int fetch_item(qr_parser *p, const qr_resp_value *n, const qr_resp_value *v,
                      qr_resp_fetch *f)
{
    uint64_t num = 0;
    int rc = 0;

    if (qr_value_is_atom(n, "UID")) {
        rc = qr_need_number(p, v, UINT32_MAX, &num, "UID");
        if (rc == 0 && num == 0)
            rc = qr_parser_fail(p, QR_EPROTO, v->offset, "UID 0");
        f->uid = (uint32_t)num;
        f->present |= QR_FETCH_UID;
    } else if (qr_value_is_atom(n, "FLAGS")) {
        rc = qr_get_list(p, v, "FLAGS");
        if (rc == 0)
            rc = qr_get_strlist(p, v->child, (size_t)v->number, &f->flags, "FLAGS");
        f->present |= QR_FETCH_FLAGS;
    } else if (qr_value_is_atom(n, "MODSEQ")) {
        rc = item_modseq(p, v, f);
    } else if (qr_value_is_atom(n, "INTERNALDATE")) {
        rc = item_internaldate(p, v, f);
    } else if (qr_value_is_atom(n, "RFC822.SIZE")) {
        rc = qr_need_number(p, v, UINT64_MAX, &f->rfc822_size, "RFC822.SIZE");
        f->present |= QR_FETCH_RFC822_SIZE;
    } else if (qr_value_is_atom(n, "ENVELOPE")) {
        rc = envelope(p, v, f);
    }
    return rc;
}

int qr_handle_fetch(qr_parser *p, qr_resp *r)
{
    qr_resp_fetch *f = &r->u.fetch;
    const qr_resp_value *seq = r->values, *l = seq->next->next, *n;
    qr_resp_body *bodies = NULL;
    size_t nb = 0;
    int rc = qr_get_list(p, l, "FETCH");

    if (rc == 0 && l->next != NULL)
        rc = qr_parser_fail(p, QR_EPROTO, l->next->offset, "unexpected data after FETCH");
    if (rc != 0)
        return rc;
    f->seq = (uint32_t)seq->number;
    f->items = l->child;
    for (n = l->child; n != NULL; n = n->next->next)
        nb += n->next->type == QR_VALUE_BODY;
    if (nb > 0 && (bodies = qr_arena_alloc(p, nb * sizeof(*bodies))) == NULL)
        return p->failed;
    f->bodies = bodies;
    for (n = l->child; n != NULL && rc == 0; n = n->next->next) {
        const qr_resp_value *v = n->next;
        if (n->type != QR_VALUE_ATOM)
            return qr_parser_fail(p, QR_EPROTO, n->offset, "bad FETCH item name");
        if (v->type == QR_VALUE_BODY) {
            qr_resp_body *b = &bodies[f->nbodies++];
            const char *open = memchr(v->str.ptr, '[', v->str.len);
            const char *close = open ? strrchr(open, ']') : NULL;
            b->item = v->str;
            b->section.ptr = open && close ? open + 1 : "";
            b->section.len = open && close ? (size_t)(close - open - 1) : 0;
            b->size = v->number;
            b->nil = (v->flags & QR_VALUE_F_NIL) != 0;
            continue;
        }
        rc = fetch_item(p, n, v, f);
    }
    return rc;
}
