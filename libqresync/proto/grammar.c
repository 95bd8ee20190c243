/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The grammar of the response parser: tokens in, typed events out.
 *
 * What it is. The lexer (lexer.c) hands every token to qr_gram_token().
 * The grammar builds a generic value tree of the current response (nodes
 * are qr_resp_value, allocated in a per-response arena), keeping one frame
 * per open parenthesis on a stack bounded by max_depth: that is the
 * push-down part. Looking at the top-level elements as they complete, it
 *   - classifies the response (`*`, tag or `+`, then the keyword),
 *   - switches the lexer into text mode after OK/NO/BAD/BYE/PREAUTH and `+`,
 *     and into UID-set mode after VANISHED [(EARLIER)] and ESEARCH ALL,
 *   - inside FETCH, sends the value of every body item (`BODY[...]`,
 *     `BINARY[...]`, `RFC822[.HEADER|.TEXT]`) to the body sink instead of
 *     the tree: literals are streamed, NIL and quoted strings delivered as
 *     begin/data/end; the tree keeps a QR_VALUE_BODY node (name, size),
 *   - collects SEARCH numbers into a flat array rather than nodes.
 * At CRLF the response is complete and one handler per kind (resp.c,
 * fetch.c) fills a typed qr_resp from the tree; on_response receives it,
 * then the arena is reset.
 *
 * Invariants. Between responses the arena holds at most one (empty) block,
 * depth is 0 and no set is in use. A response's memory is bounded by
 * max_response (arena blocks, SEARCH numbers and UID-set ranges each).
 * Event payloads point into the arena and stay valid until on_response
 * returns. Errors are fatal and sticky (qr_parser_fail).
 *
 * Usage. Internal to the parser; the public constructor, destructor and
 * getters of qr_parser live at the end of this file.
 */
#include "config.h"

#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto_p.h"
#include "util/alloc.h"

enum { CLS_NONE, CLS_STAR, CLS_TAG, CLS_PLUS };

#define ARENA_BLOCK 16384

/* ---- errors and callbacks ------------------------------------------- */

int qr_parser_fail(qr_parser *p, int code, uint64_t off, const char *fmt, ...)
{
    char reason[512];
    va_list ap;

    if (p->failed)
        return p->failed;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    p->failed = code;
    p->err_off = off;
    qr_err_set(&p->err, code, "IMAP response parser: byte %llu: %s", (unsigned long long)off,
               reason);
    return code;
}

int qr_parser_cb_result(qr_parser *p, int rc, const char *what)
{
    if (rc == QR_PAUSE)
        return QR_PAUSE;
    if (rc < 0)
        return qr_parser_fail(p, QR_EUSER, p->tok_off, "%s callback failed (%d)", what, rc);
    return 0;
}

/* ---- arena ---------------------------------------------------------- */

void *qr_arena_alloc(qr_parser *p, size_t size)
{
    const size_t align = alignof(max_align_t);
    qr_arena_block *b = p->arena, *nb;
    size_t bs;

    size = (size + align - 1) & ~(align - 1);
    if (b != NULL && b->size - b->used >= size) {
        void *r = (char *)b->data + b->used;
        b->used += size;
        return r;
    }
    bs = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    if (p->arena_total + bs > p->opt.max_response) {
        qr_parser_fail(p, QR_ELIMIT, p->tok_off, "response larger than max_response (%zu bytes)",
                       p->opt.max_response);
        return NULL;
    }
    nb = qr_malloc(sizeof(*nb) + bs);
    if (nb == NULL) {
        qr_parser_fail(p, QR_ENOMEM, p->tok_off, "out of memory");
        return NULL;
    }
    nb->next = b;
    nb->size = bs;
    nb->used = size;
    p->arena = nb;
    p->arena_total += bs;
    return nb->data;
}

char *qr_arena_strdup(qr_parser *p, const char *s, size_t n)
{
    char *d = qr_arena_alloc(p, n + 1);

    if (d == NULL)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Keep only the oldest block, empty. */
static void arena_reset(qr_parser *p)
{
    qr_arena_block *b = p->arena;

    while (b != NULL && b->next != NULL) {
        qr_arena_block *next = b->next;
        p->arena_total -= b->size;
        qr_free(b);
        b = next;
    }
    if (b != NULL)
        b->used = 0;
    p->arena = b;
}

void qr_gram_reset(qr_parser *p)
{
    arena_reset(p);
    memset(&p->root, 0, sizeof(p->root));
    p->root.type = QR_VALUE_LIST;
    p->stack[0].list = &p->root;
    p->stack[0].last = NULL;
    p->depth = 0;
    p->ntop = 0;
    p->kind = 0;
    p->cls = CLS_NONE;
    p->cond = QR_COND_NONE;
    p->fetch_list = NULL;
    if (p->set_used)
        qr_uidset_clear(p->set);
    p->set_used = 0;
    if (p->code_set != NULL)
        qr_uidset_clear(p->code_set);
    if (p->code_src != NULL)
        qr_uidset_clear(p->code_src);
    qr_dynbuf_reset(&p->nums);
    memset(&p->text, 0, sizeof(p->text));
    p->has_text = 0;
    p->body_node = NULL;
}

/* ---- tree ----------------------------------------------------------- */

static qr_resp_value *node_new(qr_parser *p, qr_value_type type, uint64_t off)
{
    qr_resp_value *v = qr_arena_alloc(p, sizeof(*v));

    if (v == NULL)
        return NULL;
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->offset = off;
    return v;
}

static void node_append(qr_parser *p, qr_resp_value *v)
{
    qr_frame *f = &p->stack[p->depth];

    if (f->last != NULL)
        f->last->next = v;
    else
        f->list->child = v;
    f->last = v;
    f->list->number++;
    if (p->depth == 0) {
        if (p->ntop == 0)
            p->resp_off = v->offset;
        p->ntop++;
    }
}

int qr_ascii_ieq(const char *a, size_t alen, const char *b)
{
    size_t i;

    for (i = 0; i < alen; i++) {
        char x = a[i], y = b[i];
        if (y == '\0')
            return 0;
        if (x >= 'a' && x <= 'z')
            x = (char)(x - 'a' + 'A');
        if (x != y)
            return 0;
    }
    return b[alen] == '\0';
}

int qr_value_is_atom(const qr_resp_value *v, const char *upper)
{
    return v != NULL && v->type == QR_VALUE_ATOM && qr_ascii_ieq(v->str.ptr, v->str.len, upper);
}

static int prefix_ieq(const qr_resp_str *s, const char *upper)
{
    size_t n = strlen(upper);

    return s->len >= n && qr_ascii_ieq(s->ptr, n, upper);
}

/* ---- classification ------------------------------------------------- */

static const struct {
    const char *name;
    int kind;
} untagged_kinds[] = {
    {"CAPABILITY", QR_RESP_CAPABILITY},
    {"ENABLED", QR_RESP_ENABLED},
    {"LIST", QR_RESP_LIST},
    {"LSUB", QR_RESP_LSUB},
    {"STATUS", QR_RESP_STATUS},
    {"FLAGS", QR_RESP_FLAGS},
    {"SEARCH", QR_RESP_SEARCH},
    {"ESEARCH", QR_RESP_ESEARCH},
    {"VANISHED", QR_RESP_VANISHED},
    {"NAMESPACE", QR_RESP_NAMESPACE},
    {"ID", QR_RESP_ID},
};

static const char *const cond_names[] = {"", "OK", "NO", "BAD", "BYE", "PREAUTH"};

static int cond_of(const qr_resp_value *v)
{
    int c;

    for (c = QR_COND_OK; c <= QR_COND_PREAUTH; c++)
        if (qr_value_is_atom(v, cond_names[c]))
            return c;
    return QR_COND_NONE;
}

static void start_text(qr_parser *p)
{
    p->lx = QR_LX_TEXT_START;
}

static void start_set(qr_parser *p)
{
    if (!p->set_used)
        p->lx = QR_LX_SET_START;
}

static int top_first(qr_parser *p, const qr_resp_value *v)
{
    if (v->type == QR_VALUE_ATOM && v->str.len == 1 && v->str.ptr[0] == '*') {
        p->cls = CLS_STAR;
    } else if (v->type == QR_VALUE_ATOM && v->str.len == 1 && v->str.ptr[0] == '+') {
        p->cls = CLS_PLUS;
        p->kind = QR_RESP_CONTINUE;
        start_text(p);
    } else if (v->type == QR_VALUE_ATOM || v->type == QR_VALUE_NUMBER) {
        p->cls = CLS_TAG;
    } else {
        return qr_parser_fail(p, QR_EPROTO, v->offset,
                              "a response must start with a tag, \"*\" or \"+\"");
    }
    return 0;
}

static int top_second(qr_parser *p, const qr_resp_value *v)
{
    size_t k;
    int cond = cond_of(v);

    p->cond = cond;
    if (p->cls == CLS_TAG) {
        if (cond < QR_COND_OK || cond > QR_COND_BAD)
            return qr_parser_fail(p, QR_EPROTO, v->offset,
                                  "a tagged response must be OK, NO or BAD");
        p->kind = QR_RESP_TAGGED;
        start_text(p);
        return 0;
    }
    if (cond != QR_COND_NONE) {
        p->kind = (p->nresp == 0 && cond != QR_COND_NO && cond != QR_COND_BAD) ? QR_RESP_GREETING
                                                                               : QR_RESP_COND;
        start_text(p);
        return 0;
    }
    if (v->type == QR_VALUE_NUMBER)
        return 0; /* decided by the third element */
    p->kind = QR_RESP_OTHER;
    for (k = 0; k < sizeof(untagged_kinds) / sizeof(untagged_kinds[0]); k++) {
        if (qr_value_is_atom(v, untagged_kinds[k].name)) {
            p->kind = untagged_kinds[k].kind;
            break;
        }
    }
    if (p->kind == QR_RESP_VANISHED)
        start_set(p);
    return 0;
}

static int top_third(qr_parser *p, const qr_resp_value *v)
{
    const qr_resp_value *num = p->root.child->next;

    if (p->kind == QR_RESP_VANISHED) {
        if (v->type == QR_VALUE_LIST)
            start_set(p);
        return 0;
    }
    if (p->kind != 0)
        return 0;
    if (qr_value_is_atom(v, "EXISTS"))
        p->kind = QR_RESP_EXISTS;
    else if (qr_value_is_atom(v, "RECENT"))
        p->kind = QR_RESP_RECENT;
    else if (qr_value_is_atom(v, "EXPUNGE"))
        p->kind = QR_RESP_EXPUNGE;
    else if (qr_value_is_atom(v, "FETCH"))
        p->kind = QR_RESP_FETCH;
    else
        p->kind = QR_RESP_OTHER;
    if (p->kind != QR_RESP_OTHER &&
        (num->number > UINT32_MAX || (num->flags & QR_VALUE_F_OVERFLOW)))
        return qr_parser_fail(p, QR_EPROTO, num->offset, "number out of range");
    if (p->kind == QR_RESP_FETCH && num->number == 0)
        return qr_parser_fail(p, QR_EPROTO, num->offset, "sequence number 0");
    return 0;
}

/* A top-level element is complete (a list: once closed). */
static int top_element(qr_parser *p, const qr_resp_value *v)
{
    switch (p->ntop) {
    case 1:
        return top_first(p, v);
    case 2:
        return p->cls == CLS_STAR || p->cls == CLS_TAG ? top_second(p, v) : 0;
    case 3:
        return p->cls == CLS_STAR ? top_third(p, v) : 0;
    default:
        if (p->kind == QR_RESP_ESEARCH && qr_value_is_atom(v, "ALL"))
            start_set(p);
        return 0;
    }
}

/* ---- bodies --------------------------------------------------------- */

static int is_body_name(const qr_resp_str *s)
{
    return prefix_ieq(s, "BODY[") || prefix_ieq(s, "BODY.PEEK[") || prefix_ieq(s, "BINARY[") ||
           qr_ascii_ieq(s->ptr, s->len, "RFC822") ||
           qr_ascii_ieq(s->ptr, s->len, "RFC822.HEADER") ||
           qr_ascii_ieq(s->ptr, s->len, "RFC822.TEXT");
}

/* Inside the FETCH list, at a value whose item name is a body section. */
static int at_body_value(const qr_parser *p)
{
    const qr_resp_value *name;

    if (p->depth != 1 || p->fetch_list == NULL || p->stack[1].list != p->fetch_list)
        return 0;
    if (p->fetch_list->number % 2 == 0)
        return 0;
    name = p->stack[1].last;
    return name->type == QR_VALUE_ATOM && is_body_name(&name->str);
}

static uint32_t uid_so_far(const qr_parser *p)
{
    const qr_resp_value *n;

    for (n = p->fetch_list->child; n != NULL && n->next != NULL; n = n->next->next)
        if (qr_value_is_atom(n, "UID") && n->next->type == QR_VALUE_NUMBER &&
            n->next->number <= UINT32_MAX)
            return (uint32_t)n->next->number;
    return 0;
}

/* Create the BODY node for the value of the current body item and fill p->body. */
static int body_prepare(qr_parser *p, uint64_t size, int nil, int binary)
{
    const qr_resp_value *name = p->stack[1].last;
    qr_resp_value *v = node_new(p, QR_VALUE_BODY, p->tok_off);
    const char *open, *close;

    if (v == NULL)
        return p->failed;
    v->str = name->str;
    v->number = size;
    v->flags = (nil ? QR_VALUE_F_NIL : 0) | (binary ? QR_VALUE_F_BINARY : 0);
    node_append(p, v);
    p->body_node = v;
    memset(&p->body, 0, sizeof(p->body));
    p->body.seq = (uint32_t)p->root.child->next->number;
    p->body.uid = uid_so_far(p);
    p->body.item = name->str;
    p->body.section.ptr = "";
    open = memchr(name->str.ptr, '[', name->str.len);
    close = open ? strrchr(open, ']') : NULL; /* str is NUL-terminated */
    if (open != NULL && close != NULL) {
        p->body.section.ptr = open + 1;
        p->body.section.len = (size_t)(close - open - 1);
    }
    p->body.size = size;
    p->body.nil = nil;
    p->body.binary = binary;
    return 0;
}

static int call_begin(qr_parser *p)
{
    int rc = 0;

    if (p->opt.callbacks.on_body_begin != NULL) {
        p->in_callback = 1;
        rc = p->opt.callbacks.on_body_begin(&p->body, p->opt.payload);
        p->in_callback = 0;
    }
    return qr_parser_cb_result(p, rc, "on_body_begin");
}

static int call_data(qr_parser *p, const char *s, size_t n)
{
    int rc = 0;

    if (p->opt.callbacks.on_body_data != NULL && n > 0) {
        p->in_callback = 1;
        rc = p->opt.callbacks.on_body_data(s, n, p->opt.payload);
        p->in_callback = 0;
    }
    return qr_parser_cb_result(p, rc, "on_body_data");
}

static int call_end(qr_parser *p)
{
    int rc = 0;

    if (p->opt.callbacks.on_body_end != NULL) {
        p->in_callback = 1;
        rc = p->opt.callbacks.on_body_end(p->opt.payload);
        p->in_callback = 0;
    }
    return qr_parser_cb_result(p, rc, "on_body_end");
}

int qr_gram_body_run(qr_parser *p)
{
    int rc = 0;

    while (rc == 0 && p->body_step != QR_BODY_IDLE) {
        switch (p->body_step) {
        case QR_BODY_BEGIN:
            p->body_step = p->body.size ? QR_BODY_DATA : QR_BODY_END;
            rc = call_begin(p);
            break;
        case QR_BODY_DATA:
            p->body_step = QR_BODY_END;
            rc = call_data(p, p->tok.ptr, p->tok.len);
            break;
        default:
            p->body_step = QR_BODY_IDLE;
            rc = call_end(p);
            break;
        }
    }
    return rc;
}

/* A NIL or quoted body: deliver it through the sink like a literal. */
static int body_inline(qr_parser *p, int nil, size_t n)
{
    int rc = body_prepare(p, nil ? 0 : n, nil, 0);

    if (rc != 0)
        return rc;
    p->body_step = QR_BODY_BEGIN;
    return qr_gram_body_run(p);
}

int qr_gram_literal_begin(qr_parser *p, uint64_t size)
{
    int rc;

    qr_dynbuf_reset(&p->tok);
    if (at_body_value(p)) {
        p->lit_stream = 1;
        rc = body_prepare(p, size, 0, p->lit_binary);
        return rc != 0 ? rc : call_begin(p);
    }
    p->lit_stream = 0;
    if (size > p->opt.max_small_literal)
        return qr_parser_fail(p, QR_ELIMIT, p->tok_off,
                              "literal of %llu bytes is larger than max_small_literal (%zu)",
                              (unsigned long long)size, p->opt.max_small_literal);
    rc = qr_dynbuf_reserve(&p->tok, (size_t)size);
    if (rc != 0)
        return qr_parser_fail(p, rc, p->tok_off, "out of memory reading a literal");
    return 0;
}

int qr_gram_body_data(qr_parser *p, const char *s, size_t n)
{
    return call_data(p, s, n);
}

/* ---- tokens --------------------------------------------------------- */

static int got_leaf(qr_parser *p, int tok, const char *s, size_t n)
{
    qr_resp_value *v;
    qr_value_type type;

    if (p->depth == 1 && at_body_value(p)) {
        if (tok == QR_TOK_QUOTED)
            return body_inline(p, 0, n);
        if (tok == QR_TOK_ATOM && qr_ascii_ieq(s, n, "NIL"))
            return body_inline(p, 1, 0);
    }
    if (tok == QR_TOK_NUMBER && p->kind == QR_RESP_SEARCH && p->depth == 0) {
        uint32_t u = (uint32_t)p->num;
        if (p->num_overflow || p->num == 0 || p->num > UINT32_MAX)
            return qr_parser_fail(p, QR_EPROTO, p->tok_off, "SEARCH number out of range");
        if (p->nums.len + sizeof(u) > p->nums.max)
            return qr_parser_fail(p, QR_ELIMIT, p->tok_off, "SEARCH result too large");
        if (qr_dynbuf_add(&p->nums, &u, sizeof(u)) != 0)
            return qr_parser_fail(p, QR_ENOMEM, p->tok_off, "out of memory");
        return 0;
    }
    if (tok == QR_TOK_ATOM)
        type = qr_ascii_ieq(s, n, "NIL") ? QR_VALUE_NIL : QR_VALUE_ATOM;
    else if (tok == QR_TOK_NUMBER)
        type = QR_VALUE_NUMBER;
    else
        type = QR_VALUE_STRING;
    v = node_new(p, type, p->tok_off);
    if (v == NULL || (v->str.ptr = qr_arena_strdup(p, s, n)) == NULL)
        return p->failed;
    v->str.len = n;
    if (tok == QR_TOK_NUMBER) {
        v->number = p->num;
        v->flags = p->num_overflow ? QR_VALUE_F_OVERFLOW : 0;
    } else if (tok == QR_TOK_LITERAL) {
        v->flags = QR_VALUE_F_LITERAL | (p->lit_binary ? QR_VALUE_F_BINARY : 0);
    }
    node_append(p, v);
    return p->depth == 0 ? top_element(p, v) : 0;
}

int qr_gram_literal_end(qr_parser *p)
{
    if (p->lit_stream) {
        p->lit_stream = 0;
        return call_end(p);
    }
    return got_leaf(p, QR_TOK_LITERAL, p->tok.ptr ? p->tok.ptr : "", p->tok.len);
}

static int open_list(qr_parser *p)
{
    qr_resp_value *v;

    if (p->depth == 0 && p->ntop == 0)
        return qr_parser_fail(p, QR_EPROTO, p->tok_off,
                              "a response must start with a tag, \"*\" or \"+\"");
    if (p->depth >= p->opt.max_depth)
        return qr_parser_fail(p, QR_EPROTO, p->tok_off, "lists nested deeper than %u",
                              p->opt.max_depth);
    v = node_new(p, QR_VALUE_LIST, p->tok_off);
    if (v == NULL)
        return p->failed;
    if (p->depth == 0 && p->ntop == 3 && p->kind == QR_RESP_FETCH)
        p->fetch_list = v;
    node_append(p, v);
    p->depth++;
    p->stack[p->depth].list = v;
    p->stack[p->depth].last = NULL;
    return 0;
}

static int close_list(qr_parser *p)
{
    const qr_resp_value *v;

    if (p->depth == 0)
        return qr_parser_fail(p, QR_EPROTO, p->tok_off, "unbalanced ')'");
    if (p->stack[p->depth].list == p->fetch_list && p->fetch_list->number % 2 != 0)
        return qr_parser_fail(p, QR_EPROTO, p->tok_off, "FETCH item without a value");
    v = p->stack[p->depth].list;
    p->depth--;
    return p->depth == 0 ? top_element(p, v) : 0;
}

static int got_set(qr_parser *p)
{
    qr_resp_value *v = node_new(p, QR_VALUE_UIDSET, p->tok_off);

    if (v == NULL)
        return p->failed;
    v->set = p->set;
    p->set_used = 1;
    node_append(p, v);
    return top_element(p, v);
}

static int got_text(qr_parser *p, const char *s, size_t n)
{
    p->text.text.ptr = qr_arena_strdup(p, s, n);
    p->text.text.len = n;
    p->has_text = 1;
    return p->text.text.ptr == NULL ? p->failed : 0;
}

static int got_code(qr_parser *p, const char *s, size_t n)
{
    qr_resp_code *c = &p->text.code;

    c->name.ptr = qr_arena_strdup(p, qr_dynbuf_str(&p->code_name), p->code_name.len);
    c->name.len = p->code_name.len;
    c->args.ptr = qr_arena_strdup(p, s, n);
    c->args.len = n;
    if (c->name.ptr == NULL || c->args.ptr == NULL)
        return p->failed;
    return qr_code_parse(p, c, s, n, p->tok_off);
}

typedef int (*handler_fn)(qr_parser *p, qr_resp *r);

static int deliver(qr_parser *p, qr_resp *r)
{
    int rc = 0;

    if (p->opt.callbacks.on_response != NULL) {
        p->in_callback = 1;
        rc = p->opt.callbacks.on_response(r, p->opt.payload);
        p->in_callback = 0;
    }
    p->nresp++;
    qr_gram_reset(p);
    return qr_parser_cb_result(p, rc, "on_response");
}

static int end_response(qr_parser *p)
{
    qr_resp r;
    int rc;

    if (p->depth != 0)
        return qr_parser_fail(p, QR_EPROTO, p->tok_off, "%u unclosed list(s) at end of line",
                              p->depth);
    if (p->ntop == 0)
        return qr_parser_fail(p, QR_EPROTO, p->tok_off, "empty response line");
    memset(&r, 0, sizeof(r));
    r.kind = p->kind ? p->kind : QR_RESP_OTHER;
    r.offset = p->resp_off;
    r.values = p->root.child->next;
    if (p->text.text.ptr == NULL)
        p->text.text.ptr = "";
    r.text = p->text;
    rc = qr_handle_response(p, &r);
    if (rc != 0)
        return rc;
    return deliver(p, &r);
}

int qr_gram_token(qr_parser *p, int tok, const char *s, size_t n)
{
    switch (tok) {
    case QR_TOK_LPAREN:
        return open_list(p);
    case QR_TOK_RPAREN:
        return close_list(p);
    case QR_TOK_CRLF:
        return end_response(p);
    case QR_TOK_TEXT:
        return got_text(p, s, n);
    case QR_TOK_CODE:
        return got_code(p, s, n);
    case QR_TOK_SET:
        return got_set(p);
    default:
        return got_leaf(p, tok, s, n);
    }
}

/* ---- public lifecycle ----------------------------------------------- */

int qr_parser_options_init(qr_parser_options *opts, unsigned int version)
{
    static const qr_parser_options defaults = QR_PARSER_OPTIONS_INIT;

    if (opts == NULL || version != QR_PARSER_OPTIONS_VERSION)
        return QR_EINVAL;
    *opts = defaults;
    return 0;
}

static int options_valid(const qr_parser_options *o)
{
    return o->version == QR_PARSER_OPTIONS_VERSION && o->max_literal <= 2147483646u &&
           o->max_depth >= 1 && o->max_depth <= 1000 && o->max_token >= 1 && o->max_response >= 1 &&
           o->max_small_literal <= 2147483646u && o->max_token <= 2147483646u;
}

int qr_parser_new(qr_parser **out, const qr_parser_options *opts)
{
    static const qr_parser_options defaults = QR_PARSER_OPTIONS_INIT;
    qr_parser *p;
    size_t tokmax;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (!options_valid(opts))
        return QR_EINVAL;
    p = qr_calloc(1, sizeof(*p));
    if (p == NULL)
        return QR_ENOMEM;
    p->opt = *opts;
    qr_errslot_clear(&p->err);
    tokmax = opts->max_token > opts->max_small_literal ? opts->max_token : opts->max_small_literal;
    qr_dynbuf_init(&p->tok, tokmax);
    qr_dynbuf_init(&p->code_name, opts->max_token);
    qr_dynbuf_init(&p->nums, opts->max_response);
    p->stack = qr_calloc((size_t)opts->max_depth + 1, sizeof(*p->stack));
    if (p->stack == NULL || qr_uidset_new(&p->set) != 0 || qr_uidset_new(&p->code_set) != 0 ||
        qr_uidset_new(&p->code_src) != 0) {
        qr_parser_free(p);
        return QR_ENOMEM;
    }
    p->lx = QR_LX_START;
    qr_gram_reset(p);
    *out = p;
    return 0;
}

void qr_parser_free(qr_parser *p)
{
    if (p == NULL)
        return;
    arena_reset(p);
    qr_free(p->arena);
    qr_dynbuf_free(&p->tok);
    qr_dynbuf_free(&p->code_name);
    qr_dynbuf_free(&p->nums);
    qr_uidset_free(p->set);
    qr_uidset_free(p->code_set);
    qr_uidset_free(p->code_src);
    qr_free(p->stack);
    qr_free(p);
}

const qr_error *qr_parser_last_error(const qr_parser *p)
{
    return qr_errslot_get(&p->err);
}

uint64_t qr_parser_error_offset(const qr_parser *p)
{
    return p->failed ? p->err_off : 0;
}

uint64_t qr_parser_offset(const qr_parser *p)
{
    return p->pos;
}
