/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli.h: a getopt-compatible command-line tokenizer shared by the tools.
 *
 * It accepts what Perl's Getopt::Long accepted for the reference tools
 * (configured with no_ignore_case, bundling, gnu_compat, auto_version):
 * long options with two dashes only, exact (no abbreviations) and
 * case-sensitive; bundled one-letter flags (-qh); --opt=value and
 * --opt value for options with a mandatory value; --opt= for an empty
 * value; "--" ends the options; "-" alone is an argument. Every problem
 * adds a message and parsing goes on, so all of them are reported at once
 * as Getopt::Long did. Two deliberate differences (docs/compatibility.md):
 * options and arguments may be mixed in any order (GNU permutation), and
 * an optional integer value must be attached with "=" ("--watch 30" is an
 * error instead of silently taking 30 as the interval).
 */
#ifndef QRT_CLI_H
#define QRT_CLI_H

#include <stddef.h>

/** What kind of value an option takes. */
enum qrt_opt_arg {
    QRT_OPT_FLAG,         /* no value: --quiet; "--quiet=x" is an error */
    QRT_OPT_REQUIRED,     /* a value: --config=F or --config F (F taken verbatim) */
    QRT_OPT_OPTIONAL_INT, /* an optional non-negative integer, only as --watch=N */
};

/** One entry of an option table, which ends with a NULL name. */
struct qrt_option {
    const char *name;     /* long name without the dashes */
    char short_name;      /* one-letter alias (flags only), or 0 */
    enum qrt_opt_arg arg; /* the kind of value */
    int id;               /* the caller's identifier, reported in qrt_cli_item */
};

/** One option found on the command line, in command-line order. */
struct qrt_cli_item {
    int id;            /* qrt_option.id */
    const char *value; /* the value (points into argv, or ""), NULL for a flag or bare --watch */
    long ivalue;       /* QRT_OPT_OPTIONAL_INT: the integer (0 when absent or empty) */
};

/** The result of qrt_cli_parse(). */
struct qrt_cli {
    struct qrt_cli_item *items; /* options found, owned array */
    size_t n_items;             /* number of items */
    char **args;                /* positional arguments (pointers into argv), owned array */
    size_t n_args;              /* number of positional arguments */
    char **errors;              /* owned messages, e.g. "Unknown option: conf", in order */
    size_t n_errors;            /* number of messages */
    int version;                /* 1 when --version was met: parsing stopped right there */
};

/**
 * Parse argv[1..argc-1] against the NULL-terminated table opts.
 * version_id is the id of the option that stops parsing (--version), or
 * -1. Never fails: problems are in out->errors. Free with qrt_cli_free().
 */
void qrt_cli_parse(const struct qrt_option *opts, int version_id, int argc, char *const argv[],
                   struct qrt_cli *out);

/** Free what qrt_cli_parse() allocated; accepts a zeroed or NULL cli. */
void qrt_cli_free(struct qrt_cli *cli);

/**
 * Parse an integer with Getopt::Long's syntax [-+]?_*[0-9][0-9_]* (the
 * underscores are ignored). Returns 0 and the value, -1 when the syntax
 * does not match, -2 when the value does not fit in an int.
 */
int qrt_cli_parse_int(const char *s, long *out);

#endif /* QRT_CLI_H */
