/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common.c: helpers of the typed commands.
 *
 * The typed commands copy what they collect out of the parser's events
 * (which are borrowed for one callback) into memory they own, and hand it
 * to the completion as borrowed pointers again. These helpers do the
 * copying, decode modified UTF-7 mailbox names, submit a command while
 * keeping the "a failed submit frees everything and calls nothing" rule,
 * and keep a command's outcome when the typed completion fires after
 * several tagged responses (the STATUS fallback of LIST, APPEND without
 * MULTIAPPEND): the first failure wins, else the first result.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "commands/commands_p.h"
#include "util/alloc.h"
#include "util/dynbuf.h"
#include "util/utf7.h"

char *qr_cmds_strdup(const qr_resp_str *str, int *rc)
{
    char *p;

    if (str->ptr == NULL)
        return NULL;
    p = qr_memdup0(str->ptr, str->len);
    if (p == NULL)
        *rc = QR_ENOMEM;
    return p;
}

void qr_cmds_strv_free(char **v, size_t n)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        qr_free(v[i]);
    qr_free(v);
}

int qr_cmds_strv(const qr_resp_strlist *l, char ***out, size_t *n)
{
    char **v;
    size_t i;

    *out = NULL;
    *n = 0;
    v = qr_calloc(l->count + 1, sizeof(*v));
    if (v == NULL)
        return QR_ENOMEM;
    for (i = 0; i < l->count; i++) {
        v[i] = qr_memdup0(l->items[i].ptr != NULL ? l->items[i].ptr : "", l->items[i].len);
        if (v[i] == NULL) {
            qr_cmds_strv_free(v, i);
            return QR_ENOMEM;
        }
    }
    *out = v;
    *n = l->count;
    return 0;
}

char *qr_cmds_decode_name(const char *raw, size_t len)
{
    qr_dynbuf b;
    char *p;

    if (len == 5 && strncasecmp(raw, "INBOX", 5) == 0)
        return qr_strdup("INBOX");
    if (!qr_utf7_valid(raw, len))
        return qr_memdup0(raw, len);
    qr_dynbuf_init(&b, len * 4 + 16);
    if (qr_utf7_decode(&b, raw, len) != 0) {
        qr_dynbuf_free(&b);
        return NULL;
    }
    p = qr_memdup0(b.ptr != NULL ? b.ptr : "", b.len);
    qr_dynbuf_free(&b);
    return p;
}

int qr_cmds_submit(qr_session *s, qr_cmd *cmd, uint32_t claims, const qr_session_cmd_opts *base,
                   qr_session_done_fn done, qr_session_untagged_fn untagged, void *payload)
{
    qr_session_cmd_opts o = QR_SESSION_CMD_OPTS_INIT;
    int rc;

    if (base != NULL)
        o = *base;
    o.claims = claims;
    rc = qr_cmd_error(cmd);
    if (rc == 0)
        rc = qr_session_submit(s, cmd, &o, done, untagged, payload);
    if (rc != 0)
        qr_cmd_free(cmd);
    return rc;
}

int qr_cmds_outcome_keep(qr_cmds_outcome *o, const qr_session_result *res)
{
    if (o->set && (o->status != 0 || res->status == 0))
        return 0;
    qr_free(o->tag);
    qr_free(o->text);
    o->tag = NULL;
    o->text = NULL;
    o->set = 1;
    o->status = res->status;
    o->has_code = res->code != NULL;
    memset(&o->code, 0, sizeof(o->code));
    if (res->code != NULL) {
        o->code.kind = res->code->kind;
        o->code.number = res->code->number;
    }
    o->code.args.ptr = "";
    o->tag = res->tag != NULL ? qr_strdup(res->tag) : NULL;
    o->text = qr_memdup0(res->text != NULL ? res->text : "", res->text_len);
    o->text_len = res->text_len;
    if ((res->tag != NULL && o->tag == NULL) || o->text == NULL)
        return QR_ENOMEM;
    return 0;
}

void qr_cmds_outcome_view(const qr_cmds_outcome *o, qr_session_result *res)
{
    res->status = o->status;
    res->tag = o->tag;
    res->code = o->has_code ? &o->code : NULL;
    res->text = o->text != NULL ? o->text : "";
    res->text_len = o->text != NULL ? o->text_len : 0;
}

void qr_cmds_outcome_dispose(qr_cmds_outcome *o)
{
    qr_free(o->tag);
    qr_free(o->text);
    memset(o, 0, sizeof(*o));
}

void qr_cmds_status_copy(qr_mailbox_status *st, const qr_resp_status *r)
{
    st->present |= r->present;
    if (r->present & QR_STATUS_MESSAGES)
        st->messages = r->messages;
    if (r->present & QR_STATUS_UIDNEXT)
        st->uidnext = r->uidnext;
    if (r->present & QR_STATUS_UIDVALIDITY)
        st->uidvalidity = r->uidvalidity;
    if (r->present & QR_STATUS_UNSEEN)
        st->unseen = r->unseen;
    if (r->present & QR_STATUS_RECENT)
        st->recent = r->recent;
    if (r->present & QR_STATUS_HIGHESTMODSEQ)
        st->highestmodseq = r->highestmodseq;
    if (r->present & QR_STATUS_SIZE)
        st->size = r->size;
}

int qr_cmds_add_status_items(qr_cmd *cmd, unsigned int items)
{
    static const struct {
        unsigned int bit;
        const char *name;
    } names[] = {
        {QR_STATUS_MESSAGES, "MESSAGES"},
        {QR_STATUS_UIDNEXT, "UIDNEXT"},
        {QR_STATUS_UIDVALIDITY, "UIDVALIDITY"},
        {QR_STATUS_UNSEEN, "UNSEEN"},
        {QR_STATUS_RECENT, "RECENT"},
        {QR_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ"},
        {QR_STATUS_SIZE, "SIZE"},
    };
    size_t i;

    if (items == 0 || (items & ~0x7fu) != 0)
        return QR_EINVAL;
    qr_cmd_list_open(cmd);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (items & names[i].bit)
            qr_cmd_add_atom(cmd, names[i].name);
    qr_cmd_list_close(cmd);
    return qr_cmd_error(cmd);
}
