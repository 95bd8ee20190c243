/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-cli.c: the tools' command lines (tools/common/cli.c, args_*.c):
 * table tests with the exact messages and outcomes, the reference's
 * behaviour where we keep it and our fixes where we differ.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "args.h"
#include "exitcodes.h"

#define MAXARGS 16

/* Build a NULL-terminated argv from a "|"-separated list (program first). */
static int make_argv(const char *spec, char *buf, size_t bufsize, char *argv[MAXARGS])
{
    int argc = 0;

    snprintf(buf, bufsize, "%s", spec);
    argv[argc++] = buf;
    for (char *p = buf; *p; p++) {
        if (*p == '|') {
            *p = '\0';
            argv[argc++] = p + 1;
        }
    }
    argv[argc] = NULL;
    return argc;
}

/* Errors joined with '\n', outcome letter: R run, H help, V version, U usage, F fatal. */
static void interimap(const char *spec, char *out, size_t outsize)
{
    static const char letters[] = "RHVUF";
    char buf[512], *argv[MAXARGS + 1];
    int argc = make_argv(spec, buf, sizeof(buf), argv);
    struct qrt_interimap_args a;
    size_t o;

    qrt_interimap_args_parse(&a, argc, argv);
    o = (size_t)snprintf(out, outsize, "%c", letters[a.what]);
    for (size_t i = 0; i < a.cli.n_errors && o < outsize; i++)
        o += (size_t)snprintf(out + o, outsize - o, "|%s", a.cli.errors[i]);
    if (a.what == QRT_ARGS_FATAL && o < outsize)
        snprintf(out + o, outsize - o, "|%s|%d", a.err.msg, a.err.status);
    qrt_interimap_args_free(&a);
}

static void check_interimap(const char *spec, const char *expected)
{
    char got[1024];

    interimap(spec, got, sizeof(got));
    CHECK_STR_EQ(got, expected);
}

static void test_reference_messages(void)
{
    check_interimap("interimap|--conf=x", "U|Unknown option: conf");
    check_interimap("interimap|--Quiet", "U|Unknown option: Quiet");
    check_interimap("interimap|--quiet=1", "U|Option quiet does not take an argument");
    check_interimap("interimap|--quiet=", "U|Option quiet does not take an argument");
    check_interimap("interimap|--config", "U|Option config requires an argument");
    check_interimap("interimap|--target", "U|Option target requires an argument");
    check_interimap("interimap|--watch=abc",
                    "U|Value \"abc\" invalid for option watch (number expected)");
    check_interimap("interimap|--watch=0x10",
                    "U|Value \"0x10\" invalid for option watch (number expected)");
    check_interimap("interimap|--watch= 5",
                    "U|Value \" 5\" invalid for option watch (number expected)");
    check_interimap("interimap|-qx", "U|Unknown option: x");
    check_interimap("interimap|-h5", "U|Unknown option: 5");
    check_interimap("interimap|-q=fo", "U|Unknown option: =|Unknown option: f|Unknown option: o");
    check_interimap("interimap|---foo", "U|Unknown option: -foo");
    check_interimap("interimap|--=x", "U|Unknown option: =x");
    check_interimap("interimap|--bogus=3", "U|Unknown option: bogus");
    check_interimap("interimap|--no-quiet", "U|Unknown option: no-quiet");
    check_interimap("interimap|--debug=1", "U|Option debug does not take an argument");
    check_interimap("interimap|--help=x", "U|Option help does not take an argument");
    check_interimap("interimap|--version=1", "U|Option version does not take an argument");
    check_interimap("interimap|--bogus|--alsobogus",
                    "U|Unknown option: bogus|Unknown option: alsobogus");
}

static void test_help_version(void)
{
    check_interimap("interimap|-qh", "H");
    check_interimap("interimap|--help", "H");
    check_interimap("interimap|-h|--bogus", "U|Unknown option: bogus");
    check_interimap("interimap|--version|--bogus", "V");
    check_interimap("interimap|--bogus|--version", "V|Unknown option: bogus");
    check_interimap("interimap|--help|--version", "V");
    check_interimap("interimap|--delete|--repair|--version", "V");
    check_interimap("interimap|--help|--delete|--rename", "H");
}

static void test_validation_order(void)
{
    check_interimap("interimap|--delete|--repair|a", "U");
    check_interimap("interimap|--delete", "U");
    check_interimap("interimap|--rename|a", "U");
    check_interimap("interimap|--rename|a|b|c", "U");
    check_interimap("interimap|--rename|a|b", "R");
    check_interimap("interimap|--repair", "R");
    check_interimap("interimap|--repair|--watch", "U");
    check_interimap("interimap|--delete|a|--notify", "U");
    check_interimap("interimap|--target=local", "U");
    check_interimap("interimap|--repair|--target=local", "U");
    check_interimap("interimap|--delete|--target=", "U");
    check_interimap("interimap|--delete|x|--target=", "R");
    check_interimap("interimap|", "F|Invalid mailbox name |255");
    check_interimap("interimap|caf\xc3\xa9", "F|Invalid mailbox name caf\xc3\xa9|255");
    /* usage errors come before the mailbox check */
    check_interimap("interimap|--delete|--repair|", "U");
}

static void test_values(void)
{
    char buf[256], *argv[MAXARGS + 1];
    struct qrt_interimap_args a;
    int argc;

    argc = make_argv("interimap|--config|--quiet|-q|--debug|--debug|inbox|Foo|--|--x|InBoX", buf,
                     sizeof(buf), argv);
    qrt_interimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.what, QRT_ARGS_RUN);
    CHECK_STR_EQ(a.config, "--quiet");
    CHECK_INT_EQ(a.quiet, 1);
    CHECK_INT_EQ(a.debug, 2);
    CHECK_INT_EQ(a.watch, 0);
    CHECK_UINT_EQ(a.n_mailboxes, 4);
    CHECK_STR_EQ(a.mailboxes[0], "INBOX");
    CHECK_STR_EQ(a.mailboxes[1], "Foo");
    CHECK_STR_EQ(a.mailboxes[2], "--x");
    CHECK_STR_EQ(a.mailboxes[3], "INBOX");
    qrt_interimap_args_free(&a);

    argc = make_argv("interimap|--config=|--watch", buf, sizeof(buf), argv);
    qrt_interimap_args_parse(&a, argc, argv);
    CHECK_STR_EQ(a.config, "");
    CHECK_INT_EQ(a.watch, 1);
    CHECK_INT_EQ(a.interval, 60);
    qrt_interimap_args_free(&a);

    argc = make_argv("interimap|--watch=|--notify", buf, sizeof(buf), argv);
    qrt_interimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.interval, 900);
    qrt_interimap_args_free(&a);

    argc = make_argv("interimap|--notify", buf, sizeof(buf), argv);
    qrt_interimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.watch, 1);
    CHECK_INT_EQ(a.interval, 900);
    qrt_interimap_args_free(&a);

    argc = make_argv("interimap|--watch=1_000|--watch=+30", buf, sizeof(buf), argv);
    qrt_interimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.interval, 30);
    qrt_interimap_args_free(&a);

    argc = make_argv("interimap|--watch=030|-|x", buf, sizeof(buf), argv);
    qrt_interimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.interval, 30);
    CHECK_UINT_EQ(a.n_mailboxes, 2);
    CHECK_STR_EQ(a.mailboxes[0], "-");
    qrt_interimap_args_free(&a);
}

/* Deliberate differences from the reference (docs/compatibility.md). */
static void test_fixed_quirks(void)
{
    char buf[256], *argv[MAXARGS + 1];
    struct qrt_interimap_args a;
    int argc;

    /* options after a mailbox are options; "--" still ends them */
    argc = make_argv("interimap|INBOX|--quiet|--|--notify", buf, sizeof(buf), argv);
    qrt_interimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.what, QRT_ARGS_RUN);
    CHECK_INT_EQ(a.quiet, 1);
    CHECK_UINT_EQ(a.n_mailboxes, 2);
    CHECK_STR_EQ(a.mailboxes[1], "--notify");
    qrt_interimap_args_free(&a);
    check_interimap("interimap|--delete|x|--notify", "U");
    check_interimap("interimap|INBOX|--version", "V");
    /* --watch N is an error, --watch=N the way to give N */
    check_interimap("interimap|--watch|30",
                    "U|Option watch takes its value after \"=\": write --watch=30 "
                    "(an argument \"30\" must come after --)");
    check_interimap("interimap|--watch|-5",
                    "U|Option watch takes its value after \"=\": write --watch=-5 "
                    "(an argument \"-5\" must come after --)");
    check_interimap("interimap|--watch|--|30", "R");
    check_interimap("interimap|--watch|x", "R");
    check_interimap("interimap|--watch=-3",
                    "U|Value \"-3\" invalid for option watch (non-negative number expected)");
    check_interimap("interimap|--watch=99999999999999999999",
                    "U|Value \"99999999999999999999\" invalid for option watch (number too large)");
}

static int targets(const char *spec, unsigned *bits, char *msg, size_t msgsize)
{
    char buf[256], *argv[MAXARGS + 1];
    struct qrt_interimap_args a;
    struct qrt_err err = QRT_ERR_INIT;
    int argc = make_argv(spec, buf, sizeof(buf), argv), rc;

    qrt_interimap_args_parse(&a, argc, argv);
    rc = qrt_interimap_targets(&a, bits, &err);
    snprintf(msg, msgsize, "%s", err.msg ? err.msg : "");
    if (rc < 0)
        CHECK_INT_EQ(err.status, QRT_EXIT_FATAL);
    qrt_err_clear(&err);
    qrt_interimap_args_free(&a);
    return rc;
}

static void test_targets(void)
{
    unsigned bits = 0;
    char msg[256];

    CHECK_INT_EQ(targets("interimap|--delete|x", &bits, msg, sizeof(msg)), 0);
    CHECK_UINT_EQ(bits, QRT_TARGET_ALL);
    CHECK_INT_EQ(targets("interimap|--target=local|--target|database,local|--delete|x", &bits, msg,
                         sizeof(msg)),
                 0);
    CHECK_UINT_EQ(bits, QRT_TARGET_LOCAL | QRT_TARGET_DATABASE);
    CHECK_INT_EQ(targets("interimap|--target=remote,bogus|--delete|x", &bits, msg, sizeof(msg)),
                 -1);
    CHECK_STR_EQ(msg, "Invalid target bogus");
    CHECK_INT_EQ(targets("interimap|--target=Local|--delete|x", &bits, msg, sizeof(msg)), -1);
    CHECK_STR_EQ(msg, "Invalid target Local");
    CHECK_INT_EQ(targets("interimap|--target=|--delete|x", &bits, msg, sizeof(msg)), -1);
    CHECK_STR_EQ(msg, "Invalid target \"\" (empty; expected local, remote or database)");
    CHECK_INT_EQ(targets("interimap|--target=local,|--delete|x", &bits, msg, sizeof(msg)), -1);
    CHECK_INT_EQ(targets("interimap|--target=,local|--delete|x", &bits, msg, sizeof(msg)), -1);
}

static void check_pullimap(const char *spec, const char *expected, const char *section)
{
    static const char letters[] = "RHVUF";
    char buf[512], got[512], *argv[MAXARGS + 1];
    int argc = make_argv(spec, buf, sizeof(buf), argv);
    struct qrt_pullimap_args a;
    size_t o;

    qrt_pullimap_args_parse(&a, argc, argv);
    o = (size_t)snprintf(got, sizeof(got), "%c", letters[a.what]);
    for (size_t i = 0; i < a.cli.n_errors && o < sizeof(got); i++)
        o += (size_t)snprintf(got + o, sizeof(got) - o, "|%s", a.cli.errors[i]);
    CHECK_STR_EQ(got, expected);
    CHECK_STR_EQ(a.section, section);
    qrt_pullimap_args_free(&a);
}

static void test_pullimap(void)
{
    char buf[256], *argv[MAXARGS + 1];
    struct qrt_pullimap_args a;
    int argc;

    check_pullimap("pullimap|acct|--no-delivery", "R", "acct");
    check_pullimap("pullimap|--idle|acct", "R", "acct");
    check_pullimap("pullimap", "U", NULL);
    check_pullimap("pullimap|a|b", "U", NULL);
    check_pullimap("pullimap|_", "U", NULL);
    check_pullimap("pullimap|--|-q", "R", "-q");
    check_pullimap("pullimap|-qh|a", "H", NULL);
    check_pullimap("pullimap|--no-delivery=1|a", "U|Option no-delivery does not take an argument",
                   NULL);
    check_pullimap("pullimap|--idle=x|a", "U|Value \"x\" invalid for option idle (number expected)",
                   NULL);
    check_pullimap("pullimap|--idle|5|a",
                   "U|Option idle takes its value after \"=\": write --idle=5 "
                   "(an argument \"5\" must come after --)",
                   NULL);
    check_pullimap("pullimap|--watch|a", "U|Unknown option: watch", NULL);
    check_pullimap("pullimap|a|--version", "V", NULL);

    argc = make_argv("pullimap|--idle|a|--debug|--debug|-q|--config=c", buf, sizeof(buf), argv);
    qrt_pullimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.idle, 1);
    CHECK_INT_EQ(a.idle_timeout, 1740);
    CHECK_INT_EQ(a.debug, 2);
    CHECK_INT_EQ(a.quiet, 1);
    CHECK_STR_EQ(a.config, "c");
    qrt_pullimap_args_free(&a);
    argc = make_argv("pullimap|--idle=300|a", buf, sizeof(buf), argv);
    qrt_pullimap_args_parse(&a, argc, argv);
    CHECK_INT_EQ(a.idle_timeout, 300);
    qrt_pullimap_args_free(&a);
}

static void test_texts(void)
{
    char *v = qrt_version_text("/usr/bin/interimap", "1.2.3");
    static const char head[] = "/usr/bin/interimap version 1.2.3\n(libqresync ";

    CHECK(strncmp(v, head, strlen(head)) == 0);
    CHECK(v[strlen(v) - 1] == '\n');
    free(v);
    CHECK_STR_EQ(qrt_usage_short(QRT_TOOL_INTERIMAP),
                 "Usage: interimap [OPTIONS] [COMMAND] [MAILBOX [..]]\n"
                 "Try 'interimap --help' or consult the manpage for more information.\n");
    CHECK_STR_EQ(qrt_usage_long(QRT_TOOL_PULLIMAP), "Usage: pullimap [OPTIONS] SECTION\n"
                                                    "Consult the manpage for more information.\n");
}

int main(void)
{
    TAP_RUN(test_reference_messages);
    TAP_RUN(test_help_version);
    TAP_RUN(test_validation_order);
    TAP_RUN(test_values);
    TAP_RUN(test_fixed_quirks);
    TAP_RUN(test_targets);
    TAP_RUN(test_pullimap);
    TAP_RUN(test_texts);
    return tap_done();
}
