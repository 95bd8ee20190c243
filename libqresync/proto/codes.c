/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Response codes: the `[CODE args]` at the start of a resp-text.
 *
 * What it is. The lexer reads a code in text mode as its name (an atom)
 * and the raw bytes up to `]` (at most max_token). qr_code_parse() looks
 * the name up in a table and parses the arguments of the codes we know:
 * numbers (UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ), UID sets
 * (MODIFIED, APPENDUID, COPYUID, parsed into sets owned by the parser and
 * cleared with the response), and space-separated lists (CAPABILITY,
 * PERMANENTFLAGS, BADCHARSET). Unknown codes are QR_CODE_OTHER with name
 * and raw args kept (RFC 3501 tells clients to ignore them). A known code
 * with malformed arguments is a protocol error.
 *
 * Invariants. Everything lands in the response arena or the parser's
 * code sets; nothing outlives the response.
 */
#include "config.h"

#include <string.h>

#include "proto/proto_p.h"

static const struct {
    const char *name;
    qr_code_kind kind;
} code_names[] = {
    {"ALERT", QR_CODE_ALERT},
    {"BADCHARSET", QR_CODE_BADCHARSET},
    {"CAPABILITY", QR_CODE_CAPABILITY},
    {"PARSE", QR_CODE_PARSE},
    {"PERMANENTFLAGS", QR_CODE_PERMANENTFLAGS},
    {"READ-ONLY", QR_CODE_READ_ONLY},
    {"READ-WRITE", QR_CODE_READ_WRITE},
    {"TRYCREATE", QR_CODE_TRYCREATE},
    {"UIDNEXT", QR_CODE_UIDNEXT},
    {"UIDVALIDITY", QR_CODE_UIDVALIDITY},
    {"UNSEEN", QR_CODE_UNSEEN},
    {"HIGHESTMODSEQ", QR_CODE_HIGHESTMODSEQ},
    {"NOMODSEQ", QR_CODE_NOMODSEQ},
    {"MODIFIED", QR_CODE_MODIFIED},
    {"CLOSED", QR_CODE_CLOSED},
    {"APPENDUID", QR_CODE_APPENDUID},
    {"COPYUID", QR_CODE_COPYUID},
    {"UIDNOTSTICKY", QR_CODE_UIDNOTSTICKY},
    {"NOTIFICATIONOVERFLOW", QR_CODE_NOTIFICATIONOVERFLOW},
    {"BADEVENT", QR_CODE_BADEVENT},
};

const char *qr_resp_code_name(int kind)
{
    size_t k;

    if (kind == QR_CODE_NONE)
        return "";
    for (k = 0; k < sizeof(code_names) / sizeof(code_names[0]); k++)
        if ((int)code_names[k].kind == kind)
            return code_names[k].name;
    return "OTHER";
}

/* A cursor over the raw arguments. */
typedef struct args {
    const char *s;   /* next byte */
    const char *end; /* one past the last */
} args;

/* Next space-separated word; 0 when none is left. */
static int next_word(args *a, const char **w, size_t *n)
{
    const char *e;

    while (a->s < a->end && *a->s == ' ')
        a->s++;
    if (a->s == a->end)
        return 0;
    for (e = a->s; e < a->end && *e != ' '; e++)
        ;
    *w = a->s;
    *n = (size_t)(e - a->s);
    a->s = e;
    return 1;
}

static int bad(qr_parser *p, const qr_resp_code *c, uint64_t off)
{
    return qr_parser_fail(p, QR_EPROTO, off, "bad arguments of response code %s", c->name.ptr);
}

static int arg_number(qr_parser *p, const qr_resp_code *c, args *a, uint64_t max, uint64_t *out,
                      uint64_t off)
{
    const char *w;
    size_t n, k;
    uint64_t v = 0;

    if (!next_word(a, &w, &n) || n > 20)
        return bad(p, c, off);
    for (k = 0; k < n; k++) {
        unsigned d = (unsigned)(unsigned char)w[k] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return bad(p, c, off);
        v = v * 10 + d;
    }
    if (v > max)
        return bad(p, c, off);
    *out = v;
    return 0;
}

static int arg_set(qr_parser *p, const qr_resp_code *c, args *a, qr_uidset *set, uint64_t off)
{
    const char *w;
    size_t n;
    int rc;

    if (!next_word(a, &w, &n))
        return bad(p, c, off);
    rc = qr_uidset_parse(set, w, n);
    if (rc == QR_ENOMEM)
        return qr_parser_fail(p, rc, off, "out of memory");
    return rc ? bad(p, c, off) : 0;
}

/* Words of the arguments, without one pair of parentheses around them. */
static int arg_list(qr_parser *p, qr_resp_code *c, args *a, int parens, uint64_t off)
{
    const char *w;
    size_t n, k = 0;
    args scan;
    qr_resp_str *items;

    if (parens) {
        while (a->s < a->end && *a->s == ' ')
            a->s++;
        if (a->s == a->end || *a->s != '(' || a->end[-1] != ')')
            return bad(p, c, off);
        a->s++;
        a->end--;
    }
    scan = *a;
    while (next_word(&scan, &w, &n))
        k++;
    if (k == 0)
        return 0;
    items = qr_arena_alloc(p, k * sizeof(*items));
    if (items == NULL)
        return p->failed;
    for (k = 0; next_word(a, &w, &n); k++) {
        items[k].ptr = qr_arena_strdup(p, w, n);
        items[k].len = n;
        if (items[k].ptr == NULL)
            return p->failed;
    }
    c->list.items = items;
    c->list.count = k;
    return 0;
}

static int parse_args(qr_parser *p, qr_resp_code *c, args *a, uint64_t off)
{
    int rc = 0;

    switch (c->kind) {
    case QR_CODE_UIDNEXT:
    case QR_CODE_UIDVALIDITY:
    case QR_CODE_UNSEEN:
        return arg_number(p, c, a, UINT32_MAX, &c->number, off);
    case QR_CODE_HIGHESTMODSEQ:
        return arg_number(p, c, a, UINT64_MAX, &c->number, off);
    case QR_CODE_MODIFIED:
        c->set = p->code_set;
        return arg_set(p, c, a, p->code_set, off);
    case QR_CODE_APPENDUID:
        c->set = p->code_set;
        rc = arg_number(p, c, a, UINT32_MAX, &c->number, off);
        return rc ? rc : arg_set(p, c, a, p->code_set, off);
    case QR_CODE_COPYUID:
        c->set = p->code_set;
        c->src_set = p->code_src;
        rc = arg_number(p, c, a, UINT32_MAX, &c->number, off);
        if (rc == 0)
            rc = arg_set(p, c, a, p->code_src, off);
        return rc ? rc : arg_set(p, c, a, p->code_set, off);
    case QR_CODE_CAPABILITY:
        return arg_list(p, c, a, 0, off);
    case QR_CODE_PERMANENTFLAGS:
        return arg_list(p, c, a, 1, off);
    case QR_CODE_BADCHARSET:
        return a->s == a->end ? 0 : arg_list(p, c, a, 1, off);
    default:
        return 0;
    }
}

int qr_code_parse(qr_parser *p, qr_resp_code *code, const char *s, size_t n, uint64_t off)
{
    const char *w;
    size_t k, wn;
    args a;
    int rc;

    code->kind = QR_CODE_OTHER;
    for (k = 0; k < sizeof(code_names) / sizeof(code_names[0]); k++) {
        if (qr_ascii_ieq(code->name.ptr, code->name.len, code_names[k].name)) {
            code->kind = code_names[k].kind;
            break;
        }
    }
    a.s = s;
    a.end = s + n;
    rc = parse_args(p, code, &a, off);
    if (rc != 0)
        return rc;
    /* Codes with number or set arguments take nothing more (the others
     * keep whatever follows in `args`). */
    switch (code->kind) {
    case QR_CODE_UIDNEXT:
    case QR_CODE_UIDVALIDITY:
    case QR_CODE_UNSEEN:
    case QR_CODE_HIGHESTMODSEQ:
    case QR_CODE_MODIFIED:
    case QR_CODE_APPENDUID:
    case QR_CODE_COPYUID:
        return next_word(&a, &w, &wn) ? bad(p, code, off) : 0;
    default:
        return 0;
    }
}
