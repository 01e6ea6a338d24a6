/*
 * rtp-sink: the least a receiver can do with RTP, to compare siprecd's media path with.
 *
 *   rtp-sink BASE_PORT STREAMS SECONDS [IP]
 *
 * Binds STREAMS UDP sockets on IP (default 127.0.0.1) ports BASE_PORT, BASE_PORT+2, ...
 * (RTP ports are even), and on one thread waits with epoll and drains each ready socket with
 * recvmmsg in batches of 64. It counts packets and bytes until SECONDS have passed since the
 * first packet (or 120 s pass without any), then prints one line:
 *
 *   packets=N bytes=N cpu_user_s=X cpu_sys_s=Y seconds=Z
 *
 * CPU is the whole process's, from getrusage. Build: gcc -O2 -o rtp-sink rtp-sink.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PACKET_BYTES 2048
#define MAX_EVENTS 256
#define FIRST_PACKET_WAIT_S 120.0

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double timeval_seconds(struct timeval tv) {
    return tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s BASE_PORT STREAMS SECONDS [IP]\n", argv[0]);
        return 2;
    }
    int base_port = atoi(argv[1]);
    int streams = atoi(argv[2]);
    double seconds = atof(argv[3]);
    const char *ip = argc == 5 ? argv[4] : "127.0.0.1";
    if (base_port <= 0 || streams <= 0 || seconds <= 0 || base_port + 2 * (streams - 1) > 65535) {
        fprintf(stderr, "rtp-sink: bad arguments\n");
        return 2;
    }

    /* One descriptor per stream: thousands of them. */
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }

    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) {
        perror("epoll_create1");
        return 1;
    }
    for (int i = 0; i < streams; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            perror("socket");
            return 1;
        }
        int buffer = 1 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        struct sockaddr_in address = {0};
        address.sin_family = AF_INET;
        address.sin_port = htons((unsigned short)(base_port + 2 * i));
        if (inet_pton(AF_INET, ip, &address.sin_addr) != 1) {
            fprintf(stderr, "rtp-sink: bad address %s\n", ip);
            return 2;
        }
        if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            fprintf(stderr, "rtp-sink: bind %s:%d: %s\n", ip, base_port + 2 * i, strerror(errno));
            return 1;
        }
        struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
            perror("epoll_ctl");
            return 1;
        }
    }

    static char buffers[BATCH][PACKET_BYTES];
    struct iovec vectors[BATCH];
    struct mmsghdr messages[BATCH];
    memset(messages, 0, sizeof messages);
    for (int i = 0; i < BATCH; i++) {
        vectors[i].iov_base = buffers[i];
        vectors[i].iov_len = PACKET_BYTES;
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }

    struct epoll_event events[MAX_EVENTS];
    unsigned long long packets = 0, bytes = 0;
    double started = 0; /* monotonic time of the first packet; 0 until then */
    double waiting_since = now_seconds();
    for (;;) {
        double now = now_seconds();
        double left = started > 0 ? started + seconds - now : waiting_since + FIRST_PACKET_WAIT_S - now;
        if (left <= 0) break;
        int ready = epoll_wait(epoll_fd, events, MAX_EVENTS, (int)(left * 1000) + 1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int e = 0; e < ready; e++) {
            /* Drain the socket: a full batch means there may be more. */
            for (;;) {
                int count = recvmmsg(events[e].data.fd, messages, BATCH, MSG_DONTWAIT, NULL);
                if (count <= 0) break;
                if (started == 0) started = now_seconds();
                packets += (unsigned long long)count;
                for (int i = 0; i < count; i++) bytes += messages[i].msg_len;
                if (count < BATCH) break;
            }
        }
    }

    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("packets=%llu bytes=%llu cpu_user_s=%.3f cpu_sys_s=%.3f seconds=%.3f\n", packets, bytes,
           timeval_seconds(usage.ru_utime), timeval_seconds(usage.ru_stime), started > 0 ? now_seconds() - started : 0.0);
    return 0;
}
