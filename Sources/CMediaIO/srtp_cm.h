#ifndef SRTP_CM_H
#define SRTP_CM_H
// Internal to CMediaIO: SRTP/SRTCP receive for the AES-CM suites on OpenSSL (srtp_cm.c).
typedef struct cm_srtp cm_srtp;
cm_srtp *cm_srtp_create(int suite, const unsigned char *key, int key_length, const unsigned char *mki, int mki_length);
void cm_srtp_destroy(cm_srtp *context);
/// 0, or negative: -1 malformed, -2 replayed, -3 authentication failed, -4 cipher error.
int cm_srtp_unprotect(cm_srtp *context, unsigned char *packet, int *length);
int cm_srtp_unprotect_rtcp(cm_srtp *context, unsigned char *packet, int *length);
#endif
