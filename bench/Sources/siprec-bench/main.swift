import CAllocationCounter
import Foundation
import NIOCore
import SIPCore
import SIPRECMetadata

/// Parser benchmarks. Run from a release build (`make bench-parse`, `make bench-metadata`);
/// results go to docs/performance.md with these command lines.
///
///   siprec-bench parse FILE [ITERATIONS]
///   siprec-bench metadata FILE [ITERATIONS]
///   siprec-bench endpoint [CALLS] [RATE]
///
/// `parse` reports messages per second on one core and allocations per message for: datagram
/// parse, parse + serialize, and stream framing of the same message. `metadata` does the same
/// for an RFC 7865 document (FILE, an XML file) and for a ~64 KB document built from it by
/// repeating its participants, streams and associations.
func measure(_ name: String, iterations: Int, _ body: () -> Void) {
    for _ in 0..<min(iterations / 10, 10_000) { body() }
    let allocationsBefore = siprec_allocation_count()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<iterations { body() }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let allocations = Double(siprec_allocation_count() - allocationsBefore) / Double(iterations)
    let rate = Double(iterations) / elapsed
    print(String(format: "%-28@ %10.0f msg/s  %7.2f µs/msg  %6.1f allocations/msg", name as NSString, rate, 1e6 / rate, allocations))
}

/// A document of about `targetBytes`: `count` participants, each with a stream and its
/// associations, in the RFC 7865 namespace.
func largeMetadata(targetBytes: Int) -> [UInt8] {
    var participants = ""
    var index = 0
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">\n<datamode>complete</datamode>\n<session session_id=\"c2Vzc2lvbi0x\"><sipSessionID>d41c7a2e9b0f5a3c8e1d2f4a6b8c0e12</sipSessionID></session>\n"
    while head.utf8.count + participants.utf8.count < targetBytes - 20 {
        index += 1
        participants += """
        <participant participant_id="cGFydGljaXBhbnQt\(index)"><nameID aor="sip:+1202555\(String(format: "%04d", index % 10000))@example.com"><name xml:lang="en">Party \(index)</name></nameID></participant>
        <stream stream_id="c3RyZWFtLQ\(index)" session_id="c2Vzc2lvbi0x"><label>\(index)</label></stream>
        <participantsessionassoc participant_id="cGFydGljaXBhbnQt\(index)" session_id="c2Vzc2lvbi0x"><associate-time>2024-06-04T14:00:00Z</associate-time></participantsessionassoc>
        <participantstreamassoc participant_id="cGFydGljaXBhbnQt\(index)"><send>c3RyZWFtLQ\(index)</send></participantstreamassoc>

        """
    }
    return Array((head + participants + "</recording>\n").utf8)
}

func metadataBenchmark(file: String, iterations: Int) throws {
    let vendor = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
    let documents = [("metadata (file)", vendor, iterations), ("metadata (~4 KB)", largeMetadata(targetBytes: 4096), iterations),
                     ("metadata (~64 KB)", largeMetadata(targetBytes: 65_536), max(1, iterations / 16))]
    for (name, document, count) in documents {
        let parsed = try RecordingMetadata.parse(document)
        print("input: \(name), \(document.count) bytes, \(parsed.participants.count) participants, \(parsed.streams.count) streams, \(count) iterations")
        var total = 0
        measure("\(name) parse", iterations: count) {
            if let metadata = try? RecordingMetadata.parse(document) { total &+= metadata.participants.count }
        }
        measure("\(name) parse + resolve", iterations: count) {
            if let metadata = try? RecordingMetadata.parse(document) { total &+= metadata.resolvedParticipants().count }
        }
        if total == 42 { print("") }
    }
}

let arguments = CommandLine.arguments
if arguments.count >= 2, arguments[1] == "endpoint" {
    try EndpointBenchmark(calls: arguments.count > 2 ? Int(arguments[2]) ?? 300_000 : 300_000,
                          rate: arguments.count > 3 ? Int(arguments[3]) ?? 5_000 : 5_000).run()
    exit(0)
}
if arguments.count >= 3, arguments[1] == "metadata" {
    try metadataBenchmark(file: arguments[2], iterations: arguments.count > 3 ? Int(arguments[3]) ?? 20_000 : 20_000)
    exit(0)
}
guard arguments.count >= 3, arguments[1] == "parse" else {
    print("usage: siprec-bench parse FILE [ITERATIONS] | siprec-bench metadata FILE [ITERATIONS] | siprec-bench endpoint [CALLS] [RATE]")
    exit(2)
}
let bytes = try Data(contentsOf: URL(fileURLWithPath: arguments[2]))
let iterations = arguments.count > 3 ? Int(arguments[3]) ?? 200_000 : 200_000
let datagram = ByteBuffer(bytes: bytes)
let parser = SIPMessageParser()
guard case .message(let sample)? = try? parser.parse(datagram: datagram) else {
    print("\(arguments[2]) does not parse")
    exit(1)
}
print("input: \(arguments[2]), \(bytes.count) bytes, \(sample.headers.count) headers, body \(sample.body?.readableBytes ?? 0) bytes, \(iterations) iterations")

var sink = 0
measure("parse (datagram)", iterations: iterations) {
    if case .message(let message)? = try? parser.parse(datagram: datagram) { sink &+= message.headers.count }
}
var output = ByteBuffer()
output.reserveCapacity(8192)
measure("parse + serialize", iterations: iterations) {
    if case .message(let message)? = try? parser.parse(datagram: datagram) {
        output.clear()
        message.write(into: &output)
        sink &+= output.readableBytes
    }
}
measure("parse + transaction fields", iterations: iterations) {
    if case .message(.request(let request))? = try? parser.parse(datagram: datagram) {
        sink &+= (request.topVia?.branch?.utf8.count ?? 0) + (request.from?.tag?.utf8.count ?? 0) + Int(request.cseq?.number ?? 0)
    }
}
var framer = SIPStreamFramer(parser: parser)
var stream = ByteBuffer()
stream.reserveCapacity(bytes.count * 2)
measure("stream framing", iterations: iterations) {
    stream.clear()
    var copy = datagram
    stream.writeBuffer(&copy)
    if case .message(let message)? = try? framer.next(&stream) { sink &+= message.headers.count }
}
if sink == 42 { print("") }
