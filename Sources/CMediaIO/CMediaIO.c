#define _GNU_SOURCE
#include "CMediaIO.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// Room for one SCM_TIMESTAMPNS control message per datagram, aligned as cmsghdr needs.
typedef union mio_control {
    char bytes[CMSG_SPACE(sizeof(struct timespec))];
    struct cmsghdr align;
} mio_control;

typedef struct mio_internal {
    struct mmsghdr headers[MIO_BATCH];
    struct iovec vectors[MIO_BATCH];
    mio_control controls[MIO_BATCH];
} mio_internal;

mio_batch *mio_batch_create(void) {
    mio_batch *batch = calloc(1, sizeof(mio_batch));
    mio_internal *internal = calloc(1, sizeof(mio_internal));
    if (batch == NULL || internal == NULL) { free(batch); free(internal); return NULL; }
    for (int i = 0; i < MIO_BATCH; i++) {
        internal->vectors[i].iov_base = batch->data[i];
        internal->vectors[i].iov_len = MIO_PACKET_BYTES;
        internal->headers[i].msg_hdr.msg_iov = &internal->vectors[i];
        internal->headers[i].msg_hdr.msg_iovlen = 1;
        internal->headers[i].msg_hdr.msg_control = internal->controls[i].bytes;
        internal->headers[i].msg_hdr.msg_controllen = sizeof(internal->controls[i].bytes);
    }
    batch->internal = internal;
    return batch;
}

void mio_batch_destroy(mio_batch *batch) {
    if (batch == NULL) return;
    free(batch->internal);
    free(batch);
}

static uint64_t mio_clock_ns(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

int mio_recv_batch(int fd, mio_batch *batch) {
    mio_internal *internal = batch->internal;
    int count = recvmmsg(fd, internal->headers, MIO_BATCH, MSG_DONTWAIT, NULL);
    if (count < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    // The kernel's receive stamps are wall-clock time: moved onto the monotonic clock with
    // the two clocks' difference now, and never later than now.
    uint64_t monotonic = mio_clock_ns(CLOCK_MONOTONIC);
    int64_t offset = (int64_t)(mio_clock_ns(CLOCK_REALTIME) - monotonic);
    for (int i = 0; i < count; i++) {
        struct msghdr *header = &internal->headers[i].msg_hdr;
        int truncated = (header->msg_flags & MSG_TRUNC) != 0;
        batch->lengths[i] = truncated ? -1 : (int)internal->headers[i].msg_len;
        batch->arrivals[i] = 0;
        for (struct cmsghdr *control = CMSG_FIRSTHDR(header); control != NULL; control = CMSG_NXTHDR(header, control)) {
            if (control->cmsg_level != SOL_SOCKET || control->cmsg_type != SCM_TIMESTAMPNS) continue;
            struct timespec stamp;
            memcpy(&stamp, CMSG_DATA(control), sizeof(stamp));
            int64_t wall = (int64_t)stamp.tv_sec * 1000000000ll + (int64_t)stamp.tv_nsec;
            int64_t arrival = wall - offset;
            batch->arrivals[i] = (arrival > 0 && (uint64_t)arrival < monotonic) ? (uint64_t)arrival : monotonic;
        }
        // The kernel shortened msg_controllen to what it wrote: the next call gets the whole room.
        header->msg_controllen = sizeof(internal->controls[i].bytes);
    }
    return count;
}

int mio_udp_bind(const char *host, int port, int receive_buffer_bytes) {
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof(storage));
    socklen_t length;
    int family;
    if (host != NULL && strchr(host, ':') != NULL) {
        struct sockaddr_in6 *address = (struct sockaddr_in6 *)&storage;
        address->sin6_family = AF_INET6;
        address->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &address->sin6_addr) != 1) return -EINVAL;
        family = AF_INET6;
        length = sizeof(*address);
    } else {
        struct sockaddr_in *address = (struct sockaddr_in *)&storage;
        address->sin_family = AF_INET;
        address->sin_port = htons((uint16_t)port);
        if (host == NULL || host[0] == '\0') {
            address->sin_addr.s_addr = htonl(INADDR_ANY);
        } else if (inet_pton(AF_INET, host, &address->sin_addr) != 1) {
            return -EINVAL;
        }
        family = AF_INET;
        length = sizeof(*address);
    }
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (receive_buffer_bytes > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
    }
    // Each datagram's receive time, so a packet read late is still placed when it came.
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&storage, length) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

int mio_udp_discard(int fd) {
    char scrap[64];
    int discarded = 0;
    // Bounded: a socket flooded faster than this loop reads must not hold the caller.
    while (discarded < 4096) {
        ssize_t got = recv(fd, scrap, sizeof(scrap), MSG_DONTWAIT | MSG_TRUNC);
        if (got < 0) break;
        discarded++;
    }
    return discarded;
}

int mio_local_port(int fd) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof(storage);
    if (getsockname(fd, (struct sockaddr *)&storage, &length) != 0) return -errno;
    if (storage.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&storage)->sin6_port);
    return ntohs(((struct sockaddr_in *)&storage)->sin_port);
}

int mio_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int mio_epoll_add(int epoll_fd, int fd, uint64_t token) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = EPOLLIN;
    event.data.u64 = token;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

int mio_epoll_remove(int epoll_fd, int fd) {
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno;
}

int mio_epoll_wait(int epoll_fd, uint64_t *tokens, int max_events, int timeout_ms) {
    struct epoll_event events[256];
    if (max_events > 256) max_events = 256;
    int count = epoll_wait(epoll_fd, events, max_events, timeout_ms);
    if (count < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < count; i++) tokens[i] = events[i].data.u64;
    return count;
}

int mio_eventfd_create(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void mio_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written = write(fd, &one, sizeof(one));
    (void)written;
}

void mio_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t got = read(fd, &value, sizeof(value));
    (void)got;
}

uint64_t mio_monotonic_ns(void) { return mio_clock_ns(CLOCK_MONOTONIC); }

void mio_close(int fd) { close(fd); }

#include <fcntl.h>
#include <openssl/evp.h>

int mio_sha256_file(const char *path, char hex[65]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL || EVP_DigestInit_ex(context, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(context);
        close(fd);
        return -ENOMEM;
    }
    unsigned char *buffer = malloc(1 << 20);
    if (buffer == NULL) {
        EVP_MD_CTX_free(context);
        close(fd);
        return -ENOMEM;
    }
    int result = 0;
    for (;;) {
        ssize_t got = read(fd, buffer, 1 << 20);
        if (got < 0) {
            if (errno == EINTR) continue;
            result = -errno;
            break;
        }
        if (got == 0) break;
        EVP_DigestUpdate(context, buffer, (size_t)got);
    }
    close(fd);
    free(buffer);
    if (result == 0) {
        unsigned char digest[32];
        unsigned int length = 0;
        EVP_DigestFinal_ex(context, digest, &length);
        static const char digits[] = "0123456789abcdef";
        for (unsigned int i = 0; i < 32; i++) {
            hex[2 * i] = digits[digest[i] >> 4];
            hex[2 * i + 1] = digits[digest[i] & 15];
        }
        hex[64] = '\0';
    }
    EVP_MD_CTX_free(context);
    return result;
}

#include <pthread.h>
#include <srtp2/srtp.h>
#include "srtp_cm.h"

/// Either libsrtp2's session or, for receiving the AES-CM suites, our own (srtp_cm.c).
struct mio_srtp {
    srtp_t session;
    int use_mki;
    cm_srtp *own;
};

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t srtp_init_status = srtp_err_status_ok;
static void srtp_init_once(void) { srtp_init_status = srtp_init(); }

static int suite_policy(int suite, srtp_crypto_policy_t *rtp, srtp_crypto_policy_t *rtcp) {
    switch (suite) {
    case 1: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp); srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp); return 30;
    // RFC 4568 §6.2.2: with the 32-bit tag for SRTP, SRTCP keeps the 80-bit one.
    case 2: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp); srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp); return 30;
    case 3: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp); srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp); return 46;
    case 4: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtp); srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp); return 46;
    case 5: srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp); srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp); return 28;
    case 6: srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp); srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp); return 44;
    default: return 0;
    }
}

int mio_srtp_key_length(int suite) {
    srtp_crypto_policy_t rtp, rtcp;
    return suite_policy(suite, &rtp, &rtcp);
}

mio_srtp *mio_srtp_create(int suite, const unsigned char *key, int key_length,
                          const unsigned char *mki, int mki_length, int outbound, int *error) {
    if (!outbound && suite >= 1 && suite <= 4) {
        mio_srtp *context = calloc(1, sizeof(mio_srtp));
        if (context == NULL) { *error = (int)srtp_err_status_alloc_fail; return NULL; }
        context->own = cm_srtp_create(suite, key, key_length, mki, mki_length);
        if (context->own == NULL) { free(context); *error = (int)srtp_err_status_bad_param; return NULL; }
        *error = 0;
        return context;
    }
    pthread_once(&srtp_once, srtp_init_once);
    if (srtp_init_status != srtp_err_status_ok) { *error = (int)srtp_init_status; return NULL; }
    srtp_policy_t policy;
    memset(&policy, 0, sizeof(policy));
    int needed = suite_policy(suite, &policy.rtp, &policy.rtcp);
    if (needed == 0 || key_length != needed || mki_length < 0 || mki_length > 128) { *error = (int)srtp_err_status_bad_param; return NULL; }
    unsigned char key_copy[64];
    memcpy(key_copy, key, (size_t)key_length);
    unsigned char mki_copy[128];
    srtp_master_key_t master;
    srtp_master_key_t *masters[1] = { &master };
    if (mki != NULL && mki_length > 0) {
        memcpy(mki_copy, mki, (size_t)mki_length);
        master.key = key_copy;
        master.mki_id = mki_copy;
        master.mki_size = (unsigned int)mki_length;
        policy.keys = masters;
        policy.num_master_keys = 1;
    } else {
        policy.key = key_copy;
    }
    policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    // A recorder sees reordering: a wider replay window than the default 128.
    policy.window_size = 1024;
    policy.allow_repeat_tx = 0;
    policy.next = NULL;
    mio_srtp *context = calloc(1, sizeof(mio_srtp));
    if (context == NULL) { *error = (int)srtp_err_status_alloc_fail; return NULL; }
    srtp_err_status_t status = srtp_create(&context->session, &policy);
    memset(key_copy, 0, sizeof(key_copy));
    if (status != srtp_err_status_ok) {
        free(context);
        *error = (int)status;
        return NULL;
    }
    context->use_mki = (mki != NULL && mki_length > 0) ? 1 : 0;
    *error = 0;
    return context;
}

int mio_srtp_unprotect(mio_srtp *context, void *packet, int *length) {
    if (context->own != NULL) return cm_srtp_unprotect(context->own, packet, length) == 0 ? 0 : (int)srtp_err_status_auth_fail;
    return (int)srtp_unprotect_mki(context->session, packet, length, (unsigned int)context->use_mki);
}

int mio_srtp_unprotect_rtcp(mio_srtp *context, void *packet, int *length) {
    if (context->own != NULL) return cm_srtp_unprotect_rtcp(context->own, packet, length) == 0 ? 0 : (int)srtp_err_status_auth_fail;
    return (int)srtp_unprotect_rtcp_mki(context->session, packet, length, (unsigned int)context->use_mki);
}

int mio_srtp_protect(mio_srtp *context, void *packet, int *length) {
    if (context->own != NULL) return (int)srtp_err_status_bad_param;  // receive only
    return (int)srtp_protect_mki(context->session, packet, length, (unsigned int)context->use_mki, 0);
}

int mio_srtp_protect_rtcp(mio_srtp *context, void *packet, int *length) {
    if (context->own != NULL) return (int)srtp_err_status_bad_param;
    return (int)srtp_protect_rtcp_mki(context->session, packet, length, (unsigned int)context->use_mki, 0);
}

void mio_srtp_destroy(mio_srtp *context) {
    if (context == NULL) return;
    if (context->own != NULL) {
        cm_srtp_destroy(context->own);
        free(context);
        return;
    }
    srtp_dealloc(context->session);
    free(context);
}
