/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Response handlers: from the generic tree of one response to a typed
 * qr_resp, one handler per response kind, plus the names used in logs.
 *
 * What it is. When the grammar (grammar.c) has read a whole response it
 * calls qr_handle_response(), which dispatches on the kind decided while
 * reading to one handler here (FETCH is in fetch.c). A handler walks the
 * tree (`r->values` is the first element after `*`), checks its shape and
 * fills the typed payload; any mismatch is a fatal QR_EPROTO naming the
 * offending element's stream position. Arrays (flags, addresses, ...) are
 * allocated in the response arena, so they live exactly as long as the
 * event.
 *
 * Invariants. Handlers never keep pointers past the response; they never
 * allocate outside the arena; unknown things are kept (generic `values`,
 * QR_RESP_OTHER, QR_CODE_OTHER), only malformed known things are errors.
 */
#include "config.h"

#include <string.h>

#include "proto/proto_p.h"

/* ---- helpers shared with fetch.c ------------------------------------ */

int qr_need_number(qr_parser *p, const qr_resp_value *v, uint64_t max, uint64_t *out,
                   const char *what)
{
    if (v == NULL)
        return qr_parser_fail(p, QR_EPROTO, p->tok_off, "missing %s", what);
    if (v->type != QR_VALUE_NUMBER)
        return qr_parser_fail(p, QR_EPROTO, v->offset, "%s is not a number", what);
    if ((v->flags & QR_VALUE_F_OVERFLOW) || v->number > max)
        return qr_parser_fail(p, QR_EPROTO, v->offset, "%s out of range", what);
    *out = v->number;
    return 0;
}

int qr_get_nstring(qr_parser *p, const qr_resp_value *v, qr_resp_str *out, const char *what)
{
    if (v != NULL && v->type == QR_VALUE_STRING) {
        *out = v->str;
        return 0;
    }
    if (v != NULL && v->type == QR_VALUE_NIL) {
        out->ptr = NULL;
        out->len = 0;
        return 0;
    }
    return qr_parser_fail(p, QR_EPROTO, v ? v->offset : p->tok_off, "%s: expected a string or NIL",
                          what);
}

int qr_get_astring(qr_parser *p, const qr_resp_value *v, qr_resp_str *out, const char *what)
{
    if (v != NULL && (v->type == QR_VALUE_STRING || v->type == QR_VALUE_ATOM ||
                      v->type == QR_VALUE_NUMBER || v->type == QR_VALUE_NIL)) {
        *out = v->str;
        return 0;
    }
    return qr_parser_fail(p, QR_EPROTO, v ? v->offset : p->tok_off, "%s: expected a string", what);
}

int qr_get_list(qr_parser *p, const qr_resp_value *v, const char *what)
{
    if (v != NULL && v->type == QR_VALUE_LIST)
        return 0;
    return qr_parser_fail(p, QR_EPROTO, v ? v->offset : p->tok_off, "%s: expected a list", what);
}

/* `count` atoms or strings starting at first, into an arena array. */
int qr_get_strlist(qr_parser *p, const qr_resp_value *first, size_t count, qr_resp_strlist *out,
                   const char *what)
{
    qr_resp_str *items = NULL;
    const qr_resp_value *v;
    size_t k;

    out->items = NULL;
    out->count = 0;
    if (count == 0)
        return 0;
    items = qr_arena_alloc(p, count * sizeof(*items));
    if (items == NULL)
        return p->failed;
    for (v = first, k = 0; k < count; v = v->next, k++) {
        if (v->type != QR_VALUE_ATOM && v->type != QR_VALUE_NUMBER && v->type != QR_VALUE_STRING)
            return qr_parser_fail(p, QR_EPROTO, v->offset, "%s: expected an atom", what);
        items[k] = v->str;
    }
    out->items = items;
    out->count = count;
    return 0;
}

static int no_more(qr_parser *p, const qr_resp_value *v, const char *what)
{
    if (v == NULL)
        return 0;
    return qr_parser_fail(p, QR_EPROTO, v->offset, "unexpected data after %s", what);
}

static size_t count_from(const qr_resp_value *v)
{
    size_t n = 0;

    for (; v != NULL; v = v->next)
        n++;
    return n;
}

/* Delimiter: NIL or a one-byte string. */
static int get_delim(qr_parser *p, const qr_resp_value *v, int *out)
{
    if (v != NULL && v->type == QR_VALUE_NIL) {
        *out = -1;
        return 0;
    }
    if (v != NULL && v->type == QR_VALUE_STRING && v->str.len == 1) {
        *out = (unsigned char)v->str.ptr[0];
        return 0;
    }
    return qr_parser_fail(p, QR_EPROTO, v ? v->offset : p->tok_off, "bad hierarchy delimiter");
}

/* ---- handlers ------------------------------------------------------- */

static int handle_text(qr_parser *p, qr_resp *r)
{
    if (r->kind == QR_RESP_TAGGED)
        r->tag = p->root.child->str;
    r->cond = (qr_resp_cond)p->cond;
    r->values = NULL;
    return 0;
}

static int handle_strlist(qr_parser *p, qr_resp *r)
{
    const qr_resp_value *first = r->values->next;

    return qr_get_strlist(p, first, count_from(first), &r->u.strlist, qr_resp_kind_name(r->kind));
}

static int handle_flags(qr_parser *p, qr_resp *r)
{
    const qr_resp_value *l = r->values->next;
    int rc = qr_get_list(p, l, "FLAGS");

    if (rc == 0)
        rc = qr_get_strlist(p, l->child, (size_t)l->number, &r->u.strlist, "FLAGS");
    return rc ? rc : no_more(p, l->next, "FLAGS");
}

static int list_extended(qr_parser *p, qr_resp_list *l, const qr_resp_value *ext)
{
    const qr_resp_value *v;
    int rc = qr_get_list(p, ext, "LIST extended data");

    if (rc != 0)
        return rc;
    l->extended = ext->child;
    for (v = ext->child; v != NULL; v = v->next->next) {
        const qr_resp_value *val = v->next;
        if (val == NULL || (v->type != QR_VALUE_STRING && v->type != QR_VALUE_ATOM))
            return qr_parser_fail(p, QR_EPROTO, v->offset, "bad LIST extended item");
        if (qr_ascii_ieq(v->str.ptr, v->str.len, "CHILDINFO")) {
            rc = qr_get_list(p, val, "CHILDINFO");
            if (rc == 0)
                rc = qr_get_strlist(p, val->child, (size_t)val->number, &l->childinfo, "CHILDINFO");
        } else if (qr_ascii_ieq(v->str.ptr, v->str.len, "OLDNAME")) {
            rc = qr_get_list(p, val, "OLDNAME");
            if (rc == 0 && val->number != 1)
                rc = qr_parser_fail(p, QR_EPROTO, val->offset, "OLDNAME needs one name");
            if (rc == 0)
                rc = qr_get_astring(p, val->child, &l->oldname, "OLDNAME");
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int handle_list(qr_parser *p, qr_resp *r)
{
    qr_resp_list *l = &r->u.list;
    const qr_resp_value *flags = r->values->next, *delim, *name;
    int rc = qr_get_list(p, flags, "LIST attributes");

    if (rc == 0)
        rc = qr_get_strlist(p, flags->child, (size_t)flags->number, &l->flags, "LIST attributes");
    if (rc != 0)
        return rc;
    delim = flags->next;
    rc = get_delim(p, delim, &l->delimiter);
    if (rc != 0)
        return rc;
    name = delim->next;
    rc = qr_get_astring(p, name, &l->mailbox, "LIST mailbox");
    if (rc != 0 || name->next == NULL)
        return rc;
    rc = list_extended(p, l, name->next);
    return rc ? rc : no_more(p, name->next->next, "LIST");
}

static int status_item(qr_parser *p, qr_resp_status *s, const qr_resp_value *n)
{
    static const struct {
        const char *name;
        unsigned int bit;
    } items[] = {
        {"MESSAGES", QR_STATUS_MESSAGES},
        {"UIDNEXT", QR_STATUS_UIDNEXT},
        {"UIDVALIDITY", QR_STATUS_UIDVALIDITY},
        {"UNSEEN", QR_STATUS_UNSEEN},
        {"RECENT", QR_STATUS_RECENT},
        {"HIGHESTMODSEQ", QR_STATUS_HIGHESTMODSEQ},
        {"SIZE", QR_STATUS_SIZE},
    };
    size_t k;
    uint64_t v = 0;
    int rc;

    for (k = 0; k < sizeof(items) / sizeof(items[0]); k++) {
        if (!qr_value_is_atom(n, items[k].name))
            continue;
        rc = qr_need_number(p, n->next, k >= 5 ? UINT64_MAX : UINT32_MAX, &v, items[k].name);
        if (rc != 0)
            return rc;
        s->present |= items[k].bit;
        switch (items[k].bit) {
        case QR_STATUS_MESSAGES:
            s->messages = (uint32_t)v;
            break;
        case QR_STATUS_UIDNEXT:
            s->uidnext = (uint32_t)v;
            break;
        case QR_STATUS_UIDVALIDITY:
            s->uidvalidity = (uint32_t)v;
            break;
        case QR_STATUS_UNSEEN:
            s->unseen = (uint32_t)v;
            break;
        case QR_STATUS_RECENT:
            s->recent = (uint32_t)v;
            break;
        case QR_STATUS_HIGHESTMODSEQ:
            s->highestmodseq = v;
            break;
        default:
            s->size = v;
            break;
        }
    }
    return 0;
}

static int handle_status(qr_parser *p, qr_resp *r)
{
    qr_resp_status *s = &r->u.status;
    const qr_resp_value *name = r->values->next, *items, *n;
    int rc = qr_get_astring(p, name, &s->mailbox, "STATUS mailbox");

    if (rc != 0)
        return rc;
    items = name->next;
    rc = qr_get_list(p, items, "STATUS items");
    if (rc != 0)
        return rc;
    if (items->number % 2 != 0)
        return qr_parser_fail(p, QR_EPROTO, items->offset, "STATUS item without a value");
    s->items = items->child;
    for (n = items->child; n != NULL && rc == 0; n = n->next->next) {
        if (n->type != QR_VALUE_ATOM)
            return qr_parser_fail(p, QR_EPROTO, n->offset, "bad STATUS item name");
        rc = status_item(p, s, n);
    }
    return rc ? rc : no_more(p, items->next, "STATUS");
}

static int handle_number(qr_parser *p, qr_resp *r)
{
    const qr_resp_value *num = p->root.child->next;

    r->u.number = (uint32_t)num->number; /* range checked by the grammar */
    r->values = num;
    if (r->kind == QR_RESP_EXPUNGE && num->number == 0)
        return qr_parser_fail(p, QR_EPROTO, num->offset, "EXPUNGE of message 0");
    return no_more(p, num->next->next, qr_resp_kind_name(r->kind));
}

static int handle_vanished(qr_parser *p, qr_resp *r)
{
    const qr_resp_value *v = r->values->next;

    if (v != NULL && v->type == QR_VALUE_LIST) {
        if (v->number != 1 || !qr_value_is_atom(v->child, "EARLIER"))
            return qr_parser_fail(p, QR_EPROTO, v->offset, "VANISHED: expected (EARLIER)");
        r->u.vanished.earlier = 1;
        v = v->next;
    }
    if (v == NULL || v->type != QR_VALUE_UIDSET)
        return qr_parser_fail(p, QR_EPROTO, v ? v->offset : p->tok_off,
                              "VANISHED: expected a UID set");
    r->u.vanished.set = v->set;
    return no_more(p, v->next, "VANISHED");
}

static int handle_search(qr_parser *p, qr_resp *r)
{
    const qr_resp_value *v = r->values->next;
    qr_resp_search *s = &r->u.search;
    int rc;

    s->numbers = (const uint32_t *)(const void *)p->nums.ptr;
    s->count = p->nums.len / sizeof(uint32_t);
    if (v == NULL)
        return 0;
    if (v->type != QR_VALUE_LIST || v->number != 2 || !qr_value_is_atom(v->child, "MODSEQ"))
        return qr_parser_fail(p, QR_EPROTO, v->offset, "SEARCH: unexpected data");
    rc = qr_need_number(p, v->child->next, UINT64_MAX, &s->modseq, "SEARCH MODSEQ");
    s->has_modseq = 1;
    return rc ? rc : no_more(p, v->next, "SEARCH (MODSEQ n)");
}

static int esearch_item(qr_parser *p, qr_resp_esearch *e, const qr_resp_value *l)
{
    const qr_resp_value *v = l->next;
    uint64_t n = 0;
    int rc = 0;

    if (qr_value_is_atom(l, "MIN") || qr_value_is_atom(l, "MAX") || qr_value_is_atom(l, "COUNT")) {
        rc = qr_need_number(p, v, UINT32_MAX, &n, "ESEARCH value");
        if (qr_value_is_atom(l, "MIN"))
            e->min = (uint32_t)n, e->present |= QR_ESEARCH_MIN;
        else if (qr_value_is_atom(l, "MAX"))
            e->max = (uint32_t)n, e->present |= QR_ESEARCH_MAX;
        else
            e->count = (uint32_t)n, e->present |= QR_ESEARCH_COUNT;
    } else if (qr_value_is_atom(l, "MODSEQ")) {
        rc = qr_need_number(p, v, UINT64_MAX, &e->modseq, "ESEARCH MODSEQ");
        e->present |= QR_ESEARCH_MODSEQ;
    } else if (qr_value_is_atom(l, "ALL")) {
        if (v->type != QR_VALUE_UIDSET)
            return qr_parser_fail(p, QR_EPROTO, v->offset, "ESEARCH ALL: expected a set");
        e->all = v->set;
        e->present |= QR_ESEARCH_ALL;
    }
    return rc;
}

static int handle_esearch(qr_parser *p, qr_resp *r)
{
    qr_resp_esearch *e = &r->u.esearch;
    const qr_resp_value *v = r->values->next;
    int rc = 0;

    if (v != NULL && v->type == QR_VALUE_LIST) {
        if (v->number != 2 || !qr_value_is_atom(v->child, "TAG"))
            return qr_parser_fail(p, QR_EPROTO, v->offset, "ESEARCH: bad correlator");
        rc = qr_get_astring(p, v->child->next, &e->tag, "ESEARCH TAG");
        v = v->next;
    }
    if (rc == 0 && v != NULL && qr_value_is_atom(v, "UID")) {
        e->uid = 1;
        v = v->next;
    }
    e->items = v;
    for (; v != NULL && rc == 0; v = v->next->next) {
        if (v->type != QR_VALUE_ATOM || v->next == NULL)
            return qr_parser_fail(p, QR_EPROTO, v->offset, "ESEARCH: bad return data");
        rc = esearch_item(p, e, v);
    }
    return rc;
}

static int ns_class(qr_parser *p, const qr_resp_value *v, qr_resp_nslist *out)
{
    qr_resp_ns *items;
    const qr_resp_value *d;
    size_t k;
    int rc;

    if (v != NULL && v->type == QR_VALUE_NIL)
        return 0;
    rc = qr_get_list(p, v, "NAMESPACE");
    if (rc != 0 || v->number == 0)
        return rc;
    items = qr_arena_alloc(p, (size_t)v->number * sizeof(*items));
    if (items == NULL)
        return p->failed;
    for (d = v->child, k = 0; d != NULL; d = d->next, k++) {
        rc = qr_get_list(p, d, "NAMESPACE description");
        if (rc == 0 && d->number < 2)
            rc = qr_parser_fail(p, QR_EPROTO, d->offset, "NAMESPACE: short description");
        if (rc == 0)
            rc = qr_get_astring(p, d->child, &items[k].prefix, "NAMESPACE prefix");
        if (rc == 0)
            rc = get_delim(p, d->child->next, &items[k].delimiter);
        if (rc != 0)
            return rc;
        items[k].extensions = d->child->next->next;
    }
    out->items = items;
    out->count = k;
    return 0;
}

static int handle_namespace(qr_parser *p, qr_resp *r)
{
    qr_resp_namespace *n = &r->u.namespace_;
    const qr_resp_value *v = r->values->next;
    int rc = ns_class(p, v, &n->personal);

    if (rc == 0 && (v == NULL || v->next == NULL || v->next->next == NULL))
        rc = qr_parser_fail(p, QR_EPROTO, p->tok_off, "NAMESPACE needs three classes");
    if (rc == 0)
        rc = ns_class(p, v->next, &n->other);
    if (rc == 0)
        rc = ns_class(p, v->next->next, &n->shared);
    return rc ? rc : no_more(p, v->next->next->next, "NAMESPACE");
}

static int handle_id(qr_parser *p, qr_resp *r)
{
    qr_resp_id *id = &r->u.id;
    const qr_resp_value *l = r->values->next, *v;
    qr_resp_str *keys, *vals;
    size_t k;
    int rc = 0;

    if (l != NULL && l->type == QR_VALUE_NIL)
        return no_more(p, l->next, "ID");
    rc = qr_get_list(p, l, "ID");
    if (rc == 0 && l->number % 2 != 0)
        rc = qr_parser_fail(p, QR_EPROTO, l->offset, "ID: field without a value");
    if (rc != 0 || l->number == 0)
        return rc ? rc : no_more(p, l->next, "ID");
    keys = qr_arena_alloc(p, (size_t)l->number / 2 * sizeof(*keys));
    vals = qr_arena_alloc(p, (size_t)l->number / 2 * sizeof(*vals));
    if (keys == NULL || vals == NULL)
        return p->failed;
    for (v = l->child, k = 0; v != NULL && rc == 0; v = v->next->next, k++) {
        rc = qr_get_astring(p, v, &keys[k], "ID field");
        if (rc == 0)
            rc = qr_get_nstring(p, v->next, &vals[k], "ID value");
    }
    id->keys = keys;
    id->values = vals;
    id->count = k;
    return rc ? rc : no_more(p, l->next, "ID");
}

static int handle_other(qr_parser *p, qr_resp *r)
{
    return 0;
}

int qr_handle_response(qr_parser *p, qr_resp *r)
{
    switch (r->kind) {
    case QR_RESP_GREETING:
    case QR_RESP_TAGGED:
    case QR_RESP_CONTINUE:
    case QR_RESP_COND:
        return handle_text(p, r);
    case QR_RESP_CAPABILITY:
    case QR_RESP_ENABLED:
        return handle_strlist(p, r);
    case QR_RESP_FLAGS:
        return handle_flags(p, r);
    case QR_RESP_LIST:
    case QR_RESP_LSUB:
        return handle_list(p, r);
    case QR_RESP_STATUS:
        return handle_status(p, r);
    case QR_RESP_EXISTS:
    case QR_RESP_RECENT:
    case QR_RESP_EXPUNGE:
        return handle_number(p, r);
    case QR_RESP_VANISHED:
        return handle_vanished(p, r);
    case QR_RESP_FETCH:
        return qr_handle_fetch(p, r);
    case QR_RESP_SEARCH:
        return handle_search(p, r);
    case QR_RESP_ESEARCH:
        return handle_esearch(p, r);
    case QR_RESP_NAMESPACE:
        return handle_namespace(p, r);
    case QR_RESP_ID:
        return handle_id(p, r);
    default:
        return handle_other(p, r);
    }
}

/* ---- names ---------------------------------------------------------- */

const char *qr_resp_kind_name(int kind)
{
    static const char *const names[] = {
        "UNKNOWN",  "GREETING", "TAGGED", "CONTINUE", "COND",      "CAPABILITY", "ENABLED",
        "LIST",     "LSUB",     "STATUS", "FLAGS",    "EXISTS",    "RECENT",     "EXPUNGE",
        "VANISHED", "FETCH",    "SEARCH", "ESEARCH",  "NAMESPACE", "ID",         "OTHER",
    };

    if (kind < 0 || (size_t)kind >= sizeof(names) / sizeof(names[0]))
        return "UNKNOWN";
    return names[kind];
}

const char *qr_resp_cond_name(int cond)
{
    static const char *const names[] = {"", "OK", "NO", "BAD", "BYE", "PREAUTH"};

    if (cond < 0 || (size_t)cond >= sizeof(names) / sizeof(names[0]))
        return "";
    return names[cond];
}
