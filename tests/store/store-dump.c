/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store-dump: a tiny driver of the state store for the interop test with
 * the Perl reference (test-store-interop.py).
 *
 *   store-dump PATH                 open PATH (schema step with '/'), print
 *                                   every row through the typed accessors:
 *                                     mailbox IDX HEXNAME SUBSCRIBED
 *                                     local|remote IDX UIDVALIDITY UIDNEXT HIGHESTMODSEQ
 *                                     mapping IDX LUID RUID
 *                                   (HIGHESTMODSEQ decoded, unsigned)
 *   store-dump --create PATH NAME.. create PATH with our schema step and
 *                                   commit one unsubscribed mailbox row per
 *                                   NAME ('/' stored as NUL)
 *
 *   store-dump --hold PATH          open and lock PATH, print "locked", wait
 *                                   for end of standard input, close
 *
 * The first line is "schema current|created|upgraded". Errors go to
 * stderr with the store's message; exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/store_p.h"

static int print_mailbox(void *payload, int64_t idx, const void *name, size_t len, int subscribed)
{
    const unsigned char *b = name;
    printf("mailbox %lld ", (long long)idx);
    for (size_t i = 0; i < len; i++)
        printf("%02X", b[i]);
    printf(" %d\n", subscribed);
    return 0;
}

static char side_names[2][8] = {"local", "remote"}; /* payloads of print_cursor */

static int print_cursor(void *payload, int64_t idx, const qr_store_cursor *cur)
{
    printf("%s %lld %u %u %llu\n", (const char *)payload, (long long)idx, cur->uidvalidity,
           cur->uidnext, (unsigned long long)cur->highestmodseq);
    return 0;
}

static int print_mapping(void *payload, int64_t idx, uint32_t luid, uint32_t ruid)
{
    printf("mapping %lld %u %u\n", (long long)idx, luid, ruid);
    return 0;
}

static int fail(qr_store *st, int r)
{
    fprintf(stderr, "store-dump: %d: %s\n", r, qr_store_last_error(st)->message);
    qr_store_close(st);
    return 1;
}

static int add_names(qr_store *st, char **names, int n)
{
    for (int i = 0; i < n; i++) {
        char *name = names[i];
        size_t len = strlen(name);
        for (size_t j = 0; j < len; j++)
            if (name[j] == '/')
                name[j] = '\0';
        int r = qr_store_mailbox_add(st, name, len, 0, NULL);
        if (r < 0)
            return r;
    }
    return qr_store_commit(st);
}

int main(int argc, char **argv)
{
    int create = argc > 1 && strcmp(argv[1], "--create") == 0;
    int hold = argc > 1 && strcmp(argv[1], "--hold") == 0;
    int opt = create || hold; /* argv[1] is an option */
    if (argc < 2 + opt) {
        fprintf(stderr, "usage: store-dump [--create|--hold] PATH [NAME...]\n");
        return 2;
    }
    const char *path = argv[1 + opt];
    qr_store *st = NULL;
    qr_errslot err;
    qr_errslot_clear(&err);
    int r = qr_store_open(&st, path, 0, &err);
    if (r < 0) {
        fprintf(stderr, "store-dump: %d: %s\n", r, qr_errslot_get(&err)->message);
        return 1;
    }
    if (hold) {
        printf("locked\n");
        fflush(stdout);
        while (getchar() != EOF)
            ;
        qr_store_close(st);
        return 0;
    }
    static const char *const actions[] = {"current", "created", "upgraded"};
    qr_store_schema_action act;
    r = qr_store_schema(st, '/', '/', &act);
    if (r < 0)
        return fail(st, r);
    printf("schema %s\n", actions[act]);
    if (create)
        r = add_names(st, argv + 3, argc - 3);
    if (r == 0)
        r = qr_store_mailbox_foreach(st, print_mailbox, NULL);
    if (r == 0)
        r = qr_store_cursor_foreach(st, QR_STORE_LOCAL, print_cursor, side_names[0]);
    if (r == 0)
        r = qr_store_cursor_foreach(st, QR_STORE_REMOTE, print_cursor, side_names[1]);
    if (r == 0)
        r = qr_store_mapping_foreach(st, -1, print_mapping, NULL);
    if (r < 0)
        return fail(st, r);
    qr_store_rollback(st); /* the reads' implicit transaction */
    qr_store_close(st);
    return 0;
}
