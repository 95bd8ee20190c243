/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * args.h: the command lines of interimap and pullimap, parsed and checked.
 *
 * qrt_interimap_args_parse() and qrt_pullimap_args_parse() run the
 * tokenizer (cli.h) with each tool's option table, then the checks the
 * reference makes before reading the configuration (interimap.md §1.3
 * steps 1-8, pullimap.md §1). They print nothing: the result says what
 * the program must do, and qrt_args_print_outcome() does it.
 */
#ifndef QRT_ARGS_H
#define QRT_ARGS_H

#include <stddef.h>

#include "cli.h"
#include "err.h"
#include "tool.h"

/** What the program must do after parsing its command line. */
enum qrt_args_outcome {
    QRT_ARGS_RUN,     /* go on: read the configuration */
    QRT_ARGS_HELP,    /* print the long usage on stderr, exit 0 */
    QRT_ARGS_VERSION, /* print messages (if any), the version on stdout, exit 0 */
    QRT_ARGS_USAGE,   /* print messages, then the short usage on stderr, exit 1 */
    QRT_ARGS_FATAL,   /* print err.msg on stderr, exit err.status (255) */
};

/** interimap's command, at most one. */
enum qrt_command {
    QRT_CMD_SYNC,   /* no command: synchronise */
    QRT_CMD_REPAIR, /* --repair [MAILBOX...] */
    QRT_CMD_DELETE, /* --delete MAILBOX... */
    QRT_CMD_RENAME, /* --rename SOURCE DEST */
};

/** --target bits. */
#define QRT_TARGET_LOCAL    1u
#define QRT_TARGET_REMOTE   2u
#define QRT_TARGET_DATABASE 4u
#define QRT_TARGET_ALL      7u

/** interimap's parsed command line. */
struct qrt_interimap_args {
    struct qrt_cli cli;         /* the tokens; owns the arrays below point into */
    const char *config;         /* --config value (last one wins), NULL for the default */
    int quiet;                  /* -q/--quiet given */
    int debug;                  /* number of --debug */
    int watch;                  /* --watch or --notify given: run forever */
    long interval;              /* watch interval in seconds (default applied: 60/900) */
    int notify;                 /* --notify given */
    enum qrt_command command;   /* the command */
    const char **targets;       /* --target values as given (before comma split), owned array */
    size_t n_targets;           /* number of --target options */
    char **mailboxes;           /* MAILBOX arguments, INBOX normalised; point into argv */
    size_t n_mailboxes;         /* number of MAILBOX arguments */
    enum qrt_args_outcome what; /* what to do now */
    struct qrt_err err;         /* QRT_ARGS_FATAL: the message and status */
};

/** pullimap's parsed command line. */
struct qrt_pullimap_args {
    struct qrt_cli cli;         /* the tokens */
    const char *config;         /* --config value, NULL for the default */
    int quiet;                  /* -q/--quiet given */
    int debug;                  /* number of --debug */
    int idle;                   /* --idle given */
    long idle_timeout;          /* IDLE interval in seconds (0/absent -> 1740) */
    int no_delivery;            /* --no-delivery given */
    const char *section;        /* the SECTION argument (QRT_ARGS_RUN only) */
    enum qrt_args_outcome what; /* what to do now */
    struct qrt_err err;         /* QRT_ARGS_FATAL: unused by pullimap so far */
};

/** Parse interimap's argv (interimap.md §1.3 steps 1-8). Free with _free(). */
void qrt_interimap_args_parse(struct qrt_interimap_args *args, int argc, char *argv[]);
void qrt_interimap_args_free(struct qrt_interimap_args *args);

/**
 * Step 9 of interimap.md §1.3, after the configuration was read: split the
 * --target values on commas and check each. Returns 0 and the bit set
 * (QRT_TARGET_ALL without --target), or -1 with err (status 255):
 * "Invalid target VALUE", or, unlike the reference which then did
 * nothing, an error for an empty target ("--target=", "a,,b", "a,").
 */
int qrt_interimap_targets(const struct qrt_interimap_args *args, unsigned *out,
                          struct qrt_err *err);

/** Parse pullimap's argv (pullimap.md §1). Free with _free(). */
void qrt_pullimap_args_parse(struct qrt_pullimap_args *args, int argc, char *argv[]);
void qrt_pullimap_args_free(struct qrt_pullimap_args *args);

/** The fixed usage texts (interimap.md §1.5, pullimap.md §1), ending with a newline. */
const char *qrt_usage_short(enum qrt_tool tool);
const char *qrt_usage_long(enum qrt_tool tool);

/**
 * The --version text: "ARGV0 version VERSION\n" then a line of build
 * information of our own. Returns an owned string.
 */
char *qrt_version_text(const char *argv0, const char *version);

#endif /* QRT_ARGS_H */
