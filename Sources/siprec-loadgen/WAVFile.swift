import Foundation

/// A RIFF/WAVE file of 16-bit linear PCM, read whole.
struct WAVFile {
    enum ReadError: Error, CustomStringConvertible {
        case unreadable(String)
        case notWAVE
        case missingChunk(String)
        case unsupported(String)

        var description: String {
            switch self {
            case .unreadable(let path): "cannot read \(path)"
            case .notWAVE: "not a RIFF/WAVE file"
            case .missingChunk(let id): "no '\(id)' chunk"
            case .unsupported(let what): "unsupported format: \(what)"
            }
        }
    }

    var sampleRate: Int
    var channels: Int
    /// Interleaved samples, scaled to -1...1.
    var samples: [Float]

    var frames: Int { channels > 0 ? samples.count / channels : 0 }
    var seconds: Double { sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0 }

    func channel(_ index: Int) -> [Float] {
        stride(from: index, to: samples.count, by: channels).map { samples[$0] }
    }

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReadError.unreadable(path) }
        try self.init(bytes: [UInt8](data))
    }

    /// Walks the chunks (`fmt `, then anything such as `LIST` or `fact`, then `data`), each
    /// padded to an even size. A `data` size of 0 or 0xFFFFFFFF, or one past the end of the
    /// file, means a writer that never patched the header: the rest of the file is the audio.
    init(bytes: [UInt8]) throws {
        func u16(_ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 }
        func u32(_ offset: Int) -> Int { u16(offset) | u16(offset + 2) << 16 }
        func id(_ offset: Int) -> String { String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self) }

        guard bytes.count >= 12, id(0) == "RIFF", id(8) == "WAVE" else { throw ReadError.notWAVE }
        var format: (channels: Int, rate: Int, bits: Int)?
        var offset = 12
        while offset + 8 <= bytes.count {
            let chunk = id(offset)
            let size = u32(offset + 4)
            let body = offset + 8
            switch chunk {
            case "fmt ":
                guard size >= 16, body + 16 <= bytes.count else { throw ReadError.unsupported("short fmt chunk") }
                var tag = u16(body)
                if tag == 0xFFFE, size >= 40, body + 26 <= bytes.count { tag = u16(body + 24) }  // WAVE_FORMAT_EXTENSIBLE: sub-format
                guard tag == 1 else { throw ReadError.unsupported("format tag \(tag)") }
                format = (u16(body + 2), u32(body + 4), u16(body + 14))
            case "data":
                guard let format else { throw ReadError.missingChunk("fmt ") }
                guard format.bits == 16, format.channels > 0 else { throw ReadError.unsupported("\(format.bits)-bit, \(format.channels) channels") }
                var length = size
                if length == 0 || length == 0xFFFF_FFFF || body + length > bytes.count { length = bytes.count - body }
                length -= length % (2 * format.channels)
                sampleRate = format.rate
                channels = format.channels
                samples = [Float](unsafeUninitializedCapacity: length / 2) { buffer, count in
                    for index in 0..<(length / 2) {
                        let raw = UInt16(bytes[body + 2 * index]) | UInt16(bytes[body + 2 * index + 1]) << 8
                        buffer[index] = Float(Int16(bitPattern: raw)) / 32768
                    }
                    count = length / 2
                }
                return
            default:
                break
            }
            offset = body + size + (size & 1)
        }
        throw ReadError.missingChunk(format == nil ? "fmt " : "data")
    }
}
