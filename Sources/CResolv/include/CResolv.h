// One DNS query through glibc's stub resolver with a private resolver state (res_ninit /
// res_nquery / res_nclose), so concurrent queries on different threads share nothing and the
// process-wide _res is never touched. The name server can be overridden (IPv4 address and
// port) so tests can point it at a private dnsmasq.
#ifndef CRESOLV_H
#define CRESOLV_H

#include <stdint.h>
#include <stddef.h>

/// Query types the locator asks for.
#define CRESOLV_TYPE_A 1
#define CRESOLV_TYPE_SRV 33
#define CRESOLV_TYPE_NAPTR 35
#define CRESOLV_TYPE_AAAA 28

/// Outcomes of one query.
typedef enum cresolv_status {
    /// An answer with at least one record; `length` bytes of `answer` hold the message.
    CRESOLV_OK = 0,
    /// The name does not exist (RCODE NXDOMAIN, h_errno HOST_NOT_FOUND).
    CRESOLV_NXDOMAIN = 1,
    /// The name exists but has no record of this type (h_errno NO_DATA).
    CRESOLV_NO_DATA = 2,
    /// No answer in time (h_errno TRY_AGAIN with errno ETIMEDOUT or ECONNREFUSED).
    CRESOLV_TIMEOUT = 3,
    /// A temporary failure: SERVFAIL or the like (h_errno TRY_AGAIN).
    CRESOLV_TRY_AGAIN = 4,
    /// A permanent failure: FORMERR, REFUSED, NOTIMP, a malformed answer (NO_RECOVERY).
    CRESOLV_NO_RECOVERY = 5,
    /// Bad arguments or the resolver state could not be initialised.
    CRESOLV_INTERNAL = 6,
} cresolv_status;

typedef struct cresolv_options {
    /// Dotted IPv4 address of the only name server to ask, or NULL for /etc/resolv.conf's.
    const char *server_ipv4;
    /// Its UDP/TCP port (53 when 0). Ignored without `server_ipv4`.
    int server_port;
    /// Seconds to wait for each attempt (at least 1; glibc counts in whole seconds).
    int timeout_seconds;
    /// Attempts per name server (at least 1).
    int attempts;
} cresolv_options;

typedef struct cresolv_result {
    cresolv_status status;
    /// Bytes of the response written to the answer buffer. For CRESOLV_OK the exact length;
    /// for CRESOLV_NXDOMAIN / CRESOLV_NO_DATA the response is in the buffer too (its SOA
    /// gives the negative TTL) and `length` is the buffer size (the message's own counts say
    /// where it ends); 0 when the buffer holds no response.
    int length;
    /// h_errno as the resolver left it (for diagnostics).
    int h_error;
    /// errno after the call (for diagnostics).
    int os_error;
} cresolv_result;

/// Runs one query for `name` (absolute; no search list is applied) of class IN and `type`.
/// Blocks for up to timeout_seconds * attempts. Thread-safe.
cresolv_result cresolv_query(const char *name, int type, const cresolv_options *options,
                             unsigned char *answer, int answer_capacity);

#endif
