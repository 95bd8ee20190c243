/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * append.c: APPEND and MULTIAPPEND with APPENDUID results.
 *
 * With MULTIAPPEND advertised (or a single message) one command carries
 * every message: `APPEND M (FLAGS) "DATE" {N}` then ` (FLAGS) "DATE" {N}`
 * for each further one. Otherwise each message gets its own APPEND and the
 * session pipelines them. Bodies are copied literals or streamed sources
 * (qr_cmd_add_literal_stream()).
 *
 * Each tagged `[APPENDUID uidvalidity set]` maps its messages to UIDs:
 * the set's UIDs in increasing order (servers assign them in order) go to
 * the command's messages in order. The typed completion fires once, after
 * the last command, with the first failure's outcome (else the first
 * result), the UIDVALIDITY and `uids[i]` (0 where unknown).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "commands/commands_p.h"
#include "util/alloc.h"

/* State of one qr_imap_append() call. */
typedef struct append_ctx {
    uint32_t *uids;         /* n UIDs, 0 while unknown */
    size_t n;               /* number of messages */
    uint32_t uidvalidity;   /* from APPENDUID */
    size_t outstanding;     /* commands not yet completed (+1 while submitting) */
    qr_cmds_outcome out;    /* the outcome */
    qr_imap_append_fn done; /* user completion */
    void *payload;          /* user payload */
} append_ctx;

/* One APPEND command: messages [first, first + count). */
typedef struct append_part {
    append_ctx *ac; /* the call */
    size_t first;   /* first message index */
    size_t count;   /* number of messages */
} append_part;

static int append_finish(qr_session *s, append_ctx *ac)
{
    qr_session_result res;
    int rc = 0;

    qr_cmds_outcome_view(&ac->out, &res);
    if (ac->done != NULL)
        rc = ac->done(s, &res, ac->uidvalidity, ac->uids, ac->n, ac->payload);
    qr_cmds_outcome_dispose(&ac->out);
    qr_free(ac->uids);
    qr_free(ac);
    return rc;
}

static void take_appenduid(append_part *p, const qr_resp_code *code)
{
    qr_uidset_iter it;
    uint32_t uid;
    size_t k = 0;

    if (code == NULL || code->kind != QR_CODE_APPENDUID || code->set == NULL)
        return;
    p->ac->uidvalidity = (uint32_t)code->number;
    qr_uidset_iter_init(&it, code->set);
    while (k < p->count && qr_uidset_iter_next(&it, &uid) == 1)
        p->ac->uids[p->first + k++] = uid;
}

static int part_done(qr_session *s, const qr_session_result *res, void *payload)
{
    append_part *p = payload;
    append_ctx *ac = p->ac;

    if (res->status == 0)
        take_appenduid(p, res->code);
    qr_cmds_outcome_keep(&ac->out, res);
    qr_free(p);
    if (--ac->outstanding > 0)
        return 0;
    return append_finish(s, ac);
}

/* Append one message's ` (FLAGS) "DATE" {N}`. */
static void add_message(qr_cmd *cmd, const qr_imap_append_msg *m)
{
    size_t i;

    if (m->flags != NULL || m->nflags > 0) {
        qr_cmd_list_open(cmd);
        for (i = 0; i < m->nflags; i++)
            if (strcasecmp(m->flags[i], "\\Recent") != 0)
                qr_cmd_add_flag(cmd, m->flags[i]);
        qr_cmd_list_close(cmd);
    }
    if (m->has_date)
        qr_cmd_add_date_time_t(cmd, m->date, m->tz_minutes);
    if (m->read != NULL)
        qr_cmd_add_literal_stream(cmd, m->size, m->read, m->read_payload, 0);
    else
        qr_cmd_add_literal(cmd, m->data, m->len, 0);
}

/* Build and submit the APPEND of messages [first, first + count). */
static int submit_part(qr_session *s, append_ctx *ac, const char *mailbox,
                       const qr_imap_append_msg *msgs, size_t first, size_t count)
{
    append_part *p = qr_malloc(sizeof(*p));
    qr_cmd *cmd = NULL;
    size_t i;
    int rc;

    if (p == NULL)
        return QR_ENOMEM;
    p->ac = ac;
    p->first = first;
    p->count = count;
    rc = qr_cmd_new(&cmd, "APPEND", 0);
    if (rc == 0) {
        qr_cmd_add_mailbox(cmd, mailbox);
        for (i = first; i < first + count; i++)
            add_message(cmd, &msgs[i]);
        rc = qr_cmds_submit(s, cmd, 0, NULL, part_done, NULL, p);
    }
    if (rc != 0)
        qr_free(p);
    return rc;
}

int qr_imap_append(qr_session *s, const char *mailbox, const qr_imap_append_msg *msgs, size_t n,
                   unsigned int flags, qr_imap_append_fn done, void *payload)
{
    append_ctx *ac;
    size_t i;
    int multi, rc = 0;

    if (s == NULL || mailbox == NULL || msgs == NULL || n == 0 || (flags & ~1u) != 0)
        return QR_EINVAL;
    for (i = 0; i < n; i++)
        if ((msgs[i].data == NULL && msgs[i].read == NULL && msgs[i].len > 0) ||
            (msgs[i].nflags > 0 && msgs[i].flags == NULL))
            return QR_EINVAL;
    multi = n == 1 || (!(flags & QR_APPEND_NO_MULTI) && qr_session_has_cap(s, QR_CAP_MULTIAPPEND));
    ac = qr_calloc(1, sizeof(*ac));
    if (ac == NULL || (ac->uids = qr_calloc(n, sizeof(*ac->uids))) == NULL) {
        qr_free(ac);
        return QR_ENOMEM;
    }
    ac->n = n;
    ac->done = done;
    ac->payload = payload;
    ac->outstanding = 1;
    for (i = 0; i < (multi ? 1 : n); i++) {
        rc = submit_part(s, ac, mailbox, msgs, multi ? 0 : i, multi ? n : 1);
        if (rc != 0)
            break;
        ac->outstanding++;
    }
    if (i == 0) { /* nothing submitted: no callback may fire */
        qr_free(ac->uids);
        qr_free(ac);
        return rc;
    }
    if (rc != 0) {
        qr_session_result fail = {rc, NULL, NULL, "", 0};

        qr_cmds_outcome_keep(&ac->out, &fail);
    }
    if (--ac->outstanding == 0)
        return append_finish(s, ac) < 0 ? QR_EUSER : 0;
    return 0;
}
