/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * args_pullimap.c: pullimap's command line (pullimap.md §1).
 *
 * The option table mirrors the reference's "config=s quiet|q debug+ help|h
 * idle:i no-delivery" plus --version. The reference already allowed
 * options after SECTION (gnu_getopt); like interimap's --watch, --idle
 * takes its optional value only as --idle=N here (cli.h). Checks, in the
 * reference's order: --version met while tokenizing; any tokenizer
 * message (usage error); --help; exactly one positional argument, not
 * "_" (usage error). --idle=0 or a bare --idle means 1740 s.
 */
#include <string.h>

#include "args.h"

enum {
    OPT_CONFIG,
    OPT_QUIET,
    OPT_DEBUG,
    OPT_HELP,
    OPT_IDLE,
    OPT_NO_DELIVERY,
    OPT_VERSION,
};

static const struct qrt_option pullimap_options[] = {
    {"config", 0, QRT_OPT_REQUIRED, OPT_CONFIG}, {"quiet", 'q', QRT_OPT_FLAG, OPT_QUIET},
    {"debug", 0, QRT_OPT_FLAG, OPT_DEBUG},       {"help", 'h', QRT_OPT_FLAG, OPT_HELP},
    {"idle", 0, QRT_OPT_OPTIONAL_INT, OPT_IDLE}, {"no-delivery", 0, QRT_OPT_FLAG, OPT_NO_DELIVERY},
    {"version", 0, QRT_OPT_FLAG, OPT_VERSION},   {NULL, 0, QRT_OPT_FLAG, -1},
};

void qrt_pullimap_args_parse(struct qrt_pullimap_args *a, int argc, char *argv[])
{
    int help = 0;

    memset(a, 0, sizeof(*a));
    qrt_cli_parse(pullimap_options, OPT_VERSION, argc, argv, &a->cli);
    for (size_t i = 0; i < a->cli.n_items; i++) {
        const struct qrt_cli_item *it = &a->cli.items[i];

        switch (it->id) {
        case OPT_CONFIG:
            a->config = it->value;
            break;
        case OPT_QUIET:
            a->quiet = 1;
            break;
        case OPT_DEBUG:
            a->debug++;
            break;
        case OPT_HELP:
            help = 1;
            break;
        case OPT_IDLE:
            a->idle = 1;
            a->idle_timeout = it->ivalue;
            break;
        case OPT_NO_DELIVERY:
            a->no_delivery = 1;
            break;
        default:
            break;
        }
    }
    if (a->cli.version) {
        a->what = QRT_ARGS_VERSION;
        return;
    }
    a->what = QRT_ARGS_USAGE;
    if (a->cli.n_errors > 0)
        return;
    if (help) {
        a->what = QRT_ARGS_HELP;
        return;
    }
    if (a->cli.n_args != 1 || strcmp(a->cli.args[0], "_") == 0)
        return;
    a->section = a->cli.args[0];
    if (a->idle && a->idle_timeout == 0)
        a->idle_timeout = 1740;
    a->what = QRT_ARGS_RUN;
}

void qrt_pullimap_args_free(struct qrt_pullimap_args *a)
{
    if (a == NULL)
        return;
    qrt_cli_free(&a->cli);
    qrt_err_clear(&a->err);
    memset(a, 0, sizeof(*a));
}
