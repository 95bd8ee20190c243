/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal side of the response parser (public API in include/qresync/resp.h).
 *
 * The parser is three cooperating pieces sharing one struct qr_parser:
 *   - lexer.c: the byte-level state machine and qr_parser_feed(). It turns
 *     bytes into tokens (qr_tok_*) and calls qr_gram_token(); it streams
 *     literal contents either to the body sink or into the token buffer,
 *     and UID sets straight into a qr_uidset;
 *   - grammar.c: builds a generic value tree for the current response from
 *     the tokens (the push-down part: one stack frame per open parenthesis),
 *     switches the lexer into text mode or UID-set mode where the grammar
 *     needs it, decides which literals are bodies, and at CRLF dispatches the
 *     tree to one handler per response kind (grammar.c, fetch.c), which fill
 *     the typed qr_resp and call on_response;
 *   - codes.c: the `[CODE args]` of response texts.
 * Everything a response needs lives in a per-response arena (qr_arena),
 * reset after on_response returns, so payloads stay valid during the
 * callback and memory never grows past opt.max_response.
 */
#ifndef QR_PROTO_P_H
#define QR_PROTO_P_H

#include <qresync/resp.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dynbuf.h"
#include "util/error.h"
#include "util/uidset_p.h"

/* Lexer states (lexer.c); the grammar sets some of them to switch modes. */
enum qr_lx_state {
    QR_LX_START,      /* between tokens */
    QR_LX_ATOM,       /* inside an atom (possibly a number) */
    QR_LX_QUOTED,     /* inside "..." */
    QR_LX_QESC,       /* after a backslash inside "..." */
    QR_LX_TILDE,      /* after '~': literal8 or an atom */
    QR_LX_LITSIZE,    /* inside {N} */
    QR_LX_LITCR,      /* after {N}: expecting CR */
    QR_LX_LITLF,      /* after {N}CR: expecting LF */
    QR_LX_LITDATA,    /* literal contents; lit_left bytes to go */
    QR_LX_CR,         /* after CR: expecting LF */
    QR_LX_TEXT_START, /* text mode: before the optional SP */
    QR_LX_TEXT_OPEN,  /* text mode: '[' starts a code, else text */
    QR_LX_CODE_NAME,  /* inside [NAME */
    QR_LX_CODE_ARGS,  /* inside [NAME args] */
    QR_LX_CODE_END,   /* after ']' */
    QR_LX_TEXT,       /* the rest of the line */
    QR_LX_SET_START,  /* a UID set may start here (else a normal token) */
    QR_LX_SET         /* inside a UID set */
};

/* Tokens handed to qr_gram_token(). */
enum qr_tok {
    QR_TOK_ATOM,    /* s,n: the atom */
    QR_TOK_NUMBER,  /* s,n: the digits; p->num the value, p->num_overflow */
    QR_TOK_QUOTED,  /* s,n: decoded contents */
    QR_TOK_LITERAL, /* s,n: a small literal's contents */
    QR_TOK_LPAREN,  /* ( */
    QR_TOK_RPAREN,  /* ) */
    QR_TOK_CRLF,    /* end of the response */
    QR_TOK_TEXT,    /* s,n: resp-text after the optional code */
    QR_TOK_CODE,    /* name in p->code_name, s,n: args; p->code_has_args */
    QR_TOK_SET      /* p->set holds the UID set just parsed */
};

/* Pending body-sink steps for NIL/quoted bodies and literal ends. */
enum qr_body_step {
    QR_BODY_IDLE,  /* nothing pending */
    QR_BODY_BEGIN, /* begin not yet delivered (quoted/NIL) */
    QR_BODY_DATA,  /* data not yet delivered (quoted) */
    QR_BODY_END    /* end not yet delivered */
};

/* One block of the per-response arena. */
typedef struct qr_arena_block {
    struct qr_arena_block *next; /* older block, or NULL */
    size_t size;                 /* usable bytes in data */
    size_t used;                 /* bytes handed out */
    max_align_t data[];          /* the memory */
} qr_arena_block;

/* One open list while building the tree. */
typedef struct qr_frame {
    qr_resp_value *list; /* the list node (NULL for the root frame) */
    qr_resp_value *last; /* its last child so far, or NULL */
} qr_frame;

struct qr_parser {
    qr_parser_options opt; /* copy of the caller's options */
    qr_errslot err;        /* last error detail */
    int failed;            /* sticky error code, or 0 */
    uint64_t err_off;      /* stream position of the error */
    int in_callback;       /* a callback is running (re-entrancy guard) */
    uint64_t pos;          /* bytes consumed before the current feed */
    const char *feed_buf;  /* the buffer of the running feed (for offsets) */

    /* lexer */
    int lx;                /* enum qr_lx_state */
    qr_dynbuf tok;         /* bytes of the token being read (spanning feeds) */
    uint64_t tok_off;      /* stream position of its first byte */
    unsigned int bracket;  /* '[' nesting inside an atom */
    int bracket_quote;     /* inside "..." within those brackets */
    uint64_t num;          /* NUMBER value / literal size being read */
    int num_overflow;      /* NUMBER above 2^64-1 */
    int lit_plus;          /* {N+} seen */
    int lit_binary;        /* ~{N} */
    int lit_digits;        /* digits seen in {N} */
    int lit_stream;        /* 1: contents go to the body sink; 0: into tok */
    uint64_t lit_size;     /* declared size of the current literal */
    uint64_t lit_left;     /* bytes of it still to come */
    qr_dynbuf code_name;   /* name of the response code being read */
    int code_has_args;     /* the code had a space and arguments */
    qr_uidset_parser setp; /* incremental UID-set parser */

    /* grammar: the response being built */
    qr_arena_block *arena;     /* newest block; the oldest is kept across resets */
    size_t arena_total;        /* bytes of all blocks, checked against max_response */
    qr_frame *stack;           /* max_depth + 1 frames; stack[0] is the root */
    unsigned int depth;        /* open lists */
    qr_resp_value root;        /* the root list (its children are the top elements) */
    size_t ntop;               /* number of top-level elements so far */
    int kind;                  /* qr_resp_kind decided so far, 0 before */
    int cls;                   /* first element: 1 '*', 2 tag, 3 '+' */
    int cond;                  /* qr_resp_cond of a status response */
    uint64_t resp_off;         /* stream position of the response's first byte */
    unsigned long nresp;       /* responses delivered (greeting detection) */
    qr_resp_value *fetch_list; /* FETCH: the attribute list node */
    qr_uidset *set;            /* UID set of VANISHED/ESEARCH ALL (owned) */
    int set_used;              /* set holds this response's set */
    qr_uidset *code_set;       /* code APPENDUID/COPYUID dst/MODIFIED set (owned) */
    qr_uidset *code_src;       /* code COPYUID source set (owned) */
    qr_dynbuf nums;            /* SEARCH numbers (uint32_t array) */
    qr_resp_text text;         /* the resp-text, when the response had one */
    int has_text;              /* text was read */

    /* body sink state */
    int body_step;            /* enum qr_body_step */
    qr_body_info body;        /* the body being streamed (strings in the arena) */
    qr_resp_value *body_node; /* its node in the tree (size updated at end) */
};

/* grammar.c */
int qr_gram_token(qr_parser *p, int tok, const char *s, size_t n);
/* A literal of `size` bytes was announced (the LF after {N} consumed). */
int qr_gram_literal_begin(qr_parser *p, uint64_t size);
/* Literal bytes (streamed bodies only). */
int qr_gram_body_data(qr_parser *p, const char *s, size_t n);
/* The literal is complete. */
int qr_gram_literal_end(qr_parser *p);
/* Deliver pending body steps; QR_PAUSE if a callback paused again. */
int qr_gram_body_run(qr_parser *p);
void qr_gram_reset(qr_parser *p);

/* Record a fatal error at stream position off; returns code. */
int qr_parser_fail(qr_parser *p, int code, uint64_t off, const char *fmt, ...) QR_PRINTF(4, 5);
/* Translate a callback's return value: 0, QR_PAUSE, or a QR_EUSER failure. */
int qr_parser_cb_result(qr_parser *p, int rc, const char *what);

/* Arena (grammar.c) */
void *qr_arena_alloc(qr_parser *p, size_t size);
/* Copy n bytes plus a NUL into the arena; NULL on failure (error recorded). */
char *qr_arena_strdup(qr_parser *p, const char *s, size_t n);

/* Handlers (resp.c, fetch.c): fill r from the tree. Return 0 or a recorded error. */
int qr_handle_response(qr_parser *p, qr_resp *r);
int qr_handle_fetch(qr_parser *p, qr_resp *r);
int qr_code_parse(qr_parser *p, qr_resp_code *code, const char *args, size_t n, uint64_t off);

/* Helpers shared by the handlers (grammar.c). */
int qr_need_number(qr_parser *p, const qr_resp_value *v, uint64_t max, uint64_t *out,
                   const char *what);
int qr_get_nstring(qr_parser *p, const qr_resp_value *v, qr_resp_str *out, const char *what);
int qr_get_astring(qr_parser *p, const qr_resp_value *v, qr_resp_str *out, const char *what);
int qr_get_strlist(qr_parser *p, const qr_resp_value *first, size_t count, qr_resp_strlist *out,
                   const char *what);
int qr_get_list(qr_parser *p, const qr_resp_value *v, const char *what);
int qr_value_is_atom(const qr_resp_value *v, const char *upper);
int qr_ascii_ieq(const char *a, size_t alen, const char *b);

#endif /* QR_PROTO_P_H */
