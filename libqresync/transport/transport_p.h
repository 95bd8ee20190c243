/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * transport_p.h: the internal byte-stream layer stack (issue 4).
 *
 * A connection's bytes pass through a stack of layers, top to bottom:
 *
 *     [deflate] -> [TLS] -> socket | tunnel
 *
 * Each layer is a struct that starts with a `qr_layer` and points at the
 * layer below it; only the bottom layer owns and touches a file descriptor.
 * Layers are modelled on curl's connection filters: one small table of
 * operations (`qr_layer_ops`) per layer type, every operation non-blocking.
 *
 * THE CONTRACT (every layer type implements it; the TLS layer too):
 *
 *   read(l, buf, cap)      cap > 0. Returns > 0 bytes placed in buf,
 *                          QR_EAGAIN (nothing now: wait for the fd or call
 *                          again when pending_input says so), QR_EOF (the
 *                          stream ended; sticky), or another negative
 *                          QR_E* code with the detail recorded in the
 *                          stack's error slot. Never 0.
 *   write(l, iov, iovcnt)  Offers bytes. Returns how many leading bytes of
 *                          the iovec were accepted (>= 1, possibly fewer
 *                          than offered), QR_EAGAIN when none could be, or
 *                          an error. Accepted bytes are the layer's problem
 *                          from then on: they may sit in its buffers until
 *                          flush(). iovcnt == 0 or all-empty: returns 0.
 *   flush(l)               Pushes everything this layer holds into the
 *                          layer below, then flushes the layer below.
 *                          0: every accepted byte reached the fd;
 *                          QR_EAGAIN: call again when interest() says so.
 *                          NULL in the table: just flush the layer below.
 *   pending_input(l)       1 when this layer holds decoded input the fd
 *                          will never announce (inflater output, buffered
 *                          TLS records): the driver must call read() again
 *                          without waiting for POLLIN. NULL: never.
 *   interest(l)            POLLIN/POLLOUT bits the layer itself needs from
 *                          the fd right now (a connect in progress wants
 *                          POLLOUT; queued output wants POLLOUT; a TLS
 *                          handshake waiting for the peer wants POLLIN).
 *                          The driver adds POLLIN when it wants input.
 *                          NULL: 0.
 *   step(l)                Advance a multi-round set-up (TCP connect, TLS
 *                          handshake): 0 done (and stays 0 when called
 *                          again), QR_EAGAIN needs more I/O, or an error.
 *                          read/write before step() returned 0 fail with
 *                          QR_EINVAL. NULL: always done.
 *   deadline(l)            CLOCK_MONOTONIC milliseconds at which the
 *                          current set-up round times out, or -1. The
 *                          driver wakes up then and calls step(), which
 *                          notices the expiry. NULL: -1.
 *   fd(l)                  Bottom layer only: its descriptor (may change
 *                          while connecting; -1 when none). NULL above.
 *   close(l)               Orderly end of this layer's stream (finish
 *                          queued output, TLS close_notify, socket
 *                          shutdown): 0 done, QR_EAGAIN, or an error.
 *                          NULL: 0.
 *   destroy(l)             Free everything the layer owns without
 *                          blocking (the tunnel's bounded reap excepted).
 *                          Must not touch the layer below.
 *
 * Layers reach the layer below only through qr_layer_read/write/flush
 * below, and record errors with qr_err_set(l->stack->err, ...). A layer
 * for which the layer below returned QR_EAGAIN returns QR_EAGAIN too (or
 * the bytes it could produce). A GnuTLS push function is
 * qr_layer_write(l->below, ...) mapping QR_EAGAIN to -1/EAGAIN; a pull
 * function is qr_layer_read(l->below, ...) mapping QR_EAGAIN to -1/EAGAIN
 * and QR_EOF to 0.
 *
 * THE STACK owns its layers (pushing transfers ownership), keeps a
 * borrowed pointer to the connection's error slot and the traffic
 * counters. Layers can be pushed on top at any time (STARTTLS, COMPRESS);
 * destroying the stack destroys every layer, top first.
 */
#ifndef QR_TRANSPORT_P_H
#define QR_TRANSPORT_P_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util/error.h"

typedef struct qr_layer qr_layer;
typedef struct qr_stack qr_stack;

/* One table per layer type; see the contract above. */
typedef struct qr_layer_ops {
    const char *name;                                                   /* "socket", "tls", ... */
    ssize_t (*read)(qr_layer *l, void *buf, size_t cap);                /* required */
    ssize_t (*write)(qr_layer *l, const struct iovec *iov, int iovcnt); /* required */
    int (*flush)(qr_layer *l);                                          /* optional */
    int (*pending_input)(const qr_layer *l);                            /* optional */
    int (*interest)(const qr_layer *l);                                 /* optional */
    int (*step)(qr_layer *l);                                           /* optional */
    int64_t (*deadline)(const qr_layer *l);                             /* optional */
    int (*fd)(const qr_layer *l);                                       /* bottom layer only */
    int (*close)(qr_layer *l);                                          /* optional */
    void (*destroy)(qr_layer *l);                                       /* required */
} qr_layer_ops;

/* The head of every layer struct. */
struct qr_layer {
    const qr_layer_ops *ops; /* the layer type's table; static */
    qr_layer *below;         /* next layer down, owned by the stack; NULL at the bottom */
    qr_stack *stack;         /* the stack for errors and counters; borrowed */
};

/*
 * Byte counts since the stack was initialised. Note: the bytes injected
 * into a deflate layer at creation count in compr_in, and they were
 * already counted in plain_in when the caller read them before COMPRESS.
 */
typedef struct qr_traffic {
    uint64_t wire_in;   /* bytes read from the fd by the bottom layer */
    uint64_t wire_out;  /* bytes written to the fd by the bottom layer */
    uint64_t compr_in;  /* compressed bytes read from below + injected at creation (see note) */
    uint64_t compr_out; /* compressed bytes the deflate layer wrote below */
    uint64_t plain_in;  /* bytes qr_stack_read() returned to the caller */
    uint64_t plain_out; /* bytes qr_stack_write() accepted from the caller */
} qr_traffic;

struct qr_stack {
    qr_layer *top;      /* topmost layer, owned (and through it every layer); NULL when empty */
    qr_errslot *err;    /* where layers record errors; borrowed from the connection */
    qr_traffic traffic; /* counters, updated by the layers and the qr_stack_* calls */
};

/* ---- stack ------------------------------------------------------------ */

/* Empty stack recording errors into err (which must outlive the stack). */
void qr_stack_init(qr_stack *s, qr_errslot *err);
/* Destroy every layer, top first; the stack is then empty. */
void qr_stack_destroy(qr_stack *s);
/* Put l (created for this stack) on top; the stack owns it from now on. */
void qr_stack_push(qr_stack *s, qr_layer *l);
/* The bottom layer, or NULL. */
qr_layer *qr_stack_bottom(const qr_stack *s);
/* The bottom layer's fd, or -1. */
int qr_stack_fd(const qr_stack *s);
/* Read/write/flush through the top layer, counting plain bytes. */
ssize_t qr_stack_read(qr_stack *s, void *buf, size_t cap);
ssize_t qr_stack_write(qr_stack *s, const struct iovec *iov, int iovcnt);
int qr_stack_flush(qr_stack *s);
/* Any layer holding input the fd will not announce. */
int qr_stack_pending_input(const qr_stack *s);
/* Union of the layers' interest bits. */
int qr_stack_interest(const qr_stack *s);
/* Step every layer, bottom first; 0 when all are set up. */
int qr_stack_step(qr_stack *s);
/* Earliest layer deadline (CLOCK_MONOTONIC ms), or -1. */
int64_t qr_stack_deadline(const qr_stack *s);
/* Close every layer, top first (each one's output reaches the fd first). */
int qr_stack_close(qr_stack *s);

/* ---- helpers for layer implementations -------------------------------- */

static inline ssize_t qr_layer_read(qr_layer *l, void *buf, size_t cap)
{
    return l->ops->read(l, buf, cap);
}

static inline ssize_t qr_layer_write(qr_layer *l, const struct iovec *iov, int iovcnt)
{
    return l->ops->write(l, iov, iovcnt);
}

/* Flush l (and everything below it). */
int qr_layer_flush(qr_layer *l);
/* Flush the layer below l; 0 at the bottom. */
int qr_layer_flush_below(qr_layer *l);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t qr_now_ms(void);
/*
 * Bottom-layer I/O on a non-blocking socket fd, counting wire bytes:
 * read → bytes, QR_EAGAIN, QR_EOF (not recorded), QR_EIO ("read from
 * PLACE: strerror"); writev (MSG_NOSIGNAL, no SIGPIPE) → bytes, QR_EAGAIN,
 * QR_EIO ("write to PLACE: strerror").
 */
ssize_t qr_fd_read(qr_layer *l, int fd, void *buf, size_t cap, const char *place);
ssize_t qr_fd_writev(qr_layer *l, int fd, const struct iovec *iov, int iovcnt, const char *place);
/* Total length of an iovec. */
size_t qr_iov_len(const struct iovec *iov, int iovcnt);

/* ---- write queue (wqueue.c) ------------------------------------------- */

/* One queued buffer. */
typedef struct qr_wq_entry {
    const void *p; /* the bytes still to write; borrowed, or owned through `owned` */
    size_t len;    /* bytes left at p; > 0 */
    void *owned;   /* the allocation to qr_free once written; NULL when borrowed */
} qr_wq_entry;

typedef struct qr_wqueue {
    qr_wq_entry *ent; /* owned array; live entries are [head, head + count) */
    size_t head;      /* index of the oldest live entry */
    size_t count;     /* live entries */
    size_t alloc;     /* entries allocated at ent */
    size_t bytes;     /* total bytes queued */
    size_t max_bytes; /* cap on bytes; pushes beyond it fail with QR_ELIMIT */
} qr_wqueue;

/* Empty queue holding at most max_bytes. Allocates nothing. */
void qr_wqueue_init(qr_wqueue *q, size_t max_bytes);
/* Drop everything (freeing owned entries); the queue stays usable. */
void qr_wqueue_free(qr_wqueue *q);
/*
 * Queue len bytes at p. owned: the queue frees p (qr_free) once written,
 * or at qr_wqueue_free; on failure the caller keeps ownership. Borrowed
 * bytes must stay valid until written. QR_ELIMIT, QR_ENOMEM.
 */
int qr_wqueue_push(qr_wqueue *q, const void *p, size_t len, int owned);
/* Queue a copy of len bytes. QR_ELIMIT, QR_ENOMEM. */
int qr_wqueue_push_copy(qr_wqueue *q, const void *p, size_t len);
/*
 * Write queued bytes to the stack, then flush it once the queue is empty:
 * 0 when everything reached the fd, QR_EAGAIN (wait for
 * qr_stack_interest()), or the stack's error.
 */
int qr_wqueue_send(qr_wqueue *q, qr_stack *s);

/* ---- socket layer (socket.c) ------------------------------------------ */

typedef struct qr_socket_options {
    const char *host;       /* name, IP literal or [IP literal]; borrowed for the call */
    const char *port;       /* number or service name; borrowed for the call */
    int keepalive;          /* non-zero: SO_KEEPALIVE and TCP_KEEPIDLE=60 once connected */
    int connect_timeout_ms; /* per address tried; <= 0: no deadline */
} qr_socket_options;

/* A TCP layer; resolution and connect happen in step(). QR_EINVAL, QR_ENOMEM. */
int qr_socket_layer_create(qr_layer **out, qr_stack *s, const qr_socket_options *o);
/* A bottom layer over an already connected socket fd it adopts (label names it in errors). */
int qr_socket_layer_create_fd(qr_layer **out, qr_stack *s, int fd, const char *label);
/*
 * Replace name resolution by this address list (copied), tried in order by
 * step(); for tests and proxies. Before the first step() only. QR_ENOMEM.
 */
int qr_socket_layer_set_addrs(qr_layer *l, const struct sockaddr *const *addrs,
                              const socklen_t *lens, size_t n);

/* ---- tunnel layer (tunnel.c, tunnel_exec.c) --------------------------- */

typedef struct qr_tunnel_options {
    const char *command; /* shell-ish command, Perl single-string exec rule; borrowed */
    int null_stderr;     /* non-zero: the child's stderr goes to /dev/null */
} qr_tunnel_options;

/* Spawn the command over a socketpair now. QR_EINVAL, QR_ENOMEM, QR_EIO. */
int qr_tunnel_layer_create(qr_layer **out, qr_stack *s, const qr_tunnel_options *o);
/* The child's pid (still valid until reaped). */
pid_t qr_tunnel_layer_pid(const qr_layer *l);
/*
 * Reap the child if it has exited (WNOHANG). Returns 1 and fills *wstatus
 * (waitpid status) once reaped, 0 while it runs.
 */
int qr_tunnel_layer_status(qr_layer *l, int *wstatus);

/* How a command is executed: the outcome of Perl's exec rule. */
typedef struct qr_exec_plan {
    int use_shell;  /* 1: /bin/sh -c cmd; 0: execvp(argv[0], argv), ENOEXEC → shell */
    int dup_stderr; /* a trailing " 2>&1" was removed: dup2(1, 2) before exec */
    char *cmd;      /* owned: the text for /bin/sh -c (after the rule's trimming) */
    char **argv;    /* owned, NULL-terminated; NULL when use_shell */
    char *words;    /* owned storage the argv strings point into */
} qr_exec_plan;

/* Apply the rule to command. QR_EINVAL (nothing to run), QR_ENOMEM. */
int qr_exec_plan_parse(qr_exec_plan *p, const char *command);
void qr_exec_plan_free(qr_exec_plan *p);

/* ---- deflate layer (deflate.c) ---------------------------------------- */

/*
 * A COMPRESS=DEFLATE layer (raw deflate both ways). initial/len are bytes
 * already received from below that belong to the compressed stream (they
 * arrived with the tagged OK); they are inflated first. QR_ENOMEM,
 * QR_ECOMPRESS.
 */
int qr_deflate_layer_create(qr_layer **out, qr_stack *s, const void *initial, size_t len);

#endif /* QR_TRANSPORT_P_H */
