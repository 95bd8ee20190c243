/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * run-transcripts: replay every tests/transcripts/NAME.imap through the
 * response parser and compare the event log with NAME.events.
 *
 * Each transcript is replayed
 *   (a) whole, (b) one byte at a time, (c) cut at random points (several
 *   seeded runs; the seed is printed and can be set with
 *   QR_TRANSCRIPT_SEED), (d) with every callback returning QR_PAUSE and the
 *   caller resuming until done, whole and (e) one byte at a time,
 * and every run must give exactly the expected log. Every piece fed is
 * first copied so that it ends right before a PROT_NONE guard page: any
 * read past the end of the slice faults. After an error the parser must
 * return the same error again (sticky) without consuming anything. Then
 * the allocation-failure pass makes each allocation of a clean run fail in
 * turn: the run must either give the same log or stop with QR_ENOMEM after
 * a prefix of it. Finally a few generated cases: a ~2 MB VANISHED
 * (EARLIER), the exact stop after a tagged OK (STARTTLS, COMPRESS), the
 * option checks and the name getters.
 *
 * Usage: run-transcripts DIR        (TAP on stdout)
 *        run-transcripts DIR --write NAME   (print NAME's log, to author a
 *                                            new .events file; review it!)
 * NAME.opts (optional) sets parser limits, one `key=value` per line.
 */
#include "config.h"

#include <dirent.h>
#include <qresync/error.h>
#include <qresync/resp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tap.h"
#include "events.h"
#include "util/alloc.h"

enum mode { M_WHOLE, M_BYTES, M_RANDOM, M_PAUSE, M_PAUSE_BYTES };
static const char *const mode_names[] = {"whole", "bytewise", "random", "pause", "pause-bytewise"};

/* ---- guard page ------------------------------------------------------- */

static char *guard_base;  /* start of the readable area */
static size_t guard_size; /* readable bytes before the guard page */

static void guard_setup(size_t need)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = (need / page + 1) * page;

    if (guard_base != NULL && guard_size >= need)
        return;
    if (guard_base != NULL)
        munmap(guard_base, guard_size + page);
    guard_base =
        mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_base == MAP_FAILED || mprotect(guard_base + size, page, PROT_NONE) != 0) {
        perror("guard page");
        exit(99);
    }
    guard_size = size;
}

/* Feed n bytes copied to end exactly at the guard page. */
static int guard_feed(qr_parser *p, const char *data, size_t n, size_t *used)
{
    char *at = guard_base + guard_size - n;

    memcpy(at, data, n);
    return qr_parser_feed(p, at, n, used);
}

/* ---- files ------------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void load_opts(const char *path, qr_parser_options *o)
{
    FILE *f = fopen(path, "r");
    char line[256], key[64];
    unsigned long long v;

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%63[a-z_]=%llu", key, &v) != 2)
            continue;
        if (strcmp(key, "max_small_literal") == 0)
            o->max_small_literal = (size_t)v;
        else if (strcmp(key, "max_literal") == 0)
            o->max_literal = v;
        else if (strcmp(key, "max_token") == 0)
            o->max_token = (size_t)v;
        else if (strcmp(key, "max_depth") == 0)
            o->max_depth = (unsigned)v;
        else if (strcmp(key, "max_response") == 0)
            o->max_response = (size_t)v;
    }
    fclose(f);
}

/* ---- one replay ------------------------------------------------------- */

static unsigned long rng_next(unsigned long *s)
{
    *s = *s * 6364136223846793005ul + 1442695040888963407ul;
    return *s >> 33;
}

static size_t chunk_size(int mode, size_t left, unsigned long *rng)
{
    if (mode == M_BYTES || mode == M_PAUSE_BYTES)
        return 1;
    if (mode == M_RANDOM) {
        size_t n = rng_next(rng) % 4 == 0 ? rng_next(rng) % 64 : rng_next(rng) % 8;
        return n == 0 ? 1 : (n > left ? left : n);
    }
    return left;
}

/* Replay; the log gets every event and the error line. Returns the final
 * code (0 when all was consumed). `problems` counts contract violations. */
static int replay(const char *data, size_t len, int mode, unsigned long seed,
                  const qr_parser_options *base, ev_log *log, int *problems)
{
    qr_parser_options o = *base;
    qr_parser *p = NULL;
    size_t off = 0, used, n, rounds = 0;
    unsigned long rng = seed;
    int rc;

    ev_log_attach(log, &o);
    log->pause = mode == M_PAUSE || mode == M_PAUSE_BYTES;
    rc = qr_parser_new(&p, &o);
    if (rc != 0) {
        ev_log_printf(log, "NEW %s", ev_code_name(rc));
        return rc;
    }
    rc = 0;
    while (off < len || rc == QR_PAUSE) { /* after a pause, feed again even with 0 bytes */
        if (++rounds > 4 * len + 1000) {
            ev_log_printf(log, "LOOP (no progress)");
            (*problems)++;
            break;
        }
        n = off == len ? 0 : chunk_size(mode, len - off, &rng);
        log->last_was_response = 0;
        rc = guard_feed(p, data + off, n, &used);
        if (used > n || (rc == 0 && used != n))
            (*problems)++;
        off += used;
        if (rc == QR_PAUSE) {
            if (log->last_was_response && data[off - 1] != '\n')
                (*problems)++;
            continue;
        }
        if (rc < 0) {
            ev_log_error(log, p, rc);
            if (guard_feed(p, data + off, len - off, &used) != rc || used != 0)
                (*problems)++;
            break;
        }
    }
    if (rc == 0 && qr_parser_offset(p) != len)
        (*problems)++;
    if (log->bad)
        ev_log_printf(log, "INCONSISTENT body events");
    qr_parser_free(p);
    return rc;
}

static void show_diff(const char *want, const char *got)
{
    size_t line = 1;
    const char *w = want, *g = got;

    while (*w && *w == *g) {
        if (*w == '\n')
            line++;
        w++;
        g++;
    }
    printf("#   first difference at line %zu\n", line);
    while (w > want && w[-1] != '\n')
        w--;
    while (g > got && g[-1] != '\n')
        g--;
    printf("#   want: %.*s\n", (int)strcspn(w, "\n"), w);
    printf("#   got:  %.*s\n", (int)strcspn(g, "\n"), g);
}

/* ---- one transcript --------------------------------------------------- */

static const char *dir;
static unsigned long seed = 20240601;

typedef struct transcript {
    char name[256];
    char *data;
    size_t len;
    char *want;
    size_t want_len;
    qr_parser_options opts;
} transcript;

static int load(transcript *t, const char *name)
{
    char path[4096];

    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    qr_parser_options_init(&t->opts, QR_PARSER_OPTIONS_VERSION);
    snprintf(path, sizeof(path), "%s/%s.imap", dir, name);
    t->data = slurp(path, &t->len);
    snprintf(path, sizeof(path), "%s/%s.events", dir, name);
    t->want = slurp(path, &t->want_len);
    snprintf(path, sizeof(path), "%s/%s.opts", dir, name);
    load_opts(path, &t->opts);
    if (t->data == NULL)
        return -1;
    guard_setup(t->len);
    return 0;
}

static void unload(transcript *t)
{
    free(t->data);
    free(t->want);
}

static void run_mode(const transcript *t, int mode, unsigned long s)
{
    ev_log log;
    int problems = 0;

    ev_log_init(&log);
    replay(t->data, t->len, mode, s, &t->opts, &log, &problems);
    if (t->want == NULL) {
        tap_fail_(__FILE__, __LINE__, "missing .events file");
    } else if (strcmp(log.buf ? log.buf : "", t->want) != 0) {
        tap_fail_(__FILE__, __LINE__, "event log differs");
        show_diff(t->want, log.buf ? log.buf : "");
    }
    CHECK_INT_EQ(problems, 0);
    ev_log_free(&log);
}

static int is_prefix(const char *prefix, size_t n, const char *s)
{
    return strncmp(prefix, s, n) == 0;
}

/* Fail allocation k of a clean run, for every k; see the file comment. */
static void run_allocfail(const transcript *t, int mode)
{
    unsigned long count, k;
    ev_log log;
    int problems = 0, rc;

    ev_log_init(&log);
    qr_alloc_fail_at(0, 0);
    replay(t->data, t->len, mode, seed, &t->opts, &log, &problems);
    count = qr_alloc_count();
    ev_log_free(&log);
    for (k = 1; k <= count + 1; k++) {
        ev_log_init(&log);
        qr_alloc_fail_at(k, 0);
        rc = replay(t->data, t->len, mode, seed, &t->opts, &log, &problems);
        qr_alloc_fail_at(0, 0);
        if (rc == QR_ENOMEM) {
            /* the log up to the error line must be a prefix of the expectation */
            const char *err = strstr(log.buf, "ERROR ENOMEM");
            const char *nw = log.buf ? strstr(log.buf, "NEW ENOMEM") : NULL;
            size_t n = err ? (size_t)(err - log.buf) : 0;
            if (nw == NULL && (err == NULL || !is_prefix(log.buf, n, t->want)))
                problems++;
        } else if (strcmp(log.buf ? log.buf : "", t->want) != 0) {
            printf("# alloc failure %lu of %lu changed the log\n", k, count);
            problems++;
        }
        ev_log_free(&log);
    }
    CHECK_INT_EQ(problems, 0);
}

static void run_transcript(const char *name)
{
    transcript t;
    char label[512];
    int mode, r;

    if (load(&t, name) != 0) {
        printf("not ok %d - %s (cannot read)\n", ++tap_count, name);
        tap_failures++;
        return;
    }
    for (mode = M_WHOLE; mode <= M_PAUSE_BYTES; mode++) {
        int runs = mode == M_RANDOM ? 5 : 1;
        tap_current_bad = 0;
        for (r = 0; r < runs; r++)
            run_mode(&t, mode, seed + (unsigned long)r);
        tap_count++;
        tap_failures += tap_current_bad;
        snprintf(label, sizeof(label), "%s %s", name, mode_names[mode]);
        printf("%sok %d - %s\n", tap_current_bad ? "not " : "", tap_count, label);
    }
    if (t.want != NULL && t.len < 100000) {
        tap_current_bad = 0;
        run_allocfail(&t, M_WHOLE);
        run_allocfail(&t, M_RANDOM);
        tap_count++;
        tap_failures += tap_current_bad;
        printf("%sok %d - %s allocation failures\n", tap_current_bad ? "not " : "", tap_count,
               name);
    }
    fflush(stdout);
    unload(&t);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_all(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *names[1024];
    size_t n = 0, i;

    if (d == NULL) {
        perror(dir);
        exit(99);
    }
    while ((e = readdir(d)) != NULL && n < 1024) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".imap") == 0)
            names[n++] = strndup(e->d_name, len - 5);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (i = 0; i < n; i++) {
        run_transcript(names[i]);
        free(names[i]);
    }
    printf("# %zu transcripts, seed %lu\n", n, seed);
}

/* ---- generated cases -------------------------------------------------- */

typedef struct huge_ctx {
    const qr_uidset *want; /* the set the input encodes */
    int seen;              /* VANISHED events with the right set */
    int other;             /* any other event */
} huge_ctx;

static int huge_on_response(const qr_resp *r, void *arg)
{
    huge_ctx *c = arg;

    if (r->kind == QR_RESP_VANISHED && r->u.vanished.earlier &&
        qr_uidset_equal(r->u.vanished.set, c->want))
        c->seen++;
    else
        c->other++;
    return 0;
}

/* A ~2 MB `VANISHED (EARLIER)` set, parsed incrementally. */
static void test_huge_vanished(void)
{
    size_t cap = 2200000, len = 0, used, off;
    char *buf = malloc(cap);
    qr_uidset *want = NULL;
    uint32_t u = 1;
    int mode;

    CHECK_INT_EQ(qr_uidset_new(&want), 0);
    len += (size_t)sprintf(buf, "* VANISHED (EARLIER) ");
    while (len < 2000000) {
        if (u % 3 == 0) {
            len += (size_t)sprintf(buf + len, "%u:%u,", (unsigned)u, (unsigned)u + 4);
            qr_uidset_add_range(want, u, u + 4);
            u += 7;
        } else {
            len += (size_t)sprintf(buf + len, "%u,", (unsigned)u);
            qr_uidset_add(want, u);
            u += 2;
        }
    }
    len += (size_t)sprintf(buf + len, "%u\r\n", (unsigned)u);
    qr_uidset_add(want, u);
    guard_setup(len);
    for (mode = M_WHOLE; mode <= M_RANDOM; mode++) {
        qr_parser_options o = QR_PARSER_OPTIONS_INIT;
        huge_ctx c = {want, 0, 0};
        unsigned long rng = seed;
        qr_parser *p = NULL;
        int rc = 0;

        o.callbacks.on_response = huge_on_response;
        o.payload = &c;
        CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
        for (off = 0; off < len && rc == 0; off += used) {
            size_t n = mode == M_WHOLE   ? len - off
                       : mode == M_BYTES ? 1
                                         : 1 + rng_next(&rng) % 5000;
            if (n > len - off)
                n = len - off;
            rc = guard_feed(p, buf + off, n, &used);
        }
        CHECK_INT_EQ(rc, 0);
        CHECK_INT_EQ(c.seen, 1);
        CHECK_INT_EQ(c.other, 0);
        qr_parser_free(p);
    }
    qr_uidset_free(want);
    free(buf);
}

/* A VANISHED set past max_response is refused (QR_ELIMIT), not stored. */
static void test_vanished_limit(void)
{
    qr_parser_options o = QR_PARSER_OPTIONS_INIT;
    qr_parser *p = NULL;
    char buf[4096];
    size_t len = 0, used;
    unsigned u;

    o.max_response = 256; /* 32 ranges */
    len += (size_t)sprintf(buf, "* VANISHED ");
    for (u = 1; u < 400; u += 2)
        len += (size_t)sprintf(buf + len, "%u,", u);
    len += (size_t)sprintf(buf + len, "1000\r\n");
    CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
    CHECK_INT_EQ(qr_parser_feed(p, buf, len, &used), QR_ELIMIT);
    qr_parser_free(p);
}

typedef struct stop_ctx {
    int tagged; /* tagged responses seen */
} stop_ctx;

static int stop_on_tagged(const qr_resp *r, void *arg)
{
    stop_ctx *c = arg;

    if (r->kind != QR_RESP_TAGGED)
        return 0;
    c->tagged++;
    return QR_PAUSE;
}

/* Stop exactly after the CRLF of a tagged OK, whatever the split. */
static void check_stop(const char *data, size_t len, size_t want_used)
{
    int mode;

    for (mode = M_WHOLE; mode <= M_RANDOM; mode++) {
        qr_parser_options o = QR_PARSER_OPTIONS_INIT;
        stop_ctx c = {0};
        qr_parser *p = NULL;
        size_t off = 0, used = 0;
        unsigned long rng = seed;
        int rc = 0;

        o.callbacks.on_response = stop_on_tagged;
        o.payload = &c;
        CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
        while (off < len) {
            size_t n = chunk_size(mode, len - off, &rng);
            rc = guard_feed(p, data + off, n, &used);
            off += used;
            if (rc != 0)
                break;
        }
        CHECK_INT_EQ(rc, QR_PAUSE);
        CHECK_UINT_EQ(off, want_used);
        CHECK_UINT_EQ(qr_parser_offset(p), want_used);
        CHECK_INT_EQ(c.tagged, 1);
        qr_parser_free(p);
    }
}

static void test_starttls_stops_at_crlf(void)
{
    static const char in[] = "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"
                             "a1 OK Begin TLS negotiation now\r\n"
                             "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    size_t line_end = strstr(in, "now\r\n") - in + 5;

    check_stop(in, sizeof(in) - 1, line_end);
}

static void test_compress_leaves_deflate_bytes(void)
{
    static const char in[] = "a2 OK [COMPRESSIONACTIVE] DEFLATE active\r\n"
                             "\x78\x9c\x00\r\n\x0a\xff\xfe* OK junk";
    size_t line_end = strstr(in, "active\r\n") - in + 8;

    check_stop(in, sizeof(in) - 1, line_end);
}

static void test_errors_are_sticky(void)
{
    static const char in[] = "* OK hi\r\n* LIST () \"/\" \"abc\r\n* OK more\r\n";
    qr_parser *p = NULL;
    size_t used = 99;

    CHECK_INT_EQ(qr_parser_new(&p, NULL), 0);
    CHECK_INT_EQ(qr_parser_last_error(p)->code, QR_OK);
    CHECK_UINT_EQ(qr_parser_error_offset(p), 0);
    CHECK_INT_EQ(qr_parser_feed(p, in, sizeof(in) - 1, &used), QR_EPROTO);
    CHECK_UINT_EQ(used, 27);
    CHECK_UINT_EQ(qr_parser_error_offset(p), 27);
    CHECK_INT_EQ(qr_parser_last_error(p)->code, QR_EPROTO);
    CHECK(strstr(qr_parser_last_error(p)->message, "unterminated quoted string") != NULL);
    CHECK_INT_EQ(qr_parser_feed(p, "* OK\r\n", 6, &used), QR_EPROTO);
    CHECK_UINT_EQ(used, 0);
    qr_parser_free(p);
}

static void test_options_are_checked(void)
{
    qr_parser_options o;
    qr_parser *p = (qr_parser *)&o;

    CHECK_INT_EQ(qr_parser_options_init(&o, 99), QR_EINVAL);
    CHECK_INT_EQ(qr_parser_options_init(NULL, QR_PARSER_OPTIONS_VERSION), QR_EINVAL);
    CHECK_INT_EQ(qr_parser_options_init(&o, QR_PARSER_OPTIONS_VERSION), 0);
    CHECK_UINT_EQ(o.max_small_literal, 65536);
    CHECK_UINT_EQ(o.max_depth, 32);
    o.max_literal = 2147483647u;
    CHECK_INT_EQ(qr_parser_new(&p, &o), QR_EINVAL);
    CHECK(p == NULL);
    qr_parser_options_init(&o, QR_PARSER_OPTIONS_VERSION);
    o.max_depth = 0;
    CHECK_INT_EQ(qr_parser_new(&p, &o), QR_EINVAL);
    o.max_depth = 1;
    o.version = 7;
    CHECK_INT_EQ(qr_parser_new(&p, &o), QR_EINVAL);
    CHECK_INT_EQ(qr_parser_new(NULL, NULL), QR_EINVAL);
    qr_parser_free(NULL);
}

static void test_names(void)
{
    CHECK_STR_EQ(qr_resp_kind_name(QR_RESP_FETCH), "FETCH");
    CHECK_STR_EQ(qr_resp_kind_name(QR_RESP_OTHER), "OTHER");
    CHECK_STR_EQ(qr_resp_kind_name(0), "UNKNOWN");
    CHECK_STR_EQ(qr_resp_kind_name(1000), "UNKNOWN");
    CHECK_STR_EQ(qr_resp_cond_name(QR_COND_PREAUTH), "PREAUTH");
    CHECK_STR_EQ(qr_resp_cond_name(-1), "");
    CHECK_STR_EQ(qr_resp_code_name(QR_CODE_READ_ONLY), "READ-ONLY");
    CHECK_STR_EQ(qr_resp_code_name(QR_CODE_NONE), "");
    CHECK_STR_EQ(qr_resp_code_name(QR_CODE_OTHER), "OTHER");
}

static qr_parser *reentry_parser;
static int reentry_rc;

static int reenter(const qr_resp *r, void *arg)
{
    size_t used;

    reentry_rc = qr_parser_feed(reentry_parser, "x", 1, &used);
    return *(int *)arg;
}

static void test_callbacks_cannot_reenter_and_may_abort(void)
{
    qr_parser_options o = QR_PARSER_OPTIONS_INIT;
    int ret = -42;
    size_t used;

    o.callbacks.on_response = reenter;
    o.payload = &ret;
    CHECK_INT_EQ(qr_parser_new(&reentry_parser, &o), 0);
    CHECK_INT_EQ(qr_parser_feed(reentry_parser, "* OK a\r\n* OK b\r\n", 16, &used), QR_EUSER);
    CHECK_INT_EQ(reentry_rc, QR_EINVAL);
    CHECK_UINT_EQ(used, 8);
    CHECK_INT_EQ(qr_parser_feed(reentry_parser, "* OK b\r\n", 8, &used), QR_EUSER);
    qr_parser_free(reentry_parser);
}

static int count_data(const char *d, size_t n, void *arg)
{
    *(uint64_t *)arg += n;
    return 0;
}

/* A 64 MiB body streams through with no allocation at all. */
static void test_bodies_are_streamed(void)
{
    static char chunk[65536];
    qr_parser_options o = QR_PARSER_OPTIONS_INIT;
    const char *head = "* 1 FETCH (UID 7 BODY[] {67108864}\r\n";
    qr_parser *p = NULL;
    uint64_t got = 0;
    size_t used, k;
    int rc = 0;

    memset(chunk, 'x', sizeof(chunk));
    o.callbacks.on_body_data = count_data;
    o.payload = &got;
    o.max_response = 65536;
    CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
    CHECK_INT_EQ(qr_parser_feed(p, head, strlen(head), &used), 0);
    qr_alloc_fail_at(1, 1); /* any allocation now fails */
    for (k = 0; k < 1024 && rc == 0; k++)
        rc = qr_parser_feed(p, chunk, sizeof(chunk), &used);
    CHECK_INT_EQ(qr_alloc_count(), 0);
    qr_alloc_fail_at(0, 0);
    CHECK_INT_EQ(rc, 0);
    CHECK_UINT_EQ(got, 67108864);
    CHECK_INT_EQ(qr_parser_feed(p, ")\r\n", 3, &used), 0);
    qr_parser_free(p);
}

typedef struct wire_ctx {
    char buf[256]; /* the pieces joined */
    size_t len;    /* bytes in buf */
} wire_ctx;

static void collect_wire(const char *b, size_t n, void *arg)
{
    wire_ctx *w = arg;

    if (w->len + n < sizeof(w->buf)) {
        memcpy(w->buf + w->len, b, n);
        w->len += n;
    }
}

static void test_wire_skips_literal_contents(void)
{
    static const char in[] = "* LIST () \"/\" {3}\r\nabc\r\n* 1 FETCH (BODY[] {5}\r\nhello)\r\n";
    static const char want[] = "* LIST () \"/\" {3}\r\n\r\n* 1 FETCH (BODY[] {5}\r\n)\r\n";
    qr_parser_options o = QR_PARSER_OPTIONS_INIT;
    qr_parser *p = NULL;
    wire_ctx w1 = {{0}, 0}, w2 = {{0}, 0};
    size_t used, i;

    o.callbacks.on_wire = collect_wire;
    o.payload = &w1;
    CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
    for (i = 0; i < sizeof(in) - 1; i++)
        CHECK_INT_EQ(qr_parser_feed(p, in + i, 1, &used), 0);
    CHECK_MEM_EQ(w1.buf, w1.len, want, sizeof(want) - 1);
    qr_parser_free(p);
    o.payload = &w2;
    CHECK_INT_EQ(qr_parser_new(&p, &o), 0);
    CHECK_INT_EQ(qr_parser_feed(p, in, sizeof(in) - 1, &used), 0);
    CHECK_MEM_EQ(w2.buf, w2.len, want, sizeof(want) - 1);
    qr_parser_free(p);
}

static void run_generated(void)
{
    TAP_RUN(test_huge_vanished);
    TAP_RUN(test_vanished_limit);
    TAP_RUN(test_starttls_stops_at_crlf);
    TAP_RUN(test_compress_leaves_deflate_bytes);
    TAP_RUN(test_errors_are_sticky);
    TAP_RUN(test_options_are_checked);
    TAP_RUN(test_names);
    TAP_RUN(test_callbacks_cannot_reenter_and_may_abort);
    TAP_RUN(test_bodies_are_streamed);
    TAP_RUN(test_wire_skips_literal_contents);
}

int main(int argc, char **argv)
{
    const char *env = getenv("QR_TRANSCRIPT_SEED");

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [--write NAME]\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    if (env != NULL)
        seed = strtoul(env, NULL, 10);
    if (argc == 4 && strcmp(argv[2], "--write") == 0) {
        transcript t;
        ev_log log;
        int problems = 0;
        if (load(&t, argv[3]) != 0)
            return 1;
        ev_log_init(&log);
        replay(t.data, t.len, M_WHOLE, seed, &t.opts, &log, &problems);
        fputs(log.buf ? log.buf : "", stdout);
        ev_log_free(&log);
        unload(&t);
        return problems != 0;
    }
    printf("# random split seed %lu (set QR_TRANSCRIPT_SEED to change)\n", seed);
    guard_setup(1 << 16);
    run_all();
    run_generated();
    return tap_done();
}
