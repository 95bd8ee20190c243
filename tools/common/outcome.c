/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outcome.c: the end of command-line handling shared by the programs and
 * tests/tools/cli-driver.c (outcome.h). The order is the reference's:
 * every Getopt::Long message first, then the version, the usage or the
 * fatal message.
 */
#include <stdio.h>
#include <stdlib.h>

#include <qresync/common.h>

#include "exitcodes.h"
#include "outcome.h"

int qrt_args_print_outcome(enum qrt_tool tool, enum qrt_args_outcome what,
                           const struct qrt_cli *cli, struct qrt_err *err, const char *argv0)
{
    char *text;
    int status;

    for (size_t i = 0; i < cli->n_errors; i++)
        fprintf(stderr, "%s\n", cli->errors[i]);
    switch (what) {
    case QRT_ARGS_RUN:
        return -1;
    case QRT_ARGS_VERSION:
        text = qrt_version_text(argv0, qr_version());
        fputs(text, stdout);
        free(text);
        return QRT_EXIT_OK;
    case QRT_ARGS_HELP:
        fputs(qrt_usage_long(tool), stderr);
        return QRT_EXIT_OK;
    case QRT_ARGS_USAGE:
        fputs(qrt_usage_short(tool), stderr);
        return QRT_EXIT_USAGE;
    case QRT_ARGS_FATAL:
        break;
    }
    fprintf(stderr, "%s\n", err->msg != NULL ? err->msg : "error");
    status = err->status != 0 ? err->status : QRT_EXIT_FATAL;
    qrt_err_clear(err);
    return status;
}
