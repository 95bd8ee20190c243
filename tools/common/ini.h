/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ini.h: the configuration file syntax of the tools (Config::Tiny 2.28).
 *
 * A file is a list of sections, each a list of key/value pairs, in the
 * order they first appear. Lines before the first header belong to the
 * default section, named "_". Unlike the reference, a line that is none
 * of blank, comment, header or property is an error naming the file and
 * the line, instead of making the whole file read as empty.
 */
#ifndef QRT_INI_H
#define QRT_INI_H

#include <stddef.h>

#include "err.h"

/** One "key = value" line (the last duplicate's value wins, first position kept). */
struct qrt_ini_entry {
    char *key;     /* trimmed key, owned */
    char *value;   /* trimmed value, owned, may be empty */
    unsigned line; /* 1-based line number of the value kept */
};

/** One section, headers repeated in the file are merged into one. */
struct qrt_ini_section {
    char *name;                    /* section name, owned ("_" for the default section) */
    struct qrt_ini_entry *entries; /* owned array, in order of first appearance */
    size_t n_entries;              /* number of entries */
};

/** A parsed file. */
struct qrt_ini {
    struct qrt_ini_section *sections; /* owned array; sections[0] is always "_" */
    size_t n_sections;                /* number of sections (>= 1) */
};

/**
 * Parse len bytes. path is used in messages only. Returns 0 and *out, or
 * -1 and err (status 255): "Syntax error in PATH line N: ..." for a line
 * Config::Tiny rejects or a NUL byte.
 */
int qrt_ini_parse(const char *data, size_t len, const char *path, struct qrt_ini **out,
                  struct qrt_err *err);

/**
 * Read and parse a configuration file: the reference's checks first (not
 * a regular file or not readable by the effective user: "No such config
 * file PATH"), then "Can't read PATH: ERRNO" for a failing read.
 */
int qrt_ini_read_file(const char *path, struct qrt_ini **out, struct qrt_err *err);

/** The section of that name, or NULL. */
const struct qrt_ini_section *qrt_ini_section(const struct qrt_ini *ini, const char *name);

/** The value of key in section s (NULL s allowed), or NULL. */
const char *qrt_ini_get(const struct qrt_ini_section *s, const char *key);

/** Free a parsed file; accepts NULL. */
void qrt_ini_free(struct qrt_ini *ini);

#endif /* QRT_INI_H */
