/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * list.c: LIST with LIST-EXTENDED and LIST-STATUS, its STATUS fallback,
 * and STATUS.
 *
 * qr_imap_list() builds `LIST [(SELECT-OPTS)] REF PATTERNS [RETURN (...)]`
 * and claims LIST and STATUS. Each `* LIST` adds a mailbox to a growing
 * array (names copied raw and decoded from modified UTF-7, attributes,
 * CHILDINFO, OLDNAME); each `* STATUS` (LIST-STATUS sends it right after
 * its LIST line) is matched to a mailbox by its raw name, newest first.
 *
 * When status items are wanted and the server lacks LIST-STATUS, the
 * same LIST goes out without the STATUS return option. When it completes
 * OK, the completion submits one STATUS per selectable mailbox (the
 * session pipelines them) and counts them down; the last one delivers the
 * combined array with the LIST's outcome (or the first fatal/cancelled
 * STATUS status). A STATUS answered NO leaves that mailbox without items
 * (it may have been deleted meanwhile). If submitting a STATUS fails, the
 * ones already submitted still complete; the failure is kept as the
 * outcome.
 *
 * The context is freed after the typed completion has run, exactly once.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "commands/commands_p.h"
#include "util/alloc.h"

/* One mailbox being collected (owned strings behind the public view). */
typedef struct list_entry {
    qr_imap_mailbox pub; /* the view given to the completion */
    char *name;          /* owned decoded name */
    char *raw;           /* owned raw name */
    char *oldname;       /* owned decoded OLDNAME, or NULL */
    char **attrs;        /* owned attribute array */
    size_t nattrs;       /* its length */
    char **childinfo;    /* owned CHILDINFO array */
    size_t nchildinfo;   /* its length */
} list_entry;

/* State of one qr_imap_list() call. */
typedef struct list_ctx {
    list_entry *v;             /* the mailboxes, in order */
    size_t n;                  /* how many */
    size_t cap;                /* room at v */
    qr_imap_mailbox *views;    /* contiguous public views built at the end */
    unsigned int status_items; /* items for the fallback; 0 for none */
    size_t outstanding;        /* fallback STATUS commands not yet completed */
    int nomem;                 /* an allocation failed while collecting */
    qr_cmds_outcome out;       /* the LIST outcome, then the first failure */
    qr_imap_list_fn done;      /* user completion */
    void *payload;             /* user payload */
} list_ctx;

/* A fallback STATUS: the context and the index of its mailbox. */
typedef struct list_status_ctx {
    list_ctx *lc; /* the LIST */
    size_t idx;   /* the mailbox */
} list_status_ctx;

static void entry_free(list_entry *e)
{
    qr_free(e->name);
    qr_free(e->raw);
    qr_free(e->oldname);
    qr_cmds_strv_free(e->attrs, e->nattrs);
    qr_cmds_strv_free(e->childinfo, e->nchildinfo);
}

static void list_free(list_ctx *lc)
{
    size_t i;

    for (i = 0; i < lc->n; i++)
        entry_free(&lc->v[i]);
    qr_free(lc->v);
    qr_free(lc->views);
    qr_cmds_outcome_dispose(&lc->out);
    qr_free(lc);
}

static unsigned int attr_bits(char **attrs, size_t n)
{
    static const struct {
        const char *name;
        unsigned int bit;
    } known[] = {
        {"\\Noselect", QR_MBOX_ATTR_NOSELECT},
        {"\\NonExistent", QR_MBOX_ATTR_NONEXISTENT},
        {"\\Noinferiors", QR_MBOX_ATTR_NOINFERIORS},
        {"\\HasChildren", QR_MBOX_ATTR_HASCHILDREN},
        {"\\HasNoChildren", QR_MBOX_ATTR_HASNOCHILDREN},
        {"\\Subscribed", QR_MBOX_ATTR_SUBSCRIBED},
        {"\\Remote", QR_MBOX_ATTR_REMOTE},
    };
    unsigned int bits = 0;
    size_t i, k;

    for (i = 0; i < n; i++)
        for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            if (strcasecmp(attrs[i], known[k].name) == 0)
                bits |= known[k].bit;
    return bits;
}

/* Copy one `* LIST` into a new entry. */
static int add_entry(list_ctx *lc, const qr_resp_list *l)
{
    list_entry *e;
    int rc = 0;

    if (lc->n == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 16;
        list_entry *v = qr_reallocarray(lc->v, cap, sizeof(*v));

        if (v == NULL)
            return QR_ENOMEM;
        lc->v = v;
        lc->cap = cap;
    }
    e = &lc->v[lc->n];
    memset(e, 0, sizeof(*e));
    e->raw = qr_memdup0(l->mailbox.ptr != NULL ? l->mailbox.ptr : "", l->mailbox.len);
    if (e->raw != NULL)
        e->name = qr_cmds_decode_name(e->raw, l->mailbox.len);
    if (l->oldname.ptr != NULL)
        e->oldname = qr_cmds_decode_name(l->oldname.ptr, l->oldname.len);
    if (e->raw == NULL || e->name == NULL || (l->oldname.ptr != NULL && e->oldname == NULL))
        rc = QR_ENOMEM;
    if (rc == 0)
        rc = qr_cmds_strv(&l->flags, &e->attrs, &e->nattrs);
    if (rc == 0)
        rc = qr_cmds_strv(&l->childinfo, &e->childinfo, &e->nchildinfo);
    if (rc != 0) {
        entry_free(e);
        return rc;
    }
    e->pub.delimiter = l->delimiter;
    e->pub.attrs = attr_bits(e->attrs, e->nattrs);
    lc->n++;
    return 0;
}

static void add_status(list_ctx *lc, const qr_resp_status *st)
{
    size_t i = lc->n;

    while (i-- > 0)
        if (strlen(lc->v[i].raw) == st->mailbox.len &&
            memcmp(lc->v[i].raw, st->mailbox.ptr, st->mailbox.len) == 0) {
            qr_cmds_status_copy(&lc->v[i].pub.status, st);
            return;
        }
}

static int list_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    list_ctx *lc = payload;

    (void)s;
    if (r->kind == QR_RESP_LIST && add_entry(lc, &r->u.list) != 0)
        lc->nomem = 1;
    else if (r->kind == QR_RESP_STATUS)
        add_status(lc, &r->u.status);
    return 0;
}

/* Run the typed completion with the combined result, then free. */
static int list_finish(qr_session *s, list_ctx *lc)
{
    qr_session_result res;
    size_t i, nviews;
    int rc = 0;

    if (lc->nomem) {
        qr_session_result oom = {QR_ENOMEM, NULL, NULL, "out of memory", 13};

        lc->out.set = 0;
        qr_cmds_outcome_keep(&lc->out, &oom);
    }
    lc->views = qr_calloc(lc->n + 1, sizeof(*lc->views));
    nviews = lc->views != NULL ? lc->n : 0;
    if (lc->views == NULL) {
        qr_session_result oom = {QR_ENOMEM, NULL, NULL, "out of memory", 13};

        lc->out.set = 0;
        qr_cmds_outcome_keep(&lc->out, &oom);
    }
    for (i = 0; i < nviews; i++) {
        list_entry *e = &lc->v[i];

        lc->views[i] = e->pub;
        lc->views[i].name = e->name;
        lc->views[i].raw = e->raw;
        lc->views[i].oldname = e->oldname;
        lc->views[i].attributes = (const char *const *)e->attrs;
        lc->views[i].nattributes = e->nattrs;
        lc->views[i].childinfo = (const char *const *)e->childinfo;
        lc->views[i].nchildinfo = e->nchildinfo;
    }
    qr_cmds_outcome_view(&lc->out, &res);
    if (lc->done != NULL)
        rc = lc->done(s, &res, lc->views, nviews, lc->payload);
    list_free(lc);
    return rc;
}

static int status_done(qr_session *s, const qr_session_result *res, void *payload)
{
    list_status_ctx *sc = payload;
    list_ctx *lc = sc->lc;

    if (res->status != 0 && res->status != QR_ENO && res->status != QR_EBAD &&
        qr_cmds_outcome_keep(&lc->out, res) != 0)
        lc->nomem = 1;
    qr_free(sc);
    if (--lc->outstanding > 0)
        return 0;
    return list_finish(s, lc);
}

static int status_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    list_status_ctx *sc = payload;

    (void)s;
    if (r->kind == QR_RESP_STATUS)
        qr_cmds_status_copy(&sc->lc->v[sc->idx].pub.status, &r->u.status);
    return 0;
}

/* Submit the STATUS of mailbox i for the fallback. */
static int submit_status(qr_session *s, list_ctx *lc, size_t i)
{
    list_status_ctx *sc = qr_malloc(sizeof(*sc));
    qr_cmd *cmd = NULL;
    int rc;

    if (sc == NULL)
        return QR_ENOMEM;
    sc->lc = lc;
    sc->idx = i;
    rc = qr_cmd_new(&cmd, "STATUS", 0);
    if (rc == 0) {
        qr_cmd_add_astring(cmd, lc->v[i].raw, strlen(lc->v[i].raw));
        qr_cmds_add_status_items(cmd, lc->status_items);
        rc = qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_STATUS), NULL, status_done, status_untagged,
                            sc);
    }
    if (rc != 0)
        qr_free(sc);
    return rc;
}

static int list_done(qr_session *s, const qr_session_result *res, void *payload)
{
    list_ctx *lc = payload;
    size_t i;
    int rc;

    if (qr_cmds_outcome_keep(&lc->out, res) != 0)
        lc->nomem = 1;
    if (res->status != 0 || lc->status_items == 0 || lc->nomem)
        return list_finish(s, lc);
    lc->outstanding = 1; /* held until every STATUS is submitted */
    for (i = 0; i < lc->n; i++) {
        if (lc->v[i].pub.attrs & (QR_MBOX_ATTR_NOSELECT | QR_MBOX_ATTR_NONEXISTENT))
            continue;
        rc = submit_status(s, lc, i);
        if (rc != 0) {
            qr_session_result fail = {rc, NULL, NULL, "", 0};

            qr_cmds_outcome_keep(&lc->out, &fail);
            break;
        }
        lc->outstanding++;
    }
    if (--lc->outstanding > 0)
        return 0;
    return list_finish(s, lc);
}

/* The `(SELECT-OPTS)`, reference and patterns. */
static void add_list_args(qr_cmd *cmd, const qr_imap_list_options *o)
{
    size_t i;

    if (o->select != 0) {
        qr_cmd_list_open(cmd);
        if (o->select & QR_LIST_SEL_SUBSCRIBED)
            qr_cmd_add_atom(cmd, "SUBSCRIBED");
        if (o->select & QR_LIST_SEL_REMOTE)
            qr_cmd_add_atom(cmd, "REMOTE");
        if (o->select & QR_LIST_SEL_RECURSIVEMATCH)
            qr_cmd_add_atom(cmd, "RECURSIVEMATCH");
        qr_cmd_list_close(cmd);
    }
    if (o->reference == NULL || o->reference[0] == '\0')
        qr_cmd_add_string(cmd, "", 0);
    else
        qr_cmd_add_mailbox(cmd, o->reference);
    if (o->npatterns == 0)
        qr_cmd_add_raw(cmd, "*");
    else if (o->npatterns == 1)
        qr_cmd_add_mailbox(cmd, o->patterns[0]);
    else {
        qr_cmd_list_open(cmd);
        for (i = 0; i < o->npatterns; i++)
            qr_cmd_add_mailbox(cmd, o->patterns[i]);
        qr_cmd_list_close(cmd);
    }
}

/* The `RETURN (...)` clause; status_inline says whether STATUS goes in it. */
static void add_return(qr_cmd *cmd, const qr_imap_list_options *o, int status_inline)
{
    if (o->ret == 0 && !status_inline)
        return;
    qr_cmd_add_atom(cmd, "RETURN");
    qr_cmd_list_open(cmd);
    if (o->ret & QR_LIST_RET_SUBSCRIBED)
        qr_cmd_add_atom(cmd, "SUBSCRIBED");
    if (o->ret & QR_LIST_RET_CHILDREN)
        qr_cmd_add_atom(cmd, "CHILDREN");
    if (status_inline) {
        qr_cmd_add_atom(cmd, "STATUS");
        qr_cmds_add_status_items(cmd, o->status_items);
    }
    qr_cmd_list_close(cmd);
}

static int list_check(qr_session *s, const qr_imap_list_options *o, int *fallback)
{
    if (s == NULL || o == NULL || o->version != QR_IMAP_LIST_OPTIONS_VERSION ||
        (o->select & ~7u) != 0 || (o->ret & ~3u) != 0 || (o->status_items & ~0x7fu) != 0 ||
        (o->flags & ~3u) != 0 || (o->npatterns > 0 && o->patterns == NULL) ||
        o->flags == (QR_LIST_NO_FALLBACK | QR_LIST_FORCE_FALLBACK))
        return QR_EINVAL;
    if ((o->select != 0 || o->ret != 0) && !qr_session_has_cap(s, QR_CAP_LIST_EXTENDED))
        return QR_ECAPABILITY;
    *fallback = o->status_items != 0 &&
                ((o->flags & QR_LIST_FORCE_FALLBACK) || !qr_session_has_cap(s, QR_CAP_LIST_STATUS));
    if (*fallback && (o->flags & QR_LIST_NO_FALLBACK))
        return QR_ECAPABILITY;
    return 0;
}

int qr_imap_list(qr_session *s, const qr_imap_list_options *opts, qr_imap_list_fn done,
                 void *payload)
{
    list_ctx *lc;
    qr_cmd *cmd = NULL;
    int fallback = 0, rc;

    rc = list_check(s, opts, &fallback);
    if (rc != 0)
        return rc;
    lc = qr_calloc(1, sizeof(*lc));
    if (lc == NULL)
        return QR_ENOMEM;
    lc->done = done;
    lc->payload = payload;
    lc->status_items = fallback ? opts->status_items : 0;
    rc = qr_cmd_new(&cmd, "LIST", 0);
    if (rc == 0) {
        add_list_args(cmd, opts);
        add_return(cmd, opts, opts->status_items != 0 && !fallback);
        rc = qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_LIST) | QR_CLAIM(QR_RESP_STATUS), NULL,
                            list_done, list_untagged, lc);
    }
    if (rc != 0)
        list_free(lc);
    return rc;
}

/* --- STATUS ------------------------------------------------------------------ */

/* State of one qr_imap_status() call. */
typedef struct status_ctx {
    qr_mailbox_status st;   /* what arrived */
    qr_imap_status_fn done; /* user completion */
    void *payload;          /* user payload */
} status_ctx;

static int one_status_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    status_ctx *sc = payload;

    (void)s;
    if (r->kind == QR_RESP_STATUS)
        qr_cmds_status_copy(&sc->st, &r->u.status);
    return 0;
}

static int one_status_done(qr_session *s, const qr_session_result *res, void *payload)
{
    status_ctx *sc = payload;
    int rc = 0;

    if (sc->done != NULL)
        rc = sc->done(s, res, &sc->st, sc->payload);
    qr_free(sc);
    return rc;
}

int qr_imap_status(qr_session *s, const char *mailbox, unsigned int items, qr_imap_status_fn done,
                   void *payload)
{
    status_ctx *sc;
    qr_cmd *cmd = NULL;
    int rc;

    if (s == NULL || mailbox == NULL || items == 0 || (items & ~0x7fu) != 0)
        return QR_EINVAL;
    sc = qr_calloc(1, sizeof(*sc));
    if (sc == NULL)
        return QR_ENOMEM;
    sc->done = done;
    sc->payload = payload;
    rc = qr_cmd_new(&cmd, "STATUS", 0);
    if (rc == 0) {
        qr_cmd_add_mailbox(cmd, mailbox);
        qr_cmds_add_status_items(cmd, items);
        rc = qr_cmds_submit(s, cmd, QR_CLAIM(QR_RESP_STATUS), NULL, one_status_done,
                            one_status_untagged, sc);
    }
    if (rc != 0)
        qr_free(sc);
    return rc;
}
