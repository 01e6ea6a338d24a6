#include "CMediaIO.h"

#include <stdlib.h>
#include <string.h>
#include <bcg729/decoder.h>
#include <opus/opus.h>
#include <spandsp/telephony.h>
#include <spandsp/bitstream.h>
#include <spandsp/g722.h>
#include <spandsp/g726.h>

struct mio_decoder {
    int codec;
    g722_decode_state_t *g722;
    g726_state_t *g726;
    bcg729DecoderChannelContextStruct *g729;
    OpusDecoder *opus;
};

mio_decoder *mio_decoder_create(int codec, int bitrate, int packing) {
    mio_decoder *decoder = calloc(1, sizeof(mio_decoder));
    if (decoder == NULL) return NULL;
    decoder->codec = codec;
    int error = 0;
    switch (codec) {
    case 1: decoder->g722 = g722_decode_init(NULL, 64000, G722_SAMPLE_RATE_8000); break;
    case 2: decoder->g729 = initBcg729DecoderChannel(); break;
    case 3: decoder->g726 = g726_init(NULL, bitrate, G726_ENCODING_LINEAR, packing == 1 ? G726_PACKING_LEFT : G726_PACKING_RIGHT); break;
    case 4: decoder->opus = opus_decoder_create(8000, 1, &error); break;
    default: break;
    }
    if (decoder->g722 == NULL && decoder->g729 == NULL && decoder->g726 == NULL && decoder->opus == NULL) {
        free(decoder);
        return NULL;
    }
    return decoder;
}

int mio_decoder_decode(mio_decoder *decoder, const uint8_t *payload, int length, int16_t *out, int capacity) {
    if (length <= 0 || capacity <= 0) return -1;
    switch (decoder->codec) {
    case 1:
        // At 8 kHz output each byte (two 16 kHz samples' worth) gives one sample.
        if (length > capacity) length = capacity;
        return g722_decode(decoder->g722, out, payload, length);
    case 2: {
        // RFC 3551 §4.5.6: 10-byte frames of 10 ms, then an optional 2-byte Annex B SID frame.
        int written = 0;
        int offset = 0;
        while (length - offset >= 10 && written + 80 <= capacity) {
            bcg729Decoder(decoder->g729, payload + offset, 10, 0, 0, 0, out + written);
            offset += 10;
            written += 80;
        }
        if (length - offset == 2 && written + 80 <= capacity) {
            bcg729Decoder(decoder->g729, payload + offset, 2, 0, 1, 0, out + written);
            written += 80;
        }
        return written;
    }
    case 3: {
        // Code words of bitrate/8000 bits: at most 8/2 = 4 samples per byte.
        int most = capacity / 4;
        if (length > most) length = most;
        return g726_decode(decoder->g726, out, payload, length);
    }
    case 4: {
        int samples = opus_decode(decoder->opus, payload, length, out, capacity, 0);
        return samples < 0 ? -1 : samples;
    }
    default:
        return -1;
    }
}

void mio_decoder_destroy(mio_decoder *decoder) {
    if (decoder == NULL) return;
    if (decoder->g722) g722_decode_free(decoder->g722);
    if (decoder->g726) g726_free(decoder->g726);
    if (decoder->g729) closeBcg729DecoderChannel(decoder->g729);
    if (decoder->opus) opus_decoder_destroy(decoder->opus);
    free(decoder);
}

#include <bcg729/encoder.h>

struct mio_encoder {
    int codec;
    int bits;
    g722_encode_state_t *g722;
    g726_state_t *g726;
    bcg729EncoderChannelContextStruct *g729;
    OpusEncoder *opus;
};

mio_encoder *mio_encoder_create(int codec, int bitrate, int packing) {
    mio_encoder *encoder = calloc(1, sizeof(mio_encoder));
    if (encoder == NULL) return NULL;
    encoder->codec = codec;
    int error = 0;
    switch (codec) {
    case 1: encoder->g722 = g722_encode_init(NULL, 64000, G722_SAMPLE_RATE_8000); break;
    case 2: encoder->g729 = initBcg729EncoderChannel(0); break;
    case 3:
        encoder->bits = bitrate / 8000;
        encoder->g726 = g726_init(NULL, bitrate, G726_ENCODING_LINEAR, packing == 1 ? G726_PACKING_LEFT : G726_PACKING_RIGHT);
        break;
    case 4: encoder->opus = opus_encoder_create(8000, 1, OPUS_APPLICATION_VOIP, &error); break;
    default: break;
    }
    if (encoder->g722 == NULL && encoder->g729 == NULL && encoder->g726 == NULL && encoder->opus == NULL) {
        free(encoder);
        return NULL;
    }
    return encoder;
}

int mio_encoder_encode(mio_encoder *encoder, const int16_t *samples, int count, uint8_t *out, int capacity) {
    switch (encoder->codec) {
    case 1:
        if (count > capacity) return -1;
        return g722_encode(encoder->g722, out, samples, count);
    case 2: {
        if (count % 80 != 0 || count / 8 > capacity) return -1;
        int written = 0;
        for (int offset = 0; offset < count; offset += 80) {
            uint8_t length = 0;
            bcg729Encoder(encoder->g729, samples + offset, out + written, &length);
            written += length;
        }
        return written;
    }
    case 3:
        if ((long)count * encoder->bits / 8 > capacity) return -1;
        return g726_encode(encoder->g726, out, samples, count);
    case 4: {
        int bytes = opus_encode(encoder->opus, samples, count, out, capacity);
        return bytes < 0 ? -1 : bytes;
    }
    default:
        return -1;
    }
}

void mio_encoder_destroy(mio_encoder *encoder) {
    if (encoder == NULL) return;
    if (encoder->g722) g722_encode_free(encoder->g722);
    if (encoder->g726) g726_free(encoder->g726);
    if (encoder->g729) closeBcg729EncoderChannel(encoder->g729);
    if (encoder->opus) opus_encoder_destroy(encoder->opus);
    free(encoder);
}
