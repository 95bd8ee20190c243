/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file uidset.h
 * @brief Sets of message UIDs: sorted, disjoint, merged ranges.
 *
 * A qr_uidset holds message UIDs, 32-bit numbers from 1 to 4294967295 (0 is
 * never a UID). It is stored as a sorted array of disjoint ranges that is
 * always kept merged: adding `4` to `1:3` gives the one range `1:4`. The
 * text form is the IMAP sequence-set of RFC 3501 restricted to numbers,
 * such as `1:5,7,9:12`.
 *
 * Every function that can fail leaves the set exactly as it was when it
 * returns an error. A set is not thread-safe; different sets may be used
 * from different threads.
 */
#ifndef QRESYNC_UIDSET_H
#define QRESYNC_UIDSET_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/buf.h>
#include <qresync/common.h>

QR_BEGIN_DECLS

/**
 * An opaque set of UIDs. Create with qr_uidset_new(), free with
 * qr_uidset_free().
 * @since 0.1
 */
typedef struct qr_uidset qr_uidset;

/**
 * A range of UIDs, both ends included, with 1 <= lo <= hi.
 * @since 0.1
 */
typedef struct qr_range {
    uint32_t lo; /**< first UID of the range */
    uint32_t hi; /**< last UID of the range (equal to lo for a single UID) */
} qr_range;

/**
 * A position while walking the UIDs of a set in increasing order; fill it
 * with qr_uidset_iter_init(). The members are private.
 * @since 0.1
 */
typedef struct qr_uidset_iter {
    const qr_uidset *set; /**< private: the set walked (borrowed) */
    size_t index;         /**< private: the range being walked */
    uint32_t next;        /**< private: next UID in that range; 0 before its start */
} qr_uidset_iter;

/**
 * Receives one piece of qr_uidset_format_split().
 *
 * @param piece   The text of the piece, such as `1:5,7`; not NUL-terminated.
 * @param len     Its length in bytes, never 0.
 * @param payload The pointer given to qr_uidset_format_split().
 * @return 0 to go on, anything else to stop: qr_uidset_format_split() then
 *         returns that value.
 *
 * **Ownership:** `piece` is borrowed for the duration of the call.
 * @since 0.1
 */
typedef int (*qr_uidset_piece_fn)(const char *piece, size_t len, void *payload);

/**
 * Create an empty set.
 *
 * @param out Receives the new set; set to NULL on failure.
 * @return 0, or QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_uidset_free().
 * @since 0.1
 */
QR_EXTERN int qr_uidset_new(qr_uidset **out);

/**
 * Free a set.
 *
 * @param set The set; NULL is a no-op.
 *
 * **Ownership:** frees the set and its ranges; borrowed range arrays and
 * iterators over it become invalid.
 * @since 0.1
 */
QR_EXTERN void qr_uidset_free(qr_uidset *set);

/**
 * Remove every UID from a set. The memory is kept for reuse.
 *
 * @param set The set.
 *
 * **Ownership:** the set still belongs to the caller.
 * @since 0.1
 */
QR_EXTERN void qr_uidset_clear(qr_uidset *set);

/**
 * Add one UID.
 *
 * @param set The set.
 * @param uid The UID, 1 to 4294967295.
 * @return 0 (also when the UID was already there), QR_EINVAL when `uid` is
 *         0, or QR_ENOMEM.
 *
 * **Ownership:** the set still belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_add(qr_uidset *set, uint32_t uid);

/**
 * Add every UID from a to b inclusive. As in RFC 3501, `a:b` and `b:a` are
 * the same range. Adding a range above every range of the set takes
 * constant amortised time.
 *
 * @param set The set.
 * @param a   One end of the range, 1 to 4294967295.
 * @param b   The other end, 1 to 4294967295.
 * @return 0, QR_EINVAL when a or b is 0, or QR_ENOMEM.
 *
 * **Ownership:** the set still belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_add_range(qr_uidset *set, uint32_t a, uint32_t b);

/**
 * Remove one UID (nothing happens when it is not in the set).
 *
 * @param set The set.
 * @param uid The UID, 1 to 4294967295.
 * @return 0, QR_EINVAL when `uid` is 0, or QR_ENOMEM (removing a UID from
 *         the middle of a range splits it in two).
 *
 * **Ownership:** the set still belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_remove(qr_uidset *set, uint32_t uid);

/**
 * Remove every UID from a to b inclusive (`a:b` and `b:a` are the same).
 *
 * @param set The set.
 * @param a   One end of the range, 1 to 4294967295.
 * @param b   The other end, 1 to 4294967295.
 * @return 0, QR_EINVAL when a or b is 0, or QR_ENOMEM (when a range of the
 *         set is split in two).
 *
 * **Ownership:** the set still belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_remove_range(qr_uidset *set, uint32_t a, uint32_t b);

/**
 * Whether a UID is in the set, by binary search over the ranges.
 *
 * @param set The set.
 * @param uid Any number (0 is never in a set).
 * @return 1 if it is, 0 if not.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_contains(const qr_uidset *set, uint32_t uid);

/**
 * The number of UIDs in the set (up to 4294967295, hence 64 bits).
 *
 * @param set The set.
 * @return The number of UIDs; 0 for an empty set.
 * @since 0.1
 */
QR_EXTERN uint64_t qr_uidset_count(const qr_uidset *set);

/**
 * The ranges of the set, sorted, disjoint and not adjacent (never `1:3`
 * next to `4:5`).
 *
 * @param set The set.
 * @param n   Receives the number of ranges.
 * @return The first range, or NULL when the set is empty.
 *
 * **Ownership:** borrowed from the set; valid until the set is next
 * modified or freed.
 * @since 0.1
 */
QR_EXTERN const qr_range *qr_uidset_ranges(const qr_uidset *set, size_t *n);

/**
 * Add every UID of src to dst (dst |= src). dst may be src.
 *
 * @param dst The set to change.
 * @param src The UIDs to add; not changed.
 * @return 0, or QR_ENOMEM (dst unchanged).
 *
 * **Ownership:** both sets still belong to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_union(qr_uidset *dst, const qr_uidset *src);

/**
 * Remove every UID of src from dst (dst -= src). dst may be src, which
 * empties it.
 *
 * @param dst The set to change.
 * @param src The UIDs to remove; not changed.
 * @return 0, or QR_ENOMEM (dst unchanged).
 *
 * **Ownership:** both sets still belong to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_difference(qr_uidset *dst, const qr_uidset *src);

/**
 * Keep in dst only the UIDs that are also in src (dst &= src). dst may be
 * src.
 *
 * @param dst The set to change.
 * @param src The other set; not changed.
 * @return 0, or QR_ENOMEM (dst unchanged).
 *
 * **Ownership:** both sets still belong to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_intersection(qr_uidset *dst, const qr_uidset *src);

/**
 * Make a new set with the same UIDs as src.
 *
 * @param out Receives the copy; set to NULL on failure.
 * @param src The set to copy.
 * @return 0, or QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_uidset_free().
 * @since 0.1
 */
QR_EXTERN int qr_uidset_copy(qr_uidset **out, const qr_uidset *src);

/**
 * Whether two sets hold the same UIDs.
 *
 * @param a A set.
 * @param b A set.
 * @return 1 if they are equal, 0 if not.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_equal(const qr_uidset *a, const qr_uidset *b);

/**
 * Add the UIDs written in text, such as `1:5,7,9:12`, to a set.
 *
 * The syntax is strict: elements `n` or `n:m` (any order of n and m)
 * separated by single commas; numbers from 1 to 4294967295 with no leading
 * zero, sign or space. `*` (the largest UID in use, meaningful only to a
 * server) is not accepted. The empty string is not a set.
 *
 * @param set The set to add to.
 * @param s   The text; need not be NUL-terminated.
 * @param len Its length in bytes.
 * @return 0; QR_EINVAL when the text is not such a set (including `*`, 0,
 *         a number above 4294967295, an empty element, a space or any other
 *         byte); QR_ENOMEM. On error the set is unchanged.
 *
 * **Ownership:** `s` is only read during the call.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_parse(qr_uidset *set, const char *s, size_t len);

/**
 * Write a set in its shortest text form, such as `1:5,7,9:12`: ranges in
 * increasing order, a single UID without a colon.
 *
 * @param set The set.
 * @param out Receives the text, NUL-terminated; "" for an empty set (which
 *            is not valid in an IMAP command). Must be empty (QR_BUF_INIT or
 *            disposed) on entry.
 * @return 0, or QR_ENOMEM (out left empty).
 *
 * **Ownership:** the caller owns `out->ptr` and releases it with
 * qr_buf_dispose().
 * @since 0.1
 */
QR_EXTERN int qr_uidset_format(const qr_uidset *set, qr_buf *out);

/**
 * Write a set as a series of pieces of at most `budget` bytes each, for
 * commands that must stay under a line-length limit.
 *
 * Each piece is a valid sequence-set (elements separated by commas, no
 * comma at either end), and the pieces in order list the ranges of the set
 * in increasing order, so their union is the set. A range is never cut
 * between two pieces. Pieces are filled greedily: each holds as many
 * elements as fit. An empty set gives no piece at all.
 *
 * @param set     The set.
 * @param budget  Largest piece in bytes; at least 21, the length of the
 *                longest element (`4294967294:4294967295`).
 * @param piece   Called once per piece, in order.
 * @param payload Passed to `piece`.
 * @return 0 once every piece was delivered; QR_EINVAL when budget < 21;
 *         QR_ENOMEM (before any piece is delivered); or the first non-zero
 *         value returned by `piece`, which stops the walk.
 *
 * **Ownership:** each piece is borrowed for the duration of its call; the
 * callback must not modify the set.
 * @since 0.1
 */
QR_EXTERN int qr_uidset_format_split(const qr_uidset *set, size_t budget, qr_uidset_piece_fn piece,
                                     void *payload);

/**
 * Start walking the UIDs of a set in increasing order.
 *
 * @param it  The iterator to fill.
 * @param set The set to walk.
 *
 * **Ownership:** `it` borrows `set`, which must outlive the walk and must
 * not be modified during it.
 * @since 0.1
 */
QR_EXTERN void qr_uidset_iter_init(qr_uidset_iter *it, const qr_uidset *set);

/**
 * The next UID of a walk.
 *
 * @param it  The iterator, from qr_uidset_iter_init().
 * @param uid Receives the UID when there is one.
 * @return 1 and `*uid` set, or 0 at the end (and at every later call).
 * @since 0.1
 */
QR_EXTERN int qr_uidset_iter_next(qr_uidset_iter *it, uint32_t *uid);

QR_END_DECLS

#endif /* QRESYNC_UIDSET_H */
