import Media
import NIOCore
import SDP
import SIPCore
import SIPRECMetadata

/// Feeds arbitrary bytes to every parser that sees network input: the datagram parser, the
/// stream framer (whole and split in two), URI/address/Via parsing of what parsed, the
/// multipart splitter, the SDP parser and the RFC 7865 metadata parser (the whole input, and
/// the parts of a parsed message's body), the RTP parser and the reorder buffer. Any crash,
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
        // The same bytes as RTP, and runs of them through a reorder buffer.
        if let packet = try? RTPPacket(parsing: bytes) {
            var reorder = RTPReorderBuffer<Int>(depth: 4, maxDropout: 100)
            var offset = 0
            while offset + 4 <= bytes.count {
                let sequence = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
                let ssrc = bytes[offset + 2] & 0x01 == 0 ? packet.ssrc : packet.ssrc &+ 1
                reorder.insert(offset, sequence: sequence, timestamp: packet.timestamp, ssrc: ssrc) { _ in }
                offset += 4
            }
            reorder.flush { _ in }
        }
    }

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
