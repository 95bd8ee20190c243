/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * logprefix.c: the log-prefix mini-language, exactly as the reference's
 * _logger_prefix computes it:
 *
 *   1. until nothing changes, replace every conditional %?X?THEN&ELSE?
 *      (leftmost first, non-overlapping, outer before nested) by THEN if
 *      %X is non-empty, else by ELSE (or nothing); X is an ASCII letter,
 *      only n and m have values. THEN and ELSE are runs of: a byte other
 *      than % & ? \, '%' followed by any byte but '?', \& \? \\, or a
 *      nested conditional;
 *   2. replace \& \? \\ by & ? \ (left to right);
 *   3. replace %% %n %m by % NAME MAILBOX (left to right; other %X stay).
 *
 * Steps 1-2 depend on the values only through "is %n empty" and "is %m
 * empty", so qrt_logprefix_new() runs them once for each of the four
 * cases and rendering is step 3 alone. Step 1 is a real rewriting loop,
 * not a parse of the original text: a replacement can form a new
 * conditional with its neighbours, and we reproduce that.
 *
 * The grammar of THEN/ELSE has a single parse (greedy runs cannot end on
 * '&' or '?'), so a recursive descent without backtracking finds exactly
 * the matches Perl's regex finds.
 */
#include <stdlib.h>
#include <string.h>

#include "logprefix.h"
#include "xalloc.h"

/** A prepared format: steps 1-2 done for each emptiness of (%n, %m). */
struct qrt_logprefix {
    char *variant[4]; /* index (n non-empty) | (m non-empty) << 1; owned */
};

/* A match of one conditional in s. */
struct cond {
    size_t end;            /* one past the closing '?' */
    char letter;           /* X */
    size_t then_b, then_e; /* THEN span */
    int has_else;          /* "&ELSE" present */
    size_t else_b, else_e; /* ELSE span */
};

static int match_cond(const char *s, size_t len, size_t i, struct cond *c);

/* A THEN/ELSE run from i; returns its end. */
static size_t match_body(const char *s, size_t len, size_t i)
{
    struct cond sub;

    while (i < len) {
        char ch = s[i];

        if (ch != '%' && ch != '&' && ch != '?' && ch != '\\')
            i++;
        else if (ch == '%' && i + 1 < len && s[i + 1] != '?')
            i += 2;
        else if (ch == '\\' && i + 1 < len && strchr("&?\\", s[i + 1]) && s[i + 1] != '\0')
            i += 2;
        else if (ch == '%' && match_cond(s, len, i, &sub))
            i = sub.end;
        else
            break;
    }
    return i;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int match_cond(const char *s, size_t len, size_t i, struct cond *c)
{
    size_t j;

    if (i + 4 > len || s[i] != '%' || s[i + 1] != '?' || !is_alpha(s[i + 2]) || s[i + 3] != '?')
        return 0;
    c->letter = s[i + 2];
    c->then_b = i + 4;
    c->then_e = j = match_body(s, len, c->then_b);
    c->has_else = 0;
    if (j < len && s[j] == '&') {
        size_t e = match_body(s, len, j + 1);

        if (e < len && s[e] == '?') {
            c->has_else = 1;
            c->else_b = j + 1;
            c->else_e = e;
            c->end = e + 1;
            return 1;
        }
    }
    if (j < len && s[j] == '?') {
        c->end = j + 1;
        return 1;
    }
    return 0;
}

/* One pass of step 1; returns 1 if something was replaced. */
static int rewrite_pass(char **sp, int n_set, int m_set)
{
    const char *s = *sp;
    size_t len = strlen(s), i = 0, o = 0;
    char *out = qrt_xmalloc(len + 1);
    int changed = 0;
    struct cond c;

    while (i < len) {
        if (s[i] == '%' && match_cond(s, len, i, &c)) {
            int set = (c.letter == 'n' && n_set) || (c.letter == 'm' && m_set);

            if (set) {
                memcpy(out + o, s + c.then_b, c.then_e - c.then_b);
                o += c.then_e - c.then_b;
            } else if (c.has_else) {
                memcpy(out + o, s + c.else_b, c.else_e - c.else_b);
                o += c.else_e - c.else_b;
            }
            i = c.end;
            changed = 1;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = '\0';
    free(*sp);
    *sp = out;
    return changed;
}

static char *prepare(const char *format, int n_set, int m_set)
{
    char *s = qrt_xstrdup(format);
    size_t o = 0;

    while (rewrite_pass(&s, n_set, m_set)) {
    }
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] == '\\' && s[i + 1] != '\0' && strchr("&?\\", s[i + 1]))
            i++;
        s[o++] = s[i];
    }
    s[o] = '\0';
    return s;
}

struct qrt_logprefix *qrt_logprefix_new(const char *format)
{
    struct qrt_logprefix *lp = qrt_xcalloc(1, sizeof(*lp));

    for (int v = 0; v < 4; v++)
        lp->variant[v] = prepare(format, v & 1, (v >> 1) & 1);
    return lp;
}

char *qrt_logprefix_render(const struct qrt_logprefix *lp, const char *name, const char *mailbox)
{
    const char *n = name ? name : "", *m = mailbox ? mailbox : "";
    const char *f = lp->variant[(*n != '\0') | (*m != '\0') << 1];
    size_t cap = strlen(f) + 1, o = 0;
    char *out;

    for (const char *p = f; *p; p++)
        if (*p == '%')
            cap += strlen(n) + strlen(m);
    out = qrt_xmalloc(cap);
    for (const char *p = f; *p; p++) {
        const char *v = NULL;

        if (p[0] == '%' && p[1] == '%')
            v = "%";
        else if (p[0] == '%' && p[1] == 'n')
            v = n;
        else if (p[0] == '%' && p[1] == 'm')
            v = m;
        if (v == NULL) {
            out[o++] = *p;
            continue;
        }
        memcpy(out + o, v, strlen(v));
        o += strlen(v);
        p++;
    }
    out[o] = '\0';
    return out;
}

void qrt_logprefix_free(struct qrt_logprefix *lp)
{
    if (lp == NULL)
        return;
    for (int v = 0; v < 4; v++)
        free(lp->variant[v]);
    free(lp);
}
