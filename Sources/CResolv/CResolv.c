#include "CResolv.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

cresolv_result cresolv_query(const char *name, int type, const cresolv_options *options,
                             unsigned char *answer, int answer_capacity) {
    cresolv_result result = { CRESOLV_INTERNAL, 0, 0, 0 };
    if (name == NULL || options == NULL || answer == NULL || answer_capacity < HFIXEDSZ) {
        return result;
    }
    struct __res_state state;
    memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) {
        result.os_error = errno;
        return result;
    }
    if (options->server_ipv4 != NULL) {
        struct sockaddr_in server;
        memset(&server, 0, sizeof server);
        server.sin_family = AF_INET;
        server.sin_port = htons((uint16_t)(options->server_port > 0 ? options->server_port : NAMESERVER_PORT));
        if (inet_pton(AF_INET, options->server_ipv4, &server.sin_addr) != 1) {
            res_nclose(&state);
            return result;
        }
        // glibc uses nsaddr_list[n] when its family is set, in place of a resolv.conf entry.
        state.nscount = 1;
        state.nsaddr_list[0] = server;
    }
    state.retrans = options->timeout_seconds > 0 ? options->timeout_seconds : 1;
    state.retry = options->attempts > 0 ? options->attempts : 1;
    state.options &= ~(unsigned long)RES_ROTATE;

    memset(answer, 0, (size_t)answer_capacity);
    errno = 0;
    int length = res_nquery(&state, name, ns_c_in, type, answer, answer_capacity);
    int saved_errno = errno;
    result.h_error = state.res_h_errno;
    result.os_error = saved_errno;
    res_nclose(&state);

    if (length >= 0) {
        if (length > answer_capacity) {
            // res_nquery reports the full size of a message that did not fit.
            result.status = CRESOLV_NO_RECOVERY;
            return result;
        }
        result.status = CRESOLV_OK;
        result.length = length;
        return result;
    }
    // The response, when there was one, is in the buffer: its QR bit is set.
    int has_response = (answer[2] & 0x80) != 0;
    switch (result.h_error) {
    case HOST_NOT_FOUND:
        result.status = CRESOLV_NXDOMAIN;
        result.length = has_response ? answer_capacity : 0;
        break;
    case NO_DATA:
        result.status = CRESOLV_NO_DATA;
        result.length = has_response ? answer_capacity : 0;
        break;
    case TRY_AGAIN:
        result.status = (saved_errno == ETIMEDOUT || saved_errno == ECONNREFUSED) && !has_response
            ? CRESOLV_TIMEOUT : CRESOLV_TRY_AGAIN;
        break;
    case NO_RECOVERY:
        result.status = CRESOLV_NO_RECOVERY;
        break;
    default:
        result.status = saved_errno == ETIMEDOUT ? CRESOLV_TIMEOUT : CRESOLV_NO_RECOVERY;
        break;
    }
    return result;
}
