/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The two-way synchronisation engine (include/qresync/sync.h), internal
 * interface shared by libqresync/sync/sync*.c.
 *
 * The engine keeps, per server ("side"), the state InterIMAP's client layer
 * keeps (spec/imap-client.md §9): CACHE (what the server said last) and
 * PCACHE (the last clean state) per mailbox, and, for the selected mailbox,
 * the pending VANISHED UIDs, the modified table and the new-messages
 * counter. All of it is fed by a session tap (qr_session_set_tap()) that
 * sees every response in order, as the reference's response handler does.
 *
 * Commands are submitted to both sessions and the engine waits with
 * sy_wait() until every one it counts has completed: the code reads
 * straight down while both servers work at the same time.
 *
 * Files:
 *   sync.c         the object, options, run (spec §6), logging, waiting
 *   sync_side.c    per-side state and the response tap (§9, §8.4)
 *   sync_list.c    LIST, delimiters, names (§7) and reconciliation (§8)
 *   sync_known.c   pull updates, known messages, flags, expunges (§12.3-6)
 *   sync_copy.c    new messages: FETCH, MULTIAPPEND batches, journal (§12.7)
 *   sync_mbox.c    selection, the loop (§12.1-2), recovery (§10), adoption
 *   sync_util.c    flag strings, compact UID lists, name conversions
 */
#ifndef QR_SYNC_SYNC_P_H
#define QR_SYNC_SYNC_P_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/commands.h>
#include <qresync/conn.h>
#include <qresync/loop.h>
#include <qresync/session.h>
#include <qresync/sync.h>
#include <qresync/uidset.h>

#include "sync/store_p.h"
#include "util/dynbuf.h"
#include "util/error.h"

/* What LIST returns (s->list_mode). */
#define SY_LIST_STATUS     0 /* RETURN (SUBSCRIBED STATUS (...)), with list-select-opts */
#define SY_LIST_SUBSCRIBED 1 /* notify mode: RETURN (SUBSCRIBED) */
#define SY_LIST_PLAIN      2 /* --delete/--rename: no RETURN, no select options */

/* sy_cache.has / phas bits */
#define SY_UIDVALIDITY 0x1u
#define SY_UIDNEXT     0x2u
#define SY_HMS         0x4u
#define SY_EXISTS      0x8u

/* One mailbox as a server knows it: CACHE and PCACHE (imap-client.md §9.1). */
typedef struct sy_cache {
    char *name;   /* server name, owned, NUL-terminated */
    size_t len;   /* its length */
    unsigned has; /* SY_* bits of the CACHE values below */
    uint32_t uidvalidity, uidnext, exists;
    uint64_t hms;
    unsigned phas; /* SY_* bits of the PCACHE values below */
    uint32_t puidvalidity, puidnext;
    uint64_t phms;
} sy_cache;

/* One mailbox a LIST returned. */
typedef struct sy_listed {
    char *name; /* server name, owned */
    size_t len;
    int delim;      /* its delimiter byte, -1 for NIL */
    int exists;     /* neither \NonExistent nor \NoSelect */
    int subscribed; /* \Subscribed */
} sy_listed;

/* An entry of the modified table (§8.4). */
typedef struct sy_mod {
    uint32_t uid;
    uint64_t modseq;
    char *flags; /* normalised flag string, owned; NULL when unknown */
} sy_mod;

/* uid -> flags, the result of a pull (sorted by uid). */
typedef struct sy_flagmap {
    sy_mod *v;
    size_t n, alloc;
} sy_flagmap;

struct qr_sync;

typedef struct sy_side {
    struct qr_sync *sync;
    int which;        /* QR_SYNC_LOCAL or QR_SYNC_REMOTE */
    const char *name; /* "local" / "remote" */
    qr_conn *conn;
    qr_session *s;

    int delim; /* -2 unknown, -1 NIL, else the byte */
    char *ref; /* list-reference, owned ("" when unset) */
    size_t reflen;

    sy_listed *listed; /* the last LIST */
    size_t nlisted, alisted;
    int list_extra; /* LIST REF "" responses counted */
    int list_extra_delim;
    int list_queued; /* a LIST REF "" was pipelined behind the LIST */

    sy_cache *cache; /* CACHE/PCACHE entries (never removed: indices stay valid) */
    size_t ncache, acache;
    size_t *chash;    /* open addressing over cache by name: index + 1, 0 = empty */
    size_t chash_cap; /* slots (a power of two, at least twice ncache) */

    /* the selected mailbox (imap-client.md §10.3) */
    char *sel;      /* server name once switched, owned, or NULL */
    size_t sel_idx; /* its cache index, SIZE_MAX until looked up */
    char *sel_next; /* a SELECT waiting for [CLOSED], owned, or NULL */
    unsigned closed_wait;
    int sel_ok;          /* the SELECT completed OK: state SELECTED */
    qr_uidset *vanished; /* pending VANISHED UIDs */
    sy_flagmap mods;     /* the modified table, kept sorted by uid */
    uint32_t new_mails;  /* EXISTS growth */
    int nomodseq, uidnotsticky;

    size_t outstanding; /* commands counted by sy_wait() */

    /* set while a UID STORE runs (claims FETCH): UIDs it got a FETCH for */
    qr_uidset *store_seen;
    /* set while a UID EXPUNGE runs: UIDs reported VANISHED */
    qr_uidset *expunge_seen;
} sy_side;

typedef struct sy_copy sy_copy; /* sync_copy.c */

struct qr_sync {
    qr_sync_options o;
    char *database;
    char *select_opts;
    char **patterns; /* owned copies, NUL bytes allowed */
    size_t *plens;
    size_t npatterns;

    qr_loop *loop;
    qr_store *st;
    qr_errslot err;
    qr_sync_component err_comp;
    int failed; /* first failure code, sticky */

    sy_side side[2];
    volatile int cancelled; /* qr_sync_cancel() */
    int connected;          /* connect_both() done */
    int schema_done;        /* the schema step succeeded (once per process) */
    size_t appends;         /* APPEND commands in flight (sync_copy.c) */
    int copying;            /* inside a copy: a cancel stops it at once */
    int list_mode;          /* SY_LIST_* */
    int relist;             /* notify mode: list again before the next pass */
    int notified;           /* notify mode: NOTIFY sent for the current list */
    int all_dirty;          /* notify mode: [NOTIFICATIONOVERFLOW]: sync everything */
    int idling;             /* inside qr_sync_idle() */
    int passes;             /* qr_sync_run() calls done */
    qr_sync_stats stats;
    const char *progress_mailbox;

    /* the mailboxes to synchronise: internal names, sorted bytewise */
    char **mbx;
    size_t *mbx_len;
    int64_t *mbx_idx; /* database idx, -1 when none yet */
    int *mbx_known;   /* local/remote rows exist */
    size_t nmbx, ambx;

    char selected_buf[2][1024];
};

/* --- sync.c -------------------------------------------------------------- */
/* Log a line (printf-style). */
void sy_log(struct qr_sync *s, qr_log_level level, qr_sync_component comp, const char *mailbox,
            unsigned flags, const char *fmt, ...) QR_PRINTF(6, 7);
/* Record the first failure, log it as `ERROR: ...` under comp/mailbox, return code. */
int sy_fail(struct qr_sync *s, int code, qr_sync_component comp, const char *mailbox,
            const char *fmt, ...) QR_PRINTF(5, 6);
/* A store failure: recorded and logged under "database". */
int sy_store_fail(struct qr_sync *s, int code);
/* Run the loop until every side's outstanding count is 0 or a failure. */
int sy_wait(struct qr_sync *s);
/* The component of a side. */
qr_sync_component sy_comp(const sy_side *sd);
/* Report a failed command (status != 0) on sd: `ERROR: ...`; returns the code. */
int sy_cmd_failed(sy_side *sd, const qr_session_result *res, const char *what);
/* Generic completion: outstanding--, failure recorded. payload = sd. */
int sy_done_fatal(qr_session *ss, const qr_session_result *res, void *payload);
/* Submit a command built by the caller (ownership taken even on failure). */
int sy_submit(sy_side *sd, qr_cmd *cmd, uint32_t claims, qr_session_done_fn done,
              qr_session_untagged_fn on_untagged, void *payload);
/* Progress callback. */
void sy_progress(struct qr_sync *s);

/* --- sync_side.c --------------------------------------------------------- */
int sy_side_init(sy_side *sd, struct qr_sync *s, int which, qr_conn *conn);
void sy_side_dispose(sy_side *sd);
/* The tap installed on the session. */
int sy_tap(qr_session *ss, const qr_resp *r, void *payload);
/* CACHE entry of a server name, created when create is set (NULL on ENOMEM/absent). */
sy_cache *sy_cache_get(sy_side *sd, const char *name, size_t len, int create);
/* Set PCACHE values (bits in has); QR_EUIDVALIDITY (logged) on a change. */
int sy_pcache_set(sy_side *sd, sy_cache *c, unsigned has, uint32_t uidvalidity, uint32_t uidnext,
                  uint64_t hms);
/* Set CACHE.UIDVALIDITY with the reference's check. */
int sy_cache_uidvalidity(sy_side *sd, sy_cache *c, uint32_t v);
/* §9.2 dirtiness of a server name. */
int sy_is_dirty(sy_side *sd, const char *name, size_t len);
/* The selected mailbox's CACHE entry, or NULL. */
sy_cache *sy_selected(sy_side *sd);
/* Switch to sel_next (a SELECT was sent; at [CLOSED] or at once). */
void sy_switch(sy_side *sd);
/* Forget the selection's pending tables. */
void sy_clear_pending(sy_side *sd);
/* Record a modified-table entry with the reference's rule. flags NULL = unknown. */
int sy_mods_record(sy_side *sd, uint32_t uid, uint64_t modseq, const char *flags, size_t flen);
/* Debug `Update last clean state for NAME: (...)` */
void sy_log_pcache(sy_side *sd, const sy_cache *c);
/* Check [NOMODSEQ]/[UIDNOTSTICKY] of the selected mailbox (fatal). */
int sy_check_selected(sy_side *sd);

/* --- sync_util.c --------------------------------------------------------- */
void sy_flagmap_dispose(sy_flagmap *m);
/* Insert or replace (keeps sorted); takes flags (owned) on success. */
int sy_flagmap_put(sy_flagmap *m, uint32_t uid, uint64_t modseq, char *flags);
sy_mod *sy_flagmap_find(const sy_flagmap *m, uint32_t uid);
void sy_flagmap_remove(sy_flagmap *m, uint32_t uid);
/* Normalised flag string from a list (drop \Recent, sort bytewise, join with ' '). */
char *sy_flags_normalise(const qr_resp_str *flags, size_t n);
/* Union of two normalised strings, normalised. */
char *sy_flags_union(const char *a, const char *b);
/* Compact set text of a uidset ("1:3,7") into out (appends). */
int sy_uidset_text(qr_dynbuf *out, const qr_uidset *set);
/* Order-preserving compact list of UIDs ("5:3,7"). */
int sy_uidlist_text(qr_dynbuf *out, const uint32_t *uids, size_t n);
/* Internal name of a server name (NULL when not under the reference). */
char *sy_internal_name(const sy_side *sd, const char *name, size_t len, size_t *out_len);
/* Server name of an internal name. */
char *sy_server_name(const sy_side *sd, const char *iname, size_t ilen, size_t *out_len);
/* Pretty name: NUL -> local delimiter. */
char *sy_pretty(const struct qr_sync *s, const char *iname, size_t ilen);
/* Delimiter as the reference prints it: "/" quoted, NIL. */
void sy_delim_text(int delim, char *buf, size_t cap);
/* Add a mailbox name (raw bytes) to a command as an astring. */
int sy_cmd_mailbox(qr_cmd *cmd, const char *name, size_t len);
/* Parse "[APPENDUID v set]" args in order into uids (owned, *n of them): 0 or < 0. */
int sy_parse_appenduid(const char *args, size_t len, uint32_t *uidvalidity, uint32_t **uids,
                       size_t *n);
/* "28-Nov-2026 15:32:47 +0000" -> seconds since 1970 (UTC); -1 if bad. */
int64_t sy_parse_internaldate(const char *t);
/* Call fn for each <= 4096-byte piece of the compact text of set (§7.4). */
int sy_pieces(const qr_uidset *set, int (*fn)(const char *text, void *ctx), void *ctx);
/* Send `UID STORE`/`UID FETCH`/`UID EXPUNGE` for each <= 4096-byte piece of set. */
int sy_submit_split(sy_side *sd, const char *name, const qr_uidset *set, const char *tail,
                    uint32_t claims, qr_session_done_fn done, qr_session_untagged_fn on_untagged,
                    void *payload, size_t *count);

/* Connect (once), list, check the schema: the start of every command. */
int sy_prepare(struct qr_sync *s);
/* A safe point: QR_ECANCELED (recorded) after qr_sync_cancel(), else 0. */
int sy_cancelled(struct qr_sync *s);
/* Drain both sessions after a failure or a cancel (no callback left). */
void sy_drain(struct qr_sync *s);

/* A growing list of (lUID, rUID) pairs; sy_pairs_cb() is a qr_store_mapping_fn. */
typedef struct sy_pairs {
    uint32_t *l, *r;
    size_t n, alloc;
} sy_pairs;
int sy_pairs_cb(void *payload, int64_t idx, uint32_t luid, uint32_t ruid);

/* --- sync_list.c --------------------------------------------------------- */
/* §7 on both sides; fills side->listed. */
int sy_list_both(struct qr_sync *s);
/* §8: fills s->mbx. */
int sy_reconcile(struct qr_sync *s);
/* Forget the last LIST and mailbox list (before listing again). */
void sy_list_reset(struct qr_sync *s);
/* The listed entry of a server name, or NULL. */
const sy_listed *sy_find_listed(const sy_side *sd, const char *name, size_t len);
/* `NO [CODE] text` of a tagged reply. */
void sy_reply_text(const qr_session_result *res, char *buf, size_t cap);

/* --- sync_cmds.c --------------------------------------------------------- */
/* (qr_sync_delete, qr_sync_rename, qr_sync_repair are public) */

/* --- sync_watch.c -------------------------------------------------------- */
/* Notify mode: send the NOTIFY commands for the current list. */
int sy_notify_set(struct qr_sync *s);

/* --- sync_known.c -------------------------------------------------------- */
/* §12.3: pull updates of the selected mailbox. */
int sy_pull_updates(sy_side *sd, qr_uidset *vanished, sy_flagmap *modified);
/* §13 step 4: full pull on both sides (UID FETCH 1:UIDNEXT-1 first). */
int sy_pull_full(struct qr_sync *s, qr_uidset **vanished, sy_flagmap *modified);
/* Record uid -> flags (copied) in m; QR_ENOMEM is logged. */
int sy_want_put(struct qr_sync *s, sy_flagmap *m, uint32_t uid, const char *flags);
/* Submit flag updates uid -> flags on sd (one STORE per flag list); wait with sy_wait(). */
int sy_push_submit(sy_side *sd, sy_flagmap *want);
/* Forget the STORE bookkeeping after the wait. */
void sy_push_end(struct qr_sync *s);
/* Removal of uids on sd submitted (wait with sy_wait(), then sy_remove_end()). */
int sy_remove_submit(sy_side *sd, const qr_uidset *uids);
void sy_remove_end(struct qr_sync *s);
/* §12.4 on the selected mailbox idx; *changed set when something was done. */
int sy_sync_known(struct qr_sync *s, size_t m, int *changed);
/* §12.6 on one side. */
int sy_remove_messages(sy_side *sd, const qr_uidset *uids);

/* --- sync_copy.c --------------------------------------------------------- */
/* §12.7: copy new messages both ways, then known messages, then commit C9. */
int sy_sync_messages(struct qr_sync *s, size_t m, qr_uidset *ignore_local,
                     qr_uidset *ignore_remote);

/* --repair: copy the given source UIDs (logging their ENVELOPE sender). */
int sy_copy_uids(struct qr_sync *s, size_t mi, sy_side *src, sy_side *dst, const qr_uidset *uids,
                 qr_uidset *created);

/* --- sync_mbox.c --------------------------------------------------------- */
/* SELECT mailbox m on both sides (§12.2): SY_SELECT_* mode. */
#define SY_SELECT_SAMPLE   0 /* QRESYNC with the UID sample */
#define SY_SELECT_PLAIN    1 /* plain SELECT */
#define SY_SELECT_NOSAMPLE 2 /* QRESYNC without the sample (--repair) */
int sy_select_both(struct qr_sync *s, size_t m, int mode);
/* §10 + journal adoption. *current receives the mailbox left selected or SIZE_MAX. */
int sy_recover(struct qr_sync *s, size_t *current);
/* §11. */
int sy_load_state(struct qr_sync *s);
/* §12.1. */
int sy_loop(struct qr_sync *s, size_t current);
/* Whether mailbox mi is dirty on either side (§12.1). */
int sy_mbx_dirty(struct qr_sync *s, size_t mi);

#endif /* QR_SYNC_SYNC_P_H */
