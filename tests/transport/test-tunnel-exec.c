/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Table test of Perl's single-string exec rule (transport/tunnel_exec.c):
 * each command string maps to "shell with this text" or "execvp these
 * words", plus the trailing-2>&1 flag; empty commands are QR_EINVAL.
 */
#include "config.h"

#include <qresync/error.h>

#include "../tap.h"
#include "transport/transport_p.h"
#include "util/alloc.h"

#define SHELL 1
#define WORDS 0
#define NONE  -1

struct exec_case {
    const char *input;    /* the configured command */
    int kind;             /* SHELL, WORDS, or NONE (QR_EINVAL) */
    const char *cmd;      /* expected plan.cmd (shell text / ENOEXEC fallback) */
    int dup;              /* expected dup_stderr */
    const char *argv[10]; /* expected words for WORDS, NULL-terminated */
};

static const struct exec_case cases[] = {
    /* the spec's examples */
    {"doveadm exec imap", WORDS, "doveadm exec imap", 0, {"doveadm", "exec", "imap", NULL}},
    {"exec ~/.local/bin/dovecot-imap", SHELL, "exec ~/.local/bin/dovecot-imap", 0, {NULL}},
    {"/usr/bin/ssh user@host",
     WORDS,
     "/usr/bin/ssh user@host",
     0,
     {"/usr/bin/ssh", "user@host", NULL}},
    {"FOO=1 prog", SHELL, "FOO=1 prog", 0, {NULL}},
    /* leading whitespace is skipped, also before the shell text */
    {" \t\n cat", WORDS, "cat", 0, {"cat", NULL}},
    {"  FOO=1 prog", SHELL, "FOO=1 prog", 0, {NULL}},
    /* "." and "exec" followed by whitespace */
    {". ./env.sh", SHELL, ". ./env.sh", 0, {NULL}},
    {".\tenv", SHELL, ".\tenv", 0, {NULL}},
    {".hidden arg", WORDS, ".hidden arg", 0, {".hidden", "arg", NULL}},
    {"exec\tprog", SHELL, "exec\tprog", 0, {NULL}},
    {"execprog x", WORDS, "execprog x", 0, {"execprog", "x", NULL}},
    {"exec", WORDS, "exec", 0, {"exec", NULL}},
    /* VAR= prefix: a possibly empty run of word characters, then '=' */
    {"FOO_1=x prog", SHELL, "FOO_1=x prog", 0, {NULL}},
    {"=foo", SHELL, "=foo", 0, {NULL}},
    {"a-b=c", WORDS, "a-b=c", 0, {"a-b=c", NULL}},
    {"prog arg=1", WORDS, "prog arg=1", 0, {"prog", "arg=1", NULL}},
    {"ssh -o ProxyCommand=none host",
     WORDS,
     "ssh -o ProxyCommand=none host",
     0,
     {"ssh", "-o", "ProxyCommand=none", "host", NULL}},
    {"\xc3\xa9=1 prog", WORDS, "\xc3\xa9=1 prog", 0, {"\xc3\xa9=1", "prog", NULL}},
    /* every metacharacter */
    {"echo $HOME", SHELL, "echo $HOME", 0, {NULL}},
    {"a&b", SHELL, "a&b", 0, {NULL}},
    {"a*b", SHELL, "a*b", 0, {NULL}},
    {"a(b", SHELL, "a(b", 0, {NULL}},
    {"a)b", SHELL, "a)b", 0, {NULL}},
    {"a{b", SHELL, "a{b", 0, {NULL}},
    {"a}b", SHELL, "a}b", 0, {NULL}},
    {"a[b", SHELL, "a[b", 0, {NULL}},
    {"a]b", SHELL, "a]b", 0, {NULL}},
    {"a'b", SHELL, "a'b", 0, {NULL}},
    {"a\"b", SHELL, "a\"b", 0, {NULL}},
    {"a;b", SHELL, "a;b", 0, {NULL}},
    {"a\\b", SHELL, "a\\b", 0, {NULL}},
    {"a|b", SHELL, "a|b", 0, {NULL}},
    {"a?b", SHELL, "a?b", 0, {NULL}},
    {"a<b", SHELL, "a<b", 0, {NULL}},
    {"a>b", SHELL, "a>b", 0, {NULL}},
    {"a~b", SHELL, "a~b", 0, {NULL}},
    {"a`b`", SHELL, "a`b`", 0, {NULL}},
    /* not metacharacters */
    {"a#b c%d e@f g+h i,j k:l m!n o^p",
     WORDS,
     "a#b c%d e@f g+h i,j k:l m!n o^p",
     0,
     {"a#b", "c%d", "e@f", "g+h", "i,j", "k:l", "m!n", "o^p", NULL}},
    /* newlines: one at the very end is dropped, any other means the shell */
    {"cat\n", WORDS, "cat", 0, {"cat", NULL}},
    {"cat\n\n", SHELL, "cat\n\n", 0, {NULL}},
    {"cat\nls", SHELL, "cat\nls", 0, {NULL}},
    {"a;b\n", SHELL, "a;b\n", 0, {NULL}},
    /* the trailing 2>&1 */
    {"prog 2>&1", WORDS, "prog", 1, {"prog", NULL}},
    {"prog arg\t2>&1  ", WORDS, "prog arg", 1, {"prog", "arg", NULL}},
    {"prog 2>&1\n", WORDS, "prog", 1, {"prog", NULL}},
    {"prog 2>&1\n\n", WORDS, "prog", 1, {"prog", NULL}},
    {"prog 2>&1 x", SHELL, "prog 2>&1 x", 0, {NULL}},
    {"prog 2>&1;", SHELL, "prog 2>&1;", 0, {NULL}},
    {"prog2>&1", SHELL, "prog2>&1", 0, {NULL}},
    {"prog 12>&1", SHELL, "prog 12>&1", 0, {NULL}},
    {"prog 2>&2", SHELL, "prog 2>&2", 0, {NULL}},
    {"2>&1", SHELL, "2>&1", 0, {NULL}},
    {"prog 2>&1 | cat", SHELL, "prog 2>&1 | cat", 0, {NULL}},
    {"a;b 2>&1", SHELL, "a;b 2>&1", 0, {NULL}},
    {"prog $X 2>&1", SHELL, "prog $X 2>&1", 0, {NULL}},
    {"FOO=1 prog 2>&1", SHELL, "FOO=1 prog 2>&1", 0, {NULL}},
    /* word splitting on every whitespace character */
    {"a  b\t\tc\v d\fe\rf ",
     WORDS,
     "a  b\t\tc\v d\fe\rf ",
     0,
     {"a", "b", "c", "d", "e", "f", NULL}},
    /* nothing to run */
    {"", NONE, NULL, 0, {NULL}},
    {"  \t\n", NONE, NULL, 0, {NULL}},
};

static void check_case(const struct exec_case *c)
{
    qr_exec_plan p;
    int rc = qr_exec_plan_parse(&p, c->input);
    size_t i;

    if (c->kind == NONE) {
        CHECK_INT_EQ(rc, QR_EINVAL);
        CHECK(p.cmd == NULL && p.argv == NULL);
        return;
    }
    CHECK_INT_EQ(rc, 0);
    if (rc != 0)
        return;
    CHECK_INT_EQ(p.use_shell, c->kind == SHELL);
    CHECK_INT_EQ(p.dup_stderr, c->dup);
    CHECK_STR_EQ(p.cmd, c->cmd);
    if (c->kind == SHELL) {
        CHECK(p.argv == NULL);
    } else if (p.argv) {
        for (i = 0; i < 9 && c->argv[i]; i++)
            CHECK_STR_EQ(p.argv[i], c->argv[i]);
        CHECK(p.argv[i] == NULL);
    } else {
        CHECK(p.argv != NULL);
    }
    qr_exec_plan_free(&p);
}

/* One TAP line per table row, named after its input. */
static void run_table(void)
{
    size_t i, j;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[80];
        size_t k = 0;

        for (j = 0; cases[i].input[j] && k < sizeof(name) - 5; j++) {
            unsigned char ch = (unsigned char)cases[i].input[j];

            if (ch >= 0x20 && ch < 0x7f && ch != '#')
                name[k++] = (char)ch;
            else
                k += (size_t)snprintf(name + k, sizeof(name) - k, "\\x%02x", ch);
        }
        name[k] = '\0';
        tap_current_bad = 0;
        check_case(&cases[i]);
        tap_count++;
        if (tap_current_bad)
            tap_failures++;
        printf("%sok %d - exec rule \"%s\"\n", tap_current_bad ? "not " : "", tap_count, name);
    }
}

static void test_free_is_idempotent(void)
{
    qr_exec_plan p;

    CHECK_INT_EQ(qr_exec_plan_parse(&p, "cat"), 0);
    qr_exec_plan_free(&p);
    qr_exec_plan_free(&p);
    qr_exec_plan_free(NULL);
    CHECK(p.cmd == NULL);
}

static void test_allocation_failures(void)
{
    static const char *inputs[] = {"doveadm exec imap", "FOO=1 x", "prog 2>&1"};
    unsigned long n, points;
    qr_exec_plan p;
    size_t i;

    for (i = 0; i < 3; i++) {
        qr_alloc_fail_at(0, 0);
        CHECK_INT_EQ(qr_exec_plan_parse(&p, inputs[i]), 0);
        points = qr_alloc_count();
        qr_exec_plan_free(&p);
        CHECK(points >= 1);
        for (n = 1; n <= points; n++) {
            qr_alloc_fail_at(n, 0);
            CHECK_INT_EQ(qr_exec_plan_parse(&p, inputs[i]), QR_ENOMEM);
            CHECK(p.cmd == NULL && p.argv == NULL && p.words == NULL);
        }
        qr_alloc_fail_at(0, 0);
    }
}

int main(void)
{
    run_table();
    TAP_RUN(test_free_is_idempotent);
    TAP_RUN(test_allocation_failures);
    return tap_done();
}
