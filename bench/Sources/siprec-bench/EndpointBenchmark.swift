import CAllocationCounter
import Foundation
import NIOCore
import SIPCore
import SIPStack

/// The UAS state machine alone (no sockets, no recording): call cycles of INVITE, 200, ACK, BYE,
/// 200 through `SIPEndpoint`, with its timers kept on a virtual clock so transactions live their
/// 64·T1 and the tables hold what they hold at `rate` calls per second. Reports the time and
/// allocations per call cycle, and the same for parsing the three requests alone, so the
/// difference is the endpoint's share. Deterministic: every run does the same work.
struct EndpointBenchmark {
    let calls: Int
    let rate: Int

    static let sdp = "v=0\r\no=bench 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 8\r\na=sendonly\r\n"
    static let answer = ByteBuffer(string: "v=0\r\no=srs 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=recvonly\r\n")

    func request(_ method: String, call: Int, branch: String, toTag: String?, body: String?) -> String {
        var text = "\(method) sip:srs@192.0.2.20:5060 SIP/2.0\r\n"
        text += "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-\(call)-\(branch);rport\r\n"
        text += "Max-Forwards: 70\r\nFrom: <sip:bench@192.0.2.10:5060>;tag=\(call)B1\r\n"
        text += "To: <sip:srs@192.0.2.20:5060>" + (toTag.map { ";tag=\($0)" } ?? "") + "\r\n"
        text += "Call-ID: \(call)-bench@192.0.2.10\r\nCSeq: \(method == "BYE" ? 2 : 1) \(method == "ACK" ? "ACK" : method)\r\n"
        text += "Contact: <sip:bench@192.0.2.10:5060>\r\n"
        if let body {
            text += "Content-Type: application/sdp\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        } else {
            text += "Content-Length: 0\r\n\r\n"
        }
        return text
    }

    func run() throws {
        let parser = SIPMessageParser()
        func parse(_ text: String) -> SIPRequest {
            guard case .message(.request(let request))? = try? parser.parse(datagram: ByteBuffer(string: text)) else {
                fatalError("benchmark request did not parse")
            }
            return request
        }
        let peer = SIPPeer(transport: .udp, remoteAddress: try SocketAddress(ipAddress: "192.0.2.10", port: 5060),
                           localAddress: try SocketAddress(ipAddress: "192.0.2.20", port: 5060))
        let callNanos = Int64(1_000_000_000 / rate)

        // Parsing alone, the same messages.
        var sink = 0
        let parseAllocations = siprec_allocation_count()
        let parseStart = DispatchTime.now().uptimeNanoseconds
        for call in 0..<calls {
            sink &+= parse(request("INVITE", call: call, branch: "i", toTag: nil, body: Self.sdp)).headers.count
            sink &+= parse(request("ACK", call: call, branch: "a", toTag: "local", body: nil)).headers.count
            sink &+= parse(request("BYE", call: call, branch: "b", toTag: "local", body: nil)).headers.count
        }
        let parseNanos = Double(DispatchTime.now().uptimeNanoseconds - parseStart) / Double(calls)
        let parseAllocs = Double(siprec_allocation_count() - parseAllocations) / Double(calls)

        // Parsing and the endpoint, with timers firing on the virtual clock (1 ms buckets).
        var endpoint = SIPEndpoint()
        var wheel: [Int64: [(SIPTimerID, UInt64)]] = [:]
        var now: Int64 = 0
        /// The last millisecond bucket fired; a timer due in it or before goes to the next one.
        var firedThrough: Int64 = 0
        var fired = 0
        var peakTransactions = 0
        func take(_ actions: [SIPEndpointAction]) -> SIPIncomingRequest? {
            var incoming: SIPIncomingRequest?
            for action in actions {
                switch action {
                case .schedule(let id, let after, let generation):
                    let (seconds, attoseconds) = after.components
                    let due = (now + seconds * 1_000_000_000 + attoseconds / 1_000_000_000) / 1_000_000
                    wheel[max(due, firedThrough + 1), default: []].append((id, generation))
                case .event(.request(let request)): incoming = request
                case .send(let message, _): sink &+= message.headers.count
                case .event: break
                }
            }
            return incoming
        }
        let headers = endpoint.capabilityHeaders() + [SIPHeaderField(name: .contentType, value: "application/sdp")]
        let allocations = siprec_allocation_count()
        let start = DispatchTime.now().uptimeNanoseconds
        for call in 0..<calls {
            now += callNanos
            while firedThrough < now / 1_000_000 {
                firedThrough += 1
                guard let due = wheel.removeValue(forKey: firedThrough) else { continue }
                for (id, generation) in due {
                    fired += 1
                    _ = take(endpoint.timerFired(id, generation: generation))
                }
            }
            let invite = parse(request("INVITE", call: call, branch: "i", toTag: nil, body: Self.sdp))
            guard let incoming = take(endpoint.receive(.request(invite), from: peer)) else { fatalError("INVITE not handed out") }
            _ = take(endpoint.respond(to: incoming.key, status: 200, headers: headers, body: Self.answer))
            _ = take(endpoint.receive(.request(parse(request("ACK", call: call, branch: "a", toTag: incoming.localTag, body: nil))), from: peer))
            let bye = parse(request("BYE", call: call, branch: "b", toTag: incoming.localTag, body: nil))
            // The endpoint answers a BYE itself and reports the dialog's end.
            _ = take(endpoint.receive(.request(bye), from: peer))
            peakTransactions = max(peakTransactions, endpoint.transactionCount)
        }
        let totalNanos = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(calls)
        let totalAllocs = Double(siprec_allocation_count() - allocations) / Double(calls)
        print("calls: \(calls) at a virtual \(rate)/s; timers fired: \(fired); transactions at the peak: \(peakTransactions)")
        print(String(format: "%@ %8.2f µs/call  %6.1f allocations/call", "parse only (3 requests)".padding(toLength: 28, withPad: " ", startingAt: 0), parseNanos / 1000, parseAllocs))
        print(String(format: "%@ %8.2f µs/call  %6.1f allocations/call", "parse + endpoint".padding(toLength: 28, withPad: " ", startingAt: 0), totalNanos / 1000, totalAllocs))
        print(String(format: "%@ %8.2f µs/call  %6.1f allocations/call", "endpoint (difference)".padding(toLength: 28, withPad: " ", startingAt: 0),
                     (totalNanos - parseNanos) / 1000, totalAllocs - parseAllocs))
        if sink == 42 { print("") }
    }
}
