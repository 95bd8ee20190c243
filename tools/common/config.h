/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h: the tools' configuration: sections merged over the default
 * section, built-in defaults, every key and value validated
 * (interimap.md §2.4, pullimap.md §2), then typed accessors.
 */
#ifndef QRT_CONFIG_H
#define QRT_CONFIG_H

#include <stddef.h>

#include "err.h"
#include "ini.h"
#include "tool.h"

/** One key and its value in a merged section. */
struct qrt_conf_kv {
    char *key;   /* owned */
    char *value; /* owned; for YES/NO keys "1" or "0" as the reference converts them */
};

/** The effective settings of one section: default section overlaid by the section. */
struct qrt_conf_section {
    char *name;             /* "_", "local", "remote" or pullimap's SECTION; owned */
    struct qrt_conf_kv *kv; /* owned array: default-section keys in file order, then the
                               section's new keys, then built-in defaults */
    size_t n_kv;            /* number of keys */
};

/** A loaded configuration. */
struct qrt_config {
    enum qrt_tool tool;                /* whose keys were accepted */
    struct qrt_conf_section *sections; /* owned: the requested sections, in order */
    size_t n_sections;                 /* number of sections */
};

/**
 * Build and validate the sections names[0..n-1] ("_" is the default
 * section alone) from ini. Errors (status 255), first failure wins,
 * sections in the given order, keys in the order above: "No such section NAME",
 * "Invalid option KEY" (unknown to this tool), "Invalid option KEY =
 * VALUE" (bad syntax).
 */
int qrt_config_build(enum qrt_tool tool, const struct qrt_ini *ini, const char *const *names,
                     size_t n, struct qrt_config **out, struct qrt_err *err);

/** The merged section of that name, or NULL. */
const struct qrt_conf_section *qrt_config_section(const struct qrt_config *c, const char *name);

/** The value of key, or NULL when unset. */
const char *qrt_conf_str(const struct qrt_conf_section *s, const char *key);

/** A YES/NO key: 1 or 0, or dflt when unset. */
int qrt_conf_bool(const struct qrt_conf_section *s, const char *key, int dflt);

/**
 * A non-negative decimal key: 1 and *out when set and non-empty, 0 when
 * unset or empty, -1 when it does not fit in an unsigned long.
 */
int qrt_conf_ulong(const struct qrt_conf_section *s, const char *key, unsigned long *out);

/** Free; accepts NULL. */
void qrt_config_free(struct qrt_config *c);

#endif /* QRT_CONFIG_H */
