/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ini.c: the INI reader, with Config::Tiny 2.28 semantics.
 *
 * Config::Tiny reads the file as bytes and, for each line:
 *
 *   - splits lines on CR LF, CR CR LF, lone CR or lone LF (the first
 *     alternative that matches at each position wins: "\r\r\r\n" is two
 *     line ends);
 *   - skips a line that is blank or whose first non-blank byte is '#' or
 *     ';' ("blank" is ASCII whitespace: space, TAB, LF, VT, FF, CR);
 *   - removes an inline comment: the first "WS ; WS X..." (X at least one
 *     byte) and everything after it (s/\s\;\s.+$//);
 *   - a header is /^\s*\[\s*(.+?)\s*\]\s*$/: the name is the text between
 *     the first '[' and the last ']' trimmed, except that an all-blank
 *     name keeps its last blank (the regex needs one byte);
 *   - a property is /^\s*([^=]+?)\s*=\s*(.*?)\s*$/: key before the first
 *     '=' trimmed (same all-blank rule), value after it trimmed;
 *   - anything else is a syntax error.
 *
 * The reference then read the whole file as empty; we report the line.
 * We also reject NUL bytes (no key accepts them in practice) so that keys
 * and values are C strings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcodes.h"
#include "ini.h"
#include "xalloc.h"

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* A [b, e) span of the current line. */
struct span {
    const char *b; /* first byte */
    const char *e; /* one past the last byte */
};

/* Trim as "\s*(.+?)\s*" does: blanks go, but at least one byte stays. */
static struct span trim_keep_one(struct span s)
{
    while (s.b < s.e && is_ws(*s.b))
        s.b++;
    if (s.b == s.e)
        return (struct span){s.e - 1, s.e};
    while (s.e > s.b && is_ws(s.e[-1]))
        s.e--;
    return s;
}

/* Plain trim "\s*(.*?)\s*": may become empty. */
static struct span trim(struct span s)
{
    while (s.b < s.e && is_ws(*s.b))
        s.b++;
    while (s.e > s.b && is_ws(s.e[-1]))
        s.e--;
    return s;
}

/* s/\s\;\s.+$//: cut at the first blank, ';', blank followed by at least one byte. */
static void strip_inline_comment(struct span *l)
{
    for (const char *p = l->b; p + 3 < l->e; p++) {
        if (is_ws(p[0]) && p[1] == ';' && is_ws(p[2])) {
            l->e = p;
            return;
        }
    }
}

static struct qrt_ini_section *get_section(struct qrt_ini *ini, const char *name, size_t len)
{
    for (size_t i = 0; i < ini->n_sections; i++) {
        if (strlen(ini->sections[i].name) == len && memcmp(ini->sections[i].name, name, len) == 0)
            return &ini->sections[i];
    }
    ini->sections = qrt_xreallocarray(ini->sections, ini->n_sections + 1, sizeof(*ini->sections));
    memset(&ini->sections[ini->n_sections], 0, sizeof(*ini->sections));
    ini->sections[ini->n_sections].name = qrt_xstrndup(name, len);
    return &ini->sections[ini->n_sections++];
}

static void set_entry(struct qrt_ini_section *s, struct span k, struct span v, unsigned line)
{
    size_t klen = (size_t)(k.e - k.b);
    struct qrt_ini_entry *e;

    for (size_t i = 0; i < s->n_entries; i++) {
        e = &s->entries[i];
        if (strlen(e->key) == klen && memcmp(e->key, k.b, klen) == 0) {
            free(e->value);
            e->value = qrt_xstrndup(v.b, (size_t)(v.e - v.b));
            e->line = line;
            return;
        }
    }
    s->entries = qrt_xreallocarray(s->entries, s->n_entries + 1, sizeof(*s->entries));
    e = &s->entries[s->n_entries++];
    e->key = qrt_xstrndup(k.b, klen);
    e->value = qrt_xstrndup(v.b, (size_t)(v.e - v.b));
    e->line = line;
}

/* "[ name ]" (after comment removal); returns 1 and the name span if it is a header. */
static int parse_header(struct span l, struct span *name)
{
    struct span t = trim(l);

    if (t.e - t.b < 3 || *t.b != '[' || t.e[-1] != ']')
        return 0;
    *name = trim_keep_one((struct span){t.b + 1, t.e - 1});
    return 1;
}

/* One line; returns 0, or -1 with a reason for the syntax error. */
static int parse_line(struct qrt_ini *ini, struct qrt_ini_section **cur, struct span l,
                      unsigned line, const char **why)
{
    struct span t = trim(l), name;
    const char *eq;

    if (t.b == t.e || *t.b == '#' || *t.b == ';')
        return 0;
    strip_inline_comment(&l);
    if (parse_header(l, &name)) {
        *cur = get_section(ini, name.b, (size_t)(name.e - name.b));
        return 0;
    }
    eq = memchr(l.b, '=', (size_t)(l.e - l.b));
    if (eq == NULL) {
        *why = "expected \"[section]\" or \"key = value\"";
        return -1;
    }
    if (eq == l.b) {
        *why = "empty key before \"=\"";
        return -1;
    }
    set_entry(*cur, trim_keep_one((struct span){l.b, eq}), trim((struct span){eq + 1, l.e}), line);
    return 0;
}

/* The length of the line end at p (0 if none). */
static size_t eol_len(const char *p, const char *end)
{
    if (*p == '\n')
        return 1;
    if (*p != '\r')
        return 0;
    if (p + 1 < end && p[1] == '\n')
        return 2;
    if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
        return 3;
    return 1;
}

int qrt_ini_parse(const char *data, size_t len, const char *path, struct qrt_ini **out,
                  struct qrt_err *err)
{
    struct qrt_ini *ini = qrt_xcalloc(1, sizeof(*ini));
    struct qrt_ini_section *cur = get_section(ini, "_", 1);
    const char *p = data, *end = data + len, *nul = memchr(data, '\0', len);
    unsigned line = 0;

    while (p < end) {
        const char *b = p, *why = NULL;
        size_t n = 0;

        while (p < end && (n = eol_len(p, end)) == 0)
            p++;
        line++;
        if (nul != NULL && nul >= b && nul < p)
            why = "NUL byte";
        if (why != NULL || parse_line(ini, &cur, (struct span){b, p}, line, &why) < 0) {
            qrt_err_set(err, QRT_EXIT_FATAL, "Syntax error in %s line %u: %s: %.*s", path, line,
                        why, (int)(p - b), b);
            qrt_ini_free(ini);
            return -1;
        }
        p += n;
    }
    *out = ini;
    return 0;
}

static int read_all(int fd, char **data, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = qrt_xmalloc(cap);

    for (;;) {
        ssize_t r;

        if (n == cap)
            buf = qrt_xreallocarray(buf, cap *= 2, 1);
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *data = buf;
    *len = n;
    return 0;
}

int qrt_ini_read_file(const char *path, struct qrt_ini **out, struct qrt_err *err)
{
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int fd, rc;

    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
        faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) < 0)
        return qrt_err_set(err, QRT_EXIT_FATAL, "No such config file %s", path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read_all(fd, &data, &len) < 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return qrt_err_set(err, QRT_EXIT_FATAL, "Can't read %s: %s", path, strerror(e));
    }
    close(fd);
    rc = qrt_ini_parse(data, len, path, out, err);
    free(data);
    return rc;
}

const struct qrt_ini_section *qrt_ini_section(const struct qrt_ini *ini, const char *name)
{
    for (size_t i = 0; ini != NULL && i < ini->n_sections; i++)
        if (strcmp(ini->sections[i].name, name) == 0)
            return &ini->sections[i];
    return NULL;
}

const char *qrt_ini_get(const struct qrt_ini_section *s, const char *key)
{
    for (size_t i = 0; s != NULL && i < s->n_entries; i++)
        if (strcmp(s->entries[i].key, key) == 0)
            return s->entries[i].value;
    return NULL;
}

void qrt_ini_free(struct qrt_ini *ini)
{
    if (ini == NULL)
        return;
    for (size_t i = 0; i < ini->n_sections; i++) {
        for (size_t j = 0; j < ini->sections[i].n_entries; j++) {
            free(ini->sections[i].entries[j].key);
            free(ini->sections[i].entries[j].value);
        }
        free(ini->sections[i].entries);
        free(ini->sections[i].name);
    }
    free(ini->sections);
    free(ini);
}
