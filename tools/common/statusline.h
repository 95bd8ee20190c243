/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * statusline.h: the progress line the tools draw on a terminal (redrawn in
 * place with "\r", erased before any other line and at the end; never
 * written to a log file).
 */
#ifndef QRT_STATUSLINE_H
#define QRT_STATUSLINE_H

#include <stddef.h>

/** A status line on one descriptor. Zero it, then set fd. */
struct qrt_status {
    int fd;     /* the terminal (stderr) */
    size_t len; /* width of the line shown, 0 when none */
};

/**
 * Draw text over the current status line ("\r", the text padded over the
 * previous one), or erase it when text is NULL ("\r", spaces, "\r").
 * Nothing is written to erase when no line is shown.
 */
void qrt_status_draw(struct qrt_status *st, const char *text);

#endif /* QRT_STATUSLINE_H */
