import Foundation
import NIOCore
import Testing
@testable import SIPCore

private let options = """
OPTIONS sip:srs@example.com SIP/2.0\r
Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKstream1\r
To: <sip:srs@example.com>\r
From: <sip:src@example.com>;tag=1\r
Call-ID: stream-1\r
CSeq: 1 OPTIONS\r
Content-Length: 5\r
\r
hello
"""

@Suite("SIP stream framing")
struct SIPStreamFramerTests {
    private func frames(feeding chunks: [ByteBuffer]) throws -> [SIPStreamFramer.Frame] {
        var framer = SIPStreamFramer()
        var buffer = ByteBuffer()
        var result: [SIPStreamFramer.Frame] = []
        for var chunk in chunks {
            buffer.writeBuffer(&chunk)
            while true {
                let frame = try framer.next(&buffer)
                if frame == .needMoreData { break }
                result.append(frame)
            }
        }
        #expect(buffer.readableBytes == 0)
        return result
    }

    @Test("two messages and a keep-alive, fed all at once and byte by byte, give the same frames")
    func allAtOnceAndByteByByte() throws {
        let stream = options + "\r\n\r\n" + options.replacingOccurrences(of: "stream-1", with: "stream-2")
        let whole = try frames(feeding: [ByteBuffer(string: stream)])
        let bytes = try frames(feeding: Array(stream.utf8).map { ByteBuffer(bytes: [$0]) })
        #expect(whole == bytes)
        #expect(whole.count == 3)
        guard case .message(.request(let first)) = whole[0], case .message(.request(let second)) = whole[2] else {
            Issue.record("expected two requests around a ping")
            return
        }
        #expect(whole[1] == .keepAlivePing)
        #expect(first.callID == "stream-1")
        #expect(second.callID == "stream-2")
        #expect(first.body.map { String(buffer: $0) } == "hello")
    }

    @Test("a single CRLF between messages (a pong) is skipped")
    func pong() throws {
        let result = try frames(feeding: [ByteBuffer(string: "\r\n" + options)])
        #expect(result.count == 1)
    }

    @Test("missing Content-Length on a stream is fatal (RFC 3261 §18.3)")
    func missingContentLength() {
        var framer = SIPStreamFramer()
        var buffer = ByteBuffer(string: options.replacingOccurrences(of: "Content-Length: 5\r\n", with: ""))
        #expect(throws: SIPStreamFramer.FatalError(parseError: SIPParseError(.missingContentLength, header: "Content-Length"))) {
            _ = try framer.next(&buffer)
        }
    }

    @Test("a header section that never ends is cut at the limit")
    func endlessHeaders() {
        var framer = SIPStreamFramer(parser: SIPMessageParser(limits: SIPParserLimits(maxHeaderSectionSize: 1024)))
        var buffer = ByteBuffer(string: "OPTIONS sip:srs@example.com SIP/2.0\r\n")
        #expect((try? framer.next(&buffer)) == .needMoreData)
        buffer.writeString(String(repeating: "X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n", count: 100))
        #expect(throws: SIPStreamFramer.FatalError.self) { _ = try framer.next(&buffer) }
    }

    @Test("a Content-Length beyond the message limit is fatal with 513")
    func hugeContentLength() throws {
        var framer = SIPStreamFramer()
        var buffer = ByteBuffer(string: options.replacingOccurrences(of: "Content-Length: 5", with: "Content-Length: 999999"))
        do {
            _ = try framer.next(&buffer)
            Issue.record("expected a fatal error")
        } catch let error as SIPStreamFramer.FatalError {
            #expect(error.parseError.code == .messageTooLarge)
            #expect(error.parseError.statusCode == 513)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a well-framed but invalid message is consumed and reported; the stream goes on")
    func invalidButFramed() throws {
        let bad = options.replacingOccurrences(of: "Call-ID: stream-1\r\n", with: "")
        let result = try frames(feeding: [ByteBuffer(string: bad + options)])
        #expect(result.count == 2)
        guard case .invalidMessage(let error) = result[0] else { Issue.record("expected invalidMessage"); return }
        #expect(error.code == .missingHeader)
        #expect(error.header == "Call-ID")
        guard case .message = result[1] else { Issue.record("expected the next message"); return }
    }

    @Test("an incomplete body waits for more data")
    func partialBody() throws {
        var framer = SIPStreamFramer()
        var buffer = ByteBuffer(string: String(options.dropLast(2)))
        #expect(try framer.next(&buffer) == .needMoreData)
        buffer.writeString("lo")
        guard case .message = try framer.next(&buffer) else { Issue.record("expected a message"); return }
    }

    @Test("a lone CRLF is consumed at once (no partial message left); two halves of a ping still make a ping")
    func splitKeepAlive() throws {
        var framer = SIPStreamFramer()
        var buffer = ByteBuffer(string: "\r\n")
        #expect(try framer.next(&buffer) == .needMoreData)
        #expect(buffer.readableBytes == 0)
        buffer.writeString("\r\n")
        #expect(try framer.next(&buffer) == .keepAlivePing)
        buffer.writeString("\r\n" + options)
        guard case .message = try framer.next(&buffer) else { Issue.record("expected the message after a pong"); return }
    }
}
