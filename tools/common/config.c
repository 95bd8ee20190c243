/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c: section merging, defaults and validation (Net::IMAP::InterIMAP
 * read_config of the reference).
 *
 * For each wanted section, in the caller's order (interimap: "_", "local",
 * "remote"; pullimap: its SECTION only, as the reference): start from a copy of the
 * default section's keys; for a named section, fail with "No such
 * section NAME" if the file has none, else overlay its keys; fill in the
 * built-in defaults type=imaps, host=localhost, port=993/143 (none for a
 * tunnel), auth="PLAIN LOGIN", STARTTLS=YES; then check every key: known
 * to this tool ("Invalid option KEY") and well-formed ("Invalid option
 * KEY = VALUE"); YES/NO values become "1"/"0".
 *
 * The reference checked keys in Perl hash order, i.e. at random; we check
 * them in a fixed order (default-section keys in file order, then the
 * section's new keys, then defaults) so the same file always gives the
 * same message. As in the reference, keys documented "default section
 * only" are accepted in other sections and simply not read from there,
 * and extra sections are ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "exitcodes.h"
#include "keys.h"
#include "xalloc.h"

static struct qrt_conf_kv *find_kv(const struct qrt_conf_section *s, const char *key)
{
    for (size_t i = 0; s != NULL && i < s->n_kv; i++)
        if (strcmp(s->kv[i].key, key) == 0)
            return &s->kv[i];
    return NULL;
}

static void put(struct qrt_conf_section *s, const char *key, const char *value)
{
    struct qrt_conf_kv *kv = find_kv(s, key);

    if (kv != NULL) {
        free(kv->value);
        kv->value = qrt_xstrdup(value);
        return;
    }
    s->kv = qrt_xreallocarray(s->kv, s->n_kv + 1, sizeof(*s->kv));
    s->kv[s->n_kv].key = qrt_xstrdup(key);
    s->kv[s->n_kv].value = qrt_xstrdup(value);
    s->n_kv++;
}

static void put_default(struct qrt_conf_section *s, const char *key, const char *value)
{
    if (find_kv(s, key) == NULL)
        put(s, key, value);
}

static void overlay(struct qrt_conf_section *s, const struct qrt_ini_section *from)
{
    for (size_t i = 0; from != NULL && i < from->n_entries; i++)
        put(s, from->entries[i].key, from->entries[i].value);
}

static void fill_defaults(struct qrt_conf_section *s)
{
    const char *type;

    put_default(s, "type", "imaps");
    put_default(s, "host", "localhost");
    type = qrt_conf_str(s, "type");
    if (type == NULL)
        return;
    if (strcmp(type, "imaps") == 0)
        put_default(s, "port", "993");
    else if (strcmp(type, "imap") == 0)
        put_default(s, "port", "143");
    put_default(s, "auth", "PLAIN LOGIN");
    put_default(s, "STARTTLS", "YES");
}

static int validate(enum qrt_tool tool, struct qrt_conf_section *s, struct qrt_err *err)
{
    for (size_t i = 0; i < s->n_kv; i++) {
        struct qrt_conf_kv *kv = &s->kv[i];
        const struct qrt_key *k = qrt_key_find(tool, kv->key);

        if (k == NULL)
            return qrt_err_set(err, QRT_EXIT_FATAL, "Invalid option %s", kv->key);
        if (!k->check(kv->value))
            return qrt_err_set(err, QRT_EXIT_FATAL, "Invalid option %s = %s", kv->key, kv->value);
        if (k->is_bool) {
            const char *b = strcasecmp(kv->value, "YES") == 0 ? "1" : "0";

            free(kv->value);
            kv->value = qrt_xstrdup(b);
        }
    }
    return 0;
}

static int build_one(enum qrt_tool tool, const struct qrt_ini *ini, const char *name,
                     struct qrt_conf_section *s, struct qrt_err *err)
{
    const struct qrt_ini_section *from = NULL;

    s->name = qrt_xstrdup(name);
    overlay(s, qrt_ini_section(ini, "_"));
    if (strcmp(name, "_") != 0) {
        from = qrt_ini_section(ini, name);
        if (from == NULL)
            return qrt_err_set(err, QRT_EXIT_FATAL, "No such section %s", name);
        overlay(s, from);
    }
    fill_defaults(s);
    return validate(tool, s, err);
}

int qrt_config_build(enum qrt_tool tool, const struct qrt_ini *ini, const char *const *names,
                     size_t n, struct qrt_config **out, struct qrt_err *err)
{
    struct qrt_config *c = qrt_xcalloc(1, sizeof(*c));

    c->tool = tool;
    c->sections = qrt_xcalloc(n, sizeof(*c->sections));
    for (size_t i = 0; i < n; i++) {
        c->n_sections++;
        if (build_one(tool, ini, names[i], &c->sections[i], err) < 0) {
            qrt_config_free(c);
            return -1;
        }
    }
    *out = c;
    return 0;
}

const struct qrt_conf_section *qrt_config_section(const struct qrt_config *c, const char *name)
{
    for (size_t i = 0; c != NULL && i < c->n_sections; i++)
        if (strcmp(c->sections[i].name, name) == 0)
            return &c->sections[i];
    return NULL;
}

const char *qrt_conf_str(const struct qrt_conf_section *s, const char *key)
{
    const struct qrt_conf_kv *kv = find_kv(s, key);

    return kv ? kv->value : NULL;
}

int qrt_conf_bool(const struct qrt_conf_section *s, const char *key, int dflt)
{
    const char *v = qrt_conf_str(s, key);

    if (v == NULL)
        return dflt;
    return strcmp(v, "1") == 0 || strcasecmp(v, "YES") == 0;
}

int qrt_conf_ulong(const struct qrt_conf_section *s, const char *key, unsigned long *out)
{
    const char *v = qrt_conf_str(s, key);
    char *end;
    unsigned long u;

    if (v == NULL || *v == '\0')
        return 0;
    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    u = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = u;
    return 1;
}

void qrt_config_free(struct qrt_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_sections; i++) {
        for (size_t j = 0; j < c->sections[i].n_kv; j++) {
            free(c->sections[i].kv[j].key);
            free(c->sections[i].kv[j].value);
        }
        free(c->sections[i].kv);
        free(c->sections[i].name);
    }
    free(c->sections);
    free(c);
}
