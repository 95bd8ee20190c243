/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli.c: the command-line tokenizer (see cli.h for the accepted syntax).
 *
 * The parser walks argv once. Each element is classified as "--" (end of
 * options: everything after it is positional), a long option ("--NAME",
 * "--NAME=VALUE"), a bundle of one-letter flags ("-qh"), or a positional
 * argument (including "-" and ""). Options are matched exactly against the
 * table; messages reproduce Getopt::Long's wording so users and scripts
 * see the same text as with the reference, and parsing continues after an
 * error as Getopt::Long did. The option named by version_id stops the
 * walk, as Getopt::Long's auto_version printed the version and exited
 * from inside the parser: what follows it is never looked at.
 *
 * Invariants: items and args keep command-line order; values point into
 * argv (or at a static ""), so argv must outlive the struct qrt_cli.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xalloc.h"

static void add_error(struct qrt_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(struct qrt_cli *cli, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        qrt_oom();
    va_end(ap);
    cli->errors = qrt_xreallocarray(cli->errors, cli->n_errors + 1, sizeof(*cli->errors));
    cli->errors[cli->n_errors++] = msg;
}

static void add_item(struct qrt_cli *cli, int id, const char *value, long ivalue)
{
    cli->items = qrt_xreallocarray(cli->items, cli->n_items + 1, sizeof(*cli->items));
    cli->items[cli->n_items].id = id;
    cli->items[cli->n_items].value = value;
    cli->items[cli->n_items].ivalue = ivalue;
    cli->n_items++;
}

static void add_arg(struct qrt_cli *cli, char *arg)
{
    cli->args = qrt_xreallocarray(cli->args, cli->n_args + 1, sizeof(*cli->args));
    cli->args[cli->n_args++] = arg;
}

int qrt_cli_parse_int(const char *s, long *out)
{
    const char *p = s;
    int neg = 0, digits = 0;
    long v = 0;

    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    while (*p == '_')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p != '\0'; p++) {
        if (*p == '_')
            continue;
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (INT_MAX - (*p - '0')) / 10)
            return -2;
        v = v * 10 + (*p - '0');
        digits++;
    }
    *out = neg ? -v : v;
    return digits > 0 ? 0 : -1;
}

static const struct qrt_option *find_long(const struct qrt_option *opts, const char *name,
                                          size_t len)
{
    for (; opts->name != NULL; opts++)
        if (strlen(opts->name) == len && memcmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

/* "--NAME=VALUE" for QRT_OPT_OPTIONAL_INT; value may be empty (gnu_compat: 0). */
static void optional_int_value(struct qrt_cli *cli, const struct qrt_option *o, const char *value)
{
    long v = 0;
    int rc = *value == '\0' ? 0 : qrt_cli_parse_int(value, &v);

    if (rc == -1)
        add_error(cli, "Value \"%s\" invalid for option %s (number expected)", value, o->name);
    else if (rc == -2)
        add_error(cli, "Value \"%s\" invalid for option %s (number too large)", value, o->name);
    else if (v < 0)
        add_error(cli, "Value \"%s\" invalid for option %s (non-negative number expected)", value,
                  o->name);
    else
        add_item(cli, o->id, value, v);
}

/*
 * Bare "--watch": Getopt::Long took a following integer-looking argument
 * as the value; we refuse that spelling rather than guess (cli.h). The
 * number is consumed with the error so that "-5" is not also reported as
 * an unknown option. Returns the number of argv elements used.
 */
static int optional_int_bare(struct qrt_cli *cli, const struct qrt_option *o, const char *next)
{
    long v;

    if (next != NULL && qrt_cli_parse_int(next, &v) != -1) {
        add_error(cli,
                  "Option %s takes its value after \"=\": write --%s=%s "
                  "(an argument \"%s\" must come after --)",
                  o->name, o->name, next, next);
        return 1;
    }
    add_item(cli, o->id, NULL, 0);
    return 0;
}

/* One "--..." element; returns how many extra argv elements it used (0 or 1). */
static int parse_long(struct qrt_cli *cli, const struct qrt_option *opts, const char *body,
                      char *next)
{
    const char *eq = strchr(body, '=');
    size_t len = eq ? (size_t)(eq - body) : strlen(body);
    const struct qrt_option *o = len ? find_long(opts, body, len) : NULL;
    const char *value = eq ? eq + 1 : NULL;

    if (o == NULL) {
        char *name = qrt_xstrndup(body, len ? len : strlen(body));

        add_error(cli, "Unknown option: %s", name);
        free(name);
        return 0;
    }
    switch (o->arg) {
    case QRT_OPT_FLAG:
        if (value != NULL)
            add_error(cli, "Option %s does not take an argument", o->name);
        else
            add_item(cli, o->id, NULL, 0);
        return 0;
    case QRT_OPT_REQUIRED:
        if (value != NULL) {
            add_item(cli, o->id, value, 0);
            return 0;
        }
        if (next == NULL) {
            add_error(cli, "Option %s requires an argument", o->name);
            return 0;
        }
        add_item(cli, o->id, next, 0);
        return 1;
    case QRT_OPT_OPTIONAL_INT:
        if (value != NULL) {
            optional_int_value(cli, o, value);
            return 0;
        }
        return optional_int_bare(cli, o, next);
    }
    return 0;
}

/* One "-abc" bundle of one-letter flags. */
static void parse_short(struct qrt_cli *cli, const struct qrt_option *opts, const char *bundle)
{
    for (; *bundle != '\0'; bundle++) {
        const struct qrt_option *o = opts;
        char letter[2] = {*bundle, '\0'};

        while (o->name != NULL && (o->short_name == 0 || o->short_name != *bundle))
            o++;
        if (o->name == NULL)
            add_error(cli, "Unknown option: %s", letter);
        else
            add_item(cli, o->id, NULL, 0);
    }
}

void qrt_cli_parse(const struct qrt_option *opts, int version_id, int argc, char *const argv[],
                   struct qrt_cli *out)
{
    int i, options_done = 0;

    memset(out, 0, sizeof(*out));
    for (i = 1; i < argc; i++) {
        char *a = argv[i];
        size_t before = out->n_items;

        if (options_done || a[0] != '-' || a[1] == '\0') {
            add_arg(out, a);
        } else if (strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (a[1] == '-') {
            i += parse_long(out, opts, a + 2, i + 1 < argc ? argv[i + 1] : NULL);
        } else {
            parse_short(out, opts, a + 1);
        }
        for (size_t k = before; k < out->n_items; k++) {
            if (version_id >= 0 && out->items[k].id == version_id) {
                out->version = 1;
                return;
            }
        }
    }
}

void qrt_cli_free(struct qrt_cli *cli)
{
    if (cli == NULL)
        return;
    for (size_t i = 0; i < cli->n_errors; i++)
        free(cli->errors[i]);
    free(cli->errors);
    free(cli->items);
    free(cli->args);
    memset(cli, 0, sizeof(*cli));
}
