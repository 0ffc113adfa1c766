/* Load generator and counting receiver for bench/logfwd-mibs.sh, built with
 * cc by the script. Three modes:
 *
 *   logfwd-mibs write N T0FILE          N lines to stdout, in 256 KiB writes
 *   logfwd-mibs dgram SOCK N K T0FILE   N datagrams from K concurrent clients
 *                                       to a unix datagram socket (blocking,
 *                                       like syslog(3))
 *   logfwd-mibs recv PORTFILE N IDLE    count RFC 6587 octet-counted frames
 *
 * Every message ends with "seq=NNNNNNNNNN" (a global number 0..N-1); the
 * receiver marks each in a bitmap, so it reports distinct, duplicated and
 * lost messages, not only a count. The writers put their start time
 * (CLOCK_REALTIME, ns) into T0FILE; the receiver prints the time of the last
 * byte, so rate = bytes / (last - t0).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A realistic application line: 150 bytes with its newline. */
#define BODY "app.request handled method=GET path=/api/v1/items/4711 status=200 bytes=5120 dur_ms=12 user=alice trace=9f86d081884c7d65 seq="
#define SEQ_DIGITS 10
/* 168-byte datagrams: this header, the line without its newline. */
#define DGRAM_HEAD "<14>Nov 30 02:00:00 bench[4711]: "

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void write_t0(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(1); }
    fprintf(f, "%llu\n", (unsigned long long)now_ns());
    fclose(f);
}

static void put_seq(char *p, uint64_t n) {
    for (int i = SEQ_DIGITS - 1; i >= 0; i--) { p[i] = (char)('0' + n % 10); n /= 10; }
}

static int write_all(int fd, const char *b, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        b += w; n -= (size_t)w;
    }
    return 0;
}

static int mode_write(uint64_t n, const char *t0file) {
    static char buf[256 * 1024];
    const size_t body = strlen(BODY), line = body + SEQ_DIGITS + 1;
    write_t0(t0file);
    size_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (at + line > sizeof buf) {
            if (write_all(1, buf, at)) { perror("write"); return 1; }
            at = 0;
        }
        memcpy(buf + at, BODY, body);
        put_seq(buf + at + body, i);
        buf[at + line - 1] = '\n';
        at += line;
    }
    if (at && write_all(1, buf, at)) { perror("write"); return 1; }
    return 0;
}

struct client { const char *sock; uint64_t first, count; int err; };

static void *client_main(void *arg) {
    struct client *c = arg;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, c->sock, sizeof a.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) { perror(c->sock); c->err = 1; return NULL; }
    char msg[512];
    /* What syslog(3) sends: <PRI>TIMESTAMP TAG[PID]: MSG */
    int head = snprintf(msg, sizeof msg, "%s", DGRAM_HEAD);
    const size_t body = strlen(BODY);
    memcpy(msg + head, BODY, body);
    size_t len = (size_t)head + body + SEQ_DIGITS;
    for (uint64_t i = 0; i < c->count; i++) {
        put_seq(msg + head + body, c->first + i);
        while (send(fd, msg, len, 0) < 0) {
            if (errno == EINTR) continue;
            /* The daemon's queue is full for a moment: wait, as syslog(3) does. */
            if (errno == EAGAIN || errno == ENOBUFS) { usleep(100); continue; }
            perror("send"); c->err = 1; return NULL;
        }
    }
    close(fd);
    return NULL;
}

static int mode_dgram(const char *sock, uint64_t n, int k, const char *t0file) {
    struct client cs[64];
    pthread_t th[64];
    if (k < 1 || k > 64) k = 4;
    write_t0(t0file);
    for (int i = 0; i < k; i++) {
        cs[i] = (struct client){ sock, n * (uint64_t)i / (uint64_t)k, n * (uint64_t)(i + 1) / (uint64_t)k - n * (uint64_t)i / (uint64_t)k, 0 };
        pthread_create(&th[i], NULL, client_main, &cs[i]);
    }
    int err = 0;
    for (int i = 0; i < k; i++) { pthread_join(th[i], NULL); err |= cs[i].err; }
    return err;
}

/* Receiver: one buffer per connection; whole frames are parsed in place and
 * the partial last one moved to the front before the next recv. */
#define RBUF (4 << 20)
#define MAXCONN 32
struct conn { int fd; char *buf; size_t have; };

static uint8_t *seen;
static uint64_t expect, frames, distinct, dups, badseq, wire_bytes;

static void mark(const char *msg, size_t len) {
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == ' ')) len--;
    if (len < SEQ_DIGITS) { badseq++; return; }
    uint64_t s = 0;
    for (size_t i = len - SEQ_DIGITS; i < len; i++) {
        if (msg[i] < '0' || msg[i] > '9') { badseq++; return; }
        s = s * 10 + (uint64_t)(msg[i] - '0');
    }
    if (s >= expect) { badseq++; return; }
    if (seen[s >> 3] & (1u << (s & 7))) dups++;
    else { seen[s >> 3] |= (uint8_t)(1u << (s & 7)); distinct++; }
}

/* Parse the frames in c->buf; keep the partial one. -1: not octet counted. */
static int parse(struct conn *c) {
    size_t pos = 0;
    while (pos < c->have) {
        size_t p = pos, len = 0;
        while (p < c->have && c->buf[p] >= '0' && c->buf[p] <= '9' && p - pos < 9) len = len * 10 + (size_t)(c->buf[p++] - '0');
        if (p == c->have) break;
        if (c->buf[p] != ' ' || p == pos || len == 0 || len > RBUF / 2) return -1;
        if (p + 1 + len > c->have) break;
        mark(c->buf + p + 1, len);
        frames++;
        pos = p + 1 + len;
    }
    memmove(c->buf, c->buf + pos, c->have - pos);
    c->have -= pos;
    return 0;
}

static int mode_recv(const char *portfile, uint64_t n, int idle_ms) {
    expect = n;
    seen = calloc((size_t)(n / 8 + 1), 1);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 16) || getsockname(l, (struct sockaddr *)&a, &al)) { perror("listen"); return 1; }
    FILE *f = fopen(portfile, "w");
    fprintf(f, "%d\n", ntohs(a.sin_port));
    fclose(f);
    struct conn cs[MAXCONN];
    int nc = 0, connections = 0;
    uint64_t last = 0;
    for (;;) {
        struct pollfd p[MAXCONN + 1];
        p[0] = (struct pollfd){ l, POLLIN, 0 };
        for (int i = 0; i < nc; i++) p[i + 1] = (struct pollfd){ cs[i].fd, POLLIN, 0 };
        /* Before the first byte: wait long (the forwarder starts); after:
         * stop once all arrived, or nothing came for idle_ms. */
        if (distinct == expect) break;
        int r = poll(p, (nfds_t)nc + 1, last ? idle_ms : 120000);
        if (r == 0) break;
        if (r < 0) { if (errno == EINTR) continue; perror("poll"); return 1; }
        if ((p[0].revents & POLLIN) && nc < MAXCONN) {
            int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) { cs[nc++] = (struct conn){ fd, malloc(RBUF), 0 }; connections++; }
        }
        for (int i = nc - 1; i >= 0; i--) {
            if (!p[i + 1].revents) continue;
            ssize_t got = recv(cs[i].fd, cs[i].buf + cs[i].have, RBUF - cs[i].have, 0);
            if (got > 0) {
                wire_bytes += (uint64_t)got;
                cs[i].have += (size_t)got;
                last = now_ns();
                if (parse(&cs[i])) { fprintf(stderr, "receiver: a frame that is not RFC 6587 octet-counted\n"); return 1; }
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(cs[i].fd); free(cs[i].buf); cs[i] = cs[--nc];
            }
        }
    }
    printf("%llu %llu %llu %llu %llu %llu %d\n", (unsigned long long)frames, (unsigned long long)distinct,
           (unsigned long long)dups, (unsigned long long)badseq, (unsigned long long)wire_bytes,
           (unsigned long long)last, connections);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "write")) return mode_write(strtoull(argv[2], NULL, 10), argv[3]);
    if (argc == 6 && !strcmp(argv[1], "dgram")) return mode_dgram(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]), argv[5]);
    if (argc == 5 && !strcmp(argv[1], "recv")) return mode_recv(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]));
    fprintf(stderr, "usage: %s write N T0FILE | dgram SOCK N K T0FILE | recv PORTFILE N IDLE_MS\n", argv[0]);
    return 2;
}
