/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procmeter: process helpers for bench/sync-compare.py (built on the fly
 * with cc -O2; not part of the meson build, never a test).
 *
 * procmeter measure OUT COMMAND [ARG...]
 *     Fork and exec COMMAND, wait for it, write one line to the file OUT:
 *       wall_ns user_us sys_us maxrss_kib own_cpu_ticks child_cpu_ticks status
 *     (rusage from wait4; the tick counts from /proc/PID/stat read while
 *     the child is a zombie: its own CPU and that of the children it
 *     reaped). Why a helper: a child forked (or vforked) by Python starts
 *     with Python's memory; Linux records that image's high-water mark at
 *     exec time into ru_maxrss, so a big Python parent would inflate every
 *     figure. Forked from this small program, COMMAND starts near 1 MiB.
 *
 * procmeter noreap COMMAND [ARG...]
 *     Run COMMAND as a child, wait until it ends WITHOUT reaping it
 *     (waitid WNOWAIT), then exit with its status. Prefixed to the local
 *     tunnel command: the Dovecot imap process is then never reaped by
 *     interimap, so its CPU time and peak RSS never fold into interimap's
 *     rusage (Perl interimap does not reap its tunnel; a client that does
 *     would otherwise be charged for Dovecot's work). The zombie goes to
 *     the nearest subreaper (sync-compare.py), which reaps it.
 *     With the environment variable PROCMETER_STDERR=FILE, COMMAND's
 *     stderr is appended to FILE (sync-compare.py reads the Dovecot
 *     "Logged out in=... out=..." line there: the bytes of the tunnel).
 *
 * procmeter proxy PORTFILE HOST PORT COUNTFILE
 *     A byte-counting TCP relay: listen on HOST, port 0, write the port to
 *     PORTFILE, then serve connections one at a time, relaying to
 *     HOST:PORT, and after each one append "client_to_server
 *     server_to_client" (bytes, i.e. TLS records on the wire) to COUNTFILE.
 *     Runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t spawn(char **argv)
{
    pid_t pid = fork();

    if (pid < 0) {
        perror("procmeter: fork");
        exit(127);
    }
    if (pid == 0) {
        const char *err = getenv("PROCMETER_STDERR");

        if (err != NULL && *err != '\0') {
            int fd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

            if (fd >= 0)
                dup2(fd, 2);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "procmeter: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int wait_noreap(pid_t pid, siginfo_t *si)
{
    for (;;) {
        memset(si, 0, sizeof(*si));
        if (waitid(P_PID, (id_t)pid, si, WEXITED | WNOWAIT) == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* utime+stime and cutime+cstime (clock ticks) of PID, or -1 */
static void proc_ticks(pid_t pid, long long *own, long long *children)
{
    char path[64], buf[4096];
    FILE *f;
    size_t n;
    char *p;
    unsigned long long v[4];

    *own = *children = -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
       majflt cmajflt utime stime cutime cstime */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                            &v[0], &v[1], &v[2], &v[3]) != 4)
        return;
    *own = (long long)(v[0] + v[1]);
    *children = (long long)(v[2] + v[3]);
}

static long long ns(const struct timespec *a, const struct timespec *b)
{
    return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

static int measure(const char *out, char **argv)
{
    struct timespec t0, t1;
    struct rusage ru;
    siginfo_t si;
    long long own, children;
    int status;
    pid_t pid;
    FILE *f;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = spawn(argv);
    if (wait_noreap(pid, &si) != 0) {
        perror("procmeter: waitid");
        return 127;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    proc_ticks(pid, &own, &children);
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("procmeter: wait4");
        return 127;
    }
    f = fopen(out, "w");
    if (f == NULL) {
        perror(out);
        return 127;
    }
    fprintf(f, "%lld %lld %lld %ld %lld %lld %d\n", ns(&t0, &t1),
            (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec,
            ru.ru_maxrss, own, children, status);
    if (fclose(f) != 0) {
        perror(out);
        return 127;
    }
    return 0;
}

static int noreap(char **argv)
{
    siginfo_t si;
    pid_t pid = spawn(argv);

    if (wait_noreap(pid, &si) != 0)
        return 127;
    if (si.si_code == CLD_EXITED)
        return si.si_status;
    return 128 + si.si_status;
}

/* Relay one connection; returns 0, counts in *up (client->server), *down. */
static void relay(int a, int b, unsigned long long *up, unsigned long long *down)
{
    static char buf[256 * 1024];
    int open_a = 1, open_b = 1;

    while (open_a || open_b) {
        struct pollfd p[2] = {{a, open_a ? POLLIN : 0, 0}, {b, open_b ? POLLIN : 0, 0}};

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            int from = i == 0 ? a : b, to = i == 0 ? b : a;
            ssize_t n;

            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(from, buf, sizeof(buf));
            if (n <= 0) {
                shutdown(to, SHUT_WR);
                if (i == 0)
                    open_a = 0;
                else
                    open_b = 0;
                if (n < 0)
                    return;
                continue;
            }
            *(i == 0 ? up : down) += (unsigned long long)n;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(to, buf + off, (size_t)(n - off));

                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    return;
                }
                off += w;
            }
        }
    }
}

static int proxy(const char *portfile, const char *host, const char *port, const char *countfile)
{
    struct sockaddr_in sa = {0}, ta = {0};
    socklen_t len = sizeof(sa);
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
    FILE *f;

    sa.sin_family = AF_INET;
    inet_pton(AF_INET, host, &sa.sin_addr);
    ta = sa;
    ta.sin_port = htons((unsigned short)atoi(port));
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 8) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &len) != 0) {
        perror("procmeter proxy: listen");
        return 127;
    }
    f = fopen(portfile, "w");
    if (f == NULL || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0) {
        perror(portfile);
        return 127;
    }
    for (;;) {
        unsigned long long up = 0, down = 0;
        int c = accept(ls, NULL, NULL), s;

        if (c < 0) {
            if (errno == EINTR)
                continue;
            perror("procmeter proxy: accept");
            return 127;
        }
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&ta, sizeof(ta)) != 0) {
            perror("procmeter proxy: connect");
            close(c);
            if (s >= 0)
                close(s);
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        relay(c, s, &up, &down);
        close(c);
        close(s);
        f = fopen(countfile, "a");
        if (f != NULL) {
            fprintf(f, "%llu %llu\n", up, down);
            fclose(f);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "proxy") == 0)
        return proxy(argv[2], argv[3], argv[4], argv[5]);
    if (argc >= 4 && strcmp(argv[1], "measure") == 0)
        return measure(argv[2], argv + 3);
    if (argc >= 3 && strcmp(argv[1], "noreap") == 0)
        return noreap(argv + 2);
    fprintf(stderr, "usage: procmeter measure OUT COMMAND [ARG...]\n"
                    "       procmeter noreap COMMAND [ARG...]\n"
                    "       procmeter proxy PORTFILE HOST PORT COUNTFILE\n");
    return 2;
}
