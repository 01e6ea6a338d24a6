#include "CMediaIO.h"

#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int target_format(int format) {
    switch (format) {
    case 1: return SF_FORMAT_WAV | SF_FORMAT_ULAW;
    case 2: return SF_FORMAT_WAV | SF_FORMAT_ALAW;
    case 3: return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    case 4: return SF_FORMAT_OGG | SF_FORMAT_OPUS;
    case 5: return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    default: return 0;
    }
}

int mio_convert_audio(const char *source, const char *destination, int format, char *error, int error_capacity) {
    SF_INFO in_info;
    memset(&in_info, 0, sizeof(in_info));
    SNDFILE *in = sf_open(source, SFM_READ, &in_info);
    if (in == NULL) {
        snprintf(error, (size_t)error_capacity, "reading %s: %s", source, sf_strerror(NULL));
        return -1;
    }
    SF_INFO out_info;
    memset(&out_info, 0, sizeof(out_info));
    out_info.samplerate = in_info.samplerate;
    out_info.channels = in_info.channels;
    out_info.format = target_format(format);
    if (out_info.format == 0 || !sf_format_check(&out_info)) {
        snprintf(error, (size_t)error_capacity, "this libsndfile cannot write format %d", format);
        sf_close(in);
        return -1;
    }
    SNDFILE *out = sf_open(destination, SFM_WRITE, &out_info);
    if (out == NULL) {
        snprintf(error, (size_t)error_capacity, "writing %s: %s", destination, sf_strerror(NULL));
        sf_close(in);
        return -1;
    }
    short buffer[8192];
    int result = 0;
    for (;;) {
        sf_count_t frames = sf_readf_short(in, buffer, 8192 / in_info.channels);
        if (frames <= 0) break;
        if (sf_writef_short(out, buffer, frames) != frames) {
            snprintf(error, (size_t)error_capacity, "writing %s: %s", destination, sf_strerror(out));
            result = -1;
            break;
        }
    }
    sf_close(in);
    if (sf_close(out) != 0 && result == 0) {
        snprintf(error, (size_t)error_capacity, "closing %s failed", destination);
        result = -1;
    }
    if (result == 0) {
        int fd = open(destination, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { fsync(fd); close(fd); }
    }
    return result;
}
