/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Perl's single-string exec rule, as a pure function.
 *
 * The reference runs the tunnel command with Perl's `exec STRING`, whose
 * behaviour (Perl_do_exec3 in perl 5.36 doio.c; spec imap-client.md §2.2)
 * decides between `/bin/sh -c STRING` and a plain word split + execvp:
 *
 *   1. leading whitespace is skipped (whitespace: space, TAB, LF, VT, FF,
 *      CR);
 *   2. the shell is used when the command starts with "." or "exec"
 *      followed by whitespace, or with a (possibly empty) run of word
 *      characters [A-Za-z0-9_] followed by "=";
 *   3. otherwise the command is scanned left to right for the characters
 *      $ & * ( ) { } [ ] ' " ; \ | ? < > ~ ` and newline. The first one
 *      found decides, with two exceptions that end the scan instead:
 *      a newline that is the very last character is dropped; a ">" that
 *      is part of "WS2>&1" followed only by whitespace means "dup stdout
 *      onto stderr", and the command is cut before that whitespace.
 *      Any other hit means the shell, with the whole (untrimmed) string;
 *   4. without a hit, the (possibly cut) command is split on whitespace
 *      and run with execvp; if that fails with ENOEXEC the shell runs the
 *      cut command instead.
 *
 * qr_exec_plan_parse() computes the decision in the parent, before fork,
 * so the child only calls dup2/exec: it allocates everything the child
 * needs (cmd, argv, words) and owns it until qr_exec_plan_free().
 */
#include "config.h"

#include "transport/transport_p.h"

#include <string.h>

#include "util/alloc.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_meta(char c)
{
    return c != '\0' && strchr("$&*(){}[]'\";\\|?<>~`\n", c) != NULL;
}

/* Step 2: the prefixes that always need the shell. */
static int needs_shell_prefix(const char *cmd)
{
    const char *s = cmd;

    if (cmd[0] == '.' && is_space(cmd[1]))
        return 1;
    if (strncmp(cmd, "exec", 4) == 0 && is_space(cmd[4]))
        return 1;
    while (is_word(*s))
        s++;
    return *s == '=';
}

/* Is s (pointing at '>') the end-of-command "WS2>&1[WS]"? */
static int is_trailing_dup(const char *cmd, const char *s)
{
    const char *t;

    if (!(s[1] == '&' && s[2] == '1' && s > cmd + 1 && s[-1] == '2' && is_space(s[-2])))
        return 0;
    if (s[3] != '\0' && !is_space(s[3]))
        return 0;
    for (t = s + 3; *t && is_space(*t); t++)
        ;
    return *t == '\0';
}

/*
 * Step 3 on the writable copy cmd: returns 1 when the shell is needed;
 * otherwise 0, with cmd cut as the rule says and *dup set for "2>&1".
 */
static int scan_meta(char *cmd, int *dup)
{
    char *s;

    for (s = cmd; *s; s++) {
        if (!is_meta(*s))
            continue;
        if (*s == '\n' && s[1] == '\0') {
            *s = '\0';
            return 0;
        }
        if (*s == '>' && is_trailing_dup(cmd, s)) {
            *dup = 1;
            s[-2] = '\0';
            return 0;
        }
        return 1;
    }
    return 0;
}

/* Step 4: split p->cmd into p->words / p->argv. */
static int split_words(qr_exec_plan *p)
{
    size_t len = strlen(p->cmd), n = 0;
    char *s;

    p->words = qr_memdup0(p->cmd, len);
    p->argv = qr_calloc(len / 2 + 2, sizeof(char *));
    if (!p->words || !p->argv)
        return QR_ENOMEM;
    for (s = p->words; *s;) {
        while (is_space(*s))
            s++;
        if (*s)
            p->argv[n++] = s;
        while (*s && !is_space(*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
    p->argv[n] = NULL;
    return n ? 0 : QR_EINVAL;
}

int qr_exec_plan_parse(qr_exec_plan *p, const char *command)
{
    const char *start = command;
    int rc;

    memset(p, 0, sizeof(*p));
    while (is_space(*start))
        start++;
    if (*start == '\0')
        return QR_EINVAL;
    p->cmd = qr_strdup(start);
    if (!p->cmd)
        return QR_ENOMEM;
    if (needs_shell_prefix(p->cmd) || scan_meta(p->cmd, &p->dup_stderr)) {
        p->use_shell = 1;
        return 0;
    }
    rc = split_words(p);
    if (rc)
        qr_exec_plan_free(p);
    return rc;
}

void qr_exec_plan_free(qr_exec_plan *p)
{
    if (!p)
        return;
    qr_free(p->cmd);
    qr_free(p->argv);
    qr_free(p->words);
    memset(p, 0, sizeof(*p));
}
