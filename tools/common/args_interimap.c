/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * args_interimap.c: interimap's command line (interimap.md §1).
 *
 * The option table mirrors the reference's Getopt::Long specification
 * "config=s quiet|q target=s@ debug+ help|h watch:i notify repair delete
 * rename" plus auto_version's --version. After tokenizing, the checks of
 * §1.3 run in the reference's order, so a command line with several
 * problems reports the same one:
 *
 *   0. --version met while tokenizing: version (earlier messages kept);
 *   1. any tokenizer message: usage error;
 *   2. --help: long usage;
 *   3. more than one of --repair/--delete/--rename: usage error;
 *   4. --delete without MAILBOX, --rename without exactly two: usage error;
 *   5. a command with --watch or --notify: usage error;
 *   6. --target without --delete/--rename: usage error;
 *   7. the watch interval defaults to 900 with --notify, 60 otherwise;
 *   8. MAILBOX equal to INBOX in any case becomes INBOX; a MAILBOX must be
 *      non-empty 7-bit ASCII without NUL, else "Invalid mailbox name".
 *
 * Step 9 (--target values) comes after the configuration was read:
 * qrt_interimap_targets().
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "exitcodes.h"
#include "xalloc.h"

enum {
    OPT_CONFIG,
    OPT_QUIET,
    OPT_TARGET,
    OPT_DEBUG,
    OPT_HELP,
    OPT_WATCH,
    OPT_NOTIFY,
    OPT_REPAIR,
    OPT_DELETE,
    OPT_RENAME,
    OPT_VERSION,
};

static const struct qrt_option interimap_options[] = {
    {"config", 0, QRT_OPT_REQUIRED, OPT_CONFIG}, {"quiet", 'q', QRT_OPT_FLAG, OPT_QUIET},
    {"target", 0, QRT_OPT_REQUIRED, OPT_TARGET}, {"debug", 0, QRT_OPT_FLAG, OPT_DEBUG},
    {"help", 'h', QRT_OPT_FLAG, OPT_HELP},       {"watch", 0, QRT_OPT_OPTIONAL_INT, OPT_WATCH},
    {"notify", 0, QRT_OPT_FLAG, OPT_NOTIFY},     {"repair", 0, QRT_OPT_FLAG, OPT_REPAIR},
    {"delete", 0, QRT_OPT_FLAG, OPT_DELETE},     {"rename", 0, QRT_OPT_FLAG, OPT_RENAME},
    {"version", 0, QRT_OPT_FLAG, OPT_VERSION},   {NULL, 0, QRT_OPT_FLAG, -1},
};

/* Fold the tokens into the struct; returns the number of distinct commands. */
static int collect(struct qrt_interimap_args *a, int *help, int *watch_given)
{
    int commands[3] = {0, 0, 0};

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
            *help = 1;
            break;
        case OPT_WATCH:
            *watch_given = 1;
            a->interval = it->ivalue;
            break;
        case OPT_NOTIFY:
            a->notify = 1;
            break;
        case OPT_REPAIR:
            commands[0] = 1;
            break;
        case OPT_DELETE:
            commands[1] = 1;
            break;
        case OPT_RENAME:
            commands[2] = 1;
            break;
        case OPT_TARGET:
            a->targets = qrt_xreallocarray(a->targets, a->n_targets + 1, sizeof(*a->targets));
            a->targets[a->n_targets++] = it->value;
            break;
        default:
            break;
        }
    }
    a->command = commands[0]   ? QRT_CMD_REPAIR
                 : commands[1] ? QRT_CMD_DELETE
                 : commands[2] ? QRT_CMD_RENAME
                               : QRT_CMD_SYNC;
    return commands[0] + commands[1] + commands[2];
}

/* Step 8: INBOX folding and the 7-bit check. */
static void check_mailboxes(struct qrt_interimap_args *a)
{
    a->mailboxes = a->cli.args;
    a->n_mailboxes = a->cli.n_args;
    for (size_t i = 0; i < a->n_mailboxes; i++) {
        if (strcasecmp(a->mailboxes[i], "INBOX") == 0)
            a->mailboxes[i] = (char *)"INBOX";
    }
    for (size_t i = 0; i < a->n_mailboxes; i++) {
        const unsigned char *p = (const unsigned char *)a->mailboxes[i];

        while (*p != '\0' && *p < 0x80)
            p++;
        if (*p != '\0' || p == (const unsigned char *)a->mailboxes[i]) {
            qrt_err_set(&a->err, QRT_EXIT_FATAL, "Invalid mailbox name %s", a->mailboxes[i]);
            a->what = QRT_ARGS_FATAL;
            return;
        }
    }
}

void qrt_interimap_args_parse(struct qrt_interimap_args *a, int argc, char *argv[])
{
    int help = 0, watch_given = 0, ncommands;

    memset(a, 0, sizeof(*a));
    qrt_cli_parse(interimap_options, OPT_VERSION, argc, argv, &a->cli);
    ncommands = collect(a, &help, &watch_given);
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
    if (ncommands > 1)
        return;
    if ((a->command == QRT_CMD_DELETE && a->cli.n_args == 0) ||
        (a->command == QRT_CMD_RENAME && a->cli.n_args != 2))
        return;
    if (a->command != QRT_CMD_SYNC && (watch_given || a->notify))
        return;
    if (a->n_targets > 0 && a->command != QRT_CMD_DELETE && a->command != QRT_CMD_RENAME)
        return;
    a->what = QRT_ARGS_RUN;
    a->watch = watch_given || a->notify;
    if (a->watch && a->interval == 0)
        a->interval = a->notify ? 900 : 60;
    check_mailboxes(a);
}

void qrt_interimap_args_free(struct qrt_interimap_args *a)
{
    if (a == NULL)
        return;
    qrt_cli_free(&a->cli);
    free(a->targets);
    qrt_err_clear(&a->err);
    memset(a, 0, sizeof(*a));
}

/* One comma-separated element of --target. */
static int one_target(const char *s, size_t len, unsigned *bits, struct qrt_err *err)
{
    static const char *const names[] = {"local", "remote", "database"};

    if (len == 0)
        return qrt_err_set(err, QRT_EXIT_FATAL,
                           "Invalid target \"\" (empty; expected local, remote or database)");
    for (unsigned i = 0; i < 3; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            *bits |= 1u << i;
            return 0;
        }
    }
    return qrt_err_set(err, QRT_EXIT_FATAL, "Invalid target %.*s", (int)len, s);
}

int qrt_interimap_targets(const struct qrt_interimap_args *a, unsigned *out, struct qrt_err *err)
{
    unsigned bits = 0;

    if (a->n_targets == 0) {
        *out = QRT_TARGET_ALL;
        return 0;
    }
    for (size_t i = 0; i < a->n_targets; i++) {
        const char *s = a->targets[i];

        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);

            if (one_target(s, len, &bits, err) < 0)
                return -1;
            if (comma == NULL)
                break;
            s = comma + 1;
        }
    }
    *out = bits;
    return 0;
}
