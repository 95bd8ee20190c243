/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-mailbox.c: list-mailbox, list-select-opts, ignore-mailbox and the
 * log-prefix mini-language (tools/common/mailbox_list.c, ignore.c,
 * logprefix.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "exitcodes.h"
#include "ignore.h"
#include "logprefix.h"
#include "mailbox_list.h"

/* Patterns joined with '|', NUL shown as "\0" and VT as "\v". */
static void list(const char *value, char *out, size_t size)
{
    struct qrt_pattern_list l;
    struct qrt_err err = QRT_ERR_INIT;
    size_t o = 0;

    if (qrt_list_mailbox_parse(value, &l, &err) < 0) {
        snprintf(out, size, "ERR %s (%d)", err.msg, err.status);
        qrt_err_clear(&err);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (i > 0 && o + 1 < size)
            out[o++] = '|';
        for (size_t j = 0; j < l.items[i].len && o + 3 < size; j++) {
            char c = l.items[i].data[j];

            if (c == '\0' || c == '\v') {
                out[o++] = '\\';
                out[o++] = c ? 'v' : '0';
            } else {
                out[o++] = c;
            }
        }
    }
    out[o] = '\0';
    qrt_pattern_list_free(&l);
}

static void check_list(const char *value, const char *expected)
{
    char got[512];

    list(value, got, sizeof(got));
    CHECK_STR_EQ(got, expected);
}

static void test_list_mailbox(void)
{
    check_list("*", "*");
    check_list("INBOX \"a b\" \"virtual\\0*\"", "INBOX|a b|virtual\\0*");
    check_list("foo%  \t bar", "foo%|bar");
    check_list("\"foo\\x00bar\"", "foo\\0bar");
    check_list("\"a\\01\"", "a\\01");
    check_list("\"\\\"q\\\\\" \"(x){y}\"", "\"q\\|(x){y}");
    check_list("\"\\a\\b\\t\\n\\f\\r\\x41\\x7e\"", "\a\b\t\n\f\rA~");
    check_list("\"\\v\"", "\\v"); /* fixed: vertical tab, not "v" */
    check_list("a]b", "a]b");
    check_list("foo\"bar\"", "ERR Invalid value for list-mailbox: foo\"bar\" (255)");
    check_list("\"a\"\"b\"", "ERR Invalid value for list-mailbox: \"a\"\"b\" (255)");
    check_list("\"\"", "ERR Invalid value for list-mailbox: \"\" (255)");
    check_list("a \"\"", "ERR Invalid value for list-mailbox: a \"\" (255)");
    check_list("\"abc", "ERR Invalid value for list-mailbox: \"abc (255)");
    check_list("\"\\q\"", "ERR Invalid value for list-mailbox: \"\\q\" (255)");
    check_list("\"\\x4\"", "ERR Invalid value for list-mailbox: \"\\x4\" (255)");
    check_list("a(b", "ERR Invalid value for list-mailbox: a(b (255)");
    check_list("a{1}", "ERR Invalid value for list-mailbox: a{1} (255)");
    check_list("a\\b", "ERR Invalid value for list-mailbox: a\\b (255)");
}

static void test_select_opts(void)
{
    char *s = qrt_list_select_opts("subscribed  recursivematch");

    CHECK_STR_EQ(s, "SUBSCRIBED  RECURSIVEMATCH");
    free(s);
    CHECK(qrt_list_select_opts("") == NULL);
    CHECK(qrt_list_select_opts(NULL) == NULL);
}

static int ignored(struct qrt_ignore *ig, const char *name, size_t len)
{
    struct qrt_err err = QRT_ERR_INIT;
    int rc = qrt_ignore_match(ig, name, len, &err);

    qrt_err_clear(&err);
    return rc;
}

static void test_ignore(void)
{
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_ignore *ig = NULL;

    CHECK_INT_EQ(qrt_ignore_compile("^virtual(?:\\x00|$)", &ig, &err), 0);
    if (ig != NULL) {
        CHECK_INT_EQ(ignored(ig, "virtual", 7), 1);
        CHECK_INT_EQ(ignored(ig, "virtual\0all", 11), 1);
        CHECK_INT_EQ(ignored(ig, "virtualx", 8), 0);
        CHECK_INT_EQ(ignored(ig, "INBOX\0virtual", 13), 0);
        CHECK_INT_EQ(ignored(ig, "virtual\n", 8), 1); /* Perl's $ before a final newline */
        qrt_ignore_free(ig);
    }
    ig = NULL;
    CHECK_INT_EQ(qrt_ignore_compile("Trash", &ig, &err), 0);
    if (ig != NULL) {
        CHECK_INT_EQ(ignored(ig, "a\0Trash\0b", 9), 1);
        CHECK_INT_EQ(ignored(ig, "trash", 5), 0);
        qrt_ignore_free(ig);
    }
    ig = NULL;
    CHECK_INT_EQ(qrt_ignore_compile("a(b", &ig, &err), -1);
    CHECK(ig == NULL);
    CHECK_STR_EQ(err.msg, "Invalid ignore-mailbox a(b: missing closing parenthesis at offset 3");
    CHECK_INT_EQ(err.status, QRT_EXIT_FATAL);
    qrt_err_clear(&err);
}

static void check_prefix(const char *format, const char *n, const char *m, const char *expected)
{
    struct qrt_logprefix *lp = qrt_logprefix_new(format);
    char *got = qrt_logprefix_render(lp, n, m);

    CHECK_STR_EQ(got, expected);
    free(got);
    qrt_logprefix_free(lp);
}

/* The examples of interimap.md §4.2, each checked against the reference's Perl code. */
static void test_logprefix(void)
{
    const char *d = QRT_LOGPREFIX_DEFAULT;

    check_prefix(d, NULL, NULL, "");
    check_prefix(d, "local", NULL, "local: ");
    check_prefix(d, "local", "", "local: ");
    check_prefix(d, "local", "INBOX", "local(INBOX): ");
    check_prefix(d, NULL, "INBOX", "");
    check_prefix("%?m?<%m>&-? ", "local", NULL, "- ");
    check_prefix("%%n=%n \\& \\? \\\\ \\x %x", "local", NULL, "%n=local & ? \\ \\x %x");
    check_prefix("%?x?yes&no?", "local", "m", "no");
    check_prefix("%?n?a\\&b\\?c&d?", "local", NULL, "a&b?c");
    check_prefix("%?n?a\\&b\\?c&d?", NULL, NULL, "d");
    check_prefix("%?n?%?m?in %m&no mbx? from %n&anon?", "local", "INBOX", "in INBOX from local");
    check_prefix("%?n?%?m?in %m&no mbx? from %n&anon?", "local", NULL, "no mbx from local");
    check_prefix("%?n?%?m?in %m&no mbx? from %n&anon?", NULL, NULL, "anon");
    check_prefix("%n%", "local", NULL, "local%");
    check_prefix("%?n?unterminated", "local", NULL, "%?n?unterminated");
    /* "%&" is one THEN item; "%%" does not protect a following conditional */
    check_prefix("%?n?x%&y?", "local", NULL, "x%&y");
    check_prefix("%%?n?x?", "local", NULL, "%x");
    /* a backslash that is no escape breaks the conditional */
    check_prefix("%?n?a\\xb?", "local", NULL, "%?n?a\\xb?");
    /* a nested conditional at the very end leaves the outer one open */
    check_prefix("%?n?%&%?m?n?", "local", NULL, "%?n?%&");
    check_prefix("%?n?%&%?m?n?", "local", "x", "%?n?%&n");
    check_prefix("%?n?%?m?x?", NULL, "y", "%?n?x");
    check_prefix("%?%?n?n??", "local", NULL, "%?n?");
    /* a replacement can form a new conditional with its neighbours */
    check_prefix("%?%?n?m&n??x?", "local", NULL, "");
    check_prefix("%?%?n?m&n??x?", "local", "M", "x");
    check_prefix("%?%?n?m&n??x?", NULL, "M", "");
    /* values are not re-scanned */
    check_prefix("[%m]", "a", "%n\\&", "[%n\\&]");
}

int main(void)
{
    TAP_RUN(test_list_mailbox);
    TAP_RUN(test_select_opts);
    TAP_RUN(test_ignore);
    TAP_RUN(test_logprefix);
    return tap_done();
}
