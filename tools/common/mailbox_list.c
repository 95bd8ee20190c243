/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mailbox_list.c: list-mailbox tokens and list-select-opts.
 *
 * The reference's loop, reproduced step by step:
 *
 *   do {
 *       take an unquoted word [\x21\x23-\x27\x2A-\x5B\x5D-\x7A\x7C-\x7E]+, or
 *       a quoted string "ITEM+" (ITEM: [\x20\x21\x23-\x5B\x5D-\x7E] or an
 *       escape \" \\ \0 \a \b \t \n \v \f \r \xHH), if either is there;
 *   } while (whitespace follows, which is skipped);
 *   anything left is an error.
 *
 * So tokens need whitespace between them, "" is not a token, and an
 * unknown escape, an unterminated quote or a stray byte leave something
 * behind. Escapes are decoded one at a time, left to right ("\01" is NUL
 * then '1'). One deliberate change: \v gives 0x0B (see the header).
 */
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "mailbox_list.h"
#include "xalloc.h"

static int is_word_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x27) || (c >= 0x2A && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7A) || (c >= 0x7C && c <= 0x7E);
}

static int is_quoted_char(unsigned char c)
{
    return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode the escape after a backslash at p; returns its length (after '\') or 0. */
static size_t escape(const char *p, char *byte)
{
    static const char from[] = "\"\\0abtnvfr";
    static const char to[] = "\"\\\0\a\b\t\n\v\f\r";
    const char *f = *p ? strchr(from, *p) : NULL;

    if (f != NULL) {
        *byte = to[f - from];
        return 1;
    }
    if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
        *byte = (char)(hexval(p[1]) * 16 + hexval(p[2]));
        return 3;
    }
    return 0;
}

/* A quoted token at p; returns its length (0 if none) and the decoded bytes. */
static size_t quoted(const char *p, struct qrt_pattern *pat)
{
    const char *q = p + 1;
    size_t n = 0;

    if (*p != '"')
        return 0;
    pat->data = qrt_xmalloc(strlen(p) + 1);
    for (;;) {
        size_t e;

        if (is_quoted_char((unsigned char)*q)) {
            pat->data[n++] = *q++;
        } else if (*q == '\\' && (e = escape(q + 1, &pat->data[n])) > 0) {
            n++;
            q += 1 + e;
        } else {
            break;
        }
    }
    if (*q != '"' || n == 0) {
        free(pat->data);
        pat->data = NULL;
        return 0;
    }
    pat->data[n] = '\0';
    pat->len = n;
    return (size_t)(q + 1 - p);
}

static void push(struct qrt_pattern_list *l, struct qrt_pattern pat)
{
    l->items = qrt_xreallocarray(l->items, l->n + 1, sizeof(*l->items));
    l->items[l->n++] = pat;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int qrt_list_mailbox_parse(const char *value, struct qrt_pattern_list *out, struct qrt_err *err)
{
    const char *p = value;
    int more;

    memset(out, 0, sizeof(*out));
    do {
        struct qrt_pattern pat = {NULL, 0};
        size_t n = 0, w = 0;

        while (is_word_char((unsigned char)p[w]))
            w++;
        if (w > 0) {
            pat.data = qrt_xstrndup(p, w);
            pat.len = w;
            n = w;
        } else {
            n = quoted(p, &pat);
        }
        if (n > 0)
            push(out, pat);
        p += n;
        more = is_space(*p);
        while (is_space(*p))
            p++;
    } while (more);
    if (*p != '\0' || out->n == 0) {
        qrt_pattern_list_free(out);
        return qrt_err_set(err, QRT_EXIT_FATAL, "Invalid value for list-mailbox: %s", value);
    }
    return 0;
}

void qrt_pattern_list_free(struct qrt_pattern_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].data);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

char *qrt_list_select_opts(const char *value)
{
    char *s;

    if (value == NULL || *value == '\0')
        return NULL;
    s = qrt_xstrdup(value);
    for (char *p = s; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return s;
}
