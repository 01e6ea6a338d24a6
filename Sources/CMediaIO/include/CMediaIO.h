// Thin wrappers over the Linux calls the media receive path needs (epoll, recvmmsg, eventfd,
// monotonic time), so the Swift side gets one call per batch instead of hand-built msghdrs.
#ifndef CMEDIAIO_H
#define CMEDIAIO_H

#include <stdint.h>
#include <stddef.h>

#define MIO_BATCH 64
#define MIO_PACKET_BYTES 2048

/// Receive buffers for one recvmmsg call, allocated once per receive thread.
typedef struct mio_batch {
    unsigned char data[MIO_BATCH][MIO_PACKET_BYTES];
    int lengths[MIO_BATCH];
    /// When each datagram was received (monotonic ns, from the kernel's stamp where the socket
    /// has SO_TIMESTAMPNS; 0 where it gave none).
    uint64_t arrivals[MIO_BATCH];
    void *internal; // the mmsghdr/iovec arrays, owned by mio_batch_create
} mio_batch;

mio_batch *mio_batch_create(void);
void mio_batch_destroy(mio_batch *batch);

/// Reads up to MIO_BATCH datagrams without blocking. Returns how many (0 when none are
/// waiting), or -errno. Truncated datagrams get length -1.
int mio_recv_batch(int fd, mio_batch *batch);

/// A non-blocking UDP socket bound to host:port (IPv4 or IPv6 literal, "" for any IPv4).
/// Returns the descriptor or -errno.
int mio_udp_bind(const char *host, int port, int receive_buffer_bytes);

/// The port a socket is bound to, or -errno.
int mio_local_port(int fd);
/// Reads and drops what waits on a non-blocking socket (at most 4,096 datagrams); returns how many.
int mio_udp_discard(int fd);

int mio_epoll_create(void);
int mio_epoll_add(int epoll_fd, int fd, uint64_t token);
int mio_epoll_remove(int epoll_fd, int fd);
/// Waits up to timeout_ms; writes the ready descriptors' tokens. Returns the count or -errno.
int mio_epoll_wait(int epoll_fd, uint64_t *tokens, int max_events, int timeout_ms);

int mio_eventfd_create(void);
void mio_eventfd_signal(int fd);
void mio_eventfd_drain(int fd);

uint64_t mio_monotonic_ns(void);

/// SHA-256 of a whole file (OpenSSL), as 64 lowercase hex digits plus NUL in `hex`.
/// Returns 0, or -errno.
int mio_sha256_file(const char *path, char hex[65]);
void mio_close(int fd);

/// SRTP (RFC 3711) through libsrtp2, SDES-keyed (RFC 4568). Suites, by number:
/// 1 AES_CM_128_HMAC_SHA1_80, 2 AES_CM_128_HMAC_SHA1_32, 3 AES_256_CM_HMAC_SHA1_80,
/// 4 AES_256_CM_HMAC_SHA1_32, 5 AEAD_AES_128_GCM, 6 AEAD_AES_256_GCM.
typedef struct mio_srtp mio_srtp;

/// Key and salt lengths together, in bytes, for a suite (0: unknown suite).
int mio_srtp_key_length(int suite);
/// A receive (or, for tests and the load generator, send) context for any SSRC. `mki` may be
/// NULL. Returns NULL and sets *error to libsrtp's status on failure.
mio_srtp *mio_srtp_create(int suite, const unsigned char *key, int key_length,
                          const unsigned char *mki, int mki_length, int outbound, int *error);
/// Verifies and decrypts in place; *length shrinks by the tag (and MKI). 0 or libsrtp's status.
int mio_srtp_unprotect(mio_srtp *context, void *packet, int *length);
int mio_srtp_unprotect_rtcp(mio_srtp *context, void *packet, int *length);
/// Encrypts in place; `packet` needs 148 spare bytes after *length.
int mio_srtp_protect(mio_srtp *context, void *packet, int *length);
int mio_srtp_protect_rtcp(mio_srtp *context, void *packet, int *length);
void mio_srtp_destroy(mio_srtp *context);

/// Converts a finished spool WAV into another format through libsndfile: 1 WAV µ-law,
/// 2 WAV A-law, 3 FLAC, 4 Ogg/Opus, 5 MP3. Writes `destination` (then synced). Returns 0, or
/// -1 with a message in `error` (NUL-terminated, at most `error_capacity` bytes).
int mio_convert_audio(const char *source, const char *destination, int format, char *error, int error_capacity);

/// Stateful audio decoders, all producing 16-bit samples at 8 kHz. Codecs: 1 G.722 (spandsp,
/// decoded at 8 kHz), 2 G.729 / Annex B (bcg729), 3 G.726 (spandsp; `bitrate` 16000-40000,
/// `packing` 0 RFC 3551 (first code word in the low bits), 1 AAL2 / I.366.2 (high bits first)),
/// 4 Opus (libopus, mono at 8 kHz).
typedef struct mio_decoder mio_decoder;
mio_decoder *mio_decoder_create(int codec, int bitrate, int packing);
/// Decodes one payload; returns the samples written (at most `capacity`), or -1.
int mio_decoder_decode(mio_decoder *decoder, const uint8_t *payload, int length, int16_t *out, int capacity);
void mio_decoder_destroy(mio_decoder *decoder);

/// The matching encoders (8 kHz input), for the load generator and tests.
typedef struct mio_encoder mio_encoder;
mio_encoder *mio_encoder_create(int codec, int bitrate, int packing);
/// Encodes `count` samples (a whole packet: a multiple of 80 for G.729); returns the bytes
/// written (at most `capacity`), or -1.
int mio_encoder_encode(mio_encoder *encoder, const int16_t *samples, int count, uint8_t *out, int capacity);
void mio_encoder_destroy(mio_encoder *encoder);

#endif
