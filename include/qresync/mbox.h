/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file mbox.h
 * @brief The pure mailbox / QRESYNC engine: cached state + responses -> changes.
 *
 * Nothing here does I/O. A synchronizer keeps, per mailbox, the state it
 * saved last time (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ). It creates a
 * qr_mbox_engine from that state, tells it a SELECT was issued, feeds it
 * every response event the parser produces for the session, and takes the
 * change set: the UIDs that vanished, the flag updates (one per UID, sorted
 * by UID), the new UIDs, and the next state to save.
 *
 * **Flags.** A message's flags are a qr_flagset: a bitmask of the system
 * flags plus the ids of its keywords in a qr_kwtable. Keywords are
 * interned once per table, so messages carry no strings. Keyword names are
 * compared ASCII case-insensitively (RFC 3501 flag names are not case
 * sensitive): `$Junk` and `$JUNK` get the same id, and the table keeps the
 * spelling it saw first for printing. Other `\` flags than the five system
 * flags and `\Recent` (server extensions such as `\Important`) are kept as
 * keywords too, spelled as received.
 *
 * **Which responses count.** The engine follows the reference client
 * (InterIMAP): `[UIDVALIDITY]`, `[UIDNEXT]`, `[HIGHESTMODSEQ]`, `[NOMODSEQ]`
 * and `[CLOSED]` in untagged or tagged OK responses; `[MODIFIED]` in tagged
 * OK or NO; EXISTS, EXPUNGE, VANISHED and VANISHED (EARLIER); FETCH with a
 * UID (FETCH without UID only updates EXISTS). Anything else is ignored.
 *
 * **The next state comes only from data received**: UIDNEXT from
 * `[UIDNEXT n]` or one more than the highest UID seen in FETCH or VANISHED
 * (whichever is larger, as the reference does), HIGHESTMODSEQ from
 * `[HIGHESTMODSEQ n]` (which sets it) or the highest MODSEQ seen in FETCH
 * (which can only raise it), EXISTS from EXISTS, EXPUNGE and live VANISHED.
 * What was not received keeps its cached value. MODSEQ values are kept as
 * exact 64-bit numbers. A UID of 4294967295 leaves UIDNEXT at 4294967295
 * (the 32-bit field saturates; such a mailbox cannot take more messages).
 *
 * **Threads.** Handles are not thread-safe; different handles may be used
 * from different threads.
 */
#ifndef QRESYNC_MBOX_H
#define QRESYNC_MBOX_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/buf.h>
#include <qresync/cmd.h>
#include <qresync/common.h>
#include <qresync/error.h>
#include <qresync/resp.h>
#include <qresync/uidset.h>

QR_BEGIN_DECLS

/* ---------------------------------------------------------------------- */
/* Keyword table                                                          */
/* ---------------------------------------------------------------------- */

/** Most keywords one qr_kwtable holds (QR_ELIMIT beyond). @since 0.1 */
#define QR_KWTABLE_MAX_KEYWORDS 65536
/** Longest keyword name in bytes (QR_ELIMIT beyond). @since 0.1 */
#define QR_KWTABLE_MAX_NAME 1024

/**
 * A table of interned keywords (opaque). Ids are dense, starting at 0, in
 * the order names were first interned, and never change while the table
 * lives. One table is typically shared by both sides of a mailbox pair so
 * that flag sets from the two servers compare directly.
 * @since 0.1
 */
typedef struct qr_kwtable qr_kwtable;

/**
 * Create an empty keyword table.
 *
 * @param out Receives the table; NULL on failure.
 * @return 0, QR_EINVAL when out is NULL, or QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_kwtable_free();
 * it must outlive every engine, change set and flag set using its ids.
 * @since 0.1
 */
QR_EXTERN int qr_kwtable_new(qr_kwtable **out);

/**
 * Free a keyword table.
 *
 * @param kw The table; NULL is a no-op.
 *
 * **Ownership:** frees the table and its names; names obtained with
 * qr_kwtable_name() become invalid.
 * @since 0.1
 */
QR_EXTERN void qr_kwtable_free(qr_kwtable *kw);

/**
 * Intern a keyword: return its id, adding it when no name equal to it
 * (ASCII case-insensitively) is in the table yet.
 *
 * @param kw   The table.
 * @param name The keyword bytes (need not be NUL-terminated).
 * @param len  Its length.
 * @param id   Receives the id.
 * @return 0; QR_EINVAL when an argument is NULL, the name is empty, holds a
 *         byte that cannot appear in a flag (controls, space, 0x7f, `(`, `)`,
 *         `{`, `"`, `%`, `*`, `]`, or `\` other than first; 8-bit bytes are
 *         accepted), or is one of the system flags or
 *         `\Recent` (those are bits, see qr_flagset_add_name()); QR_ELIMIT
 *         when the name is longer than QR_KWTABLE_MAX_NAME or the table
 *         already holds QR_KWTABLE_MAX_KEYWORDS names; QR_ENOMEM. On error
 *         the table is unchanged.
 *
 * **Ownership:** the name is copied.
 * @since 0.1
 */
QR_EXTERN int qr_kwtable_intern(qr_kwtable *kw, const char *name, size_t len, uint32_t *id);

/**
 * Find a keyword without adding it.
 *
 * @param kw   The table.
 * @param name The keyword bytes.
 * @param len  Its length.
 * @param id   Receives the id when found (may be NULL).
 * @return 1 when found, 0 when not (or for NULL arguments).
 * @since 0.1
 */
QR_EXTERN int qr_kwtable_lookup(const qr_kwtable *kw, const char *name, size_t len, uint32_t *id);

/**
 * The spelling of a keyword (the first one interned).
 *
 * @param kw  The table.
 * @param id  An id returned by qr_kwtable_intern().
 * @param len Receives the length (may be NULL).
 * @return The NUL-terminated name, or NULL for an unknown id.
 *
 * **Ownership:** borrowed from the table, valid until it is freed.
 * @since 0.1
 */
QR_EXTERN const char *qr_kwtable_name(const qr_kwtable *kw, uint32_t id, size_t *len);

/**
 * How many keywords the table holds (ids are 0 to count-1).
 *
 * @param kw The table.
 * @return The count; 0 for NULL.
 * @since 0.1
 */
QR_EXTERN size_t qr_kwtable_count(const qr_kwtable *kw);

/* ---------------------------------------------------------------------- */
/* Flag sets                                                              */
/* ---------------------------------------------------------------------- */

/** @name System flag bits of qr_flagset.sys @{ */
#define QR_FLAG_ANSWERED 0x01u /**< `\Answered` */
#define QR_FLAG_FLAGGED  0x02u /**< `\Flagged` */
#define QR_FLAG_DELETED  0x04u /**< `\Deleted` */
#define QR_FLAG_SEEN     0x08u /**< `\Seen` */
#define QR_FLAG_DRAFT    0x10u /**< `\Draft` */
#define QR_FLAG_RECENT   0x20u /**< `\Recent` (session flag; synchronizers ignore it) */
/** @} */

/** Most keywords one flag set holds (QR_ELIMIT beyond). @since 0.1 */
#define QR_FLAGSET_MAX_KEYWORDS 4096

/**
 * The flags of one message: system flag bits plus the sorted, distinct ids
 * of its keywords in some qr_kwtable. A small value type: put it on the
 * stack with QR_FLAGSET_INIT and release it with qr_flagset_dispose().
 * @since 0.1
 */
typedef struct qr_flagset {
    unsigned int sys; /**< QR_FLAG_* bits */
    uint32_t *kw;     /**< keyword ids in increasing order (owned); NULL when nkw is 0 */
    size_t nkw;       /**< number of keyword ids */
    size_t cap;       /**< ids allocated at kw */
} qr_flagset;

/** Initialiser for an empty flag set. @since 0.1 */
#define QR_FLAGSET_INIT                                                                            \
    {                                                                                              \
        0, NULL, 0, 0                                                                              \
    }

/**
 * Release the memory of a flag set and make it empty (QR_FLAGSET_INIT).
 *
 * @param fs The set; NULL is a no-op.
 *
 * **Ownership:** frees `fs->kw`; `fs` itself belongs to the caller.
 * @since 0.1
 */
QR_EXTERN void qr_flagset_dispose(qr_flagset *fs);

/**
 * Empty a flag set, keeping its memory.
 *
 * @param fs The set.
 * @since 0.1
 */
QR_EXTERN void qr_flagset_clear(qr_flagset *fs);

/**
 * The QR_FLAG_* bit of a system flag name (`\Seen`, `\RECENT`, ...;
 * compared ASCII case-insensitively).
 *
 * @param name The flag bytes.
 * @param len  Their length.
 * @return The bit, or 0 when the name is not one of the six.
 * @since 0.1
 */
QR_EXTERN unsigned int qr_flag_system_bit(const char *name, size_t len);

/**
 * Add a flag by name: a system flag sets its bit, anything else is
 * interned in `kw` and its id added.
 *
 * @param fs   The set.
 * @param kw   The keyword table.
 * @param name The flag bytes.
 * @param len  Their length.
 * @return 0; QR_EINVAL (NULL argument or a name qr_kwtable_intern()
 *         rejects); QR_ELIMIT (table full, name too long, or more than
 *         QR_FLAGSET_MAX_KEYWORDS keywords in the set); QR_ENOMEM. On
 *         error the set is unchanged (the table may have gained the name).
 *
 * **Ownership:** the name is copied into the table if new.
 * @since 0.1
 */
QR_EXTERN int qr_flagset_add_name(qr_flagset *fs, qr_kwtable *kw, const char *name, size_t len);

/**
 * Add a keyword by id.
 *
 * @param fs The set.
 * @param id A keyword id.
 * @return 0 (also when it was there); QR_EINVAL for a NULL set; QR_ELIMIT
 *         past QR_FLAGSET_MAX_KEYWORDS; QR_ENOMEM (set unchanged).
 * @since 0.1
 */
QR_EXTERN int qr_flagset_add_keyword(qr_flagset *fs, uint32_t id);

/**
 * Whether a keyword id is in the set.
 *
 * @param fs The set.
 * @param id The id.
 * @return 1 or 0.
 * @since 0.1
 */
QR_EXTERN int qr_flagset_has_keyword(const qr_flagset *fs, uint32_t id);

/**
 * Whether two sets (over the same keyword table) hold the same flags.
 *
 * @param a      A set.
 * @param b      A set.
 * @param recent 0 to ignore `\Recent` in the comparison, 1 to include it.
 * @return 1 when equal, 0 when not.
 * @since 0.1
 */
QR_EXTERN int qr_flagset_equal(const qr_flagset *a, const qr_flagset *b, int recent);

/**
 * Make dst a copy of src.
 *
 * @param dst The set to overwrite.
 * @param src The set to copy (may be dst).
 * @return 0 or QR_ENOMEM (dst unchanged).
 * @since 0.1
 */
QR_EXTERN int qr_flagset_copy(qr_flagset *dst, const qr_flagset *src);

/**
 * dst |= src (the reference's conflict resolution is the union).
 *
 * @param dst The set to change.
 * @param src The flags to add; may be dst.
 * @return 0; QR_ELIMIT past QR_FLAGSET_MAX_KEYWORDS; QR_ENOMEM (dst
 *         unchanged).
 * @since 0.1
 */
QR_EXTERN int qr_flagset_union(qr_flagset *dst, const qr_flagset *src);

/**
 * dst -= src. Never allocates.
 *
 * @param dst The set to change.
 * @param src The flags to remove; may be dst (which empties it).
 * @since 0.1
 */
QR_EXTERN void qr_flagset_difference(qr_flagset *dst, const qr_flagset *src);

/** qr_flagset_format(): surround the list with `(` and `)`. @since 0.1 */
#define QR_FLAGSET_FORMAT_PARENS 0x1u
/** qr_flagset_format(): include `\Recent` (left out by default). @since 0.1 */
#define QR_FLAGSET_FORMAT_RECENT 0x2u

/**
 * Print a flag set as the reference prints flag lists: the names (system
 * flags spelled `\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`,
 * keywords as the table spells them) sorted bytewise and joined with single
 * spaces, without `\Recent`: `$Label1 \Flagged \Seen`, or
 * `($Label1 \Flagged \Seen)` with QR_FLAGSET_FORMAT_PARENS. An empty set
 * gives "" (or "()").
 *
 * @param fs    The set.
 * @param kw    The table its ids come from.
 * @param flags 0 or QR_FLAGSET_FORMAT_* bits.
 * @param out   Receives the text; must be empty (QR_BUF_INIT or disposed).
 * @return 0; QR_EINVAL (NULL argument, unknown flag bit, or an id not in
 *         the table); QR_ENOMEM (out left empty).
 *
 * **Ownership:** the caller releases `out` with qr_buf_dispose().
 * @since 0.1
 */
QR_EXTERN int qr_flagset_format(const qr_flagset *fs, const qr_kwtable *kw, unsigned int flags,
                                qr_buf *out);

/* ---------------------------------------------------------------------- */
/* Mailbox state                                                          */
/* ---------------------------------------------------------------------- */

/** Current version of qr_mbox_state. @since 0.1 */
#define QR_MBOX_STATE_VERSION 1

/**
 * What a client knows about a mailbox. Zero means "unknown" for
 * uidvalidity, uidnext and highestmodseq (IMAP never uses 0 for them, and
 * the reference stores 0 for "unset").
 * @since 0.1
 */
typedef struct qr_mbox_state {
    unsigned int version;   /**< QR_MBOX_STATE_VERSION */
    uint32_t uidvalidity;   /**< UIDVALIDITY, 0 when unknown */
    uint32_t uidnext;       /**< UIDNEXT, 0 when unknown */
    uint64_t highestmodseq; /**< HIGHESTMODSEQ, 0 when unknown */
    uint32_t exists;        /**< number of messages, when exists_known */
    int exists_known;       /**< 1 when an EXISTS was received since the SELECT */
    int nomodseq;           /**< 1 when the server said `[NOMODSEQ]` since the SELECT */
} qr_mbox_state;

/** Static initialiser: everything unknown. @since 0.1 */
#define QR_MBOX_STATE_INIT                                                                         \
    {                                                                                              \
        QR_MBOX_STATE_VERSION, 0, 0, 0, 0, 0, 0                                                    \
    }

/**
 * Fill a state with QR_MBOX_STATE_INIT.
 *
 * @param st      The state.
 * @param version QR_MBOX_STATE_VERSION.
 * @return 0, or QR_EINVAL for NULL or an unknown version.
 * @since 0.1
 */
QR_EXTERN int qr_mbox_state_init(qr_mbox_state *st, unsigned int version);

/* ---------------------------------------------------------------------- */
/* Change sets                                                            */
/* ---------------------------------------------------------------------- */

/**
 * A flag update of one message.
 * @since 0.1
 */
typedef struct qr_flag_update {
    uint32_t uid;     /**< the message's UID */
    uint64_t modseq;  /**< its MODSEQ, 0 when the server sent none */
    int flags_known;  /**< 0: the server reported a change without FLAGS (a FETCH with
                           MODSEQ only, or `[MODIFIED]`): fetch `(MODSEQ FLAGS)` */
    qr_flagset flags; /**< its flags when flags_known (ids of the engine's table) */
} qr_flag_update;

/** @name qr_changes_flags() bits @{ */
/** The server said `[NOMODSEQ]`: no MODSEQ support; do a full flag scan. */
#define QR_CHANGES_NOMODSEQ 0x01u
/** EXISTS grew after the SELECT's own EXISTS: new messages were announced. */
#define QR_CHANGES_EXISTS_GREW 0x02u
/** An EXPUNGE (by sequence number) arrived: a message of unknown UID is gone,
 * so the vanished set may be incomplete; compare the full UID list. */
#define QR_CHANGES_RESCAN 0x04u
/** `[HIGHESTMODSEQ]` went below the cached value (server restored?). */
#define QR_CHANGES_MODSEQ_BACKWARDS 0x08u
/** @} */

/**
 * A change set (opaque), taken from an engine with qr_mbox_engine_take().
 * Invariants: the vanished UIDs, the flag-update UIDs and the new UIDs are
 * pairwise disjoint; vanished and updated UIDs are below the base UIDNEXT,
 * new UIDs at or above it, and below the next state's UIDNEXT (unless
 * 4294967295).
 * @since 0.1
 */
typedef struct qr_changes qr_changes;

/**
 * Free a change set.
 *
 * @param c The set; NULL is a no-op.
 *
 * **Ownership:** everything borrowed from it becomes invalid.
 * @since 0.1
 */
QR_EXTERN void qr_changes_free(qr_changes *c);

/**
 * UIDs the caller knew (below the base UIDNEXT) that the server reported
 * gone (VANISHED, VANISHED (EARLIER)). May include UIDs that never existed
 * when the server reports those (RFC 7162 allows it).
 *
 * @param c The change set.
 * @return The set, possibly empty; never NULL for a valid c.
 *
 * **Ownership:** borrowed from c.
 * @since 0.1
 */
QR_EXTERN const qr_uidset *qr_changes_vanished(const qr_changes *c);

/**
 * UIDs at or above the base UIDNEXT that FETCH responses showed and that
 * did not vanish. Messages between the base UIDNEXT and the next state's
 * UIDNEXT may exist without being listed here: fetch that range.
 *
 * @param c The change set.
 * @return The set, possibly empty; never NULL for a valid c.
 *
 * **Ownership:** borrowed from c.
 * @since 0.1
 */
QR_EXTERN const qr_uidset *qr_changes_new_uids(const qr_changes *c);

/**
 * The flag updates, one per UID, in increasing UID order. For each UID the
 * update with the highest MODSEQ wins (at equal MODSEQ, the later one,
 * unless it lacks FLAGS and the earlier one had them). Updates whose MODSEQ
 * is not above the base HIGHESTMODSEQ are left out unless
 * QR_MBOX_TAKE_ALL was given (updates without MODSEQ are always kept).
 *
 * @param c The change set.
 * @param n Receives the count.
 * @return The first update, or NULL when there is none.
 *
 * **Ownership:** borrowed from c.
 * @since 0.1
 */
QR_EXTERN const qr_flag_update *qr_changes_updates(const qr_changes *c, size_t *n);

/**
 * The update of one UID, by binary search.
 *
 * @param c   The change set.
 * @param uid The UID.
 * @return The update, or NULL when the UID has none.
 *
 * **Ownership:** borrowed from c.
 * @since 0.1
 */
QR_EXTERN const qr_flag_update *qr_changes_find(const qr_changes *c, uint32_t uid);

/**
 * The state the changes are relative to (the cached state given to the
 * engine, or the state of the previous take).
 *
 * @param c The change set.
 * @return Borrowed from c.
 * @since 0.1
 */
QR_EXTERN const qr_mbox_state *qr_changes_base(const qr_changes *c);

/**
 * The next state: what to save once the changes are applied (and the new
 * messages between the base and the next UIDNEXT copied).
 *
 * @param c The change set.
 * @return Borrowed from c.
 * @since 0.1
 */
QR_EXTERN const qr_mbox_state *qr_changes_state(const qr_changes *c);

/**
 * Conditions noticed while the changes were gathered.
 *
 * @param c The change set.
 * @return QR_CHANGES_* bits.
 * @since 0.1
 */
QR_EXTERN unsigned int qr_changes_flags(const qr_changes *c);

/* ---------------------------------------------------------------------- */
/* Engine                                                                 */
/* ---------------------------------------------------------------------- */

/** Most pending flag updates one engine holds (QR_ELIMIT beyond). @since 0.1 */
#define QR_MBOX_MAX_UPDATES 16777216
/** Most ranges in one of the engine's UID sets (QR_ELIMIT beyond). @since 0.1 */
#define QR_MBOX_MAX_RANGES 4194304

/**
 * Where an engine is with respect to SELECT and `[CLOSED]`.
 * @since 0.1
 */
typedef enum qr_mbox_phase {
    QR_MBOX_ACTIVE = 0,       /**< responses are this mailbox's and are folded in */
    QR_MBOX_AWAIT_CLOSED = 1, /**< responses still belong to the previous mailbox */
    QR_MBOX_CLOSED = 2        /**< a `[CLOSED]` ended this mailbox; responses ignored */
} qr_mbox_phase;

/**
 * The engine of one selected mailbox (opaque).
 * @since 0.1
 */
typedef struct qr_mbox_engine qr_mbox_engine;

/**
 * Create an engine for one mailbox.
 *
 * The engine starts QR_MBOX_ACTIVE (as for a mailbox already selected);
 * call qr_mbox_engine_begin_select() right before sending its SELECT.
 *
 * @param out    Receives the engine; NULL on failure.
 * @param cached The saved state (copied), or NULL when there is none (first
 *               sync: every UID seen is new).
 * @param kw     The keyword table flag sets will use (borrowed).
 * @return 0; QR_EINVAL (out or kw NULL, or an unknown cached->version);
 *         QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` (qr_mbox_engine_free()); `kw` must
 * outlive the engine and every change set taken from it.
 * @since 0.1
 */
QR_EXTERN int qr_mbox_engine_new(qr_mbox_engine **out, const qr_mbox_state *cached, qr_kwtable *kw);

/**
 * Free an engine.
 *
 * @param e The engine; NULL is a no-op.
 *
 * **Ownership:** pending changes not taken are discarded; change sets
 * already taken stay valid.
 * @since 0.1
 */
QR_EXTERN void qr_mbox_engine_free(qr_mbox_engine *e);

/**
 * Say that a SELECT (or EXAMINE) of this mailbox is being sent.
 *
 * When another mailbox is selected on the connection (and the server has
 * CONDSTORE or QRESYNC, which promise `[CLOSED]`), the responses that
 * arrive before the server's `OK [CLOSED]` are the old mailbox's: pass
 * `closed_expected` = 1 and the engine ignores every response until that
 * `[CLOSED]` (pass n when n mailbox switches are pipelined ahead of this
 * one). With nothing selected, pass 0. The engine forgets EXISTS and
 * NOMODSEQ (the SELECT reports them afresh). Pending changes are kept.
 *
 * Routing tip: feed every response to the old mailbox's engine too; a
 * `[CLOSED]` reaching an ACTIVE engine moves it to QR_MBOX_CLOSED, so each
 * response lands in exactly one of them.
 *
 * @param e               The engine.
 * @param closed_expected Number of `[CLOSED]` codes to wait for.
 * @return 0; QR_EINVAL for NULL; or the engine's sticky error.
 * @since 0.1
 */
QR_EXTERN int qr_mbox_engine_begin_select(qr_mbox_engine *e, unsigned int closed_expected);

/**
 * Fold one response event into the pending changes.
 *
 * Unsolicited responses (EXISTS, VANISHED, FETCH during any command) are
 * folded like the others: feed them all. A VANISHED and a FETCH of the
 * same UID: the expunge wins in either order (the UID leaves the flag
 * updates and later FETCHes of it are ignored).
 *
 * @param e    The engine.
 * @param resp A response from the parser (borrowed for the call).
 * @return 0 (also for ignored responses); QR_EINVAL for NULL;
 *         QR_EUIDVALIDITY when a `[UIDVALIDITY]` differs from the cached or
 *         an earlier one: the caller must fully resync; QR_EPROTO for a
 *         UIDVALIDITY or UIDNEXT of 0, or a FETCH flag that is not a valid
 *         flag name (see qr_kwtable_intern()); QR_ELIMIT past QR_MBOX_MAX_UPDATES,
 *         QR_MBOX_MAX_RANGES or a keyword limit; QR_ENOMEM. Every error
 *         but QR_EINVAL is sticky: the engine then fails every call but
 *         qr_mbox_engine_free() and the getters (the response may have been
 *         half applied, so the changes are incomplete).
 *
 * **Ownership:** nothing of `resp` is kept (keywords are interned).
 * @since 0.1
 */
QR_EXTERN int qr_mbox_engine_feed(qr_mbox_engine *e, const qr_resp *resp);

/** qr_mbox_engine_take(): keep flag updates whatever their MODSEQ (a full
 * flag scan, e.g. after `[NOMODSEQ]`). @since 0.1 */
#define QR_MBOX_TAKE_ALL 0x1u

/**
 * Take the changes gathered since the engine was created or last taken.
 * The engine's pending tables are then empty and its base state becomes
 * the returned next state, so later changes are relative to it.
 *
 * @param e     The engine.
 * @param flags 0 or QR_MBOX_TAKE_ALL.
 * @param out   Receives the change set; NULL on failure.
 * @return 0; QR_EINVAL (NULL argument or unknown flag); QR_ENOMEM (the
 *         engine is unchanged; try again); or the engine's sticky error.
 *
 * **Ownership:** the caller owns `*out` and frees it with
 * qr_changes_free(); its flag sets use the engine's keyword table.
 * @since 0.1
 */
QR_EXTERN int qr_mbox_engine_take(qr_mbox_engine *e, unsigned int flags, qr_changes **out);

/**
 * The state built so far from the cached state and the responses.
 *
 * @param e The engine.
 * @return Borrowed; valid until the next call on the engine.
 * @since 0.1
 */
QR_EXTERN const qr_mbox_state *qr_mbox_engine_state(const qr_mbox_engine *e);

/**
 * Where the engine stands with respect to `[CLOSED]`.
 *
 * @param e The engine.
 * @return A qr_mbox_phase.
 * @since 0.1
 */
QR_EXTERN qr_mbox_phase qr_mbox_engine_phase(const qr_mbox_engine *e);

/**
 * The detail of the engine's last error.
 *
 * @param e The engine.
 * @return Borrowed; code QR_OK when nothing failed.
 *
 * **Ownership:** borrowed from the engine.
 * @since 0.1
 */
QR_EXTERN const qr_error *qr_mbox_engine_last_error(const qr_mbox_engine *e);

/* ---------------------------------------------------------------------- */
/* SELECT ... (QRESYNC (...)) parameters                                  */
/* ---------------------------------------------------------------------- */

/**
 * The parameters of `SELECT NAME (QRESYNC (uidvalidity modseq known-uids
 * [(seqs uids)]))`, built as the reference builds them.
 * @since 0.1
 */
typedef struct qr_qresync_params {
    int use_qresync;        /**< 1 when the QRESYNC parameter applies (UIDVALIDITY known,
                                 HIGHESTMODSEQ > 0, UIDNEXT > 1); else plain SELECT */
    uint32_t uidvalidity;   /**< the saved UIDVALIDITY */
    uint64_t modseq;        /**< the saved HIGHESTMODSEQ */
    uint32_t known_last;    /**< known-uids are 1:known_last (saved UIDNEXT - 1) */
    uint32_t seq_first;     /**< sequence-match: first sequence number; 0 when no sample */
    uint32_t seq_last;      /**< sequence-match: last sequence number (sent as
                                 `seq_first:seq_last`, even when equal) */
    qr_uidset *sample_uids; /**< sequence-match UIDs (owned); NULL when no sample */
} qr_qresync_params;

/**
 * Build the QRESYNC SELECT parameters from a saved state and the UIDs the
 * caller knows (those it has a mapping for). The sample is the reference's
 * (interimap §12.2): among the 1024 highest known UIDs, runs of
 * consecutive UIDs taken downward while the UID text stays within 256
 * characters; the sequence numbers are the last `n` of `count` known UIDs.
 *
 * @param out   Filled; dispose with qr_mbox_qresync_params_dispose().
 * @param saved The saved state.
 * @param known The known UIDs, or NULL (no sample).
 * @return 0; QR_EINVAL (NULL out or saved, unknown version); QR_ENOMEM
 *         (out left empty).
 *
 * **Ownership:** `out->sample_uids` belongs to `out`.
 * @since 0.1
 */
QR_EXTERN int qr_mbox_qresync_params(qr_qresync_params *out, const qr_mbox_state *saved,
                                     const qr_uidset *known);

/**
 * Free what a qr_qresync_params holds and zero it.
 *
 * @param p The parameters; NULL is a no-op.
 * @since 0.1
 */
QR_EXTERN void qr_mbox_qresync_params_dispose(qr_qresync_params *p);

/**
 * Append ` (QRESYNC (uidvalidity modseq 1:N [(a:b uids)]))` to a SELECT or
 * EXAMINE command (after the mailbox name); nothing when
 * `p->use_qresync` is 0.
 *
 * @param cmd The command.
 * @param p   The parameters.
 * @return 0; QR_EINVAL for NULL; or the command builder's error (sticky on
 *         the command: QR_ELIMIT, QR_ENOMEM).
 * @since 0.1
 */
QR_EXTERN int qr_mbox_qresync_append(qr_cmd *cmd, const qr_qresync_params *p);

QR_END_DECLS

#endif /* QRESYNC_MBOX_H */
