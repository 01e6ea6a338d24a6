import Media
import NIOCore
import SDP
import SIPCore
import SIPRECMetadata

/// Feeds arbitrary bytes to every parser that sees network input: the datagram parser, the
/// stream framer (whole and split in two), URI/address/Via parsing of what parsed, the
/// multipart splitter, the SDP parser and the RFC 7865 metadata parser (the whole input, and
/// the parts of a parsed message's body), the RTP parser and the stream capture. Any crash,
/// hang or sanitizer report is a bug.
enum SIPFuzzHarness {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let buffer = ByteBuffer(bytes: bytes)
        let parser = SIPMessageParser(limits: SIPParserLimits(maxMessageSize: 8192, maxHeaderSectionSize: 4096, maxHeaderCount: 64))
        if case .message(let message)? = try? parser.parse(datagram: buffer) {
            exercise(message)
        }
        var framer = SIPStreamFramer(parser: parser)
        var stream = buffer
        var frames = 0
        while frames < 64, let frame = try? framer.next(&stream), frame != .needMoreData {
            frames += 1
        }
        // The same bytes in two pieces must not upset the framer either.
        if bytes.count > 1 {
            var split = SIPStreamFramer(parser: parser)
            var first = ByteBuffer(bytes: bytes[0..<(bytes.count / 2)])
            _ = try? split.next(&first)
            var rest = ByteBuffer(bytes: bytes[(bytes.count / 2)...])
            first.writeBuffer(&rest)
            _ = try? split.next(&first)
        }
        _ = try? MultipartBody.split(buffer, contentType: "multipart/mixed;boundary=unique-boundary-1")
        parseBody(buffer)
        // The same bytes as RTP into a stream capture (the media hot path), then as a run of
        // packets cut from the input: odd sizes, sequence and timestamp jumps, events, late
        // arrivals, all placed on a small ring and drained.
        let capture = StreamCapture(payloads: fuzzPayloads, capacity: 4096)
        capture.receive(bytes, arrival: 0)
        var offset = 0
        var arrival: Int64 = 0
        while offset + 12 <= bytes.count {
            let length = min(bytes.count - offset, 12 + Int(bytes[offset + 1] & 0x3F) * 4)
            capture.receive(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), arrival: arrival)
            arrival += Int64(bytes[offset + 2]) * 16
            if bytes[offset + 3] & 0x07 == 0 {
                let frames = Int(max(0, arrival - 500 - capture.takenUpTo))
                var mix = [Int32](repeating: 0, count: frames * 2 + 2)
                mix.withUnsafeMutableBufferPointer { capture.take(upTo: capture.takenUpTo + Int64(frames), into: $0.baseAddress!, channels: 2, channel: 1) }
            }
            offset += length
        }
    }

    static let fuzzPayloads = PayloadMap(formats: [0, 8, 9, 13, 18, 96, 101],
                                         rtpmap: [(96, "L16", 8000, 1), (101, "telephone-event", 8000, 1)])

    static let metadataLimits = MetadataLimits(maxBytes: 16384, maxDepth: 32, maxElements: 2000)

    /// What the recording layer does with a body part: SDP, and metadata when it looks like
    /// XML (the XML parser is slow under the sanitizers; SIP-shaped inputs would spend most of
    /// the run there for nothing).
    static func parseBody(_ bytes: ByteBuffer) {
        _ = try? SessionDescription(parsing: String(decoding: bytes.readableBytesView, as: UTF8.self))
        guard bytes.readableBytesView.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }) == UInt8(ascii: "<") else { return }
        if var metadata = try? RecordingMetadata.parse(bytes.readableBytesView, limits: metadataLimits) {
            _ = metadata.resolvedParticipants()
            let again = metadata
            metadata.apply(again)
            _ = VendorIdentifiers.extract(headers: [], metadata: metadata)
        }
    }

    static func exercise(_ message: SIPMessage) {
        let headers = message.headers
        for field in headers {
            _ = SIPHeaders.splitList(field.value)
        }
        _ = headers.values(.via).map { try? SIPVia(parsing: $0) }
        _ = headers[.from].map { try? SIPAddress(parsing: $0) }
        _ = headers[.to].map { try? SIPAddress(parsing: $0) }
        _ = headers.values(.contact).map { try? SIPAddress(parsing: $0) }
        if let type = headers[.contentType], let body = message.body {
            let parts = (try? MultipartBody.split(body, contentType: type)) ?? []
            for part in parts { parseBody(part.body) }
            if parts.isEmpty { parseBody(body) }
        }
        let pairs = headers.map { (name: $0.rawName, value: $0.value) }
        _ = VendorIdentifiers.extract(headers: pairs, metadata: nil)
        if let from = headers[.from].flatMap({ try? SIPAddress(parsing: $0) }) {
            _ = BuiltInBridgeLeg(uriParameters: from.uri.parameters.map { (name: $0.name, value: $0.value) })
        }
        for field in headers where field.rawName.lowercased() == "x-cisco-recording-participant" {
            _ = CiscoRecordingParticipant(headerValue: field.value)
        }
        _ = message.serialized()
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    SIPFuzzHarness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
import Foundation

/// Without -DFUZZING: replays the files given as arguments through the harness.
@main
struct SIPFuzzReplay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            data.withUnsafeBytes { SIPFuzzHarness.run($0) }
            print("ok \(path)")
        }
    }
}
#endif
