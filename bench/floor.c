/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * floor: the server floor of bench/sync-compare.py (built on the fly with
 * cc -O2 ... -lssl -lcrypto -lz; not part of the meson build, never a
 * test; it does not use libqresync).
 *
 * A minimal pipelined IMAP client with no sync logic, to measure what the
 * two servers need anyway for an initial sync, and what the bare client
 * work of decrypting and inflating the same bytes costs:
 *
 * floor fetch HOST PORT CAFILE USER PASS
 *     Over IMAPS (certificate checked against CAFILE), LOGIN, COMPRESS
 *     DEFLATE, LIST "" "*", then, all pipelined at once, for every
 *     mailbox EXAMINE and UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[]).
 *     The messages are parsed out of the stream (literals) and discarded.
 *
 * floor copy HOST PORT CAFILE USER PASS TUNNEL-COMMAND
 *     The same FETCH stream, and every message is APPENDed to the local
 *     store reached by TUNNEL-COMMAND (split on whitespace, execvp'd, as
 *     interimap does), as MULTIAPPEND commands of up to 64 messages or
 *     1 MiB per mailbox, LITERAL+, pipelined (the local mailboxes are
 *     CREATEd first). Copies flags (but \Recent) and INTERNALDATE.
 *
 * Prints one line to stdout: "messages N bytes B remote_recv R remote_sent
 * S local_sent L" (B: message bytes; R, S: TLS bytes read/written).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("floor: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* --- the remote connection: TLS, then optionally DEFLATE -------------------- */

static SSL *ssl;
static int compressing;
static z_stream zin, zout;
static unsigned char raw[256 * 1024];           /* TLS plaintext (compressed) */
static unsigned char *dbuf;                     /* inflated, unread data */
static size_t dcap = 1 << 20, dlen, dpos;
static unsigned long long remote_recv, remote_sent;

static size_t ssl_read_some(void *buf, size_t len)
{
    int n = SSL_read(ssl, buf, (int)len);

    if (n <= 0)
        die("remote: connection closed (SSL_read %d)", SSL_get_error(ssl, n));
    return (size_t)n;
}

static void ssl_write_all(const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        int n = SSL_write(ssl, p, (int)(len > (1 << 30) ? (1 << 30) : len));

        if (n <= 0)
            die("remote: SSL_write failed");
        p += n;
        len -= (size_t)n;
    }
}

static void remote_write(const char *buf, size_t len)
{
    if (!compressing) {
        ssl_write_all(buf, len);
        return;
    }
    unsigned char out[16384];

    zout.next_in = (unsigned char *)buf;
    zout.avail_in = (uInt)len;
    do {
        zout.next_out = out;
        zout.avail_out = sizeof(out);
        if (deflate(&zout, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
            die("deflate");
        ssl_write_all(out, sizeof(out) - zout.avail_out);
    } while (zout.avail_out == 0);
}

static void remote_printf(const char *fmt, ...)
{
    char *s;
    int n;
    va_list ap;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("out of memory");
    remote_write(s, (size_t)n);
    free(s);
}

/* Read more decoded bytes into dbuf (compacting first). */
static void fill(void)
{
    if (dpos > 0) {
        memmove(dbuf, dbuf + dpos, dlen - dpos);
        dlen -= dpos;
        dpos = 0;
    }
    if (dlen == dcap) {
        dcap *= 2;
        dbuf = realloc(dbuf, dcap);
        if (dbuf == NULL)
            die("out of memory");
    }
    if (!compressing) {
        dlen += ssl_read_some(dbuf + dlen, dcap - dlen);
        return;
    }
    for (;;) {
        if (zin.avail_in == 0) {
            zin.next_in = raw;
            zin.avail_in = (uInt)ssl_read_some(raw, sizeof(raw));
        }
        zin.next_out = dbuf + dlen;
        zin.avail_out = (uInt)(dcap - dlen);
        int r = inflate(&zin, Z_SYNC_FLUSH);

        if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
            die("inflate: %d", r);
        size_t got = (dcap - dlen) - zin.avail_out;

        if (r == Z_STREAM_END && got == 0)
            die("remote: end of the compressed stream");

        dlen += got;
        if (got > 0)
            return;
    }
}

/* One response line (without CRLF), NUL-terminated in place; its length. */
static char *get_line(size_t *len)
{
    for (;;) {
        unsigned char *nl = memchr(dbuf + dpos, '\n', dlen - dpos);

        if (nl != NULL) {
            char *line = (char *)dbuf + dpos;
            size_t n = (size_t)(nl - (dbuf + dpos));

            dpos += n + 1;
            if (n > 0 && line[n - 1] == '\r')
                n--;
            line[n] = '\0';
            *len = n;
            return line;
        }
        fill();
    }
}

/* Ensure N bytes are buffered at dpos (grows the buffer). */
static unsigned char *get_bytes(size_t n)
{
    if (dpos > 0 && dlen - dpos < n) {
        memmove(dbuf, dbuf + dpos, dlen - dpos);
        dlen -= dpos;
        dpos = 0;
    }
    while (dlen - dpos < n) {
        while (dcap < n + 65536) {
            dcap *= 2;
            dbuf = realloc(dbuf, dcap);
            if (dbuf == NULL)
                die("out of memory");
        }
        fill();
    }
    unsigned char *p = dbuf + dpos;

    dpos += n;
    return p;
}

static int literal_size(const char *line, size_t len, size_t *n)
{
    if (len < 3 || line[len - 1] != '}')
        return 0;
    const char *open = memrchr(line, '{', len);

    if (open == NULL)
        return 0;
    *n = strtoull(open + 1, NULL, 10);
    return 1;
}

/* Read a whole response, literals included, into a growing text where
   each literal is replaced by "{N}" and its bytes returned separately (at
   most one literal, the message body, is kept). Returns the first line. */
static char *response;
static size_t resp_cap;
static unsigned char *body;
static size_t body_len;
static unsigned char *body_copy;
static size_t body_cap;

static char *get_response(void)
{
    size_t used = 0, len, n;

    body = NULL;
    body_len = 0;
    for (;;) {
        char *line = get_line(&len);

        if (used + len + 2 > resp_cap) {
            resp_cap = (used + len + 2) * 2;
            response = realloc(response, resp_cap);
            if (response == NULL)
                die("out of memory");
        }
        memcpy(response + used, line, len);
        used += len;
        response[used] = '\0';
        if (!literal_size(line, len, &n))
            return response;
        /* The literal's bytes stay valid only until the next fill(): copy
           the body (the only big literal) out. */
        unsigned char *p = get_bytes(n);

        if (n > body_cap) {
            body_cap = n * 2;
            body_copy = realloc(body_copy, body_cap);
            if (body_copy == NULL)
                die("out of memory");
        }
        memcpy(body_copy, p, n);
        body = body_copy;
        body_len = n;
    }
}

/* --- the local tunnel ------------------------------------------------------- */

static int lfd = -1;
static char *lout;
static size_t lout_len, lout_cap;
static unsigned long long local_sent, local_tagged_seen;
static char lin[65536];
static size_t lin_len;

static void local_flush(void)
{
    size_t off = 0;

    while (off < lout_len) {
        ssize_t w = write(lfd, lout + off, lout_len - off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("local: write: %s", strerror(errno));
        }
        off += (size_t)w;
    }
    local_sent += lout_len;
    lout_len = 0;
}

static void local_put(const void *p, size_t n)
{
    if (lout_len + n > lout_cap) {
        if (lout_len > 0)
            local_flush();
        if (n >= (1 << 20)) {
            lout_len = 0;
            size_t off = 0;

            while (off < n) {
                ssize_t w = write(lfd, (const char *)p + off, n - off);

                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    die("local: write: %s", strerror(errno));
                }
                off += (size_t)w;
            }
            local_sent += n;
            return;
        }
    }
    memcpy(lout + lout_len, p, n);
    lout_len += n;
}

static void local_printf(const char *fmt, ...)
{
    char *s;
    int n;
    va_list ap;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("out of memory");
    local_put(s, (size_t)n);
    free(s);
}

/* Read what the local server said; count tagged responses ("t... "). With
   BLOCK, read until at least one more arrives. */
static void local_drain(int block)
{
    unsigned long long want = local_tagged_seen + 1;

    fcntl(lfd, F_SETFL, block ? 0 : O_NONBLOCK);
    for (;;) {
        ssize_t n = read(lfd, lin + lin_len, sizeof(lin) - lin_len);

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("local: connection closed");
        lin_len += (size_t)n;
        char *start = lin, *nl;

        while ((nl = memchr(start, '\n', lin_len - (size_t)(start - lin))) != NULL) {
            if (start[0] == 't') {
                local_tagged_seen++;
                if (strstr(start, " OK") == NULL || strstr(start, " OK") > nl) {
                    *nl = '\0';
                    if (strncmp(start + 1, "c", 1) != 0)   /* CREATE may fail */
                        die("local: %s", start);
                }
            }
            start = nl + 1;
        }
        lin_len -= (size_t)(start - lin);
        memmove(lin, start, lin_len);
        if (lin_len == sizeof(lin))
            lin_len = 0;                 /* an absurdly long line: forget it */
        if (block && local_tagged_seen >= want)
            break;
    }
    fcntl(lfd, F_SETFL, 0);
}

static void local_open(const char *command)
{
    int sv[2];
    char *copy = strdup(command), *argv[64], *tok, *save;
    int argc = 0;

    for (tok = strtok_r(copy, " \t", &save); tok != NULL && argc < 63;
         tok = strtok_r(NULL, " \t", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair");
    pid_t pid = fork();

    if (pid < 0)
        die("fork");
    if (pid == 0) {
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(sv[1]);
    lfd = sv[0];
    lout_cap = 1 << 20;
    lout = malloc(lout_cap);
    /* the greeting */
    for (;;) {
        ssize_t n = read(lfd, lin + lin_len, sizeof(lin) - lin_len);

        if (n <= 0)
            die("local: no greeting");
        lin_len += (size_t)n;
        if (memchr(lin, '\n', lin_len) != NULL)
            break;
    }
    if (strncmp(lin, "* PREAUTH", 9) != 0)
        die("local: greeting %.*s", (int)lin_len, lin);
    lin_len = 0;
}

/* --- main ------------------------------------------------------------------- */

static char **names;
static size_t nnames;

static char *quoted(const char *s)
{
    char *q = malloc(strlen(s) * 2 + 3), *p = q;

    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    *p = '\0';
    return q;
}

/* The mailbox name at the end of a LIST response (atom or quoted). */
static char *list_name(const char *line)
{
    const char *p = strchr(line, ')');

    if (p == NULL || (p = strchr(p + 2, ' ')) == NULL)
        return NULL;
    p++;
    if (*p != '"')
        return strdup(p);
    char *out = malloc(strlen(p)), *o = out;

    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

static int tagged(const char *line, const char *tag)
{
    size_t n = strlen(tag);

    return strncmp(line, tag, n) == 0 && line[n] == ' ';
}

static void expect_ok(const char *tag)
{
    for (;;) {
        char *line = get_response();

        if (tagged(line, tag)) {
            if (strncmp(line + strlen(tag) + 1, "OK", 2) != 0)
                die("remote: %s", line);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    int copy;

    if (argc == 7 && strcmp(argv[1], "fetch") == 0)
        copy = 0;
    else if (argc == 8 && strcmp(argv[1], "copy") == 0)
        copy = 1;
    else {
        fprintf(stderr, "usage: floor fetch HOST PORT CAFILE USER PASS\n"
                        "       floor copy HOST PORT CAFILE USER PASS TUNNEL-COMMAND\n");
        return 2;
    }
    const char *host = argv[2], *cafile = argv[4], *user = argv[5], *pass = argv[6];
    struct sockaddr_in sa = {0};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    dbuf = malloc(dcap);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[3]));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("bad host %s", host);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("connect: %s", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
        die("CA file %s", cafile);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (SSL_connect(ssl) != 1)
        die("TLS handshake");
    if (copy)
        local_open(argv[7]);

    size_t len;
    char *line = get_line(&len);

    if (strncmp(line, "* OK", 4) != 0)
        die("remote greeting: %s", line);
    char *qu = quoted(user), *qp = quoted(pass);

    remote_printf("L LOGIN %s %s\r\n", qu, qp);
    expect_ok("L");
    remote_printf("Z COMPRESS DEFLATE\r\n");
    expect_ok("Z");
    compressing = 1;
    if (inflateInit2(&zin, -15) != Z_OK || deflateInit2(&zout, 6, Z_DEFLATED, -15, 8,
                                                        Z_DEFAULT_STRATEGY) != Z_OK)
        die("zlib init");
    /* Bytes of the handshake so far are not worth counting separately. */
    remote_printf("A LIST \"\" \"*\"\r\n");
    for (;;) {
        line = get_response();
        if (tagged(line, "A"))
            break;
        if (strncmp(line, "* LIST ", 7) == 0 && strstr(line, "\\Noselect") == NULL &&
            strstr(line, "\\NonExistent") == NULL) {
            char *n = list_name(line);

            if (n != NULL) {
                names = realloc(names, (nnames + 1) * sizeof(*names));
                names[nnames++] = n;
            }
        }
    }
    /* Everything pipelined at once. */
    for (size_t i = 0; i < nnames; i++) {
        char *q = quoted(names[i]);

        remote_printf("e%zu EXAMINE %s\r\nf%zu UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])\r\n",
                      i, q, i);
        free(q);
    }
    remote_printf("Y LOGOUT\r\n");
    if (copy) {
        for (size_t i = 0; i < nnames; i++) {
            char *q = quoted(names[i]);

            local_printf("tc%zu CREATE %s\r\n", i, q);
            free(q);
        }
        local_flush();
    }

    unsigned long long messages = 0, bytes = 0, batches = 0;
    size_t cur = 0, batch_n = 0, batch_bytes = 0;
    int open_batch = 0;
    char tag[32];

    for (;;) {
        line = get_response();
        if (line[0] != '*') {
            if (tagged(line, "Y"))
                break;
            if (line[0] == 'e')
                cur = strtoul(line + 1, NULL, 10);
            continue;
        }
        if (body == NULL || strstr(line, " FETCH (") == NULL)
            continue;
        messages++;
        bytes += body_len;
        if (!copy)
            continue;
        /* FLAGS (...) and INTERNALDATE "..." out of the response text */
        char flags[1024] = "", date[64] = "";
        const char *f = strstr(line, "FLAGS (");

        if (f != NULL) {
            const char *e = strchr(f + 7, ')');
            size_t o = 0;
            char *save, *copyf = strndup(f + 7, (size_t)(e - f - 7));

            for (char *t = strtok_r(copyf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                if (strcasecmp(t, "\\Recent") == 0 || o + strlen(t) + 2 >= sizeof(flags))
                    continue;
                o += (size_t)sprintf(flags + o, "%s%s", o ? " " : "", t);
            }
            free(copyf);
        }
        const char *d = strstr(line, "INTERNALDATE \"");

        if (d != NULL) {
            const char *e = strchr(d + 14, '"');

            snprintf(date, sizeof(date), "%.*s", (int)(e - d - 14), d + 14);
        }
        if (open_batch && (cur != (size_t)atoi(tag + 1) || batch_n >= 64 ||
                           batch_bytes >= (1 << 20))) {
            local_put("\r\n", 2);
            open_batch = 0;
        }
        if (!open_batch) {
            char *q = quoted(names[cur]);

            snprintf(tag, sizeof(tag), "a%zu", cur);
            local_printf("t%s.%llu APPEND %s", tag, batches++, q);
            free(q);
            open_batch = 1;
            batch_n = batch_bytes = 0;
            local_drain(0);
        }
        local_printf(" (%s) \"%s\" {%zu+}\r\n", flags, date, body_len);
        local_put(body, body_len);
        batch_n++;
        batch_bytes += body_len;
    }
    if (copy) {
        if (open_batch)
            local_put("\r\n", 2);
        local_printf("tL LOGOUT\r\n");
        local_flush();
        unsigned long long total = nnames + batches + 1;

        while (local_tagged_seen < total)
            local_drain(1);
    }
    printf("messages %llu bytes %llu mailboxes %zu remote_recv %llu remote_sent %llu "
           "local_sent %llu\n", messages, bytes, nnames, (unsigned long long)BIO_number_read(SSL_get_rbio(ssl)),
           (unsigned long long)BIO_number_written(SSL_get_wbio(ssl)), local_sent);
    (void)remote_recv;
    (void)remote_sent;
    return 0;
}
