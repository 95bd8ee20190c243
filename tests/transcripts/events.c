/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events.c: render parser events as the stable one-line-per-event log of
 * tests/transcripts/README.md. Used by the transcript runner, the parser
 * fuzzer and the benchmark; memory comes from plain malloc so that the
 * library's allocation-failure hook never touches it.
 */
#include "events.h"

#include <qresync/error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_SHOWN 256

static void grow(ev_log *l, size_t n)
{
    if (l->len + n + 1 <= l->cap)
        return;
    while (l->len + n + 1 > l->cap)
        l->cap = l->cap ? l->cap * 2 : 1024;
    l->buf = realloc(l->buf, l->cap);
    if (l->buf == NULL)
        abort();
}

static void put(ev_log *l, const char *s, size_t n)
{
    grow(l, n);
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}

static void puts_(ev_log *l, const char *s)
{
    put(l, s, strlen(s));
}

#ifdef __GNUC__
static void vprintf_(ev_log *l, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
#endif
static void vprintf_(ev_log *l, const char *fmt, va_list ap)
{
    char tmp[256];
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        abort();
    if ((size_t)n < sizeof(tmp)) {
        put(l, tmp, (size_t)n);
        return;
    }
    grow(l, (size_t)n);
    vsnprintf(l->buf + l->len, (size_t)n + 1, fmt, ap);
    l->len += (size_t)n;
}

static void pf(ev_log *l, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void pf(ev_log *l, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf_(l, fmt, ap);
    va_end(ap);
}

void ev_log_printf(ev_log *l, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf_(l, fmt, ap);
    va_end(ap);
    put(l, "\n", 1);
}

void ev_log_init(ev_log *l)
{
    memset(l, 0, sizeof(*l));
}

void ev_log_free(ev_log *l)
{
    free(l->buf);
    free(l->body);
    memset(l, 0, sizeof(*l));
}

void ev_log_reset(ev_log *l)
{
    int pause = l->pause;

    ev_log_free(l);
    l->pause = pause;
}

/* ---- values --------------------------------------------------------- */

static void bytes(ev_log *l, const char *s, size_t n)
{
    size_t i;

    put(l, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            pf(l, "\\%c", c);
        else if (c == '\r')
            puts_(l, "\\r");
        else if (c == '\n')
            puts_(l, "\\n");
        else if (c == '\t')
            puts_(l, "\\t");
        else if (c < 0x20 || c >= 0x7f)
            pf(l, "\\x%02x", c);
        else
            put(l, (const char *)&c, 1);
    }
    put(l, "\"", 1);
}

static void str(ev_log *l, qr_resp_str s)
{
    if (s.ptr == NULL)
        puts_(l, "NIL");
    else
        bytes(l, s.ptr, s.len);
}

static void strlist(ev_log *l, qr_resp_strlist s)
{
    size_t i;

    put(l, "(", 1);
    for (i = 0; i < s.count; i++) {
        if (i)
            put(l, " ", 1);
        str(l, s.items[i]);
    }
    put(l, ")", 1);
}

static void set(ev_log *l, const qr_uidset *s)
{
    size_t n = 0, i;
    const qr_range *r = qr_uidset_ranges(s, &n);

    for (i = 0; i < n; i++) {
        if (i)
            put(l, ",", 1);
        if (r[i].lo == r[i].hi)
            pf(l, "%u", (unsigned)r[i].lo);
        else
            pf(l, "%u:%u", (unsigned)r[i].lo, (unsigned)r[i].hi);
    }
    if (n == 0)
        puts_(l, "<empty>");
}

static void values(ev_log *l, const qr_resp_value *v);

static void value(ev_log *l, const qr_resp_value *v)
{
    switch (v->type) {
    case QR_VALUE_ATOM:
    case QR_VALUE_NIL:
        put(l, v->str.ptr, v->str.len);
        break;
    case QR_VALUE_NUMBER:
        put(l, v->str.ptr, v->str.len);
        if (v->flags & QR_VALUE_F_OVERFLOW)
            put(l, "!", 1);
        break;
    case QR_VALUE_STRING:
        if (v->flags & QR_VALUE_F_LITERAL)
            pf(l, "%s{%zu}", (v->flags & QR_VALUE_F_BINARY) ? "~" : "", v->str.len);
        str(l, v->str);
        break;
    case QR_VALUE_LIST:
        put(l, "(", 1);
        values(l, v->child);
        put(l, ")", 1);
        break;
    case QR_VALUE_UIDSET:
        puts_(l, "set:");
        set(l, v->set);
        break;
    case QR_VALUE_BODY:
        if (v->flags & QR_VALUE_F_NIL)
            puts_(l, "<body NIL>");
        else
            pf(l, "<body %llu>", (unsigned long long)v->number);
        break;
    default:
        puts_(l, "<?>");
        break;
    }
}

static void values(ev_log *l, const qr_resp_value *v)
{
    for (; v != NULL; v = v->next) {
        value(l, v);
        if (v->next)
            put(l, " ", 1);
    }
}

static void opt_values(ev_log *l, const char *name, const qr_resp_value *v)
{
    pf(l, " %s=(", name);
    values(l, v);
    put(l, ")", 1);
}

/* ---- response kinds ------------------------------------------------- */

static void code(ev_log *l, const qr_resp_code *c)
{
    if (c->kind == QR_CODE_NONE)
        return;
    if (c->kind == QR_CODE_OTHER) {
        puts_(l, " code=OTHER(");
        str(l, c->name);
        put(l, " ", 1);
        str(l, c->args);
        put(l, ")", 1);
        return;
    }
    pf(l, " code=%s", qr_resp_code_name(c->kind));
    switch (c->kind) {
    case QR_CODE_UIDNEXT:
    case QR_CODE_UIDVALIDITY:
    case QR_CODE_UNSEEN:
    case QR_CODE_HIGHESTMODSEQ:
        pf(l, "(%llu)", (unsigned long long)c->number);
        break;
    case QR_CODE_MODIFIED:
        put(l, "(", 1);
        set(l, c->set);
        put(l, ")", 1);
        break;
    case QR_CODE_APPENDUID:
        pf(l, "(%llu ", (unsigned long long)c->number);
        set(l, c->set);
        put(l, ")", 1);
        break;
    case QR_CODE_COPYUID:
        pf(l, "(%llu ", (unsigned long long)c->number);
        set(l, c->src_set);
        put(l, " ", 1);
        set(l, c->set);
        put(l, ")", 1);
        break;
    case QR_CODE_CAPABILITY:
    case QR_CODE_PERMANENTFLAGS:
    case QR_CODE_BADCHARSET:
        strlist(l, c->list);
        break;
    default:
        if (c->args.len) {
            put(l, "(", 1);
            str(l, c->args);
            put(l, ")", 1);
        }
        break;
    }
}

static void text(ev_log *l, const qr_resp *r)
{
    code(l, &r->text.code);
    puts_(l, " text=");
    str(l, r->text.text);
}

static void delim(ev_log *l, int d)
{
    char c = (char)d;

    if (d < 0)
        puts_(l, "NIL");
    else
        bytes(l, &c, 1);
}

static void list(ev_log *l, const qr_resp_list *x)
{
    puts_(l, " flags=");
    strlist(l, x->flags);
    puts_(l, " delim=");
    delim(l, x->delimiter);
    puts_(l, " mailbox=");
    str(l, x->mailbox);
    if (x->childinfo.count) {
        puts_(l, " childinfo=");
        strlist(l, x->childinfo);
    }
    if (x->oldname.ptr) {
        puts_(l, " oldname=");
        str(l, x->oldname);
    }
    if (x->extended)
        opt_values(l, "ext", x->extended);
}

static void status(ev_log *l, const qr_resp_status *s)
{
    puts_(l, " mailbox=");
    str(l, s->mailbox);
    if (s->present & QR_STATUS_MESSAGES)
        pf(l, " messages=%u", (unsigned)s->messages);
    if (s->present & QR_STATUS_UIDNEXT)
        pf(l, " uidnext=%u", (unsigned)s->uidnext);
    if (s->present & QR_STATUS_UIDVALIDITY)
        pf(l, " uidvalidity=%u", (unsigned)s->uidvalidity);
    if (s->present & QR_STATUS_UNSEEN)
        pf(l, " unseen=%u", (unsigned)s->unseen);
    if (s->present & QR_STATUS_RECENT)
        pf(l, " recent=%u", (unsigned)s->recent);
    if (s->present & QR_STATUS_HIGHESTMODSEQ)
        pf(l, " highestmodseq=%llu", (unsigned long long)s->highestmodseq);
    if (s->present & QR_STATUS_SIZE)
        pf(l, " size=%llu", (unsigned long long)s->size);
    opt_values(l, "items", s->items);
}

static void addrs(ev_log *l, const char *name, qr_resp_addrlist a)
{
    size_t i;

    pf(l, " %s=", name);
    if (a.count == 0) {
        puts_(l, "NIL");
        return;
    }
    put(l, "(", 1);
    for (i = 0; i < a.count; i++) {
        put(l, "(", 1);
        str(l, a.items[i].name);
        put(l, " ", 1);
        str(l, a.items[i].adl);
        put(l, " ", 1);
        str(l, a.items[i].mailbox);
        put(l, " ", 1);
        str(l, a.items[i].host);
        put(l, ")", 1);
    }
    put(l, ")", 1);
}

static void envelope(ev_log *l, const qr_resp_envelope *e)
{
    puts_(l, " envelope=(date=");
    str(l, e->date);
    puts_(l, " subject=");
    str(l, e->subject);
    addrs(l, "from", e->from);
    addrs(l, "sender", e->sender);
    addrs(l, "reply-to", e->reply_to);
    addrs(l, "to", e->to);
    addrs(l, "cc", e->cc);
    addrs(l, "bcc", e->bcc);
    puts_(l, " in-reply-to=");
    str(l, e->in_reply_to);
    puts_(l, " message-id=");
    str(l, e->message_id);
    put(l, ")", 1);
}

static void fetch(ev_log *l, const qr_resp_fetch *f)
{
    size_t i;

    pf(l, " seq=%u", (unsigned)f->seq);
    if (f->present & QR_FETCH_UID)
        pf(l, " uid=%u", (unsigned)f->uid);
    if (f->present & QR_FETCH_FLAGS) {
        puts_(l, " flags=");
        strlist(l, f->flags);
    }
    if (f->present & QR_FETCH_MODSEQ)
        pf(l, " modseq=%llu", (unsigned long long)f->modseq);
    if (f->present & QR_FETCH_INTERNALDATE) {
        puts_(l, " internaldate=");
        str(l, f->internaldate);
        pf(l, " time=%lld tz=%d", (long long)f->internaldate_time, f->internaldate_tz);
    }
    if (f->present & QR_FETCH_RFC822_SIZE)
        pf(l, " rfc822.size=%llu", (unsigned long long)f->rfc822_size);
    if (f->present & QR_FETCH_ENVELOPE)
        envelope(l, f->envelope);
    for (i = 0; i < f->nbodies; i++) {
        puts_(l, " body=(");
        str(l, f->bodies[i].item);
        puts_(l, " section=");
        str(l, f->bodies[i].section);
        pf(l, " size=%llu%s)", (unsigned long long)f->bodies[i].size,
           f->bodies[i].nil ? " NIL" : "");
    }
    opt_values(l, "items", f->items);
}

static void esearch(ev_log *l, const qr_resp_esearch *e)
{
    if (e->tag.ptr) {
        puts_(l, " tag=");
        str(l, e->tag);
    }
    if (e->uid)
        puts_(l, " uid");
    if (e->present & QR_ESEARCH_MIN)
        pf(l, " min=%u", (unsigned)e->min);
    if (e->present & QR_ESEARCH_MAX)
        pf(l, " max=%u", (unsigned)e->max);
    if (e->present & QR_ESEARCH_COUNT)
        pf(l, " count=%u", (unsigned)e->count);
    if (e->present & QR_ESEARCH_ALL) {
        puts_(l, " all=");
        set(l, e->all);
    }
    if (e->present & QR_ESEARCH_MODSEQ)
        pf(l, " modseq=%llu", (unsigned long long)e->modseq);
    opt_values(l, "items", e->items);
}

static void nslist(ev_log *l, const char *name, qr_resp_nslist n)
{
    size_t i;

    pf(l, " %s=", name);
    if (n.count == 0) {
        puts_(l, "NIL");
        return;
    }
    put(l, "(", 1);
    for (i = 0; i < n.count; i++) {
        put(l, "(", 1);
        str(l, n.items[i].prefix);
        put(l, " ", 1);
        delim(l, n.items[i].delimiter);
        if (n.items[i].extensions) {
            put(l, " ", 1);
            values(l, n.items[i].extensions);
        }
        put(l, ")", 1);
    }
    put(l, ")", 1);
}

static void search(ev_log *l, const qr_resp_search *s)
{
    size_t i;

    put(l, " (", 2);
    for (i = 0; i < s->count; i++)
        pf(l, i ? " %u" : "%u", (unsigned)s->numbers[i]);
    put(l, ")", 1);
    if (s->has_modseq)
        pf(l, " modseq=%llu", (unsigned long long)s->modseq);
}

static void id(ev_log *l, const qr_resp_id *x)
{
    size_t i;

    if (x->count == 0) {
        puts_(l, " NIL");
        return;
    }
    for (i = 0; i < x->count; i++) {
        put(l, " ", 1);
        str(l, x->keys[i]);
        put(l, "=", 1);
        str(l, x->values[i]);
    }
}

static void payload(ev_log *l, const qr_resp *r)
{
    switch (r->kind) {
    case QR_RESP_GREETING:
    case QR_RESP_COND:
        pf(l, " %s", qr_resp_cond_name(r->cond));
        text(l, r);
        break;
    case QR_RESP_TAGGED:
        puts_(l, " tag=");
        str(l, r->tag);
        pf(l, " %s", qr_resp_cond_name(r->cond));
        text(l, r);
        break;
    case QR_RESP_CONTINUE:
        text(l, r);
        break;
    case QR_RESP_CAPABILITY:
    case QR_RESP_ENABLED:
    case QR_RESP_FLAGS:
        put(l, " ", 1);
        strlist(l, r->u.strlist);
        break;
    case QR_RESP_LIST:
    case QR_RESP_LSUB:
        list(l, &r->u.list);
        break;
    case QR_RESP_STATUS:
        status(l, &r->u.status);
        break;
    case QR_RESP_EXISTS:
    case QR_RESP_RECENT:
    case QR_RESP_EXPUNGE:
        pf(l, " %u", (unsigned)r->u.number);
        break;
    case QR_RESP_VANISHED:
        pf(l, "%s set=", r->u.vanished.earlier ? " earlier" : "");
        set(l, r->u.vanished.set);
        break;
    case QR_RESP_FETCH:
        fetch(l, &r->u.fetch);
        break;
    case QR_RESP_SEARCH:
        search(l, &r->u.search);
        break;
    case QR_RESP_ESEARCH:
        esearch(l, &r->u.esearch);
        break;
    case QR_RESP_NAMESPACE:
        nslist(l, "personal", r->u.namespace_.personal);
        nslist(l, "other", r->u.namespace_.other);
        nslist(l, "shared", r->u.namespace_.shared);
        break;
    case QR_RESP_ID:
        id(l, &r->u.id);
        break;
    default:
        opt_values(l, "values", r->values);
        break;
    }
}

/* ---- callbacks ------------------------------------------------------ */

static int on_response(const qr_resp *r, void *arg)
{
    ev_log *l = arg;

    if (l->in_body)
        l->bad = 1;
    l->events++;
    pf(l, "@%llu %s", (unsigned long long)r->offset, qr_resp_kind_name(r->kind));
    payload(l, r);
    put(l, "\n", 1);
    l->last_was_response = 1;
    return l->pause ? QR_PAUSE : 0;
}

static int on_body_begin(const qr_body_info *b, void *arg)
{
    ev_log *l = arg;

    if (l->in_body)
        l->bad = 1;
    l->events++;
    l->in_body = 1;
    l->body_len = 0;
    l->body_total = 0;
    l->body_size = b->size;
    l->body_hash = 1469598103934665603ull;
    if (l->body == NULL && (l->body = malloc(BODY_SHOWN)) == NULL)
        abort();
    pf(l, "BODY-BEGIN seq=%u uid=%u item=", (unsigned)b->seq, (unsigned)b->uid);
    str(l, b->item);
    puts_(l, " section=");
    str(l, b->section);
    pf(l, " size=%llu%s%s\n", (unsigned long long)b->size, b->nil ? " NIL" : "",
       b->binary ? " binary" : "");
    l->last_was_response = 0;
    return l->pause ? QR_PAUSE : 0;
}

static int on_body_data(const char *data, size_t len, void *arg)
{
    ev_log *l = arg;
    size_t i;

    if (!l->in_body || len == 0)
        l->bad = 1;
    l->events++;
    for (i = 0; i < len; i++) {
        l->body_hash = (l->body_hash ^ (unsigned char)data[i]) * 1099511628211ull;
        if (l->body_len < BODY_SHOWN)
            l->body[l->body_len++] = data[i];
    }
    l->body_total += len;
    if (l->body_total > l->body_size)
        l->bad = 1;
    l->last_was_response = 0;
    return l->pause ? QR_PAUSE : 0;
}

static int on_body_end(void *arg)
{
    ev_log *l = arg;

    if (!l->in_body || l->body_total != l->body_size)
        l->bad = 1;
    l->events++;
    l->in_body = 0;
    if (l->body_total > 0) {
        pf(l, "BODY-DATA len=%llu ", (unsigned long long)l->body_total);
        bytes(l, l->body, l->body_len);
        if (l->body_total > l->body_len)
            pf(l, "... fnv=%016llx", (unsigned long long)l->body_hash);
        put(l, "\n", 1);
    }
    puts_(l, "BODY-END\n");
    l->last_was_response = 0;
    return l->pause ? QR_PAUSE : 0;
}

void ev_log_attach(ev_log *l, qr_parser_options *opts)
{
    opts->callbacks.on_response = on_response;
    opts->callbacks.on_body_begin = on_body_begin;
    opts->callbacks.on_body_data = on_body_data;
    opts->callbacks.on_body_end = on_body_end;
    opts->payload = l;
}

const char *ev_code_name(int rc)
{
    static const char *const names[] = {
        "OK",    "ERROR",       "ENOMEM",    "EINVAL",       "EAGAIN", "EOF",     "EIO",
        "ETLS",  "ECOMPRESS",   "EPROTO",    "ELIMIT",       "ENO",    "EBAD",    "EBYE",
        "EAUTH", "ECAPABILITY", "ECANCELED", "EUIDVALIDITY", "ESTORE", "ELOCKED", "EUSER",
    };

    if (rc == QR_PAUSE)
        return "PAUSE";
    if (rc > 0 || (size_t)-rc >= sizeof(names) / sizeof(names[0]))
        return "?";
    return names[-rc];
}

void ev_log_error(ev_log *l, const qr_parser *p, int rc)
{
    const qr_error *e = qr_parser_last_error(p);
    const char *msg = e->message, *reason = strstr(msg, ": byte ");

    if (reason != NULL && (reason = strchr(reason + 7, ':')) != NULL)
        msg = reason + 2;
    ev_log_printf(l, "ERROR %s @%llu %s", ev_code_name(rc),
                  (unsigned long long)qr_parser_error_offset(p), msg);
}
