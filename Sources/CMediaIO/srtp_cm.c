// SRTP and SRTCP receive for the AES counter-mode suites (RFC 3711 with RFC 6188's AES-256),
// on OpenSSL. Debian's libsrtp2 does its crypto through NSS, whose per-packet cost grows with
// the number of open sessions (decisions/0011); the recorder only ever decrypts, so the
// receive side of these suites is done here, and libsrtp2 keeps the AEAD suites and every
// sender (tests and the load generator encrypt with it, so each direction checks the other).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "srtp_cm.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define CM_STREAMS 8
#define CM_WINDOW 128

typedef struct {
    int used;
    uint32_t ssrc;
    int started;
    uint32_t roc;
    uint16_t highest_seq;
    uint64_t highest_index;
    uint64_t window[2];
    int rtcp_started;
    uint32_t rtcp_highest;
    uint64_t rtcp_window[2];
} cm_stream;

struct cm_srtp {
    int tag_length;
    int mki_length;
    unsigned char mki[128];
    EVP_CIPHER_CTX *rtp_cipher;
    EVP_CIPHER_CTX *rtcp_cipher;
    HMAC_CTX *rtp_hmac;
    HMAC_CTX *rtcp_hmac;
    unsigned char rtp_salt[14];
    unsigned char rtcp_salt[14];
    cm_stream streams[CM_STREAMS];
    int next_slot;
};

static const EVP_CIPHER *ctr_cipher(int key_length) {
    return key_length == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr();
}

// RFC 3711 §4.3: the AES-CM PRF keyed with the master key, at IV (master salt XOR label<<48)*2^16.
static int derive(const unsigned char *master_key, int key_length, const unsigned char *master_salt,
                  unsigned char label, unsigned char *out, int out_length) {
    unsigned char iv[16] = {0};
    memcpy(iv, master_salt, 14);
    iv[7] ^= label;
    unsigned char zeros[64] = {0};
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    int length = 0;
    int ok = context != NULL
        && EVP_EncryptInit_ex(context, ctr_cipher(key_length), NULL, master_key, iv) == 1
        && EVP_EncryptUpdate(context, out, &length, zeros, out_length) == 1;
    EVP_CIPHER_CTX_free(context);
    return ok ? 0 : -1;
}

static int setup_direction(const unsigned char *master_key, int key_length, const unsigned char *master_salt,
                           unsigned char first_label, EVP_CIPHER_CTX **cipher, HMAC_CTX **hmac, unsigned char *salt) {
    unsigned char session_key[32];
    unsigned char auth_key[20];
    if (derive(master_key, key_length, master_salt, first_label, session_key, key_length) != 0) return -1;
    if (derive(master_key, key_length, master_salt, first_label + 1, auth_key, 20) != 0) return -1;
    if (derive(master_key, key_length, master_salt, first_label + 2, salt, 14) != 0) return -1;
    *cipher = EVP_CIPHER_CTX_new();
    *hmac = HMAC_CTX_new();
    int ok = *cipher != NULL && *hmac != NULL
        && EVP_DecryptInit_ex(*cipher, ctr_cipher(key_length), NULL, session_key, NULL) == 1
        && HMAC_Init_ex(*hmac, auth_key, 20, EVP_sha1(), NULL) == 1;
    memset(session_key, 0, sizeof(session_key));
    memset(auth_key, 0, sizeof(auth_key));
    return ok ? 0 : -1;
}

cm_srtp *cm_srtp_create(int suite, const unsigned char *key, int key_length, const unsigned char *mki, int mki_length) {
    int master_length = (suite == 1 || suite == 2) ? 16 : (suite == 3 || suite == 4) ? 32 : 0;
    if (master_length == 0 || key_length != master_length + 14 || mki_length < 0 || mki_length > 128) return NULL;
    cm_srtp *context = calloc(1, sizeof(cm_srtp));
    if (context == NULL) return NULL;
    context->tag_length = (suite == 1 || suite == 3) ? 10 : 4;
    context->mki_length = mki_length;
    if (mki_length > 0) memcpy(context->mki, mki, (size_t)mki_length);
    if (setup_direction(key, master_length, key + master_length, 0x00, &context->rtp_cipher, &context->rtp_hmac, context->rtp_salt) != 0
        || setup_direction(key, master_length, key + master_length, 0x03, &context->rtcp_cipher, &context->rtcp_hmac, context->rtcp_salt) != 0) {
        cm_srtp_destroy(context);
        return NULL;
    }
    return context;
}

void cm_srtp_destroy(cm_srtp *context) {
    if (context == NULL) return;
    EVP_CIPHER_CTX_free(context->rtp_cipher);
    EVP_CIPHER_CTX_free(context->rtcp_cipher);
    HMAC_CTX_free(context->rtp_hmac);
    HMAC_CTX_free(context->rtcp_hmac);
    free(context);
}

static cm_stream *find_stream(cm_srtp *context, uint32_t ssrc) {
    for (int i = 0; i < CM_STREAMS; i++) {
        if (context->streams[i].used && context->streams[i].ssrc == ssrc) return &context->streams[i];
    }
    return NULL;
}

// State for a source not seen yet, kept aside until its packet authenticates.
static cm_stream *blank_stream(cm_stream *stream, uint32_t ssrc) {
    memset(stream, 0, sizeof(*stream));
    stream->ssrc = ssrc;
    return stream;
}

// Only a packet that authenticated may take a slot (the oldest goes when all are used), so
// forged packets with new SSRCs cannot push a real stream's state out.
static cm_stream *commit_stream(cm_srtp *context, const cm_stream *state) {
    cm_stream *slot = &context->streams[context->next_slot];
    context->next_slot = (context->next_slot + 1) % CM_STREAMS;
    *slot = *state;
    slot->used = 1;
    return slot;
}

// The truncated HMAC-SHA1 of `data` (and the ROC for SRTP) against `tag`; constant time.
static int check_tag(HMAC_CTX *hmac, const unsigned char *data, int length, const unsigned char *roc,
                     const unsigned char *tag, int tag_length) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    if (HMAC_Init_ex(hmac, NULL, 0, NULL, NULL) != 1 || HMAC_Update(hmac, data, (size_t)length) != 1) return -1;
    if (roc != NULL && HMAC_Update(hmac, roc, 4) != 1) return -1;
    if (HMAC_Final(hmac, digest, &digest_length) != 1) return -1;
    unsigned char difference = 0;
    for (int i = 0; i < tag_length; i++) difference |= (unsigned char)(digest[i] ^ tag[i]);
    return difference == 0 ? 0 : -1;
}

static int keystream(EVP_CIPHER_CTX *cipher, const unsigned char *salt, uint32_t ssrc, uint64_t index,
                     unsigned char *data, int length) {
    unsigned char iv[16] = {0};
    memcpy(iv, salt, 14);
    iv[4] ^= (unsigned char)(ssrc >> 24); iv[5] ^= (unsigned char)(ssrc >> 16);
    iv[6] ^= (unsigned char)(ssrc >> 8); iv[7] ^= (unsigned char)ssrc;
    for (int i = 0; i < 6; i++) iv[8 + i] ^= (unsigned char)(index >> (8 * (5 - i)));
    int written = 0;
    if (EVP_DecryptInit_ex(cipher, NULL, NULL, NULL, iv) != 1) return -1;
    return EVP_DecryptUpdate(cipher, data, &written, data, length) == 1 ? 0 : -1;
}

// A 128-packet replay window below the highest index seen.
static int seen_before(uint64_t highest, const uint64_t window[2], uint64_t index) {
    if (index > highest) return 0;
    uint64_t back = highest - index;
    if (back >= CM_WINDOW) return 1;
    return (int)((window[back / 64] >> (back % 64)) & 1);
}

static void mark(uint64_t *highest, uint64_t window[2], uint64_t index) {
    if (index > *highest) {
        uint64_t shift = index - *highest;
        if (shift >= CM_WINDOW) {
            window[0] = window[1] = 0;
        } else if (shift >= 64) {
            window[1] = window[0] << (shift - 64);
            window[0] = 0;
        } else {
            window[1] = (window[1] << shift) | (window[0] >> (64 - shift));
            window[0] <<= shift;
        }
        *highest = index;
        window[0] |= 1;
    } else {
        uint64_t back = *highest - index;
        window[back / 64] |= (uint64_t)1 << (back % 64);
    }
}

int cm_srtp_unprotect(cm_srtp *context, unsigned char *packet, int *length) {
    int total = *length;
    int trailer = context->tag_length + context->mki_length;
    if (total < 12 + trailer) return -1;
    int header = 12 + 4 * (packet[0] & 0x0F);
    if (packet[0] & 0x10) {
        if (header + 4 > total - trailer) return -1;
        header += 4 + 4 * ((packet[header + 2] << 8) | packet[header + 3]);
    }
    int authenticated = total - trailer;
    if (header > authenticated) return -1;
    if (context->mki_length > 0 && memcmp(packet + authenticated, context->mki, (size_t)context->mki_length) != 0) return -1;
    uint16_t seq = (uint16_t)((packet[2] << 8) | packet[3]);
    uint32_t ssrc = ((uint32_t)packet[8] << 24) | ((uint32_t)packet[9] << 16) | ((uint32_t)packet[10] << 8) | packet[11];
    cm_stream fresh;
    cm_stream *known = find_stream(context, ssrc);
    cm_stream *stream = known != NULL ? known : blank_stream(&fresh, ssrc);
    // RFC 3711 §3.3.1: the rollover counter this packet most likely belongs to.
    uint32_t roc = stream->roc;
    if (stream->started) {
        if (stream->highest_seq < 32768) {
            if ((int)seq - (int)stream->highest_seq > 32768 && roc > 0) roc -= 1;
        } else if ((int)stream->highest_seq - 32768 > (int)seq) {
            roc += 1;
        }
    }
    uint64_t index = ((uint64_t)roc << 16) | seq;
    if (stream->started && seen_before(stream->highest_index, stream->window, index)) return -2;
    unsigned char roc_bytes[4] = { (unsigned char)(roc >> 24), (unsigned char)(roc >> 16), (unsigned char)(roc >> 8), (unsigned char)roc };
    if (check_tag(context->rtp_hmac, packet, authenticated, roc_bytes, packet + total - context->tag_length, context->tag_length) != 0) return -3;
    if (keystream(context->rtp_cipher, context->rtp_salt, ssrc, index, packet + header, authenticated - header) != 0) return -4;
    if (known == NULL) stream = commit_stream(context, &fresh);
    if (!stream->started) {
        stream->started = 1;
        stream->roc = roc;
        stream->highest_seq = seq;
        stream->highest_index = index;
        stream->window[0] = 1;
        stream->window[1] = 0;
    } else {
        if (index > stream->highest_index) {
            stream->roc = roc;
            stream->highest_seq = seq;
        }
        mark(&stream->highest_index, stream->window, index);
    }
    *length = authenticated;
    return 0;
}

int cm_srtp_unprotect_rtcp(cm_srtp *context, unsigned char *packet, int *length) {
    int total = *length;
    int trailer = 4 + context->mki_length + 10;  // E|index, MKI, and always an 80-bit tag
    if (total < 8 + trailer) return -1;
    int authenticated = total - context->mki_length - 10;
    if (context->mki_length > 0 && memcmp(packet + authenticated, context->mki, (size_t)context->mki_length) != 0) return -1;
    if (check_tag(context->rtcp_hmac, packet, authenticated, NULL, packet + total - 10, 10) != 0) return -3;
    const unsigned char *word = packet + authenticated - 4;
    int encrypted = (word[0] & 0x80) != 0;
    uint32_t index = (((uint32_t)word[0] & 0x7F) << 24) | ((uint32_t)word[1] << 16) | ((uint32_t)word[2] << 8) | word[3];
    uint32_t ssrc = ((uint32_t)packet[4] << 24) | ((uint32_t)packet[5] << 16) | ((uint32_t)packet[6] << 8) | packet[7];
    cm_stream fresh;
    cm_stream *known = find_stream(context, ssrc);
    cm_stream *stream = known != NULL ? known : blank_stream(&fresh, ssrc);
    uint64_t highest = stream->rtcp_highest;
    if (stream->rtcp_started && seen_before(highest, stream->rtcp_window, index)) return -2;
    if (encrypted && keystream(context->rtcp_cipher, context->rtcp_salt, ssrc, index, packet + 8, authenticated - 4 - 8) != 0) return -4;
    if (known == NULL) stream = commit_stream(context, &fresh);
    if (!stream->rtcp_started) {
        stream->rtcp_started = 1;
        highest = index;
        stream->rtcp_window[0] = 1;
        stream->rtcp_window[1] = 0;
    } else {
        mark(&highest, stream->rtcp_window, index);
    }
    stream->rtcp_highest = (uint32_t)highest;
    *length = authenticated - 4;
    return 0;
}
