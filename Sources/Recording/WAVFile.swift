import Foundation

/// The spool's file format: RIFF/WAVE, PCM 16-bit, with a `sprc` chunk before `data` that
/// names the recording (players skip chunks they do not know). While a call is live the RIFF
/// and data sizes are placeholders; `finish` or crash repair writes the real ones from the
/// file's length, so a file cut short by a crash is repaired to its last whole frame.
public enum WAVFile {
    /// What the `sprc` chunk carries: enough to put a recovered file where it belongs.
    public struct Info: Codable, Sendable, Equatable {
        public var recordingID: String
        public var startedAt: Date
        public var callID: String
        /// Who was on the call (caller first), for archive names: the user part of each AOR.
        public var parties: [String]?
        /// For one file per stream: the channel of the call's file this one was split from.
        public var channel: Int?
        public init(recordingID: String, startedAt: Date, callID: String, parties: [String]? = nil, channel: Int? = nil) {
            self.recordingID = recordingID
            self.startedAt = startedAt
            self.callID = callID
            self.parties = parties
            self.channel = channel
        }
    }

    public struct Layout: Sendable, Equatable {
        public var channels: Int
        public var sampleRate: Int
        public var bitsPerSample: Int
        /// Where the samples start, and where the data chunk's size field is.
        public var dataOffset: Int
        public var info: Info?
        public var blockAlign: Int { channels * bitsPerSample / 8 }
    }

    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public var problem: String
        public var description: String { "WAV: \(problem)" }
    }

    static let infoChunkID = "sprc"

    /// The header, with zero sizes, for a PCM 16-bit file.
    public static func header(channels: Int, sampleRate: Int, info: Info) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        var infoBytes = Array((try? encoder.encode(info)) ?? Data())
        if infoBytes.count % 2 == 1 { infoBytes.append(0x20) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(44 + 8 + infoBytes.count)
        bytes += Array("RIFF".utf8); append32(0, to: &bytes); bytes += Array("WAVE".utf8)
        bytes += Array("fmt ".utf8); append32(16, to: &bytes)
        append16(1, to: &bytes)  // PCM
        append16(UInt16(channels), to: &bytes)
        append32(UInt32(sampleRate), to: &bytes)
        append32(UInt32(sampleRate * channels * 2), to: &bytes)
        append16(UInt16(channels * 2), to: &bytes)
        append16(16, to: &bytes)
        bytes += Array(infoChunkID.utf8); append32(UInt32(infoBytes.count), to: &bytes); bytes += infoBytes
        bytes += Array("data".utf8); append32(0, to: &bytes)
        return bytes
    }

    /// Reads the chunks up to `data` from the start of a file.
    public static func layout(of prefix: [UInt8]) throws(FormatError) -> Layout {
        guard prefix.count >= 12, String(decoding: prefix[0..<4], as: UTF8.self) == "RIFF",
              String(decoding: prefix[8..<12], as: UTF8.self) == "WAVE" else { throw FormatError(problem: "not RIFF/WAVE") }
        var offset = 12
        var format: (channels: Int, rate: Int, bits: Int)?
        var info: Info?
        while offset + 8 <= prefix.count {
            let id = String(decoding: prefix[offset..<(offset + 4)], as: UTF8.self)
            let size = Int(read32(prefix, at: offset + 4))
            let body = offset + 8
            switch id {
            case "fmt ":
                guard size >= 16, body + 16 <= prefix.count else { throw FormatError(problem: "short fmt chunk") }
                let code = read16(prefix, at: body)
                guard code == 1 else { throw FormatError(problem: "not PCM") }
                format = (Int(read16(prefix, at: body + 2)), Int(read32(prefix, at: body + 4)), Int(read16(prefix, at: body + 14)))
            case infoChunkID:
                if body + size <= prefix.count {
                    let decoder = JSONDecoder()
                    decoder.dateDecodingStrategy = .iso8601
                    let json = prefix[body..<(body + size)]
                    info = try? decoder.decode(Info.self, from: Data(json))
                }
            case "data":
                guard let format, format.channels > 0, format.bits == 16 else { throw FormatError(problem: "data before a PCM 16-bit fmt chunk") }
                return Layout(channels: format.channels, sampleRate: format.rate, bitsPerSample: format.bits, dataOffset: body, info: info)
            default:
                break
            }
            offset = body + size + (size % 2)
        }
        throw FormatError(problem: "no data chunk")
    }

    /// Writes the real sizes for a file of `fileLength` bytes and returns the length it must
    /// be cut to (a crash can leave half a frame at the end).
    public static func finalize(fd: Int32, layout: Layout, fileLength: Int) throws -> Int {
        let data = max(0, fileLength - layout.dataOffset)
        let whole = data - data % max(1, layout.blockAlign)
        let length = layout.dataOffset + whole
        if length != fileLength, ftruncate(fd, off_t(length)) != 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var riff: [UInt8] = []
        append32(UInt32(clamping: length - 8), to: &riff)
        var dataSize: [UInt8] = []
        append32(UInt32(clamping: whole), to: &dataSize)
        guard pwrite(fd, riff, 4, 4) == 4, pwrite(fd, dataSize, 4, off_t(layout.dataOffset - 4)) == 4 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        return length
    }

    static func append16(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(value & 0xFF)); bytes.append(UInt8(value >> 8))
    }

    static func append32(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }

    static func read16(_ bytes: [UInt8], at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    static func read32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}
