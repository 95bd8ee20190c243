/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * logprefix.h: the log-prefix mini-language (interimap.md §4.2): %n is the
 * component name, %m the mailbox, %% a percent sign, %?X?THEN&ELSE? a
 * conditional on %X being non-empty, \& \? \\ escapes.
 */
#ifndef QRT_LOGPREFIX_H
#define QRT_LOGPREFIX_H

/** The default: "%?n?%?m?%n(%m)&%n?: ?". */
#define QRT_LOGPREFIX_DEFAULT "%?n?%?m?%n(%m)&%n?: ?"

struct qrt_logprefix;

/** Prepare format once (never fails: unmatched syntax stays verbatim). */
struct qrt_logprefix *qrt_logprefix_new(const char *format);

/**
 * The prefix for a message from component name about mailbox (either may
 * be NULL or empty). Returns an owned string.
 */
char *qrt_logprefix_render(const struct qrt_logprefix *lp, const char *name, const char *mailbox);

/** Free; accepts NULL. */
void qrt_logprefix_free(struct qrt_logprefix *lp);

#endif /* QRT_LOGPREFIX_H */
