/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tool.h: which of the two programs a shared helper works for.
 */
#ifndef QRT_TOOL_H
#define QRT_TOOL_H

/** The two programs; their names are "interimap" and "pullimap". */
enum qrt_tool {
    QRT_TOOL_INTERIMAP, /* two-way synchronisation */
    QRT_TOOL_PULLIMAP,  /* one-way pull to SMTP/LMTP */
};

/** "interimap" or "pullimap". */
static inline const char *qrt_tool_name(enum qrt_tool tool)
{
    return tool == QRT_TOOL_INTERIMAP ? "interimap" : "pullimap";
}

#endif /* QRT_TOOL_H */
