import Foundation

/// Peaks of a WAV file for drawing: per channel, `points` (min, max) pairs over equal slices.
/// Reads 16-bit PCM, µ-law and A-law WAV (the formats siprecd writes as WAV).
public enum Waveform {
    public struct Peaks: Sendable {
        public var sampleRate: Int
        public var seconds: Double
        public var channels: [[(min: Float, max: Float)]]
    }

    public struct ReadError: Error {}

    public static func peaks(of url: URL, points: Int) throws -> Peaks {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        guard let header = try handle.read(upToCount: 12), header.count == 12,
              header.prefix(4) == Data("RIFF".utf8), header.suffix(4) == Data("WAVE".utf8) else { throw ReadError() }
        var format = 0, channels = 0, sampleRate = 0, bits = 0
        var dataOffset: UInt64 = 0, dataLength = 0
        var offset: UInt64 = 12
        while dataOffset == 0 {
            try handle.seek(toOffset: offset)
            guard let chunk = try handle.read(upToCount: 8), chunk.count == 8 else { throw ReadError() }
            let bytes = [UInt8](chunk)
            let size = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
            let id = String(decoding: bytes[0..<4], as: UTF8.self)
            if id == "fmt " {
                guard let body = try handle.read(upToCount: min(size, 64)), body.count >= 16 else { throw ReadError() }
                let f = [UInt8](body)
                format = Int(f[0]) | Int(f[1]) << 8
                channels = Int(f[2]) | Int(f[3]) << 8
                sampleRate = Int(f[4]) | Int(f[5]) << 8 | Int(f[6]) << 16 | Int(f[7]) << 24
                bits = Int(f[14]) | Int(f[15]) << 8
            } else if id == "data" {
                dataOffset = offset + 8
                dataLength = size
            }
            offset += 8 + UInt64(size) + UInt64(size & 1)
        }
        let bytesPerSample = bits / 8
        guard channels > 0, channels <= 16, sampleRate > 0,
              (format == 1 && bits == 16) || ((format == 6 || format == 7) && bits == 8) else { throw ReadError() }
        // A file still growing in the spool may say 0 or more than it has.
        let available = Int(AudioPath.size(url)) - Int(dataOffset)
        if dataLength == 0 || dataLength > available { dataLength = max(0, available) }
        let frames = dataLength / (bytesPerSample * channels)
        var peaks = Array(repeating: Array(repeating: (min: Float(0), max: Float(0)), count: points), count: channels)
        try handle.seek(toOffset: dataOffset)
        var frame = 0
        let chunkFrames = 16_384
        while frame < frames {
            let count = min(chunkFrames, frames - frame)
            guard let data = try handle.read(upToCount: count * bytesPerSample * channels), !data.isEmpty else { break }
            let bytes = [UInt8](data)
            let got = bytes.count / (bytesPerSample * channels)
            for index in 0..<got {
                let slice = min(points - 1, (frame + index) * points / max(frames, 1))
                for channel in 0..<channels {
                    let position = (index * channels + channel) * bytesPerSample
                    let value: Float
                    switch format {
                    case 1: value = Float(Int16(bitPattern: UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8)) / 32768
                    case 7: value = Float(ulaw(bytes[position])) / 32768
                    default: value = Float(alaw(bytes[position])) / 32768
                    }
                    if value < peaks[channel][slice].min { peaks[channel][slice].min = value }
                    if value > peaks[channel][slice].max { peaks[channel][slice].max = value }
                }
            }
            frame += got
        }
        return Peaks(sampleRate: sampleRate, seconds: Double(frames) / Double(sampleRate), channels: peaks)
    }

    static func ulaw(_ byte: UInt8) -> Int16 {
        let value = ~byte
        let sign = value & 0x80
        let exponent = Int((value >> 4) & 0x07)
        let mantissa = Int(value & 0x0F)
        let magnitude = ((mantissa << 3) + 0x84) << exponent
        return Int16(sign != 0 ? 0x84 - magnitude : magnitude - 0x84)
    }

    static func alaw(_ byte: UInt8) -> Int16 {
        let value = byte ^ 0x55
        let exponent = Int((value >> 4) & 0x07)
        let mantissa = Int(value & 0x0F)
        let magnitude = exponent == 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1)
        return Int16(value & 0x80 != 0 ? magnitude : -magnitude)
    }
}
