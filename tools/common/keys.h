/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keys.h: the configuration keys of the tools and the syntax of their
 * values (interimap.md §2.5, pullimap.md §2).
 */
#ifndef QRT_KEYS_H
#define QRT_KEYS_H

#include "tool.h"

/** A value checker: 1 when the value has the key's syntax. */
typedef int (*qrt_key_check_fn)(const char *value);

/** One known key. */
struct qrt_key {
    const char *name;       /* exact, case-sensitive key name */
    qrt_key_check_fn check; /* syntax of the value */
    unsigned tools;         /* bit (1 << enum qrt_tool) per tool that accepts the key */
    int is_bool;            /* 1 for YES/NO keys */
};

/** The key named name if tool accepts it, else NULL. */
const struct qrt_key *qrt_key_find(enum qrt_tool tool, const char *name);

/**
 * \P{Control}+ of the reference, on bytes: no C0 control and no DEL; for
 * bytes >= 0x80, a valid UTF-8 sequence whose code point is not a C1
 * control (U+0080-U+009F) is accepted. The reference, reading bytes as
 * Latin-1, also rejected every byte 0x80-0x9F, hence valid UTF-8 such as
 * "€" (E2 82 AC); we accept a value if either reading accepts it.
 */
int qrt_printable(const char *value, int allow_empty);

#endif /* QRT_KEYS_H */
