/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file commands.h
 * @brief Typed IMAP commands over qr_session_submit(), with completions
 *        carrying the parsed results.
 *
 * Each `qr_imap_*` function builds its command with the typed builder
 * (cmd.h), submits it to a session with the right claim mask, collects the
 * untagged responses that belong to it and calls a typed completion with
 * what it collected. The session's rules apply unchanged: every accepted
 * command completes exactly once (also with QR_ECANCELED or the session's
 * fatal code, with whatever was collected so far), a submit that fails
 * calls no callback, and callbacks may return QR_PAUSE or a negative value
 * (the session then fails with QR_EUSER).
 *
 * **Results are borrowed:** every pointer a completion or per-response
 * callback receives is valid for the duration of that call only; copy what
 * you keep. `res` is the session's result of the tagged response (status
 * 0, QR_ENO, QR_EBAD, QR_ECANCELED or the fatal code; the response code,
 * e.g. `[TRYCREATE]`, in `res->code`).
 *
 * NOOP and LOGOUT are qr_session_noop() and qr_session_logout().
 */
#ifndef QRESYNC_COMMANDS_H
#define QRESYNC_COMMANDS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <qresync/cmd.h>
#include <qresync/common.h>
#include <qresync/mbox.h>
#include <qresync/resp.h>
#include <qresync/session.h>
#include <qresync/uidset.h>

QR_BEGIN_DECLS

/* ---------------------------------------------------------------------- */
/* Mailbox status and LIST                                                */
/* ---------------------------------------------------------------------- */

/**
 * Status items of a mailbox (STATUS, LIST-STATUS, the STATUS fallback).
 * `present` holds the QR_STATUS_* bits (resp.h) of the items received.
 * @since 0.1
 */
typedef struct qr_mailbox_status {
    unsigned int present;   /**< QR_STATUS_* bits of the members set */
    uint32_t messages;      /**< MESSAGES */
    uint32_t uidnext;       /**< UIDNEXT */
    uint32_t uidvalidity;   /**< UIDVALIDITY */
    uint32_t unseen;        /**< UNSEEN */
    uint32_t recent;        /**< RECENT */
    uint64_t highestmodseq; /**< HIGHESTMODSEQ */
    uint64_t size;          /**< SIZE */
} qr_mailbox_status;

/** @name qr_imap_mailbox.attrs bits (from the LIST attributes) @{ */
#define QR_MBOX_ATTR_NOSELECT      0x01u /**< \\Noselect */
#define QR_MBOX_ATTR_NONEXISTENT   0x02u /**< \\NonExistent */
#define QR_MBOX_ATTR_NOINFERIORS   0x04u /**< \\Noinferiors */
#define QR_MBOX_ATTR_HASCHILDREN   0x08u /**< \\HasChildren */
#define QR_MBOX_ATTR_HASNOCHILDREN 0x10u /**< \\HasNoChildren */
#define QR_MBOX_ATTR_SUBSCRIBED    0x20u /**< \\Subscribed */
#define QR_MBOX_ATTR_REMOTE        0x40u /**< \\Remote */
/** @} */

/**
 * One mailbox of a LIST result.
 * @since 0.1
 */
typedef struct qr_imap_mailbox {
    const char *name;              /**< the name decoded to UTF-8 (the raw name when it is
                                        not valid modified UTF-7); `INBOX` in any case is
                                        given as `INBOX` */
    const char *raw;               /**< the name as the server sent it */
    int delimiter;                 /**< hierarchy delimiter byte, or -1 for NIL */
    const char *const *attributes; /**< the attributes as sent (`\\HasNoChildren`, ...) */
    size_t nattributes;            /**< their number */
    unsigned int attrs;            /**< QR_MBOX_ATTR_* bits of the known attributes */
    const char *const *childinfo;  /**< CHILDINFO values (RECURSIVEMATCH), e.g. SUBSCRIBED */
    size_t nchildinfo;             /**< their number */
    const char *oldname;           /**< OLDNAME decoded to UTF-8, or NULL */
    qr_mailbox_status status;      /**< LIST-STATUS items or the fallback's STATUS */
} qr_imap_mailbox;

/** @name LIST selection options (qr_imap_list_options.select) @{ */
#define QR_LIST_SEL_SUBSCRIBED     0x1u /**< (SUBSCRIBED) */
#define QR_LIST_SEL_REMOTE         0x2u /**< (REMOTE) */
#define QR_LIST_SEL_RECURSIVEMATCH 0x4u /**< (RECURSIVEMATCH), with another option */
/** @} */

/** @name LIST return options (qr_imap_list_options.ret) @{ */
#define QR_LIST_RET_SUBSCRIBED 0x1u /**< RETURN (SUBSCRIBED) */
#define QR_LIST_RET_CHILDREN   0x2u /**< RETURN (CHILDREN) */
/** @} */

/** qr_imap_list_options.flags: never use the STATUS fallback. @since 0.1 */
#define QR_LIST_NO_FALLBACK 0x1u
/** qr_imap_list_options.flags: use the STATUS fallback even with LIST-STATUS. @since 0.1 */
#define QR_LIST_FORCE_FALLBACK 0x2u

/** Current version of qr_imap_list_options. @since 0.1 */
#define QR_IMAP_LIST_OPTIONS_VERSION 1

/**
 * What to LIST. Fill with QR_IMAP_LIST_OPTIONS_INIT.
 * @since 0.1
 */
typedef struct qr_imap_list_options {
    unsigned int version;        /**< QR_IMAP_LIST_OPTIONS_VERSION */
    const char *reference;       /**< the reference, UTF-8; NULL for `""` */
    const char *const *patterns; /**< patterns, UTF-8; none gives `*` */
    size_t npatterns;            /**< their number */
    unsigned int select;         /**< QR_LIST_SEL_* bits (need LIST-EXTENDED) */
    unsigned int ret;            /**< QR_LIST_RET_* bits (need LIST-EXTENDED) */
    unsigned int status_items;   /**< QR_STATUS_* bits to return per mailbox; 0 for none */
    unsigned int flags;          /**< QR_LIST_NO_FALLBACK, QR_LIST_FORCE_FALLBACK */
} qr_imap_list_options;

/** Static initialiser of qr_imap_list_options. @since 0.1 */
#define QR_IMAP_LIST_OPTIONS_INIT                                                                  \
    {                                                                                              \
        QR_IMAP_LIST_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, 0                                    \
    }

/**
 * Completion of qr_imap_list().
 *
 * @param s         The session.
 * @param res       The outcome of the LIST (see the file documentation);
 *                  in the fallback a failed STATUS leaves its mailbox's
 *                  `status.present` 0, and a fatal or cancelled STATUS
 *                  gives its status here.
 * @param mailboxes The mailboxes in the order listed (borrowed).
 * @param n         Their number.
 * @param payload   The payload given.
 * @return 0, QR_PAUSE or a negative value, as qr_session_done_fn.
 * @since 0.1
 */
typedef int (*qr_imap_list_fn)(qr_session *s, const qr_session_result *res,
                               const qr_imap_mailbox *mailboxes, size_t n, void *payload);

/**
 * Send `LIST [(SELECT-OPTS)] REF PATTERNS [RETURN (...)]` and collect the
 * mailboxes. With `status_items` and LIST-STATUS, `STATUS (...)` is a
 * return option; without LIST-STATUS (or with QR_LIST_FORCE_FALLBACK) the
 * LIST is sent without it and, once it completes OK, one STATUS per
 * selectable mailbox (neither \\Noselect nor \\NonExistent) is pipelined;
 * `done` fires once, after the last one, with the same combined result.
 *
 * @param s       The session.
 * @param opts    What to list.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return 0; QR_EINVAL (NULL s or opts, unknown version or bits, a name
 *         that is not UTF-8); QR_ECAPABILITY (select or return options
 *         without LIST-EXTENDED; status items without LIST-STATUS and with
 *         QR_LIST_NO_FALLBACK); QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** `opts` and its strings are read during the call only.
 * `done` fires exactly once after a 0 return.
 * @since 0.1
 */
QR_EXTERN int qr_imap_list(qr_session *s, const qr_imap_list_options *opts, qr_imap_list_fn done,
                           void *payload);

/**
 * Completion of qr_imap_status().
 *
 * @param s       The session.
 * @param res     The outcome.
 * @param status  The items received (`present` 0 when none).
 * @param payload The payload given.
 * @return As qr_session_done_fn.
 * @since 0.1
 */
typedef int (*qr_imap_status_fn)(qr_session *s, const qr_session_result *res,
                                 const qr_mailbox_status *status, void *payload);

/**
 * Send `STATUS M (ITEMS)`.
 *
 * @param s       The session.
 * @param mailbox The mailbox, UTF-8.
 * @param items   QR_STATUS_* bits, at least one.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return 0; QR_EINVAL (NULL arguments, no or unknown items, a name that
 *         is not UTF-8); QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** `mailbox` is copied. `done` fires exactly once after a 0
 * return.
 * @since 0.1
 */
QR_EXTERN int qr_imap_status(qr_session *s, const char *mailbox, unsigned int items,
                             qr_imap_status_fn done, void *payload);

/* ---------------------------------------------------------------------- */
/* SELECT / EXAMINE                                                       */
/* ---------------------------------------------------------------------- */

/** qr_imap_select() flag: EXAMINE instead of SELECT. @since 0.1 */
#define QR_SELECT_EXAMINE 0x1u
/** qr_imap_select() flag: add the `(CONDSTORE)` parameter. @since 0.1 */
#define QR_SELECT_CONDSTORE 0x2u

/** @name qr_imap_select_result.present bits @{ */
#define QR_SELECT_HAS_UIDVALIDITY   0x01u /**< uidvalidity */
#define QR_SELECT_HAS_UIDNEXT       0x02u /**< uidnext */
#define QR_SELECT_HAS_HIGHESTMODSEQ 0x04u /**< highestmodseq */
#define QR_SELECT_HAS_EXISTS        0x08u /**< exists */
#define QR_SELECT_HAS_FLAGS         0x10u /**< flags */
#define QR_SELECT_HAS_PERMFLAGS     0x20u /**< permanentflags */
#define QR_SELECT_HAS_RECENT        0x40u /**< recent */
/** @} */

/**
 * What a SELECT or EXAMINE reported (responses after `[CLOSED]` only).
 * @since 0.1
 */
typedef struct qr_imap_select_result {
    unsigned int present;              /**< QR_SELECT_HAS_* bits */
    uint32_t uidvalidity;              /**< [UIDVALIDITY n] */
    uint32_t uidnext;                  /**< [UIDNEXT n] */
    uint64_t highestmodseq;            /**< [HIGHESTMODSEQ n] */
    int nomodseq;                      /**< 1 after [NOMODSEQ] */
    uint32_t exists;                   /**< EXISTS */
    uint32_t recent;                   /**< RECENT */
    const char *const *flags;          /**< FLAGS */
    size_t nflags;                     /**< their number */
    const char *const *permanentflags; /**< [PERMANENTFLAGS (...)] */
    size_t npermanentflags;            /**< their number */
    int read_only;                     /**< 1 for [READ-ONLY], 0 for [READ-WRITE] or none */
} qr_imap_select_result;

/**
 * Completion of qr_imap_select().
 *
 * @param s       The session.
 * @param res     The outcome.
 * @param sel     What the server reported.
 * @param payload The payload given.
 * @return As qr_session_done_fn.
 * @since 0.1
 */
typedef int (*qr_imap_select_fn)(qr_session *s, const qr_session_result *res,
                                 const qr_imap_select_result *sel, void *payload);

/**
 * Send `SELECT M` or `EXAMINE M`, plain, with `(CONDSTORE)`, or with the
 * QRESYNC parameter of `qr` (qr_mbox_qresync_append()).
 *
 * @param s           The session.
 * @param mailbox     The mailbox, UTF-8.
 * @param flags       QR_SELECT_EXAMINE, QR_SELECT_CONDSTORE.
 * @param qr          QRESYNC parameters (used when `qr->use_qresync`), or NULL.
 * @param on_untagged Receives every untagged response of the command
 *                    (FLAGS, EXISTS, RECENT, OK codes, VANISHED (EARLIER),
 *                    FETCH), e.g. for qr_mbox_engine_feed(); may be NULL.
 * @param done        Completion; may be NULL.
 * @param payload     Passed to both callbacks.
 * @return 0; QR_EINVAL (NULL s or mailbox, unknown flags, CONDSTORE with
 *         QRESYNC, a name that is not UTF-8); QR_ENOMEM; or as
 *         qr_session_submit().
 *
 * **Ownership:** `mailbox` and `qr` are read during the call only.
 * `done` fires exactly once after a 0 return, after every on_untagged.
 * @since 0.1
 */
QR_EXTERN int qr_imap_select(qr_session *s, const char *mailbox, unsigned int flags,
                             const qr_qresync_params *qr, qr_session_untagged_fn on_untagged,
                             qr_imap_select_fn done, void *payload);

/**
 * Send `UNSELECT` (or `CLOSE`, which also expunges).
 *
 * @param s       The session.
 * @param close   0 for UNSELECT, 1 for CLOSE.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return 0; QR_EINVAL for NULL s; QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_imap_unselect(qr_session *s, int close, qr_session_done_fn done, void *payload);

/* ---------------------------------------------------------------------- */
/* UID FETCH, UID STORE, UID EXPUNGE, UID SEARCH                          */
/* ---------------------------------------------------------------------- */

/** @name qr_imap_fetch_options.items bits @{ */
#define QR_FETCH_ITEM_FLAGS        0x01u /**< FLAGS */
#define QR_FETCH_ITEM_MODSEQ       0x02u /**< MODSEQ */
#define QR_FETCH_ITEM_INTERNALDATE 0x04u /**< INTERNALDATE */
#define QR_FETCH_ITEM_RFC822_SIZE  0x08u /**< RFC822.SIZE */
#define QR_FETCH_ITEM_ENVELOPE     0x10u /**< ENVELOPE */
#define QR_FETCH_ITEM_BODY         0x20u /**< BODY.PEEK[] (the whole message) */
/** @} */

/** Current version of qr_imap_fetch_options. @since 0.1 */
#define QR_IMAP_FETCH_OPTIONS_VERSION 1

/**
 * What to fetch. `UID` is always fetched. Fill with
 * QR_IMAP_FETCH_OPTIONS_INIT.
 * @since 0.1
 */
typedef struct qr_imap_fetch_options {
    unsigned int version;        /**< QR_IMAP_FETCH_OPTIONS_VERSION */
    unsigned int items;          /**< QR_FETCH_ITEM_* bits */
    const char *const *sections; /**< extra `BODY.PEEK[SECTION]` items: the section texts,
                                      e.g. "HEADER" or "1.MIME" (printable ASCII) */
    size_t nsections;            /**< their number */
    uint64_t changedsince;       /**< `(CHANGEDSINCE n)` when non-zero */
    int vanished;                /**< add `VANISHED` (needs changedsince and QRESYNC) */
    /** A FETCH response (borrowed for the call); may be NULL. */
    int (*on_fetch)(qr_session *s, const qr_resp_fetch *fetch, void *payload);
    /** A VANISHED (EARLIER) response (borrowed for the call); may be NULL. */
    int (*on_vanished)(qr_session *s, const qr_resp_vanished *vanished, void *payload);
    /** A body starts (before the FETCH that lists it); may be NULL. */
    int (*on_body_begin)(qr_session *s, const qr_body_info *info, void *payload);
    /** The next bytes of a body; may be NULL. */
    int (*on_body_data)(qr_session *s, const char *data, size_t len, void *payload);
    /** The body is complete; may be NULL. */
    int (*on_body_end)(qr_session *s, void *payload);
} qr_imap_fetch_options;

/** Static initialiser of qr_imap_fetch_options. @since 0.1 */
#define QR_IMAP_FETCH_OPTIONS_INIT                                                                 \
    {                                                                                              \
        QR_IMAP_FETCH_OPTIONS_VERSION, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL              \
    }

/**
 * Send `UID FETCH SET (UID ITEMS) [(CHANGEDSINCE n [VANISHED])]`.
 *
 * @param s       The session.
 * @param set     The UIDs (not empty). The line is not split: keep sets
 *                short or split them with qr_cmd_split_uidset().
 * @param opts    What to fetch and the per-response callbacks.
 * @param done    Completion; may be NULL.
 * @param payload Passed to every callback.
 * @return 0; QR_EINVAL (NULL arguments, an empty set, unknown version or
 *         items, a bad section, VANISHED without CHANGEDSINCE); QR_ENOMEM;
 *         or as qr_session_submit().
 *
 * **Ownership:** `set` and `opts` are read during the call only (the
 * callbacks are copied). Per-response callbacks fire before `done`, which
 * fires exactly once after a 0 return.
 * @since 0.1
 */
QR_EXTERN int qr_imap_uid_fetch(qr_session *s, const qr_uidset *set,
                                const qr_imap_fetch_options *opts, qr_session_done_fn done,
                                void *payload);

/**
 * How UID STORE changes the flags.
 * @since 0.1
 */
typedef enum qr_store_mode {
    QR_STORE_SET = 0,   /**< FLAGS */
    QR_STORE_ADD = 1,   /**< +FLAGS */
    QR_STORE_REMOVE = 2 /**< -FLAGS */
} qr_store_mode;

/** Current version of qr_imap_store_options. @since 0.1 */
#define QR_IMAP_STORE_OPTIONS_VERSION 1

/**
 * A UID STORE. Fill with QR_IMAP_STORE_OPTIONS_INIT.
 * @since 0.1
 */
typedef struct qr_imap_store_options {
    unsigned int version;     /**< QR_IMAP_STORE_OPTIONS_VERSION */
    qr_store_mode mode;       /**< how */
    int silent;               /**< 1 for `.SILENT` */
    const char *const *flags; /**< the flags (see qr_cmd_add_flag()) */
    size_t nflags;            /**< their number */
    int use_unchangedsince;   /**< 1 to send `(UNCHANGEDSINCE unchangedsince)` */
    uint64_t unchangedsince;  /**< the modseq */
    /** A FETCH response (borrowed for the call); may be NULL. */
    int (*on_fetch)(qr_session *s, const qr_resp_fetch *fetch, void *payload);
} qr_imap_store_options;

/** Static initialiser of qr_imap_store_options. @since 0.1 */
#define QR_IMAP_STORE_OPTIONS_INIT                                                                 \
    {                                                                                              \
        QR_IMAP_STORE_OPTIONS_VERSION, QR_STORE_SET, 0, NULL, 0, 0, 0, NULL                        \
    }

/**
 * Completion of qr_imap_uid_store().
 *
 * @param s        The session.
 * @param res      The outcome.
 * @param modified The UIDs of `[MODIFIED set]` (UNCHANGEDSINCE failed for
 *                 them), or NULL when the code was absent.
 * @param payload  The payload given.
 * @return As qr_session_done_fn.
 * @since 0.1
 */
typedef int (*qr_imap_store_fn)(qr_session *s, const qr_session_result *res,
                                const qr_uidset *modified, void *payload);

/**
 * Send `UID STORE SET [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] (FLAGS)`.
 *
 * @param s       The session.
 * @param set     The UIDs (not empty).
 * @param opts    The change.
 * @param done    Completion; may be NULL.
 * @param payload Passed to the callbacks.
 * @return 0; QR_EINVAL (NULL arguments, empty set, unknown version or
 *         mode, a bad flag); QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** `set` and `opts` are read during the call only. `done`
 * fires exactly once after a 0 return.
 * @since 0.1
 */
QR_EXTERN int qr_imap_uid_store(qr_session *s, const qr_uidset *set,
                                const qr_imap_store_options *opts, qr_imap_store_fn done,
                                void *payload);

/**
 * Send `UID EXPUNGE SET` (UIDPLUS).
 *
 * @param s           The session.
 * @param set         The UIDs (not empty).
 * @param on_untagged Receives the EXPUNGE or VANISHED responses; may be NULL.
 * @param done        Completion; may be NULL.
 * @param payload     Passed to both callbacks.
 * @return 0; QR_EINVAL (NULL arguments, an empty set); QR_ECAPABILITY
 *         without UIDPLUS; QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** `set` is read during the call only. `done` fires
 * exactly once after a 0 return.
 * @since 0.1
 */
QR_EXTERN int qr_imap_uid_expunge(qr_session *s, const qr_uidset *set,
                                  qr_session_untagged_fn on_untagged, qr_session_done_fn done,
                                  void *payload);

/** Current version of qr_imap_search_options. @since 0.1 */
#define QR_IMAP_SEARCH_OPTIONS_VERSION 1

/**
 * UID SEARCH criteria, ANDed. Fill with QR_IMAP_SEARCH_OPTIONS_INIT; with
 * no criterion the search is `ALL`.
 * @since 0.1
 */
typedef struct qr_imap_search_options {
    unsigned int version;  /**< QR_IMAP_SEARCH_OPTIONS_VERSION */
    const qr_uidset *uids; /**< `UID set`, or NULL */
    int since[3];          /**< `SINCE d-Mon-y` as {year, month, day}; year 0 for none */
    int before[3];         /**< `BEFORE d-Mon-y` as {year, month, day}; year 0 for none */
    uint64_t modseq;       /**< `MODSEQ n` when non-zero (CONDSTORE) */
    int esearch;           /**< 1: `RETURN (ALL)` when ESEARCH is advertised */
} qr_imap_search_options;

/** Static initialiser of qr_imap_search_options. @since 0.1 */
#define QR_IMAP_SEARCH_OPTIONS_INIT                                                                \
    {                                                                                              \
        QR_IMAP_SEARCH_OPTIONS_VERSION, NULL, {0, 0, 0}, {0, 0, 0}, 0, 0                           \
    }

/**
 * Completion of qr_imap_uid_search().
 *
 * @param s          The session.
 * @param res        The outcome.
 * @param uids       The UIDs found (empty set when none).
 * @param has_modseq 1 when the server gave a MODSEQ (SEARCH `(MODSEQ n)`
 *                   or ESEARCH `MODSEQ n`).
 * @param modseq     That value.
 * @param esearch    1 when the answer came as ESEARCH.
 * @param payload    The payload given.
 * @return As qr_session_done_fn.
 * @since 0.1
 */
typedef int (*qr_imap_search_fn)(qr_session *s, const qr_session_result *res, const qr_uidset *uids,
                                 int has_modseq, uint64_t modseq, int esearch, void *payload);

/**
 * Send `UID SEARCH [RETURN (ALL)] CRITERIA`.
 *
 * @param s       The session.
 * @param opts    The criteria.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return 0; QR_EINVAL (NULL s or opts, unknown version, a bad date);
 *         QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** `opts` is read during the call only. `done` fires
 * exactly once after a 0 return.
 * @since 0.1
 */
QR_EXTERN int qr_imap_uid_search(qr_session *s, const qr_imap_search_options *opts,
                                 qr_imap_search_fn done, void *payload);

/* ---------------------------------------------------------------------- */
/* APPEND / MULTIAPPEND                                                   */
/* ---------------------------------------------------------------------- */

/**
 * One message to append. Give the body as bytes (`data`, `len`) or as a
 * source (`read`, `read_payload`, `size`).
 * @since 0.1
 */
typedef struct qr_imap_append_msg {
    const char *const *flags; /**< flags (\\Recent is skipped), or NULL */
    size_t nflags;            /**< their number; with flags NULL and 0 no list is sent */
    int has_date;             /**< 1 to send the internal date */
    time_t date;              /**< the internal date */
    int tz_minutes;           /**< its zone, minutes east of UTC */
    const void *data;         /**< the bytes (copied), or NULL with `read` */
    size_t len;               /**< their number */
    qr_cmd_read_fn read;      /**< body source, or NULL */
    void *read_payload;       /**< passed to `read` */
    uint64_t size;            /**< the source's exact size */
} qr_imap_append_msg;

/**
 * Completion of qr_imap_append().
 *
 * @param s           The session.
 * @param res         The outcome (the first failure among several APPENDs).
 * @param uidvalidity From `[APPENDUID]`, or 0 without it.
 * @param uids        `uids[i]` is the UID of message i, 0 when unknown.
 * @param n           The number of messages.
 * @param payload     The payload given.
 * @return As qr_session_done_fn.
 * @since 0.1
 */
typedef int (*qr_imap_append_fn)(qr_session *s, const qr_session_result *res, uint32_t uidvalidity,
                                 const uint32_t *uids, size_t n, void *payload);

/** qr_imap_append() flag: never use MULTIAPPEND. @since 0.1 */
#define QR_APPEND_NO_MULTI 0x1u

/**
 * Append messages to a mailbox: one `APPEND M (F) "DATE" {N}...` with
 * every message when MULTIAPPEND is advertised (or n is 1), else one
 * APPEND per message, pipelined; `done` fires once after the last.
 *
 * @param s       The session.
 * @param mailbox The mailbox, UTF-8.
 * @param msgs    The messages.
 * @param n       Their number, at least 1.
 * @param flags   0 or QR_APPEND_NO_MULTI.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return 0; QR_EINVAL (NULL arguments, n 0, a bad flag or date, a name
 *         that is not UTF-8); QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** bytes are copied; sources and their payloads must stay
 * valid until `done` fires (exactly once after a 0 return).
 * @since 0.1
 */
QR_EXTERN int qr_imap_append(qr_session *s, const char *mailbox, const qr_imap_append_msg *msgs,
                             size_t n, unsigned int flags, qr_imap_append_fn done, void *payload);

/* ---------------------------------------------------------------------- */
/* Mailbox management                                                     */
/* ---------------------------------------------------------------------- */

/**
 * Send `CREATE M`. Codes such as `[ALREADYEXISTS]` come in `res->code`.
 *
 * @param s       The session.
 * @param mailbox The mailbox, UTF-8.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return 0; QR_EINVAL (NULL arguments, not UTF-8); QR_ENOMEM; or as
 *         qr_session_submit().
 *
 * **Ownership:** `mailbox` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_imap_create(qr_session *s, const char *mailbox, qr_session_done_fn done,
                             void *payload);

/**
 * Send `DELETE M`.
 *
 * @param s       The session.
 * @param mailbox The mailbox, UTF-8.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return As qr_imap_create().
 *
 * **Ownership:** `mailbox` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_imap_delete(qr_session *s, const char *mailbox, qr_session_done_fn done,
                             void *payload);

/**
 * Send `RENAME OLD NEW`.
 *
 * @param s       The session.
 * @param from    The old name, UTF-8.
 * @param to      The new name, UTF-8.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return As qr_imap_create().
 *
 * **Ownership:** the names are copied.
 * @since 0.1
 */
QR_EXTERN int qr_imap_rename(qr_session *s, const char *from, const char *to,
                             qr_session_done_fn done, void *payload);

/**
 * Send `SUBSCRIBE M` or `UNSUBSCRIBE M`.
 *
 * @param s         The session.
 * @param mailbox   The mailbox, UTF-8.
 * @param subscribe 1 for SUBSCRIBE, 0 for UNSUBSCRIBE.
 * @param done      Completion; may be NULL.
 * @param payload   Passed to `done`.
 * @return As qr_imap_create().
 *
 * **Ownership:** `mailbox` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_imap_subscribe(qr_session *s, const char *mailbox, int subscribe,
                                qr_session_done_fn done, void *payload);

/* ---------------------------------------------------------------------- */
/* ENABLE, NOTIFY, raw                                                    */
/* ---------------------------------------------------------------------- */

/**
 * Completion of qr_imap_enable().
 *
 * @param s       The session.
 * @param res     The outcome.
 * @param enabled The names of the `* ENABLED` responses, in order.
 * @param n       Their number.
 * @param payload The payload given.
 * @return As qr_session_done_fn.
 * @since 0.1
 */
typedef int (*qr_imap_enable_fn)(qr_session *s, const qr_session_result *res,
                                 const char *const *enabled, size_t n, void *payload);

/**
 * Send `ENABLE CAP...`.
 *
 * @param s       The session.
 * @param caps    Capability names (atoms).
 * @param n       Their number, at least 1.
 * @param done    Completion; may be NULL.
 * @param payload Passed to `done`.
 * @return 0; QR_EINVAL (NULL arguments, n 0, a name that is not an atom);
 *         QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** the names are copied.
 * @since 0.1
 */
QR_EXTERN int qr_imap_enable(qr_session *s, const char *const *caps, size_t n,
                             qr_imap_enable_fn done, void *payload);

/** @name NOTIFY events (RFC 5465) @{ */
#define QR_NOTIFY_MESSAGE_NEW         0x01u /**< MessageNew */
#define QR_NOTIFY_MESSAGE_EXPUNGE     0x02u /**< MessageExpunge */
#define QR_NOTIFY_FLAG_CHANGE         0x04u /**< FlagChange */
#define QR_NOTIFY_MAILBOX_NAME        0x08u /**< MailboxName */
#define QR_NOTIFY_SUBSCRIPTION_CHANGE 0x10u /**< SubscriptionChange */
/** @} */

/** Current version of qr_imap_notify_spec. @since 0.1 */
#define QR_IMAP_NOTIFY_SPEC_VERSION 1

/**
 * A NOTIFY SET request as interimap's `--notify` uses it: each part is
 * sent when its event bits are non-zero, in the order SELECTED,
 * MAILBOXES, personal. Fill with QR_IMAP_NOTIFY_SPEC_INIT.
 * @since 0.1
 */
typedef struct qr_imap_notify_spec {
    unsigned int version;         /**< QR_IMAP_NOTIFY_SPEC_VERSION */
    int status;                   /**< 1 for `NOTIFY SET STATUS ...` */
    unsigned int selected;        /**< events of `(SELECTED (...))` */
    const char *const *mailboxes; /**< names (UTF-8) of `(MAILBOXES (...) (...))` */
    size_t nmailboxes;            /**< their number */
    unsigned int mailbox_events;  /**< events of the MAILBOXES part */
    unsigned int personal;        /**< events of `(personal (...))` */
} qr_imap_notify_spec;

/** Static initialiser of qr_imap_notify_spec. @since 0.1 */
#define QR_IMAP_NOTIFY_SPEC_INIT                                                                   \
    {                                                                                              \
        QR_IMAP_NOTIFY_SPEC_VERSION, 0, 0, NULL, 0, 0, 0                                           \
    }

/**
 * Send `NOTIFY SET ...` (or `NOTIFY NONE` when `spec` is NULL). Events
 * arrive later through the session's on_unsolicited callback.
 *
 * @param s           The session.
 * @param spec        The request, or NULL for NOTIFY NONE.
 * @param on_untagged Receives the STATUS (and other) responses sent while
 *                    the command runs; may be NULL.
 * @param done        Completion; may be NULL.
 * @param payload     Passed to both callbacks.
 * @return 0; QR_EINVAL (NULL s, unknown version or events, no part,
 *         MAILBOXES events without names); QR_ECAPABILITY without NOTIFY;
 *         QR_ENOMEM; or as qr_session_submit().
 *
 * **Ownership:** `spec` is read during the call only.
 * @since 0.1
 */
QR_EXTERN int qr_imap_notify(qr_session *s, const qr_imap_notify_spec *spec,
                             qr_session_untagged_fn on_untagged, qr_session_done_fn done,
                             void *payload);

/**
 * Send `IDLE` (RFC 2177) and wait in it until qr_imap_idle_done(). IDLE
 * is a barrier: commands submitted meanwhile wait for its end.
 *
 * @param s           The session.
 * @param on_untagged Receives the untagged responses sent while idling
 *                    (EXISTS, EXPUNGE, RECENT, FETCH, VANISHED, STATUS,
 *                    FLAGS, untagged OK/NO/BAD); may be NULL.
 * @param done        Completion, after DONE (or a NO/BAD); may be NULL.
 * @param payload     Passed to both callbacks.
 * @return 0; QR_EINVAL for NULL s; QR_ECAPABILITY without IDLE;
 *         QR_ENOMEM; or as qr_session_submit(). A second `+` from the
 *         server fails the session with QR_EPROTO.
 *
 * **Ownership:** nothing changes hands. `done` fires exactly once after a
 * 0 return.
 * @since 0.1
 */
QR_EXTERN int qr_imap_idle(qr_session *s, qr_session_untagged_fn on_untagged,
                           qr_session_done_fn done, void *payload);

/**
 * End the session's IDLE: queue `DONE` now if the server's `+` came, else
 * as soon as it comes. Calling it again is harmless.
 *
 * @param s The session.
 * @return 0; QR_EINVAL for NULL or when no IDLE is pending or in flight;
 *         QR_ENOMEM.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_imap_idle_done(qr_session *s);

/**
 * Submit a command built by the caller, claiming the given response kinds:
 * a thin wrapper of qr_session_submit().
 *
 * @param s           The session.
 * @param cmd         The command.
 * @param claims      QR_CLAIM() bits, or QR_CLAIM_AUTO.
 * @param on_untagged Receives the claimed untagged responses; may be NULL.
 * @param done        Completion; may be NULL.
 * @param payload     Passed to both callbacks.
 * @return As qr_session_submit().
 *
 * **Ownership:** on success the session owns `cmd`; on error the caller
 * keeps it.
 * @since 0.1
 */
QR_EXTERN int qr_imap_raw(qr_session *s, qr_cmd *cmd, uint32_t claims,
                          qr_session_untagged_fn on_untagged, qr_session_done_fn done,
                          void *payload);

QR_END_DECLS

#endif /* QRESYNC_COMMANDS_H */
