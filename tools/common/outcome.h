/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outcome.h: acting on a parsed command line (the
 * qrt_args_print_outcome() that args.h announces).
 */
#ifndef QRT_OUTCOME_H
#define QRT_OUTCOME_H

#include "args.h"

/**
 * Do what the command line alone decides: print the tokenizer's messages
 * (cli->errors) on stderr, then, by `what`: QRT_ARGS_VERSION prints
 * qrt_version_text(argv0, qr_version()) on stdout and returns
 * QRT_EXIT_OK; QRT_ARGS_HELP the long usage on stderr, QRT_EXIT_OK;
 * QRT_ARGS_USAGE the short usage on stderr, QRT_EXIT_USAGE;
 * QRT_ARGS_FATAL err->msg on stderr, err->status (err is cleared).
 * QRT_ARGS_RUN returns -1: the program goes on.
 */
int qrt_args_print_outcome(enum qrt_tool tool, enum qrt_args_outcome what,
                           const struct qrt_cli *cli, struct qrt_err *err, const char *argv0);

#endif /* QRT_OUTCOME_H */
