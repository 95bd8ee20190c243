/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scripted fake server (see fakeserver.h and README.md).
 *
 * The server side is a script of steps run in order. Client bytes are
 * collected with qr_session_output()/qr_session_consume() into one buffer;
 * `expect` steps match and remove its head. Server bytes go through
 * qr_session_feed() in pieces of the current split size; a QR_PAUSE is
 * counted and the rest fed again, so a script runs the same whether or not
 * callbacks pause. Any feed error stops the send and is kept in last_rc for
 * a later `rc` step.
 */
#include "fakeserver.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fs_init(fakeserver *fs, qr_session *s)
{
    memset(fs, 0, sizeof(*fs));
    fs->s = s;
}

int fs_pull(fakeserver *fs)
{
    for (;;) {
        qr_iov iov[16];
        size_t n = 0, i, total = 0, inflight = 0;
        int rc = qr_session_output(fs->s, iov, 16, &n);

        if (rc != 0)
            return rc;
        if (n == 0)
            return 0;
        for (i = 0; i < n; i++) {
            if (fs->client_len + iov[i].len > FS_BUF)
                return -1000;
            memcpy(fs->client + fs->client_len, iov[i].base, iov[i].len);
            fs->client_len += iov[i].len;
            total += iov[i].len;
        }
        fs->sent_total += total;
        rc = qr_session_consume(fs->s, total);
        if (rc != 0)
            return rc;
        qr_session_queue_counts(fs->s, NULL, &inflight);
        if (inflight > fs->max_in_flight)
            fs->max_in_flight = inflight;
    }
}

int fs_send(fakeserver *fs, const char *bytes, size_t len)
{
    size_t split = fs->force_split ? fs->force_split : fs->split;
    size_t off = 0;

    while (off < len) {
        size_t piece = split && split < len - off ? split : len - off;
        size_t done = 0, used = 0;

        while (done < piece) {
            int rc = qr_session_feed(fs->s, bytes + off + done, piece - done, &used);
            done += used;
            if (rc == QR_PAUSE) {
                fs->pauses++;
                continue;
            }
            if (rc != 0)
                return fs->last_rc = rc;
        }
        off += piece;
    }
    return fs->last_rc = 0;
}

size_t fs_unescape(const char *in, char *out)
{
    size_t n = 0;

    while (*in) {
        if (*in != '\\' || in[1] == '\0') {
            out[n++] = *in++;
            continue;
        }
        in++;
        switch (*in) {
        case 'r':
            out[n++] = '\r';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'x': {
            char hex[3] = {in[1], in[1] ? in[2] : 0, 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            in += 2;
            break;
        }
        default:
            out[n++] = *in;
            break;
        }
        in++;
    }
    out[n] = '\0';
    return n;
}

static void shown(char *dst, size_t cap, const char *p, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r' || c == '\n')
            k += (size_t)snprintf(dst + k, cap - k, "\\%c", c == '\r' ? 'r' : 'n');
        else if (c < 0x20 || c >= 0x7f)
            k += (size_t)snprintf(dst + k, cap - k, "\\x%02x", c);
        else
            dst[k++] = (char)c;
    }
    dst[k] = '\0';
}

static int step_expect(fakeserver *fs, const char *arg)
{
    static char want[FS_BUF];
    char a[300], b[300];
    size_t n = fs_unescape(arg, want);
    int rc = fs_pull(fs);

    if (rc != 0) {
        snprintf(fs->err, sizeof(fs->err), "output failed: %d", rc);
        return -1;
    }
    if (fs->client_len < n || memcmp(fs->client, want, n) != 0) {
        shown(a, sizeof(a), want, n);
        shown(b, sizeof(b), fs->client, fs->client_len);
        snprintf(fs->err, sizeof(fs->err), "expected \"%.300s\", client sent \"%.300s\"", a, b);
        return -1;
    }
    memmove(fs->client, fs->client + n, fs->client_len - n);
    fs->client_len -= n;
    return 0;
}

static int step_expectre(fakeserver *fs, const char *arg)
{
    char line[4096], b[300];
    const char *crlf;
    size_t n;
    regex_t re;
    int ok;

    if (fs_pull(fs) != 0)
        return snprintf(fs->err, sizeof(fs->err), "output failed"), -1;
    crlf = memchr(fs->client, '\n', fs->client_len);
    if (crlf == NULL || crlf == fs->client || crlf[-1] != '\r' ||
        (n = (size_t)(crlf - fs->client) - 1) >= sizeof(line)) {
        shown(b, sizeof(b), fs->client, fs->client_len);
        snprintf(fs->err, sizeof(fs->err), "no client line for /%.300s/ in \"%.300s\"", arg, b);
        return -1;
    }
    memcpy(line, fs->client, n);
    line[n] = '\0';
    if (regcomp(&re, arg, REG_EXTENDED | REG_NOSUB) != 0)
        return snprintf(fs->err, sizeof(fs->err), "bad regex /%.300s/", arg), -1;
    ok = regexec(&re, line, 0, NULL, 0) == 0;
    regfree(&re);
    if (!ok)
        return snprintf(fs->err, sizeof(fs->err), "line \"%.300s\" does not match /%.300s/", line,
                        arg),
               -1;
    memmove(fs->client, fs->client + n + 2, fs->client_len - n - 2);
    fs->client_len -= n + 2;
    return 0;
}

static int rc_by_name(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } t[] = {{"0", 0},
             {"OK", 0},
             {"EPROTO", QR_EPROTO},
             {"EBYE", QR_EBYE},
             {"EOF", QR_EOF},
             {"ENOMEM", QR_ENOMEM},
             {"ELIMIT", QR_ELIMIT},
             {"EUSER", QR_EUSER},
             {"ECAPABILITY", QR_ECAPABILITY}};
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].code;
    return atoi(name);
}

static int run_step(fakeserver *fs, const char *step)
{
    static char buf[FS_BUF];
    const char *sp = strchr(step, ' ');
    size_t wlen = sp ? (size_t)(sp - step) : strlen(step);
    const char *arg = sp ? sp + 1 : "";

#define IS(w) (wlen == strlen(w) && memcmp(step, w, wlen) == 0)
    if (IS("expect"))
        return step_expect(fs, arg);
    if (IS("expectre"))
        return step_expectre(fs, arg);
    if (IS("send")) {
        size_t n = fs_unescape(arg, buf);
        fs_send(fs, buf, n);
        return 0;
    }
    if (IS("garbage")) {
        fs_send(fs, "\x01\x02 garbage \xff\r\n", 14);
        if (fs->last_rc >= 0)
            return snprintf(fs->err, sizeof(fs->err), "garbage was accepted"), -1;
        return 0;
    }
    if (IS("split")) {
        fs->split = (size_t)strtoul(arg, NULL, 10);
        return 0;
    }
    if (IS("close")) {
        fs->last_rc = qr_session_eof(fs->s);
        return 0;
    }
    if (IS("quiet")) {
        if (fs_pull(fs) == 0 && fs->client_len == 0)
            return 0;
        shown(buf, 300, fs->client, fs->client_len);
        return snprintf(fs->err, sizeof(fs->err), "client sent \"%.300s\"", buf), -1;
    }
    if (IS("rc")) {
        if (fs->last_rc == rc_by_name(arg))
            return 0;
        return snprintf(fs->err, sizeof(fs->err), "rc %d, wanted %s", fs->last_rc, arg), -1;
    }
#undef IS
    snprintf(fs->err, sizeof(fs->err), "unknown step \"%s\"", step);
    return -1;
}

int fs_run(fakeserver *fs, const char *const *script)
{
    size_t i;

    for (i = 0; script[i] != NULL; i++) {
        if (run_step(fs, script[i]) != 0) {
            char tmp[1024];
            snprintf(tmp, sizeof(tmp), "step %zu (%.60s): %.900s", i + 1, script[i], fs->err);
            memcpy(fs->err, tmp, sizeof(tmp));
            return -1;
        }
    }
    return 0;
}

/* --- recorder ---------------------------------------------------------------- */

void fs_rec_add(fs_rec *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->len + 2 >= sizeof(r->text))
        return;
    va_start(ap, fmt);
    n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    r->len += (size_t)n < sizeof(r->text) - r->len - 1 ? (size_t)n : sizeof(r->text) - r->len - 2;
    r->text[r->len++] = '\n';
    r->text[r->len] = '\0';
}

const char *fs_status_name(int status)
{
    switch (status) {
    case 0:
        return "OK";
    case QR_ENO:
        return "NO";
    case QR_EBAD:
        return "BAD";
    case QR_ECANCELED:
        return "CANCELED";
    default:
        return qr_strerror(status);
    }
}

int fs_rec_done(qr_session *s, const qr_session_result *res, void *payload)
{
    fs_rec *r = payload;

    (void)s;
    r->completions++;
    if (res->code != NULL && res->code->kind != QR_CODE_NONE)
        fs_rec_add(r, "done %s %s [%s] %s", res->tag ? res->tag : "-", fs_status_name(res->status),
                   qr_resp_code_name(res->code->kind), res->text);
    else
        fs_rec_add(r, "done %s %s %s", res->tag ? res->tag : "-", fs_status_name(res->status),
                   res->text);
    return 0;
}

static int rec_untagged(const char *who, const qr_resp *resp, fs_rec *r)
{
    if (resp->kind == QR_RESP_FETCH)
        fs_rec_add(r, "%s FETCH %u uid=%u", who, resp->u.fetch.seq, resp->u.fetch.uid);
    else if (resp->kind == QR_RESP_EXISTS)
        fs_rec_add(r, "%s EXISTS %u", who, resp->u.number);
    else if (resp->kind == QR_RESP_COND || resp->kind == QR_RESP_GREETING)
        fs_rec_add(r, "%s %s %s %s", who, qr_resp_kind_name(resp->kind),
                   qr_resp_cond_name(resp->cond), resp->text.text.ptr ? resp->text.text.ptr : "");
    else
        fs_rec_add(r, "%s %s", who, qr_resp_kind_name(resp->kind));
    if (r->pause_on_untagged) {
        r->pause_on_untagged = 0;
        return QR_PAUSE;
    }
    return 0;
}

int fs_rec_untagged(qr_session *s, const qr_resp *resp, void *payload)
{
    (void)s;
    return rec_untagged("untagged", resp, payload);
}

int fs_rec_unsolicited(qr_session *s, const qr_resp *resp, void *payload)
{
    (void)s;
    return rec_untagged("unsolicited", resp, payload);
}
