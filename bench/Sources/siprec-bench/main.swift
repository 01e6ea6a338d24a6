import CAllocationCounter
import Foundation
import NIOCore
import SIPCore

/// Parser benchmarks. Run from a release build (`make bench-parse`); results go to
/// docs/performance.md with this command line.
///
///   siprec-bench parse FILE [ITERATIONS]
///
/// Reports messages per second on one core and allocations per message for: datagram parse,
/// parse + serialize, and stream framing of the same message.
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

let arguments = CommandLine.arguments
guard arguments.count >= 3, arguments[1] == "parse" else {
    print("usage: siprec-bench parse FILE [ITERATIONS]")
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
