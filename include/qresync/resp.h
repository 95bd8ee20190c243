/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file resp.h
 * @brief The sans-IO IMAP response parser and its typed response events.
 *
 * A qr_parser turns the bytes a server sends into typed events. It does no
 * I/O: the caller feeds it whatever slices of the stream it has, of any
 * size, and the parser reports exactly how many bytes it consumed. Feeding
 * the stream one byte at a time gives exactly the same events, in the same
 * order, as feeding it whole.
 *
 * Events:
 *  - one `on_response` call per complete response line (a qr_resp: a kind
 *    plus a typed payload), made once its final CRLF has been read;
 *  - message bodies of FETCH (`BODY[...]`, `BODY.PEEK[...]` as echoed by the
 *    server, `BINARY[...]`, `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`) are
 *    never buffered: they go to the body sink as `on_body_begin`, any number
 *    of `on_body_data`, and `on_body_end`, while the FETCH line is being
 *    read. NIL and quoted bodies take the same path (with no data call for
 *    an empty one). The FETCH event that follows lists the bodies by name
 *    and size only.
 *
 * Pausing: every callback that returns an int may return QR_PAUSE. The
 * parser then stops right after that event and qr_parser_feed() returns
 * QR_PAUSE with `*consumed` counting the bytes up to that point; the next
 * feed (with the rest of the bytes) continues. Call it again even when no
 * byte is left (len 0): events still pending after the pause (the rest of
 * a NIL or quoted body, the end of a literal body) are delivered first. An `on_response` pause
 * after a tagged OK stops exactly after its CRLF, so nothing that follows (bytes of a TLS handshake
 * after STARTTLS, deflated bytes after COMPRESS) is consumed.
 *
 * Errors: a grammar violation is fatal (QR_EPROTO) and sticky: every later
 * feed returns the same code. qr_parser_last_error() and
 * qr_parser_error_offset() say what and where (the absolute position in the
 * stream of the offending byte).
 *
 * Lifetimes: every pointer inside an event is **borrowed for the duration
 * of the callback** (it points into the parser's per-response memory or
 * into the fed buffer). Copy what you keep.
 */
#ifndef QRESYNC_RESP_H
#define QRESYNC_RESP_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/common.h>
#include <qresync/error.h>
#include <qresync/uidset.h>

QR_BEGIN_DECLS

/**
 * A byte string borrowed from the parser. `ptr` is NUL-terminated (the NUL
 * is not counted in `len`) but may contain NUL bytes of its own when it
 * came as a literal. `ptr` is NULL for an absent value or NIL.
 * @since 0.1
 */
typedef struct qr_resp_str {
    const char *ptr; /**< the bytes (borrowed), NUL-terminated; NULL for NIL or absent */
    size_t len;      /**< length in bytes, not counting the NUL */
} qr_resp_str;

/**
 * An array of strings (flags, capabilities, ...), borrowed.
 * @since 0.1
 */
typedef struct qr_resp_strlist {
    const qr_resp_str *items; /**< `count` strings (borrowed); NULL when count is 0 */
    size_t count;             /**< number of strings */
} qr_resp_strlist;

/**
 * Type of a node in a generic value tree (qr_resp_value).
 * @since 0.1
 */
typedef enum qr_value_type {
    QR_VALUE_ATOM = 1,   /**< an atom, e.g. `\Seen` or `BODYSTRUCTURE` */
    QR_VALUE_NUMBER = 2, /**< an atom of digits; `number` holds its value */
    QR_VALUE_STRING = 3, /**< a quoted string or a literal, escapes decoded */
    QR_VALUE_NIL = 4,    /**< the atom NIL (`str` still holds the text as sent) */
    QR_VALUE_LIST = 5,   /**< a parenthesised list; `child` is its first element */
    QR_VALUE_UIDSET = 6, /**< a UID set parsed incrementally (VANISHED, ESEARCH ALL) */
    QR_VALUE_BODY = 7    /**< a body that went to the body sink; `number` is its size */
} qr_value_type;

/** qr_resp_value.flags: the string came as a literal. @since 0.1 */
#define QR_VALUE_F_LITERAL 0x1u
/** qr_resp_value.flags: the literal was a binary literal `~{N}`. @since 0.1 */
#define QR_VALUE_F_BINARY 0x2u
/** qr_resp_value.flags: NUMBER with more digits than 64 bits hold. @since 0.1 */
#define QR_VALUE_F_OVERFLOW 0x4u
/** qr_resp_value.flags: BODY that was NIL. @since 0.1 */
#define QR_VALUE_F_NIL 0x8u

/**
 * One node of a generic value tree. Unknown responses, unknown FETCH items,
 * LIST-EXTENDED items and STATUS items are all available in this form, and
 * every event's `values` member holds the whole response this way.
 * @since 0.1
 */
typedef struct qr_resp_value {
    qr_value_type type;                /**< what the node is */
    unsigned int flags;                /**< QR_VALUE_F_* bits */
    qr_resp_str str;                   /**< ATOM, NUMBER, NIL: the text; STRING: the decoded
                                            bytes; BODY: the item name; else NULL */
    uint64_t number;                   /**< NUMBER: value (0 on overflow); LIST: number of
                                            children; BODY: size in bytes */
    const qr_uidset *set;              /**< UIDSET: the set (borrowed); else NULL */
    const struct qr_resp_value *child; /**< LIST: first element or NULL when empty */
    const struct qr_resp_value *next;  /**< next sibling, NULL after the last */
    uint64_t offset;                   /**< stream position of the node's first byte */
} qr_resp_value;

/**
 * The condition of a status response.
 * @since 0.1
 */
typedef enum qr_resp_cond {
    QR_COND_NONE = 0,   /**< not a status response (or a continuation) */
    QR_COND_OK = 1,     /**< OK */
    QR_COND_NO = 2,     /**< NO */
    QR_COND_BAD = 3,    /**< BAD */
    QR_COND_BYE = 4,    /**< BYE (untagged only) */
    QR_COND_PREAUTH = 5 /**< PREAUTH (greeting only) */
} qr_resp_cond;

/**
 * Response codes, the `[CODE ...]` at the start of a response text.
 * @since 0.1
 */
typedef enum qr_code_kind {
    QR_CODE_NONE = 0,             /**< the text had no code */
    QR_CODE_OTHER,                /**< a code this parser does not know: see name and args */
    QR_CODE_ALERT,                /**< ALERT: show the text to the user */
    QR_CODE_BADCHARSET,           /**< BADCHARSET [(charsets)]: `list` */
    QR_CODE_CAPABILITY,           /**< CAPABILITY caps: `list` */
    QR_CODE_PARSE,                /**< PARSE */
    QR_CODE_PERMANENTFLAGS,       /**< PERMANENTFLAGS (flags): `list` */
    QR_CODE_READ_ONLY,            /**< READ-ONLY */
    QR_CODE_READ_WRITE,           /**< READ-WRITE */
    QR_CODE_TRYCREATE,            /**< TRYCREATE */
    QR_CODE_UIDNEXT,              /**< UIDNEXT n: `number` */
    QR_CODE_UIDVALIDITY,          /**< UIDVALIDITY n: `number` */
    QR_CODE_UNSEEN,               /**< UNSEEN n: `number` */
    QR_CODE_HIGHESTMODSEQ,        /**< HIGHESTMODSEQ n: `number` (64-bit) */
    QR_CODE_NOMODSEQ,             /**< NOMODSEQ */
    QR_CODE_MODIFIED,             /**< MODIFIED set: `set` */
    QR_CODE_CLOSED,               /**< CLOSED */
    QR_CODE_APPENDUID,            /**< APPENDUID uidvalidity uids: `number`, `set` */
    QR_CODE_COPYUID,              /**< COPYUID uidvalidity src dst: `number`, `src_set`, `set` */
    QR_CODE_UIDNOTSTICKY,         /**< UIDNOTSTICKY */
    QR_CODE_NOTIFICATIONOVERFLOW, /**< NOTIFICATIONOVERFLOW */
    QR_CODE_BADEVENT              /**< BADEVENT (events): raw `args` */
} qr_code_kind;

/**
 * A parsed response code.
 * @since 0.1
 */
typedef struct qr_resp_code {
    qr_code_kind kind;        /**< which code; QR_CODE_NONE when absent */
    qr_resp_str name;         /**< the code name as sent, e.g. "UIDNEXT"; NULL when absent */
    qr_resp_str args;         /**< raw text after the name and a space; "" when none */
    uint64_t number;          /**< UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ, and the
                                   UIDVALIDITY of APPENDUID/COPYUID; else 0 */
    const qr_uidset *set;     /**< MODIFIED, APPENDUID: the UIDs; COPYUID: the
                                   destination UIDs (borrowed); else NULL */
    const qr_uidset *src_set; /**< COPYUID: the source UIDs (borrowed); else NULL */
    qr_resp_strlist list;     /**< CAPABILITY, PERMANENTFLAGS, BADCHARSET items */
} qr_resp_code;

/**
 * The text of a status response or continuation, with its code.
 * @since 0.1
 */
typedef struct qr_resp_text {
    qr_resp_code code; /**< the `[...]` code; code.kind is QR_CODE_NONE without one */
    qr_resp_str text;  /**< the human-readable text (may be empty, never NULL) */
} qr_resp_text;

/**
 * LIST / LSUB data (with LIST-EXTENDED).
 * @since 0.1
 */
typedef struct qr_resp_list {
    qr_resp_strlist flags;         /**< mailbox attributes such as `\HasChildren` */
    int delimiter;                 /**< hierarchy delimiter byte 0-255, or -1 for NIL */
    qr_resp_str mailbox;           /**< the name, raw bytes as sent (modified UTF-7) */
    qr_resp_strlist childinfo;     /**< CHILDINFO extended item values (e.g. SUBSCRIBED) */
    qr_resp_str oldname;           /**< OLDNAME extended item; ptr NULL when absent */
    const qr_resp_value *extended; /**< the extended-data list (every item), or NULL */
} qr_resp_list;

/** @name qr_resp_status.present bits @{ */
#define QR_STATUS_MESSAGES      0x01u /**< messages is set */
#define QR_STATUS_UIDNEXT       0x02u /**< uidnext is set */
#define QR_STATUS_UIDVALIDITY   0x04u /**< uidvalidity is set */
#define QR_STATUS_UNSEEN        0x08u /**< unseen is set */
#define QR_STATUS_RECENT        0x10u /**< recent is set */
#define QR_STATUS_HIGHESTMODSEQ 0x20u /**< highestmodseq is set */
#define QR_STATUS_SIZE          0x40u /**< size is set */
/** @} */

/**
 * STATUS data (also sent by LIST-STATUS and NOTIFY).
 * @since 0.1
 */
typedef struct qr_resp_status {
    qr_resp_str mailbox;        /**< the name, raw bytes */
    unsigned int present;       /**< QR_STATUS_* bits of the items received */
    uint32_t messages;          /**< MESSAGES */
    uint32_t uidnext;           /**< UIDNEXT */
    uint32_t uidvalidity;       /**< UIDVALIDITY */
    uint32_t unseen;            /**< UNSEEN */
    uint32_t recent;            /**< RECENT */
    uint64_t highestmodseq;     /**< HIGHESTMODSEQ */
    uint64_t size;              /**< SIZE */
    const qr_resp_value *items; /**< every item, as `name value` pairs (first pair), or NULL */
} qr_resp_status;

/**
 * VANISHED data (RFC 7162).
 * @since 0.1
 */
typedef struct qr_resp_vanished {
    int earlier;          /**< 1 for `VANISHED (EARLIER)`, else 0 */
    const qr_uidset *set; /**< the UIDs (borrowed), never NULL */
} qr_resp_vanished;

/**
 * An e-mail address of an ENVELOPE. Members are nstrings (ptr NULL for NIL).
 * @since 0.1
 */
typedef struct qr_resp_address {
    qr_resp_str name;    /**< display name */
    qr_resp_str adl;     /**< source route (obsolete) */
    qr_resp_str mailbox; /**< local part, or the group name / NIL for group syntax */
    qr_resp_str host;    /**< domain; NIL in group syntax markers */
} qr_resp_address;

/**
 * A list of addresses of an ENVELOPE (NIL gives count 0).
 * @since 0.1
 */
typedef struct qr_resp_addrlist {
    const qr_resp_address *items; /**< `count` addresses (borrowed) */
    size_t count;                 /**< number of addresses */
} qr_resp_addrlist;

/**
 * A parsed ENVELOPE (RFC 3501 §7.4.2). String members are nstrings.
 * @since 0.1
 */
typedef struct qr_resp_envelope {
    qr_resp_str date;          /**< Date header */
    qr_resp_str subject;       /**< Subject header (raw, possibly RFC 2047 encoded) */
    qr_resp_addrlist from;     /**< From */
    qr_resp_addrlist sender;   /**< Sender */
    qr_resp_addrlist reply_to; /**< Reply-To */
    qr_resp_addrlist to;       /**< To */
    qr_resp_addrlist cc;       /**< Cc */
    qr_resp_addrlist bcc;      /**< Bcc */
    qr_resp_str in_reply_to;   /**< In-Reply-To */
    qr_resp_str message_id;    /**< Message-ID */
} qr_resp_envelope;

/**
 * A body that went through the body sink, as listed in the FETCH event.
 * @since 0.1
 */
typedef struct qr_resp_body {
    qr_resp_str item;    /**< the item name as sent, e.g. `BODY[HEADER]<0>`, `RFC822` */
    qr_resp_str section; /**< the text between the brackets; "" for RFC822* */
    uint64_t size;       /**< bytes delivered to the sink */
    int nil;             /**< 1 when the server sent NIL */
} qr_resp_body;

/** @name qr_resp_fetch.present bits @{ */
#define QR_FETCH_UID          0x01u /**< uid */
#define QR_FETCH_FLAGS        0x02u /**< flags */
#define QR_FETCH_MODSEQ       0x04u /**< modseq */
#define QR_FETCH_INTERNALDATE 0x08u /**< internaldate, internaldate_time, internaldate_tz */
#define QR_FETCH_RFC822_SIZE  0x10u /**< rfc822_size */
#define QR_FETCH_ENVELOPE     0x20u /**< envelope */
/** @} */

/**
 * FETCH data: every attribute of one `* n FETCH (...)` response.
 * @since 0.1
 */
typedef struct qr_resp_fetch {
    uint32_t seq;                     /**< message sequence number */
    unsigned int present;             /**< QR_FETCH_* bits */
    uint32_t uid;                     /**< UID */
    qr_resp_strlist flags;            /**< FLAGS */
    uint64_t modseq;                  /**< MODSEQ */
    qr_resp_str internaldate;         /**< INTERNALDATE as sent */
    int64_t internaldate_time;        /**< INTERNALDATE as seconds since 1970 (UTC) */
    int internaldate_tz;              /**< its zone offset in minutes east of UTC */
    uint64_t rfc822_size;             /**< RFC822.SIZE */
    const qr_resp_envelope *envelope; /**< ENVELOPE, or NULL */
    const qr_resp_body *bodies;       /**< bodies streamed to the sink, in order */
    size_t nbodies;                   /**< number of bodies */
    const qr_resp_value *items;       /**< every item as `name value` pairs (the first
                                           name), including unknown ones */
} qr_resp_fetch;

/**
 * SEARCH data (with the CONDSTORE `(MODSEQ n)`).
 * @since 0.1
 */
typedef struct qr_resp_search {
    const uint32_t *numbers; /**< the numbers in the order sent (borrowed) */
    size_t count;            /**< how many */
    int has_modseq;          /**< 1 if `(MODSEQ n)` was present */
    uint64_t modseq;         /**< that n */
} qr_resp_search;

/** @name qr_resp_esearch.present bits @{ */
#define QR_ESEARCH_MIN    0x01u /**< min */
#define QR_ESEARCH_MAX    0x02u /**< max */
#define QR_ESEARCH_COUNT  0x04u /**< count */
#define QR_ESEARCH_ALL    0x08u /**< all */
#define QR_ESEARCH_MODSEQ 0x10u /**< modseq */
/** @} */

/**
 * ESEARCH data (RFC 4731).
 * @since 0.1
 */
typedef struct qr_resp_esearch {
    qr_resp_str tag;            /**< the command tag of `(TAG "t")`; ptr NULL when absent */
    int uid;                    /**< 1 when the `UID` indicator was present */
    unsigned int present;       /**< QR_ESEARCH_* bits */
    uint32_t min;               /**< MIN */
    uint32_t max;               /**< MAX */
    uint32_t count;             /**< COUNT */
    const qr_uidset *all;       /**< ALL (borrowed), or NULL */
    uint64_t modseq;            /**< MODSEQ */
    const qr_resp_value *items; /**< every `label value` pair (first label), or NULL */
} qr_resp_esearch;

/**
 * One namespace of a NAMESPACE response.
 * @since 0.1
 */
typedef struct qr_resp_ns {
    qr_resp_str prefix;              /**< prefix, raw bytes */
    int delimiter;                   /**< delimiter byte, or -1 for NIL */
    const qr_resp_value *extensions; /**< extension items after the delimiter, or NULL */
} qr_resp_ns;

/**
 * A namespace class (personal, other users', shared); NIL gives count 0.
 * @since 0.1
 */
typedef struct qr_resp_nslist {
    const qr_resp_ns *items; /**< `count` namespaces (borrowed) */
    size_t count;            /**< how many */
} qr_resp_nslist;

/**
 * NAMESPACE data (RFC 2342).
 * @since 0.1
 */
typedef struct qr_resp_namespace {
    qr_resp_nslist personal; /**< personal namespaces */
    qr_resp_nslist other;    /**< other users' namespaces */
    qr_resp_nslist shared;   /**< shared namespaces */
} qr_resp_namespace;

/**
 * ID data (RFC 2971): `count` key/value pairs; a value ptr is NULL for NIL.
 * @since 0.1
 */
typedef struct qr_resp_id {
    const qr_resp_str *keys;   /**< field names (borrowed) */
    const qr_resp_str *values; /**< field values (borrowed) */
    size_t count;              /**< number of pairs; 0 for `* ID NIL` */
} qr_resp_id;

/**
 * Kinds of response events.
 * @since 0.1
 */
typedef enum qr_resp_kind {
    QR_RESP_GREETING = 1, /**< the first response: untagged OK, PREAUTH or BYE: `text` */
    QR_RESP_TAGGED,       /**< `tag OK|NO|BAD text`: `tag`, `cond`, `text` */
    QR_RESP_CONTINUE,     /**< `+ text` (text or base64 for SASL): `text` */
    QR_RESP_COND,         /**< untagged OK, NO, BAD, BYE (or a late PREAUTH): `cond`, `text` */
    QR_RESP_CAPABILITY,   /**< u.strlist */
    QR_RESP_ENABLED,      /**< u.strlist */
    QR_RESP_LIST,         /**< u.list */
    QR_RESP_LSUB,         /**< u.list */
    QR_RESP_STATUS,       /**< u.status */
    QR_RESP_FLAGS,        /**< u.strlist */
    QR_RESP_EXISTS,       /**< u.number */
    QR_RESP_RECENT,       /**< u.number */
    QR_RESP_EXPUNGE,      /**< u.number */
    QR_RESP_VANISHED,     /**< u.vanished */
    QR_RESP_FETCH,        /**< u.fetch */
    QR_RESP_SEARCH,       /**< u.search */
    QR_RESP_ESEARCH,      /**< u.esearch */
    QR_RESP_NAMESPACE,    /**< u.namespace_ */
    QR_RESP_ID,           /**< u.id */
    QR_RESP_OTHER         /**< any other untagged response: see `values` */
} qr_resp_kind;

/**
 * A response event. Everything it points to is borrowed for the duration
 * of the `on_response` callback.
 * @since 0.1
 */
typedef struct qr_resp {
    qr_resp_kind kind;           /**< which payload applies */
    uint64_t offset;             /**< stream position of the response's first byte */
    qr_resp_str tag;             /**< TAGGED: the tag; else ptr NULL */
    qr_resp_cond cond;           /**< GREETING, TAGGED, COND: the condition */
    qr_resp_text text;           /**< GREETING, TAGGED, CONTINUE, COND: code and text */
    const qr_resp_value *values; /**< the elements after `*`, the tag or `+` (the first
                                      one), as a generic tree; NULL when none */
    union {
        uint32_t number;              /**< EXISTS, RECENT, EXPUNGE */
        qr_resp_strlist strlist;      /**< CAPABILITY, ENABLED, FLAGS */
        qr_resp_list list;            /**< LIST, LSUB */
        qr_resp_status status;        /**< STATUS */
        qr_resp_vanished vanished;    /**< VANISHED */
        qr_resp_fetch fetch;          /**< FETCH */
        qr_resp_search search;        /**< SEARCH */
        qr_resp_esearch esearch;      /**< ESEARCH */
        qr_resp_namespace namespace_; /**< NAMESPACE */
        qr_resp_id id;                /**< ID */
    } u;                              /**< the typed payload; see `kind` */
} qr_resp;

/**
 * Describes a body about to be streamed to the sink.
 * @since 0.1
 */
typedef struct qr_body_info {
    uint32_t seq;        /**< the FETCH's sequence number */
    uint32_t uid;        /**< its UID if the server sent `UID n` before the body, else 0 */
    qr_resp_str item;    /**< the item name as sent, e.g. `BODY[1.MIME]<0>`, `RFC822` */
    qr_resp_str section; /**< the text inside the brackets; "" for RFC822* */
    uint64_t size;       /**< exact number of bytes that will follow */
    int nil;             /**< 1 when the server sent NIL (size 0) */
    int binary;          /**< 1 for a `~{N}` literal8 */
} qr_body_info;

/**
 * The callbacks of a parser. Any may be NULL (the event is then dropped).
 * Those returning int return 0 to go on, QR_PAUSE to stop the parser right
 * after this event, or a negative value to abort: the parser then fails
 * with QR_EUSER (sticky).
 * @since 0.1
 */
typedef struct qr_parser_callbacks {
    /** A complete response. `resp` is borrowed for the call. */
    int (*on_response)(const qr_resp *resp, void *payload);
    /** A FETCH body starts; `info` is borrowed for the call. */
    int (*on_body_begin)(const qr_body_info *info, void *payload);
    /** The next `len` (> 0) bytes of the body; `data` is borrowed for the call. */
    int (*on_body_data)(const char *data, size_t len, void *payload);
    /** The body is complete. */
    int (*on_body_end)(void *payload);
    /**
     * Wire bytes for the debug log: every consumed byte outside literal
     * contents, in order, in pieces of any size (a piece ending with LF ends
     * a line; after a piece ending `{N}\r\n`, N literal bytes were skipped).
     * Cannot pause. `bytes` is borrowed for the call.
     */
    void (*on_wire)(const char *bytes, size_t len, void *payload);
} qr_parser_callbacks;

/** Current version of qr_parser_options. @since 0.1 */
#define QR_PARSER_OPTIONS_VERSION 1

/**
 * Options of a parser. Fill with QR_PARSER_OPTIONS_INIT or
 * qr_parser_options_init(), then change what you need.
 * @since 0.1
 */
typedef struct qr_parser_options {
    unsigned int version;          /**< QR_PARSER_OPTIONS_VERSION */
    size_t max_small_literal;      /**< largest non-body literal kept (default 64 KiB) */
    uint64_t max_literal;          /**< largest literal of any kind accepted (default
                                        2 GiB - 1; at most INT_MAX - 1) */
    size_t max_token;              /**< longest atom, quoted string, code or text
                                        (default 64 KiB) */
    unsigned int max_depth;        /**< deepest parenthesis nesting (default 32, 1-1000) */
    size_t max_response;           /**< memory for one response's parsed data, bodies
                                        and UID sets excluded (default 16 MiB) */
    qr_parser_callbacks callbacks; /**< the event callbacks */
    void *payload;                 /**< passed to every callback */
} qr_parser_options;

/** Static initialiser with the defaults. @since 0.1 */
#define QR_PARSER_OPTIONS_INIT                                                                     \
    {                                                                                              \
        QR_PARSER_OPTIONS_VERSION, 65536, 2147483646u, 65536, 32, 16777216,                        \
            {NULL, NULL, NULL, NULL, NULL}, NULL                                                   \
    }

/**
 * An incremental IMAP response parser (opaque).
 * @since 0.1
 */
typedef struct qr_parser qr_parser;

/**
 * Fill options with the defaults of QR_PARSER_OPTIONS_INIT.
 *
 * @param opts    The options to fill.
 * @param version QR_PARSER_OPTIONS_VERSION.
 * @return 0, or QR_EINVAL when opts is NULL or version is unknown.
 *
 * **Ownership:** `opts` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_parser_options_init(qr_parser_options *opts, unsigned int version);

/**
 * Create a parser.
 *
 * @param out  Receives the parser; NULL on failure.
 * @param opts Options (copied), or NULL for the defaults.
 * @return 0; QR_EINVAL for an unknown options version or a limit out of
 *         range (max_literal above INT_MAX - 1, max_depth 0 or above 1000,
 *         max_token or max_response 0); QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_parser_free().
 * @since 0.1
 */
QR_EXTERN int qr_parser_new(qr_parser **out, const qr_parser_options *opts);

/**
 * Free a parser.
 *
 * @param p The parser; NULL is a no-op. Must not be called from one of its
 *          callbacks.
 *
 * **Ownership:** frees everything the parser owns.
 * @since 0.1
 */
QR_EXTERN void qr_parser_free(qr_parser *p);

/**
 * Feed bytes of the server stream.
 *
 * Parses as many of `buf[0..len)` as possible, calling the callbacks, and
 * stores in `*consumed` how many bytes it used. Bytes of an incomplete
 * token are kept by the parser (and counted as consumed); they are never
 * needed again. So on 0 every byte was consumed; on QR_PAUSE the caller
 * feeds `buf + *consumed` later; on an error the bytes after `*consumed`
 * are not parsed.
 *
 * @param p        The parser.
 * @param buf      The bytes (borrowed for the call); may be NULL when len is 0.
 * @param len      Number of bytes.
 * @param consumed Receives the number of bytes used; never NULL.
 * @return 0 (all consumed); QR_PAUSE (a callback asked to pause);
 *         QR_EPROTO (grammar violation; sticky); QR_ELIMIT (a limit of the
 *         options was exceeded; sticky); QR_ENOMEM (sticky); QR_EUSER (a
 *         callback returned a negative value; sticky); QR_EINVAL (NULL
 *         arguments, or called from one of its own callbacks).
 *
 * **Ownership:** `buf` is only read during the call; events borrow it.
 * @since 0.1
 */
QR_EXTERN int qr_parser_feed(qr_parser *p, const char *buf, size_t len, size_t *consumed);

/**
 * The error detail of the parser's last failure.
 *
 * @param p The parser.
 * @return A borrowed pointer; its code is QR_OK when nothing failed. The
 *         message names the problem and the stream position.
 *
 * **Ownership:** borrowed from the parser, valid until the next call on it.
 * @since 0.1
 */
QR_EXTERN const qr_error *qr_parser_last_error(const qr_parser *p);

/**
 * Where the last failure was found.
 *
 * @param p The parser.
 * @return The absolute stream position (0 = first byte ever fed) of the
 *         offending byte, or 0 when nothing failed.
 * @since 0.1
 */
QR_EXTERN uint64_t qr_parser_error_offset(const qr_parser *p);

/**
 * How many bytes the parser has consumed since it was created.
 *
 * @param p The parser.
 * @return The count.
 * @since 0.1
 */
QR_EXTERN uint64_t qr_parser_offset(const qr_parser *p);

/**
 * Name of a response kind, for logs.
 *
 * @param kind A qr_resp_kind.
 * @return A static string such as "FETCH"; "UNKNOWN" for other values.
 *
 * **Ownership:** static; do not free.
 * @since 0.1
 */
QR_EXTERN const char *qr_resp_kind_name(int kind);

/**
 * Name of a condition, for logs.
 *
 * @param cond A qr_resp_cond.
 * @return "OK", "NO", "BAD", "BYE", "PREAUTH", or "" for QR_COND_NONE
 *         and unknown values.
 *
 * **Ownership:** static; do not free.
 * @since 0.1
 */
QR_EXTERN const char *qr_resp_cond_name(int cond);

/**
 * Canonical name of a response code kind, for logs.
 *
 * @param kind A qr_code_kind.
 * @return A static string such as "APPENDUID"; "" for QR_CODE_NONE,
 *         "OTHER" for QR_CODE_OTHER and unknown values.
 *
 * **Ownership:** static; do not free.
 * @since 0.1
 */
QR_EXTERN const char *qr_resp_code_name(int kind);

QR_END_DECLS

#endif /* QRESYNC_RESP_H */
