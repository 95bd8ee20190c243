/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file cmd.h
 * @brief The typed command builder: IMAP commands without printf.
 *
 * A command is built from its name and a sequence of typed arguments. Each
 * appender checks its argument against the IMAP grammar and picks the
 * cheapest safe form (atom, quoted string or literal), so that no caller
 * input can inject CR, LF or NUL into the command line: those bytes only
 * ever travel inside a literal, whose length is announced first.
 *
 * @code
 * qr_cmd *c;
 * const char *flags[] = {"$Label1", "\\Flagged", "\\Seen"};
 * qr_cmd_new(&c, "UID STORE", 0);
 * qr_cmd_add_number(c, 1);
 * qr_cmd_list_open(c);
 * qr_cmd_add_atom(c, "UNCHANGEDSINCE");
 * qr_cmd_add_number64(c, 8);
 * qr_cmd_list_close(c);
 * qr_cmd_add_atom(c, "FLAGS.SILENT");
 * qr_cmd_add_flags(c, flags, 3);
 * if (qr_cmd_error(c) == 0) ...submit it...
 * // UID STORE 1 (UNCHANGEDSINCE 8) FLAGS.SILENT ($Label1 \Flagged \Seen)
 * @endcode
 *
 * Arguments are separated by one space, except just inside parentheses.
 *
 * **Sticky errors.** An appender that fails leaves the command exactly as
 * it was, but the command remembers the error: every later appender
 * returns it without doing anything, and the command can no longer be sent
 * or rendered. So a command with a missing argument never reaches the wire,
 * and a caller may check qr_cmd_error() once at the end instead of after
 * every call.
 *
 * **Literals.** The form of a literal (`{N}` synchronizing, `{N+}`
 * non-synchronizing, `~{N}` binary) is chosen when the command is sent,
 * from the server's capabilities: LITERAL+ gives `{N+}` always, LITERAL-
 * alone gives `{N+}` up to 4096 bytes and `{N}` above, neither gives
 * `{N}`. Each synchronizing literal is a continuation point where the
 * session waits for the server's `+` before sending the bytes.
 *
 * **Secrets.** Between qr_cmd_set_secret(c, 1) and qr_cmd_set_secret(c, 0),
 * arguments are marked secret: log renderings show `<redacted>` in their
 * place unless the log level is QR_LOG_TRACE.
 */
#ifndef QRESYNC_CMD_H
#define QRESYNC_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <qresync/buf.h>
#include <qresync/common.h>
#include <qresync/log.h>
#include <qresync/uidset.h>

QR_BEGIN_DECLS

/**
 * A command being built (opaque). Create it with qr_cmd_new(), free it
 * with qr_cmd_free(). Not thread-safe; one command may be built in one
 * thread and sent from another if the caller serialises the accesses.
 * @since 0.1
 */
typedef struct qr_cmd qr_cmd;

/**
 * Flags of qr_cmd_new().
 * @since 0.1
 */
enum qr_cmd_flags {
    /** UTF8=ACCEPT is enabled (RFC 6855): qr_cmd_add_mailbox() sends names
     * as UTF-8 instead of converting them to modified UTF-7. */
    QR_CMD_UTF8_ACCEPT = 1 << 0
};

/**
 * Flags of qr_cmd_add_literal() and qr_cmd_add_literal_stream().
 * @since 0.1
 */
enum qr_cmd_literal_flags {
    /** Copy nothing: the bytes are borrowed and must stay valid and
     * unchanged until the command completes (or is freed unsent).
     * Without this flag the bytes are copied. Not for streams. */
    QR_CMD_LITERAL_BORROW = 1 << 0,
    /** Send a binary literal `~{N}` (RFC 3516, BINARY capability): the
     * bytes may then hold NUL. */
    QR_CMD_LITERAL_BINARY = 1 << 1
};

/**
 * How literals are sent, from the server's capabilities.
 * @since 0.1
 */
typedef enum qr_cmd_literal_mode {
    QR_CMD_LITERAL_SYNC = 0,  /**< neither LITERAL+ nor LITERAL-: always `{N}` */
    QR_CMD_LITERAL_MINUS = 1, /**< LITERAL- (RFC 7888): `{N+}` up to 4096 bytes, else `{N}` */
    QR_CMD_LITERAL_PLUS = 2   /**< LITERAL+ (RFC 7888): always `{N+}` */
} qr_cmd_literal_mode;

/**
 * Pull callback of a streamed literal body.
 *
 * Called while the command is being sent, each time the session has room
 * for more bytes.
 *
 * @param buf     Where to put the bytes.
 * @param cap     Room at buf (at least 1, never more than the bytes still
 *                due).
 * @param got     Set to the number of bytes written (at most cap); 0 means
 *                the body has ended.
 * @param payload The pointer given to qr_cmd_add_literal_stream().
 * @return 0 on success (including the end, with `*got == 0`); QR_EAGAIN
 *         if no byte is available yet (the session asks again later);
 *         any other negative QR_E* code aborts the command with that code.
 *
 * The library asks once more after the declared size has been read, to
 * check that the body really ends there: the callback must then answer 0
 * with `*got == 0`. A body shorter or longer than declared fails the
 * command with QR_EINVAL.
 * @since 0.1
 */
typedef int (*qr_cmd_read_fn)(void *buf, size_t cap, size_t *got, void *payload);

/**
 * Callback of qr_cmd_split_uidset(): receives each command built.
 *
 * @param piece   A complete command, owned by the callback from now on
 *                (free it with qr_cmd_free() or hand it to a session).
 * @param payload The pointer given to qr_cmd_split_uidset().
 * @return 0 to go on, or a negative code to stop; qr_cmd_split_uidset()
 *         then returns that code.
 * @since 0.1
 */
typedef int (*qr_cmd_piece_fn)(qr_cmd *piece, void *payload);

/**
 * Start a command.
 *
 * @param out   Receives the new command; set to NULL on failure.
 * @param name  The command name: one or more atoms separated by single
 *              spaces, e.g. "NOOP" or "UID STORE".
 * @param flags 0 or QR_CMD_UTF8_ACCEPT.
 * @return 0; QR_EINVAL if `name` is empty or not atoms separated by
 *         single spaces, or `flags` holds an unknown bit; QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_cmd_free()
 * (or hands it to a session that takes ownership); `name` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_new(qr_cmd **out, const char *name, unsigned int flags);

/**
 * Free a command.
 *
 * @param cmd The command, or NULL (no-op).
 *
 * **Ownership:** frees the copied literal bodies; borrowed bodies and
 * stream payloads are not touched.
 * @since 0.1
 */
QR_EXTERN void qr_cmd_free(qr_cmd *cmd);

/**
 * The sticky error of a command.
 *
 * @param cmd The command.
 * @return 0 if every appender succeeded so far, else the code returned by
 *         the first one that failed; QR_EINVAL if `cmd` is NULL.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_error(const qr_cmd *cmd);

/**
 * Mark the arguments appended from now on as secret, or stop doing so.
 *
 * Secret arguments (passwords, SASL data) are replaced by `<redacted>` in
 * log renderings below QR_LOG_TRACE. The spaces between arguments are
 * never secret.
 *
 * @param cmd The command.
 * @param on  Non-zero to start, 0 to stop.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN void qr_cmd_set_secret(qr_cmd *cmd, int on);

/**
 * Append an atom.
 *
 * @param cmd  The command.
 * @param atom One or more ATOM-CHARs (RFC 3501: printable ASCII except
 *             space and `(){%*"\]`).
 * @return 0; QR_EINVAL if `atom` is empty or holds another byte;
 *         QR_ELIMIT if the command grows past 16 MiB; QR_ENOMEM; or the
 *         command's sticky error.
 *
 * **Ownership:** `atom` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_atom(qr_cmd *cmd, const char *atom);

/**
 * Append a piece of protocol text as it is, for syntax no typed appender
 * covers: `BODY.PEEK[HEADER.FIELDS (FROM)]`, `1:*`, `RETURN (CHILDREN)`.
 *
 * @param cmd  The command.
 * @param text Printable ASCII and spaces (0x20-0x7E); no control
 *             character, no 8-bit byte.
 * @return 0; QR_EINVAL if `text` is empty or holds another byte;
 *         QR_ELIMIT; QR_ENOMEM; or the sticky error.
 *
 * **Ownership:** `text` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_raw(qr_cmd *cmd, const char *text);

/**
 * Append an astring in its cheapest safe form.
 *
 * An atom if every byte is an ASTRING-CHAR (ATOM-CHAR or `]`) and the value
 * is not NIL; else a quoted string (with `"` and `\` escaped) if every byte
 * is 7-bit and neither CR nor LF; else, and for values longer than 1024
 * bytes, a literal. The empty string is `""`.
 *
 * @param cmd  The command.
 * @param data The bytes (may be NULL when len is 0).
 * @param len  Their number.
 * @return 0; QR_EINVAL if the bytes hold NUL (IMAP has no form for it
 *         outside binary literals); QR_ELIMIT; QR_ENOMEM; or the sticky
 *         error.
 *
 * **Ownership:** the bytes are copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_astring(qr_cmd *cmd, const void *data, size_t len);

/**
 * Append a string: like qr_cmd_add_astring() but never an atom, for the
 * places where the grammar says `string` (SEARCH keys, ID values).
 *
 * @param cmd  The command.
 * @param data The bytes (may be NULL when len is 0).
 * @param len  Their number.
 * @return As qr_cmd_add_astring().
 *
 * **Ownership:** the bytes are copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_string(qr_cmd *cmd, const void *data, size_t len);

/**
 * Append a mailbox name (or a LIST pattern).
 *
 * The UTF-8 name is converted to modified UTF-7 (RFC 3501 §5.1.3), unless
 * the command was created with QR_CMD_UTF8_ACCEPT, and then sent as an
 * astring. A name equal to INBOX in any case is sent as `INBOX`.
 *
 * @param cmd  The command.
 * @param utf8 The name, NUL-terminated UTF-8.
 * @return 0; QR_EINVAL if `utf8` is not valid UTF-8; QR_ELIMIT;
 *         QR_ENOMEM; or the sticky error.
 *
 * **Ownership:** `utf8` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_mailbox(qr_cmd *cmd, const char *utf8);

/**
 * Append a number (decimal, 32-bit: UIDs, counts).
 *
 * @param cmd The command.
 * @param n   The value.
 * @return 0; QR_ELIMIT; QR_ENOMEM; or the sticky error.
 *
 * **Ownership:** nothing changes hands; the command stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_number(qr_cmd *cmd, uint32_t n);

/**
 * Append a 64-bit number (MODSEQ values, RFC 7162).
 *
 * @param cmd The command.
 * @param n   The value.
 * @return 0; QR_ELIMIT; QR_ENOMEM; or the sticky error.
 *
 * **Ownership:** nothing changes hands; the command stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_number64(qr_cmd *cmd, uint64_t n);

/**
 * Append a date for SEARCH (BEFORE, SINCE, ...): `d-Mon-yyyy`, e.g.
 * `5-Nov-2026`.
 *
 * @param cmd   The command.
 * @param year  1 to 9999.
 * @param month 1 to 12.
 * @param day   1 to the length of that month (leap years counted).
 * @return 0; QR_EINVAL if a field is out of range; QR_ELIMIT; QR_ENOMEM;
 *         or the sticky error.
 *
 * **Ownership:** nothing changes hands; the command stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_date(qr_cmd *cmd, int year, int month, int day);

/**
 * Append a date-time (APPEND's internal date):
 * `"dd-Mon-yyyy hh:mm:ss +zzzz"`.
 *
 * @param cmd        The command.
 * @param tm         Broken-down local time: tm_year + 1900 in 1..9999,
 *                   tm_mon 0..11, tm_mday valid for the month, tm_hour
 *                   0..23, tm_min 0..59, tm_sec 0..60; other fields are
 *                   ignored.
 * @param tz_minutes Offset of that local time from UTC, in minutes,
 *                   -1439..1439 (e.g. 120 for +0200).
 * @return 0; QR_EINVAL if a field is out of range; QR_ELIMIT; QR_ENOMEM;
 *         or the sticky error.
 *
 * **Ownership:** `tm` is read during the call only.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_date_time(qr_cmd *cmd, const struct tm *tm, int tz_minutes);

/**
 * Append a date-time from a time_t, shown in the zone `tz_minutes` east
 * of UTC: qr_cmd_add_date_time_t(c, 0, 60) gives
 * `"01-Jan-1970 01:00:00 +0100"`.
 *
 * @param cmd        The command.
 * @param t          Seconds since the epoch.
 * @param tz_minutes -1439..1439.
 * @return 0; QR_EINVAL if the offset or the resulting year is out of
 *         range; QR_ELIMIT; QR_ENOMEM; or the sticky error.
 *
 * **Ownership:** nothing changes hands; the command stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_date_time_t(qr_cmd *cmd, time_t t, int tz_minutes);

/**
 * Append one flag: a system flag (`\Answered`, `\Flagged`, `\Deleted`,
 * `\Seen`, `\Draft`, any case) or a keyword (an atom such as `$Label1`).
 *
 * @param cmd  The command.
 * @param flag The flag.
 * @return 0; QR_EINVAL for another `\` flag (`\Recent` cannot be set)
 *         or a keyword that is not an atom; QR_ELIMIT; QR_ENOMEM; or the
 *         sticky error.
 *
 * **Ownership:** `flag` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_flag(qr_cmd *cmd, const char *flag);

/**
 * Append a parenthesised flag list, `(\Seen $Label1)`; `()` when n is 0.
 *
 * @param cmd   The command.
 * @param flags n flags, each checked as by qr_cmd_add_flag().
 * @param n     Their number.
 * @return As qr_cmd_add_flag(); on failure nothing of the list is kept.
 *
 * **Ownership:** the strings are copied.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_flags(qr_cmd *cmd, const char *const *flags, size_t n);

/**
 * Open a parenthesised list: the next argument follows `(` without a
 * space.
 *
 * @param cmd The command.
 * @return 0; QR_ELIMIT (also past 64 nested lists); QR_ENOMEM; or the
 *         sticky error.
 *
 * **Ownership:** nothing changes hands; the command stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_list_open(qr_cmd *cmd);

/**
 * Close the innermost open list with `)`.
 *
 * @param cmd The command.
 * @return 0; QR_EINVAL if no list is open; QR_ELIMIT; QR_ENOMEM; or the
 *         sticky error. A command with a list left open cannot be sent
 *         (QR_EINVAL then).
 *
 * **Ownership:** nothing changes hands; the command stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_list_close(qr_cmd *cmd);

/**
 * Append a UID set in its compact form (`1:3,7,9:10`).
 *
 * The first UID set of a command is the one qr_cmd_split_uidset()
 * replaces.
 *
 * @param cmd The command.
 * @param set A non-empty set.
 * @return 0; QR_EINVAL if the set is empty; QR_ELIMIT; QR_ENOMEM; or the
 *         sticky error.
 *
 * **Ownership:** the set is read during the call only.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_uidset(qr_cmd *cmd, const qr_uidset *set);

/**
 * Append a literal whose bytes are known now.
 *
 * @param cmd   The command.
 * @param data  The bytes (may be NULL when len is 0).
 * @param len   Their number.
 * @param flags 0, or QR_CMD_LITERAL_BORROW and/or QR_CMD_LITERAL_BINARY.
 * @return 0; QR_EINVAL for an unknown flag or a size over 2^63 - 1;
 *         QR_ELIMIT; QR_ENOMEM; or the sticky error.
 *
 * The bytes are sent as they are. IMAP does not allow NUL in a literal
 * unless it is binary; that is the caller's concern (the server may answer
 * BAD), as it is the caller who chose a literal.
 *
 * **Ownership:** without QR_CMD_LITERAL_BORROW the bytes are copied; with
 * it they are borrowed and must stay valid and unchanged until the command
 * completes (its completion callback ran) or is freed unsent.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_literal(qr_cmd *cmd, const void *data, size_t len, unsigned int flags);

/**
 * Append a literal whose bytes are pulled while the command is sent
 * (from a file, or from a FETCH of another session).
 *
 * @param cmd     The command.
 * @param size    The exact number of bytes the source will give.
 * @param read    The pull callback (see qr_cmd_read_fn).
 * @param payload Passed to `read`.
 * @param flags   0 or QR_CMD_LITERAL_BINARY. The source should not give NUL
 *                bytes without QR_CMD_LITERAL_BINARY (they are not
 *                checked).
 * @return 0; QR_EINVAL if `read` is NULL, a flag is unknown or `size` is
 *         over 2^63 - 1; QR_ELIMIT; QR_ENOMEM; or the sticky error.
 *
 * **Ownership:** `payload` stays the caller's and must stay valid until
 * the command completes or is freed. A command with a stream can be sent
 * once only.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_add_literal_stream(qr_cmd *cmd, uint64_t size, qr_cmd_read_fn read,
                                        void *payload, unsigned int flags);

/**
 * Build the commands that send `cmd` for each piece of `set`, each one's
 * line kept within a byte budget (RFC 7162 §4 asks clients for lines of
 * at most 8192 octets).
 *
 * Every command built is `cmd` with its first UID set argument (see
 * qr_cmd_add_uidset()) replaced by a piece of `set`: the pieces are cut at
 * commas and, put together, are exactly the set. `fn` receives them in
 * order. If the whole set fits, `fn` is called once.
 *
 * @param cmd         The template: a complete command (no open list, no
 *                    sticky error) with a UID set and without literals.
 * @param set         The UIDs to send; not empty.
 * @param line_budget Most bytes of a command line, counted from the
 *                    command name to the last argument (the tag, its
 *                    space and the final CRLF are not counted).
 * @param fn          Receives each command.
 * @param payload     Passed to `fn`.
 * @return 0; QR_EINVAL if `cmd` has no UID set, has literals, has a
 *         sticky error or an open list, or `set` is empty; QR_ELIMIT if
 *         the budget leaves fewer than 21 bytes (the longest range,
 *         `4294967294:4294967295`) for the set and the whole set does not
 *         fit either;
 *         QR_ENOMEM; or what `fn` returned. When an error is returned after
 *         some pieces were given to `fn`, those remain the callback's.
 *
 * **Ownership:** `cmd` and `set` are only read; each piece belongs to `fn`.
 * @since 0.1
 */
QR_EXTERN int qr_cmd_split_uidset(const qr_cmd *cmd, const qr_uidset *set, size_t line_budget,
                                  qr_cmd_piece_fn fn, void *payload);

/**
 * Render a command as one log line, as it would be sent with `tag` and
 * `mode`: `A1 APPEND INBOX () {33+} (\Seen) {20+}`. Literal bytes are
 * never shown: a literal appears as its announcement (`{33+}`, `{33}`,
 * `~{33}`), without CRLF. Below QR_LOG_TRACE each secret argument shows
 * as `<redacted>`.
 *
 * @param cmd   The command.
 * @param tag   The tag to show first, or NULL for none.
 * @param mode  The literal mode the command is (or would be) sent with.
 * @param level The log level the line is for; QR_LOG_TRACE shows secrets.
 * @param out   Receives the line (no CR or LF in it); must be empty
 *              (QR_BUF_INIT or disposed).
 * @return 0; QR_EINVAL if the command has a sticky error or an open list,
 *         or `mode` is unknown; QR_ENOMEM.
 *
 * **Ownership:** the caller owns `out` and releases it with
 * qr_buf_dispose().
 * @since 0.1
 */
QR_EXTERN int qr_cmd_render(const qr_cmd *cmd, const char *tag, qr_cmd_literal_mode mode,
                            qr_log_level level, qr_buf *out);

QR_END_DECLS

#endif /* QRESYNC_CMD_H */
