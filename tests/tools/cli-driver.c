/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-driver.c: runs the start-up of interimap or pullimap as the
 * programs will (command line, configuration, settings), without any
 * IMAP or SQLite, and either prints what it parsed (stdout, status 0) or
 * behaves as the program would on the first error: same messages on
 * stderr, same exit status. tests/tools/diff-reference.py compares it
 * with the Perl reference.
 *
 *   cli-driver interimap|pullimap [ARGS...]
 *
 * What the command line alone decides is qrt_args_print_outcome()'s
 * (tools/common/outcome.h), as in the programs; the version line names
 * the tool as "/usr/bin/TOOL" so that it can be compared with the
 * reference's $0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "config.h"
#include "exitcodes.h"
#include "ignore.h"
#include "ini.h"
#include "logprefix.h"
#include "mailbox_list.h"
#include "outcome.h"
#include "settings.h"
#include "xdg.h"

static int die(struct qrt_err *err)
{
    fprintf(stderr, "%s\n", err->msg);
    return err->status;
}

static struct qrt_config *load(enum qrt_tool tool, const char *config, const char *const *names,
                               size_t n, struct qrt_err *err)
{
    struct qrt_config *c = NULL;
    struct qrt_ini *ini = NULL;
    char *path = NULL;

    if (qrt_xdg_config_file(qrt_tool_name(tool), config, &path, err) < 0 ||
        qrt_ini_read_file(path, &ini, err) < 0 ||
        qrt_config_build(tool, ini, names, n, &c, err) < 0)
        c = NULL;
    qrt_ini_free(ini);
    free(path);
    return c;
}

/* interimap.md §2.6 steps 3-6 on parsed settings; prints the result. */
static int interimap_settings(const struct qrt_interimap_args *a,
                              const struct qrt_interimap_settings *s, struct qrt_err *err)
{
    struct qrt_pattern_list pl = {NULL, 0};
    struct qrt_ignore *ig = NULL;
    char *db = NULL, *opts = NULL;
    unsigned targets = 0;
    int listing = a->command == QRT_CMD_SYNC || a->command == QRT_CMD_REPAIR;

    if (qrt_xdg_data_file("interimap", s->database, &db, err) < 0)
        return -1;
    qrt_logprefix_free(qrt_logprefix_new(s->log_prefix));
    if (listing && a->n_mailboxes == 0 && s->list_mailbox != NULL &&
        qrt_list_mailbox_parse(s->list_mailbox, &pl, err) < 0)
        goto fail;
    if (listing && a->n_mailboxes == 0 && s->ignore_mailbox != NULL &&
        qrt_ignore_compile(s->ignore_mailbox, &ig, err) < 0)
        goto fail;
    if (listing)
        opts = qrt_list_select_opts(s->list_select_opts);
    if (qrt_interimap_targets(a, &targets, err) < 0)
        goto fail;
    printf("command=%d watch=%d interval=%ld quiet=%d debug=%d targets=%u\n", (int)a->command,
           a->watch, a->interval, a->quiet, a->debug, targets);
    for (size_t i = 0; i < a->n_mailboxes; i++)
        printf("mailbox=%s\n", a->mailboxes[i]);
    printf("database=%s\nlist-mailbox=%zu\nselect-opts=%s\n", db, pl.n, opts ? opts : "");
    printf("local=%s:%s remote=%s:%s\n", s->local.type, s->local.host, s->remote.type,
           s->remote.host);
    free(db);
    free(opts);
    qrt_pattern_list_free(&pl);
    qrt_ignore_free(ig);
    return 0;
fail:
    free(db);
    qrt_pattern_list_free(&pl);
    return -1;
}

static int run_interimap(int argc, char *argv[])
{
    static const char *const names[] = {"_", "local", "remote"};
    struct qrt_interimap_args a;
    struct qrt_interimap_settings s;
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_config *c;
    int rc;

    qrt_interimap_args_parse(&a, argc, argv);
    rc = qrt_args_print_outcome(QRT_TOOL_INTERIMAP, a.what, &a.cli, &a.err, "/usr/bin/interimap");
    if (rc < 0) {
        c = load(QRT_TOOL_INTERIMAP, a.config, names, 3, &err);
        if (c == NULL) {
            rc = die(&err);
        } else {
            qrt_interimap_settings_get(c, &s);
            rc = interimap_settings(&a, &s, &err) < 0 ? die(&err) : QRT_EXIT_OK;
            qrt_interimap_settings_free(&s);
        }
        qrt_config_free(c);
    }
    qrt_err_clear(&err);
    qrt_interimap_args_free(&a);
    return rc;
}

static int run_pullimap(int argc, char *argv[])
{
    struct qrt_pullimap_args a;
    struct qrt_pullimap_settings p;
    struct qrt_err err = QRT_ERR_INIT;
    struct qrt_config *c = NULL;
    char *state = NULL;
    int rc;

    qrt_pullimap_args_parse(&a, argc, argv);
    rc = qrt_args_print_outcome(QRT_TOOL_PULLIMAP, a.what, &a.cli, &a.err, "/usr/bin/pullimap");
    if (rc < 0) {
        c = load(QRT_TOOL_PULLIMAP, a.config, &a.section, 1, &err);
        if (c == NULL || qrt_pullimap_settings_get(c, &p, &err) < 0) {
            rc = die(&err);
        } else {
            if (qrt_xdg_data_file("pullimap", p.statefile, &state, &err) < 0) {
                rc = die(&err);
            } else {
                printf("section=%s idle=%d timeout=%ld statefile=%s mailbox=%s deliver=%s:%u\n",
                       a.section, a.idle, a.idle_timeout, state, p.mailbox, p.deliver_addr,
                       p.deliver_port);
                rc = QRT_EXIT_OK;
            }
            qrt_pullimap_settings_free(&p);
        }
    }
    free(state);
    qrt_config_free(c);
    qrt_err_clear(&err);
    qrt_pullimap_args_free(&a);
    return rc;
}

int main(int argc, char *argv[])
{
    if (argc < 2 || (strcmp(argv[1], "interimap") && strcmp(argv[1], "pullimap"))) {
        fprintf(stderr, "usage: cli-driver interimap|pullimap [ARGS...]\n");
        return 2;
    }
    if (qrt_env_sanitize() < 0)
        return QRT_EXIT_FATAL;
    if (strcmp(argv[1], "interimap") == 0)
        return run_interimap(argc - 1, argv + 1);
    return run_pullimap(argc - 1, argv + 1);
}
