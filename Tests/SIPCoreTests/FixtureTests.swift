import Foundation
import NIOCore
import Testing
@testable import SIPCore
import SIPTestSupport

@Suite("SIP fixtures")
struct FixtureTests {
    @Test("manifests were found")
    func manifestsExist() {
        #expect(Fixtures.manifest("messages").count >= 30)
        #expect(Fixtures.manifest("multipart").count >= 6)
    }

    @Test("valid messages parse with the stated facts and round-trip", arguments: Fixtures.files("messages", kinds: ["request", "response"]))
    func valid(file: String) throws {
        let expected = Fixtures.entry("messages", file)
        let parser = SIPMessageParser()
        guard case .message(let message) = try parser.parse(datagram: try Fixtures.bytes("messages", file)) else {
            Issue.record("\(file) is not a message")
            return
        }
        let headers: any SIPMessageHeaders
        switch message {
        case .request(let request):
            #expect(expected["kind"] as? String == "request")
            #expect(request.method.rawValue == expected["method"] as? String)
            headers = request
        case .response(let response):
            #expect(expected["kind"] as? String == "response")
            #expect(response.statusCode == expected["statusCode"] as? Int)
            if let reason = expected["reasonPhrase"] as? String { #expect(response.reasonPhrase == reason) }
            headers = response
        }
        #expect(headers.callID == expected["callID"] as? String)
        #expect(headers.from?.tag == expected["fromTag"] as? String)
        if expected.keys.contains("toTag") { #expect(headers.to?.tag == expected["toTag"] as? String) }
        if let count = expected["viaCount"] as? Int { #expect(headers.vias.count == count) }
        if let cseq = expected["cseq"] as? [String: Any] {
            #expect(headers.cseq?.number == (cseq["number"] as? Int).map(UInt32.init))
            #expect(headers.cseq?.method.rawValue == cseq["method"] as? String)
        }
        if let length = expected["bodyLength"] as? Int { #expect((message.body?.readableBytes ?? 0) == length) }
        if let type = expected["contentType"] as? String { #expect(headers.contentType == type) }
        if let display = expected["fromDisplayName"] as? String { #expect(headers.from?.displayName == display) }
        if let fromURI = expected["fromURI"] as? String { #expect(headers.from?.uri.description == fromURI) }
        if let contactURI = expected["contactURI"] as? String { #expect(headers.contacts.first?.uri.description == contactURI) }
        if let unknown = expected["unknownHeaders"] as? [String: String] {
            for (name, value) in unknown { #expect(headers.headers[SIPHeaderName(name)] == value) }
        }
        // Serialize and parse again: the same message.
        guard case .message(let again) = try parser.parse(datagram: message.serialized()) else {
            Issue.record("\(file) did not parse after serializing")
            return
        }
        #expect(again == message)
    }

    @Test("a datagram of CRLFs is a keep-alive")
    func keepAlive() throws {
        for file in Fixtures.files("messages", kinds: ["keepalive"]) {
            #expect(try SIPMessageParser().parse(datagram: try Fixtures.bytes("messages", file)) == .keepAlive)
        }
    }

    @Test("invalid messages fail with the stated error, status and header", arguments: Fixtures.files("messages", kinds: ["error"]))
    func invalid(file: String) throws {
        let expected = Fixtures.entry("messages", file)
        let bytes = try Fixtures.bytes("messages", file)
        do {
            _ = try SIPMessageParser().parse(datagram: bytes)
            Issue.record("\(file) parsed but should fail")
        } catch {
            #expect(error.code.rawValue == expected["error"] as? String)
            if (expected["looksLikeRequest"] as? Bool) == true { #expect(error.statusCode == expected["status"] as? Int) }
            #expect(error.looksLikeRequest == (expected["looksLikeRequest"] as? Bool ?? true))
            if let header = expected["header"] as? String { #expect(error.header == header) }
        }
    }

    @Test("multipart bodies split into the stated parts", arguments: Fixtures.manifest("multipart").compactMap { $0["file"] as? String })
    func multipart(file: String) throws {
        let expected = Fixtures.entry("multipart", file)
        let contentType = try #require(expected["contentType"] as? String)
        let parts = try MultipartBody.split(try Fixtures.bytes("multipart", file), contentType: contentType)
        let expectedParts = try #require(expected["parts"] as? [[String: Any]])
        #expect(parts.count == expectedParts.count)
        for (part, want) in zip(parts, expectedParts) {
            #expect(part.headers[.contentType] == want["contentType"] as? String)
            #expect(part.contentDisposition == want["contentDisposition"] as? String)
            #expect(part.body.readableBytes == want["bodyLength"] as? Int)
            if let body = want["body"] as? String { #expect(String(buffer: part.body) == body) }
        }
    }

    @Test("the fuzz seed corpus replays without crashing")
    func fuzzCorpus() throws {
        let folder = Fixtures.root.appendingPathComponent("fuzz/sip")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(files.count >= 10)
        for file in files {
            let buffer = ByteBuffer(bytes: try Data(contentsOf: folder.appendingPathComponent(file)))
            _ = try? SIPMessageParser().parse(datagram: buffer)
            var framer = SIPStreamFramer()
            var stream = buffer
            var frames = 0
            while frames < 64, let frame = try? framer.next(&stream), frame != SIPStreamFramer.Frame.needMoreData { frames += 1 }
            _ = try? MultipartBody.split(buffer, contentType: "multipart/mixed;boundary=unique-boundary-1")
        }
    }
}
