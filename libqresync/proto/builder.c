/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The typed command builder: a qr_cmd is built from its name and typed
 * arguments, as a list of TEXT and LIT segments over one capped text
 * buffer (see proto/builder_p.h for the structure, cmdwire.c for how it is
 * serialized and rendered for logs).
 *
 * Invariants:
 *   - cmd->text never holds CR, LF or NUL. Every text byte enters through
 *     text_claim(), which checks the bytes it registers, so a caller's
 *     string can only travel in a literal, never as command-line bytes.
 *   - TEXT segments cover cmd->text in order without gaps; a new TEXT
 *     segment starts only when the secret flag changes or after a literal.
 *   - Every public appender is atomic: it takes a mark, and on failure
 *     rolls the command back to it (text length, segments, spacing, list
 *     depth) and records the error as the command's sticky error. Later
 *     appenders return that error at once.
 *   - Spacing: `need_space` says whether the next argument is preceded by
 *     one SP; it is set after every argument and after `)`, cleared by `(`.
 *     The separating space is never secret, so a redacted rendering still
 *     shows where an argument was.
 *
 * Usage: qr_cmd_new(), appenders, then give the command to a session (or
 * to qr_cmdw_init() in tests); qr_cmd_free() at the end.
 */
#include "config.h"

#include <qresync/cmd.h>
#include <qresync/error.h>
#include <string.h>

#include "proto/builder_p.h"
#include "util/alloc.h"
#include "util/text.h"
#include "util/uidset_p.h"
#include "util/utf7.h"

/* A point to roll back to. */
typedef struct mark {
    size_t text_len; /* cmd->text.len */
    size_t nsegs;    /* cmd->nsegs */
    size_t last_len; /* len of the last segment when it is TEXT */
    int need_space;  /* cmd->need_space */
    int depth;       /* cmd->depth */
    int has_slot;    /* cmd->has_slot */
} mark;

static void mark_take(const qr_cmd *cmd, mark *m)
{
    m->text_len = cmd->text.len;
    m->nsegs = cmd->nsegs;
    m->last_len = cmd->nsegs ? cmd->segs[cmd->nsegs - 1].len : 0;
    m->need_space = cmd->need_space;
    m->depth = cmd->depth;
    m->has_slot = cmd->has_slot;
}

static void rollback(qr_cmd *cmd, const mark *m)
{
    while (cmd->nsegs > m->nsegs) {
        qr_cmdseg *s = &cmd->segs[--cmd->nsegs];
        if (s->kind == QR_SEG_LIT && s->src == QR_LIT_COPY)
            qr_free((void *)s->data);
    }
    if (cmd->nsegs > 0 && cmd->segs[cmd->nsegs - 1].kind == QR_SEG_TEXT)
        cmd->segs[cmd->nsegs - 1].len = m->last_len;
    cmd->text.len = m->text_len;
    if (cmd->text.ptr)
        cmd->text.ptr[cmd->text.len] = '\0';
    cmd->need_space = m->need_space;
    cmd->depth = m->depth;
    cmd->has_slot = m->has_slot;
}

/* Start an appender: the sticky error, or 0 with a mark taken. */
static int begin(qr_cmd *cmd, mark *m)
{
    if (cmd == NULL)
        return QR_EINVAL;
    if (cmd->error)
        return cmd->error;
    mark_take(cmd, m);
    return 0;
}

/* End an appender: on failure roll back and make the error sticky. */
static int finish(qr_cmd *cmd, const mark *m, int rc)
{
    if (rc < 0) {
        rollback(cmd, m);
        cmd->error = rc;
    }
    return rc;
}

/* Room for one more segment. */
static int segs_reserve(qr_cmd *cmd)
{
    size_t want;
    qr_cmdseg *p;

    if (cmd->nsegs < cmd->segs_alloc)
        return 0;
    if (cmd->nsegs >= QR_CMD_SEGS_MAX)
        return QR_ELIMIT;
    want = cmd->segs_alloc ? cmd->segs_alloc * 2 : 8;
    if (want > QR_CMD_SEGS_MAX)
        want = QR_CMD_SEGS_MAX;
    p = qr_reallocarray(cmd->segs, want, sizeof(*p));
    if (p == NULL)
        return QR_ENOMEM;
    cmd->segs = p;
    cmd->segs_alloc = want;
    return 0;
}

/* A new segment (room must have been reserved), zeroed. */
static qr_cmdseg *seg_push(qr_cmd *cmd, enum qr_seg_kind kind, int secret)
{
    qr_cmdseg *s = &cmd->segs[cmd->nsegs++];

    memset(s, 0, sizeof(*s));
    s->kind = (unsigned char)kind;
    s->secret = (unsigned char)(secret != 0);
    return s;
}

/*
 * Register cmd->text[from..len) as text with this secret flag: the one
 * place where text bytes are accepted. A segment must have been reserved.
 */
static int text_claim(qr_cmd *cmd, size_t from, int secret)
{
    const char *p = cmd->text.ptr + from;
    size_t n = cmd->text.len - from, i;
    qr_cmdseg *last = cmd->nsegs ? &cmd->segs[cmd->nsegs - 1] : NULL;

    for (i = 0; i < n; i++)
        if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n')
            return QR_EINVAL;
    if (last == NULL || last->kind != QR_SEG_TEXT || last->secret != (secret != 0)) {
        last = seg_push(cmd, QR_SEG_TEXT, secret);
        last->off = from;
    }
    last->len += n;
    return 0;
}

static int text_add(qr_cmd *cmd, const char *p, size_t n, int secret)
{
    size_t from = cmd->text.len;
    int rc;

    if (n == 0)
        return 0;
    rc = segs_reserve(cmd);
    if (rc == 0)
        rc = qr_dynbuf_add(&cmd->text, p, n);
    if (rc == 0)
        rc = text_claim(cmd, from, secret);
    return rc;
}

/* The space before an argument, when one is due. */
static int sep(qr_cmd *cmd)
{
    return cmd->need_space ? text_add(cmd, " ", 1, 0) : 0;
}

/* One argument of command-line text (already checked by the caller). */
static int add_text_arg(qr_cmd *cmd, const char *p, size_t n)
{
    int rc = sep(cmd);

    if (rc == 0)
        rc = text_add(cmd, p, n, cmd->secret);
    if (rc == 0)
        cmd->need_space = 1;
    return rc;
}

/*
 * One literal argument described by `model` (source, size, binary); `data`
 * is already owned when the source is QR_LIT_COPY.
 */
static int add_lit_arg(qr_cmd *cmd, const qr_cmdseg *model)
{
    qr_cmdseg *s;
    int rc = sep(cmd);

    if (rc == 0)
        rc = segs_reserve(cmd);
    if (rc < 0)
        return rc;
    s = seg_push(cmd, QR_SEG_LIT, cmd->secret);
    *s = *model;
    s->kind = QR_SEG_LIT;
    s->secret = (unsigned char)(cmd->secret != 0);
    cmd->need_space = 1;
    return 0;
}

/* A literal holding a copy of p[0..len). */
static int add_copied_literal(qr_cmd *cmd, const void *p, size_t len, int binary)
{
    qr_cmdseg model;
    int rc;

    memset(&model, 0, sizeof(model));
    model.src = QR_LIT_COPY;
    model.binary = (unsigned char)binary;
    model.size = len;
    model.data = qr_malloc(len);
    if (model.data == NULL)
        return QR_ENOMEM;
    if (len)
        memcpy((void *)model.data, p, len);
    rc = add_lit_arg(cmd, &model);
    if (rc < 0)
        qr_free((void *)model.data);
    return rc;
}

static int is_atom(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!qr_is_atom_char((unsigned char)s[i]))
            return 0;
    return n > 0;
}

QR_EXTERN int qr_cmd_new(qr_cmd **out, const char *name, unsigned int flags)
{
    qr_cmd *cmd;
    const char *p, *sp;
    int rc;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (name == NULL || (flags & ~(unsigned int)QR_CMD_UTF8_ACCEPT) != 0)
        return QR_EINVAL;
    for (p = name;; p = sp + 1) {
        sp = strchr(p, ' ');
        if (!is_atom(p, sp ? (size_t)(sp - p) : strlen(p)))
            return QR_EINVAL;
        if (sp == NULL)
            break;
    }
    cmd = qr_calloc(1, sizeof(*cmd));
    if (cmd == NULL)
        return QR_ENOMEM;
    qr_dynbuf_init(&cmd->text, QR_CMD_TEXT_MAX);
    cmd->flags = flags;
    rc = add_text_arg(cmd, name, strlen(name));
    if (rc < 0) {
        qr_cmd_free(cmd);
        return rc;
    }
    *out = cmd;
    return 0;
}

QR_EXTERN void qr_cmd_free(qr_cmd *cmd)
{
    size_t i;

    if (cmd == NULL)
        return;
    for (i = 0; i < cmd->nsegs; i++)
        if (cmd->segs[i].kind == QR_SEG_LIT && cmd->segs[i].src == QR_LIT_COPY)
            qr_free((void *)cmd->segs[i].data);
    qr_free(cmd->segs);
    qr_dynbuf_free(&cmd->text);
    qr_free(cmd);
}

QR_EXTERN int qr_cmd_error(const qr_cmd *cmd)
{
    return cmd ? cmd->error : QR_EINVAL;
}

QR_EXTERN void qr_cmd_set_secret(qr_cmd *cmd, int on)
{
    if (cmd)
        cmd->secret = on != 0;
}

QR_EXTERN int qr_cmd_add_atom(qr_cmd *cmd, const char *atom)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (atom == NULL || !is_atom(atom, strlen(atom)))
        return finish(cmd, &m, QR_EINVAL);
    return finish(cmd, &m, add_text_arg(cmd, atom, strlen(atom)));
}

QR_EXTERN int qr_cmd_add_raw(qr_cmd *cmd, const char *text)
{
    mark m;
    size_t i, n;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    n = text ? strlen(text) : 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
            break;
    if (n == 0 || i < n)
        return finish(cmd, &m, QR_EINVAL);
    return finish(cmd, &m, add_text_arg(cmd, text, n));
}

/* An astring or string in the form qr_quote_form() picks. */
static int add_string_form(qr_cmd *cmd, const char *p, size_t len, unsigned int qflags)
{
    size_t from;
    int rc;

    switch (qr_quote_form(p, len, qflags)) {
    case QR_QFORM_ATOM:
        return add_text_arg(cmd, p, len);
    case QR_QFORM_QUOTED:
        rc = sep(cmd);
        if (rc == 0)
            rc = segs_reserve(cmd);
        from = cmd->text.len;
        if (rc == 0)
            rc = qr_quote_append(&cmd->text, p, len);
        if (rc == 0)
            rc = text_claim(cmd, from, cmd->secret);
        if (rc == 0)
            cmd->need_space = 1;
        return rc;
    case QR_QFORM_LITERAL:
        return add_copied_literal(cmd, p, len, 0);
    case QR_QFORM_INVALID:
    default:
        return QR_EINVAL;
    }
}

QR_EXTERN int qr_cmd_add_astring(qr_cmd *cmd, const void *data, size_t len)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (data == NULL && len > 0)
        return finish(cmd, &m, QR_EINVAL);
    return finish(cmd, &m, add_string_form(cmd, data, len, 0));
}

QR_EXTERN int qr_cmd_add_string(qr_cmd *cmd, const void *data, size_t len)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (data == NULL && len > 0)
        return finish(cmd, &m, QR_EINVAL);
    return finish(cmd, &m, add_string_form(cmd, data, len, QR_QUOTE_NO_ATOM));
}

static int is_inbox(const char *s)
{
    static const char inbox[] = "inbox";
    size_t i;

    for (i = 0; i < 5; i++)
        if (s[i] == '\0' || (s[i] | 0x20) != inbox[i])
            return 0;
    return s[5] == '\0';
}

static int valid_utf8(const char *s, size_t len)
{
    size_t i = 0, n;
    unsigned long cp;

    while (i < len) {
        n = qr_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

static int add_mailbox(qr_cmd *cmd, const char *utf8)
{
    size_t len = strlen(utf8);
    qr_dynbuf mutf7;
    int rc;

    if (is_inbox(utf8))
        return add_text_arg(cmd, "INBOX", 5);
    if (cmd->flags & QR_CMD_UTF8_ACCEPT) {
        if (!valid_utf8(utf8, len))
            return QR_EINVAL;
        return add_string_form(cmd, utf8, len, QR_QUOTE_UTF8);
    }
    qr_dynbuf_init(&mutf7, QR_CMD_TEXT_MAX);
    rc = qr_utf7_encode(&mutf7, utf8, len);
    if (rc == 0)
        rc = add_string_form(cmd, mutf7.ptr ? mutf7.ptr : "", mutf7.len, 0);
    qr_dynbuf_free(&mutf7);
    return rc;
}

QR_EXTERN int qr_cmd_add_mailbox(qr_cmd *cmd, const char *utf8)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (utf8 == NULL)
        return finish(cmd, &m, QR_EINVAL);
    return finish(cmd, &m, add_mailbox(cmd, utf8));
}

QR_EXTERN int qr_cmd_add_number64(qr_cmd *cmd, uint64_t n)
{
    char digits[20];
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    return finish(cmd, &m, add_text_arg(cmd, digits, qr_fmt_u64(digits, n)));
}

QR_EXTERN int qr_cmd_add_number(qr_cmd *cmd, uint32_t n)
{
    return qr_cmd_add_number64(cmd, n);
}

/* Either "\Name" of a settable system flag, or a keyword atom. */
static int is_flag(const char *f)
{
    static const char *const system[] = {"answered", "flagged", "deleted", "seen", "draft"};
    size_t i, k, n;

    if (f[0] != '\\')
        return is_atom(f, strlen(f));
    n = strlen(f + 1);
    for (k = 0; k < sizeof(system) / sizeof(system[0]); k++) {
        if (strlen(system[k]) != n)
            continue;
        for (i = 0; i < n && (f[1 + i] | 0x20) == system[k][i]; i++)
            ;
        if (i == n)
            return 1;
    }
    return 0;
}

static int add_flag(qr_cmd *cmd, const char *flag)
{
    if (flag == NULL || !is_flag(flag))
        return QR_EINVAL;
    return add_text_arg(cmd, flag, strlen(flag));
}

QR_EXTERN int qr_cmd_add_flag(qr_cmd *cmd, const char *flag)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    return finish(cmd, &m, add_flag(cmd, flag));
}

static int list_open(qr_cmd *cmd)
{
    int rc;

    if (cmd->depth >= QR_CMD_DEPTH_MAX)
        return QR_ELIMIT;
    rc = sep(cmd);
    if (rc == 0)
        rc = text_add(cmd, "(", 1, 0);
    if (rc == 0) {
        cmd->depth++;
        cmd->need_space = 0;
    }
    return rc;
}

static int list_close(qr_cmd *cmd)
{
    int rc;

    if (cmd->depth <= 0)
        return QR_EINVAL;
    rc = text_add(cmd, ")", 1, 0);
    if (rc == 0) {
        cmd->depth--;
        cmd->need_space = 1;
    }
    return rc;
}

QR_EXTERN int qr_cmd_add_flags(qr_cmd *cmd, const char *const *flags, size_t n)
{
    mark m;
    size_t i;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (flags == NULL && n > 0)
        return finish(cmd, &m, QR_EINVAL);
    rc = list_open(cmd);
    for (i = 0; i < n && rc == 0; i++)
        rc = add_flag(cmd, flags[i]);
    if (rc == 0)
        rc = list_close(cmd);
    return finish(cmd, &m, rc);
}

QR_EXTERN int qr_cmd_list_open(qr_cmd *cmd)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    return finish(cmd, &m, list_open(cmd));
}

QR_EXTERN int qr_cmd_list_close(qr_cmd *cmd)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    return finish(cmd, &m, list_close(cmd));
}

static int add_uidset(qr_cmd *cmd, const qr_uidset *set)
{
    size_t from;
    int rc;

    if (set == NULL || qr_uidset_count(set) == 0)
        return QR_EINVAL;
    rc = sep(cmd);
    if (rc == 0)
        rc = segs_reserve(cmd);
    if (rc < 0)
        return rc;
    from = cmd->text.len;
    rc = qr_uidset_append_to(set, &cmd->text);
    if (rc == 0)
        rc = text_claim(cmd, from, cmd->secret);
    if (rc < 0)
        return rc;
    if (!cmd->has_slot) {
        cmd->has_slot = 1;
        cmd->slot_off = from;
        cmd->slot_len = cmd->text.len - from;
    }
    cmd->need_space = 1;
    return 0;
}

QR_EXTERN int qr_cmd_add_uidset(qr_cmd *cmd, const qr_uidset *set)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    return finish(cmd, &m, add_uidset(cmd, set));
}

QR_EXTERN int qr_cmd_add_literal(qr_cmd *cmd, const void *data, size_t len, unsigned int flags)
{
    const unsigned int known = QR_CMD_LITERAL_BORROW | QR_CMD_LITERAL_BINARY;
    int binary = (flags & QR_CMD_LITERAL_BINARY) != 0;
    qr_cmdseg model;
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if ((flags & ~known) != 0 || (data == NULL && len > 0) || (uint64_t)len > QR_CMD_LITERAL_MAX)
        return finish(cmd, &m, QR_EINVAL);
    if (!(flags & QR_CMD_LITERAL_BORROW))
        return finish(cmd, &m, add_copied_literal(cmd, data, len, binary));
    memset(&model, 0, sizeof(model));
    model.src = QR_LIT_BORROW;
    model.binary = (unsigned char)binary;
    model.size = len;
    model.data = data;
    return finish(cmd, &m, add_lit_arg(cmd, &model));
}

QR_EXTERN int qr_cmd_add_literal_stream(qr_cmd *cmd, uint64_t size, qr_cmd_read_fn read,
                                        void *payload, unsigned int flags)
{
    qr_cmdseg model;
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (read == NULL || (flags & ~(unsigned int)QR_CMD_LITERAL_BINARY) != 0 ||
        size > QR_CMD_LITERAL_MAX)
        return finish(cmd, &m, QR_EINVAL);
    memset(&model, 0, sizeof(model));
    model.src = QR_LIT_STREAM;
    model.binary = (flags & QR_CMD_LITERAL_BINARY) != 0;
    model.size = size;
    model.read = read;
    model.payload = payload;
    return finish(cmd, &m, add_lit_arg(cmd, &model));
}

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int valid_date(int year, int month, int day)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap, last;

    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
        return 0;
    leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    last = mdays[month - 1] + (month == 2 && leap);
    return day <= last;
}

/* v as exactly `width` decimal digits, zero-padded. */
static size_t put_fixed(char *buf, unsigned int v, size_t width)
{
    size_t i;

    for (i = width; i > 0; i--) {
        buf[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return width;
}

/* "Mon-yyyy" */
static size_t put_month_year(char *buf, int month, int year)
{
    memcpy(buf, months[month - 1], 3);
    buf[3] = '-';
    return 4 + put_fixed(buf + 4, (unsigned int)year, 4);
}

QR_EXTERN int qr_cmd_add_date(qr_cmd *cmd, int year, int month, int day)
{
    char buf[16];
    size_t n;
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (!valid_date(year, month, day))
        return finish(cmd, &m, QR_EINVAL);
    n = qr_fmt_u64(buf, (uint64_t)day);
    buf[n++] = '-';
    n += put_month_year(buf + n, month, year);
    return finish(cmd, &m, add_text_arg(cmd, buf, n));
}

/* `"dd-Mon-yyyy hh:mm:ss +zzzz"` from checked fields. */
static int add_date_time(qr_cmd *cmd, const struct tm *tm, int tz)
{
    int year = tm->tm_year + 1900, month = tm->tm_mon + 1;
    unsigned int az = (unsigned int)(tz < 0 ? -tz : tz);
    char buf[32];
    size_t n = 0;

    if (tm->tm_year > 9999 - 1900 || !valid_date(year, month, tm->tm_mday) || tm->tm_hour < 0 ||
        tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59 || tm->tm_sec < 0 ||
        tm->tm_sec > 60 || tz < -1439 || tz > 1439)
        return QR_EINVAL;
    buf[n++] = '"';
    n += put_fixed(buf + n, (unsigned int)tm->tm_mday, 2);
    buf[n++] = '-';
    n += put_month_year(buf + n, month, year);
    buf[n++] = ' ';
    n += put_fixed(buf + n, (unsigned int)tm->tm_hour, 2);
    buf[n++] = ':';
    n += put_fixed(buf + n, (unsigned int)tm->tm_min, 2);
    buf[n++] = ':';
    n += put_fixed(buf + n, (unsigned int)tm->tm_sec, 2);
    buf[n++] = ' ';
    buf[n++] = tz < 0 ? '-' : '+';
    n += put_fixed(buf + n, az / 60 * 100 + az % 60, 4);
    buf[n++] = '"';
    return add_text_arg(cmd, buf, n);
}

QR_EXTERN int qr_cmd_add_date_time(qr_cmd *cmd, const struct tm *tm, int tz_minutes)
{
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if (tm == NULL)
        return finish(cmd, &m, QR_EINVAL);
    return finish(cmd, &m, add_date_time(cmd, tm, tz_minutes));
}

QR_EXTERN int qr_cmd_add_date_time_t(qr_cmd *cmd, time_t t, int tz_minutes)
{
    /* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, one day of margin each */
    const long long lo = -62135596800LL - 86400, hi = 253402300799LL + 86400;
    long long local;
    time_t shifted;
    struct tm tm;
    mark m;
    int rc = begin(cmd, &m);

    if (rc)
        return rc;
    if ((long long)t < lo || (long long)t > hi || tz_minutes < -1439 || tz_minutes > 1439)
        return finish(cmd, &m, QR_EINVAL);
    local = (long long)t + (long long)tz_minutes * 60;
    shifted = (time_t)local;
    if ((long long)shifted != local || gmtime_r(&shifted, &tm) == NULL)
        return finish(cmd, &m, QR_EINVAL);
    return finish(cmd, &m, add_date_time(cmd, &tm, tz_minutes));
}

/* --- splitting a command over the pieces of a UID set ------------------ */

typedef struct split_ctx {
    const qr_cmd *tmpl; /* the template (borrowed) */
    qr_cmd_piece_fn fn; /* receives each command */
    void *payload;      /* for fn */
} split_ctx;

/* tmpl with its slot replaced by piece[0..len), rebuilt segment by segment. */
static int clone_with_piece(const qr_cmd *t, const char *piece, size_t len, qr_cmd **out)
{
    size_t i, slot_end = t->slot_off + t->slot_len;
    qr_cmd *c = qr_calloc(1, sizeof(*c));
    int rc = 0;

    if (c == NULL)
        return QR_ENOMEM;
    qr_dynbuf_init(&c->text, QR_CMD_TEXT_MAX);
    c->flags = t->flags;
    for (i = 0; i < t->nsegs && rc == 0; i++) {
        const qr_cmdseg *s = &t->segs[i];
        const char *p = t->text.ptr + s->off;
        size_t end = s->off + s->len;

        if (end <= t->slot_off || s->off >= slot_end) {
            rc = text_add(c, p, s->len, s->secret);
            continue;
        }
        rc = text_add(c, p, t->slot_off - s->off, s->secret);
        c->slot_off = c->text.len;
        if (rc == 0)
            rc = text_add(c, piece, len, s->secret);
        if (rc == 0)
            rc = text_add(c, t->text.ptr + slot_end, end - slot_end, s->secret);
    }
    c->has_slot = 1;
    c->slot_len = len;
    c->need_space = t->need_space;
    c->secret = t->secret;
    if (rc < 0) {
        qr_cmd_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int split_piece(const char *piece, size_t len, void *payload)
{
    split_ctx *ctx = payload;
    qr_cmd *c;
    int rc = clone_with_piece(ctx->tmpl, piece, len, &c);

    return rc < 0 ? rc : ctx->fn(c, ctx->payload);
}

QR_EXTERN int qr_cmd_split_uidset(const qr_cmd *cmd, const qr_uidset *set, size_t line_budget,
                                  qr_cmd_piece_fn fn, void *payload)
{
    split_ctx ctx;
    qr_dynbuf whole;
    size_t i, fixed;
    int rc;

    if (cmd == NULL || set == NULL || fn == NULL || cmd->error || cmd->depth != 0 ||
        !cmd->has_slot || qr_uidset_count(set) == 0)
        return QR_EINVAL;
    for (i = 0; i < cmd->nsegs; i++)
        if (cmd->segs[i].kind != QR_SEG_TEXT)
            return QR_EINVAL;
    fixed = cmd->text.len - cmd->slot_len;
    if (line_budget <= fixed)
        return QR_ELIMIT;
    ctx.tmpl = cmd;
    ctx.fn = fn;
    ctx.payload = payload;
    if (line_budget - fixed >= QR_UIDSET_MAX_ELEMENT)
        return qr_uidset_format_split(set, line_budget - fixed, split_piece, &ctx);
    /* Too little room for any element: only a set that fits whole will do. */
    qr_dynbuf_init(&whole, line_budget - fixed);
    rc = qr_uidset_append_to(set, &whole);
    if (rc == 0)
        rc = split_piece(whole.ptr, whole.len, &ctx);
    qr_dynbuf_free(&whole);
    return rc;
}
