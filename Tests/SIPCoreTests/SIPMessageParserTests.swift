import Foundation
import NIOCore
import Testing
@testable import SIPCore

private func parse(_ text: String) throws -> SIPMessage {
    let parser = SIPMessageParser()
    guard case .message(let message) = try parser.parse(datagram: ByteBuffer(string: text)) else {
        throw ParseFailure()
    }
    return message
}

private func parseRequest(_ text: String) throws -> SIPRequest {
    guard case .request(let request) = try parse(text) else { throw ParseFailure() }
    return request
}

private func parseError(_ text: String, limits: SIPParserLimits = SIPParserLimits()) -> SIPParseError? {
    do {
        _ = try SIPMessageParser(limits: limits).parse(datagram: ByteBuffer(string: text))
        return nil
    } catch {
        return error
    }
}

struct ParseFailure: Error {}

private let basicHeaders = [
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
    "Max-Forwards: 70",
    "To: <sip:srs@example.com>",
    "From: \"SBC\" <sip:src@example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@192.0.2.10",
    "CSeq: 314159 OPTIONS",
]

private func message(_ startLine: String, _ headers: [String], body: String = "") -> String {
    var text = startLine + "\r\n" + headers.joined(separator: "\r\n") + "\r\n"
    if !headers.contains(where: { $0.lowercased().hasPrefix("content-length") || $0.hasPrefix("l:") }) {
        text += "Content-Length: \(body.utf8.count)\r\n"
    }
    return text + "\r\n" + body
}

@Suite("SIP parser")
struct SIPMessageParserTests {
    @Test("parses a request and reads the headers every transaction needs")
    func basicRequest() throws {
        let request = try parseRequest(message("OPTIONS sip:srs@example.com SIP/2.0", basicHeaders))
        #expect(request.method == .options)
        #expect(request.uri.user == "srs")
        #expect(request.uri.host == "example.com")
        #expect(request.callID == "a84b4c76e66710@192.0.2.10")
        #expect(request.cseq == SIPCSeq(number: 314159, method: .options))
        #expect(request.from?.tag == "1928301774")
        #expect(request.from?.displayName == "SBC")
        #expect(request.topVia?.branch == "z9hG4bK776asdhds")
        #expect(request.topVia?.transport == "UDP")
        #expect(request.body == nil)
    }

    @Test("compact header names map to their full names")
    func compactForms() throws {
        let text = message("INVITE sip:srs@example.com SIP/2.0", [
            "v: SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKcompact",
            "f: <sip:src@example.com>;tag=abc",
            "t: <sip:srs@example.com>",
            "i: compact-call-id",
            "CSeq: 1 INVITE",
            "m: <sip:src@192.0.2.10;transport=tcp>",
            "k: siprec, timer",
            "c: application/sdp",
            "l: 4",
        ], body: "v=0\n")
        let request = try parseRequest(text)
        #expect(request.callID == "compact-call-id")
        #expect(request.headers[SIPHeaderName("Content-Type")] == "application/sdp")
        #expect(request.optionTags(.supported) == ["siprec", "timer"])
        #expect(request.contacts.first?.uri.parameter("transport") == .some("tcp"))
        #expect(request.body?.readableBytes == 4)
        // Names are kept as written when serialized again.
        let serialized = String(buffer: request.serialized())
        #expect(serialized.contains("\r\ni: compact-call-id\r\n"))
    }

    @Test("folded header lines are joined with a single space")
    func folding() throws {
        let text = message("OPTIONS sip:srs@example.com SIP/2.0", basicHeaders + [
            "Subject: I know you're there,",
            "    pick up the phone",
            "\tand talk to me!",
        ])
        let request = try parseRequest(text)
        #expect(request.headers[SIPHeaderName("subject")] == "I know you're there, pick up the phone and talk to me!")
    }

    @Test("several values in one header and the same header repeated keep their order")
    func multiValued() throws {
        var headers = basicHeaders
        headers[0] = "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKfirst, SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKsecond"
        headers.insert("Via: SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKthird", at: 1)
        headers.append("Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>")
        let request = try parseRequest(message("OPTIONS sip:srs@example.com SIP/2.0", headers))
        let vias = request.vias
        #expect(vias.map(\.branch) == ["z9hG4bKfirst", "z9hG4bKsecond", "z9hG4bKthird"])
        #expect(vias[2].host == "[2001:db8::9]")
        #expect(vias[2].port == 5070)
        #expect(request.recordRoutes.map(\.uri.host) == ["p1.example.com", "p2.example.com"])
    }

    @Test("quoted display names keep escaped quotes and backslashes, commas inside quotes do not split")
    func quotedStrings() throws {
        var headers = basicHeaders
        headers[3] = #"From: "Smith, \"Agent\" \\ Desk" <sip:agent@example.com>;tag=q1"#
        headers.append(#"Contact: "A, B" <sip:a@192.0.2.1>;expires=60, <sip:b@192.0.2.2>"#)
        let request = try parseRequest(message("OPTIONS sip:srs@example.com SIP/2.0", headers))
        #expect(request.from?.displayName == #"Smith, "Agent" \ Desk"#)
        #expect(request.contacts.count == 2)
        #expect(request.contacts[0].displayName == "A, B")
        // The serialized form escapes again and parses back to the same value.
        let again = try SIPAddress(parsing: request.from!.description)
        #expect(again == request.from)
    }

    @Test("CUCM From-URI parameters survive intact and in order")
    func cucmParameters() throws {
        var headers = basicHeaders
        let from = "From: <sip:5550100@192.0.2.10;x-nearend;x-refci=25432121;x-nearendclusterid=cluster1;x-nearenddevice=SEP001122334455;x-nearendaddr=5550100;x-farendrefci=25432122;x-farendclusterid=cluster1;x-farenddevice=gw1;x-farendaddr=5550199>;tag=cucm-1"
        headers[3] = from
        let request = try parseRequest(message("INVITE sip:srs@192.0.2.20 SIP/2.0", headers.map { $0.replacingOccurrences(of: "OPTIONS", with: "INVITE") }))
        let uri = try #require(request.from?.uri)
        #expect(uri.parameters.map(\.name) == ["x-nearend", "x-refci", "x-nearendclusterid", "x-nearenddevice", "x-nearendaddr",
                                               "x-farendrefci", "x-farendclusterid", "x-farenddevice", "x-farendaddr"])
        #expect(uri.parameter("x-nearend") == .some(nil))
        #expect(uri.parameter("X-REFCI") == .some("25432121"))
        #expect(request.from?.tag == "cucm-1")
        #expect("From: " + request.from!.description == from)
    }

    @Test("URI parameters and headers, IPv6 references, and other schemes")
    func uris() throws {
        let uri = try SIPURI(parsing: "sip:alice:secret@example.com:5070;transport=tcp;lr?Subject=hi&Priority=urgent")
        #expect(uri.user == "alice")
        #expect(uri.password == "secret")
        #expect(uri.port == 5070)
        #expect(uri.parameters == [SIPParameter("transport", "tcp"), SIPParameter("lr")])
        #expect(uri.headers == "Subject=hi&Priority=urgent")
        #expect(uri.description == "sip:alice:secret@example.com:5070;transport=tcp;lr?Subject=hi&Priority=urgent")
        let v6 = try SIPURI(parsing: "sips:[2001:db8::10]:5061")
        #expect(v6.host == "[2001:db8::10]")
        #expect(v6.hostWithoutBrackets == "2001:db8::10")
        #expect(v6.port == 5061)
        let tel = try SIPURI(parsing: "tel:+1-202-555-0100;phone-context=example.com")
        #expect(tel.scheme == "tel")
        #expect(tel.description == "tel:+1-202-555-0100;phone-context=example.com")
        #expect(throws: SIPURI.ParseError.self) { try SIPURI(parsing: "not a uri") }
        #expect(throws: SIPURI.ParseError.self) { try SIPURI(parsing: "sip:[2001:db8::1") }
        #expect(throws: SIPURI.ParseError.self) { try SIPURI(parsing: "sip:host:99999") }
    }

    @Test("header names are case-insensitive and unknown headers are kept verbatim")
    func caseAndUnknown() throws {
        var headers = basicHeaders.map { line -> String in
            line.hasPrefix("Call-ID") ? line.replacingOccurrences(of: "Call-ID", with: "cALL-iD") : line
        }
        headers.append("X-Vendor-Thing:   value with  spaces ; and=params")
        let request = try parseRequest(message("OPTIONS sip:srs@example.com SIP/2.0", headers))
        #expect(request.callID == "a84b4c76e66710@192.0.2.10")
        #expect(request.headers[SIPHeaderName("x-vendor-thing")] == "value with  spaces ; and=params")
        let serialized = String(buffer: request.serialized())
        #expect(serialized.contains("\r\nX-Vendor-Thing: value with  spaces ; and=params\r\n"))
        #expect(serialized.contains("\r\ncALL-iD: a84b4c76e66710@192.0.2.10\r\n"))
    }

    @Test("responses parse with status and reason")
    func response() throws {
        let text = message("SIP/2.0 183 Session Progress", basicHeaders.filter { !$0.hasPrefix("Max-Forwards") })
        guard case .response(let response) = try parse(text) else { Issue.record("not a response"); return }
        #expect(response.statusCode == 183)
        #expect(response.reasonPhrase == "Session Progress")
    }

    @Test("leading CRLFs are ignored and a datagram of CRLFs is a keep-alive")
    func keepAlive() throws {
        let parser = SIPMessageParser()
        #expect(try parser.parse(datagram: ByteBuffer(string: "\r\n\r\n")) == .keepAlive)
        let request = try parseRequest("\r\n\r\n" + message("OPTIONS sip:srs@example.com SIP/2.0", basicHeaders))
        #expect(request.method == .options)
    }

    @Test("bytes beyond Content-Length in a datagram are discarded (RFC 3261 §18.3)")
    func extraBytes() throws {
        let text = message("OPTIONS sip:srs@example.com SIP/2.0", basicHeaders + ["Content-Length: 3"], body: "abcdef")
        let request = try parseRequest(text)
        #expect(request.body.map { String(buffer: $0) } == "abc")
    }

    @Test("malformed input fails with a specific error", arguments: [
        ("garbage", SIPParseError.Code.malformedStartLine, nil as String?),
        ("OPTIONS sip:srs@example.com SIP/3.0", .unsupportedVersion, nil),
        ("OPTIONS  SIP/2.0", .invalidRequestURI, nil),
        ("OPTIONS nonsense SIP/2.0", .invalidRequestURI, nil),
        ("SIP/2.0 2x0 OK", .invalidStatusCode, nil),
    ])
    func malformedStartLines(startLine: String, code: SIPParseError.Code, header: String?) {
        let error = parseError(message(startLine, basicHeaders))
        #expect(error?.code == code)
    }

    @Test("missing mandatory headers are named", arguments: ["Call-ID", "CSeq", "From", "To", "Via"])
    func missingHeaders(name: String) {
        let headers = basicHeaders.filter { !$0.hasPrefix(name + ":") }
        let error = parseError(message("OPTIONS sip:srs@example.com SIP/2.0", headers))
        #expect(error?.code == .missingHeader)
        #expect(error?.header == name)
        #expect(error?.statusCode == 400)
        #expect(error?.reasonPhrase == "Missing \(name) Header")
        // What was readable is kept so that a 400 can still be routed.
        #expect(error?.partialHeaders?.count == headers.count + 1)
    }

    @Test("broken header content is rejected")
    func brokenHeaders() {
        let base = "OPTIONS sip:srs@example.com SIP/2.0"
        #expect(parseError(message(base, basicHeaders + ["NoColonHere"]))?.code == .malformedHeader)
        #expect(parseError(message(base, basicHeaders + ["Bad\u{0}Header: x"]))?.code == .malformedHeader)
        #expect(parseError(message(base, basicHeaders + ["X-Bare: a\rb"]))?.code == .malformedHeader)
        #expect(parseError(message(base, basicHeaders.map { $0.hasPrefix("CSeq") ? "CSeq: abc OPTIONS" : $0 }))?.code == .invalidCSeq)
        #expect(parseError(message(base, basicHeaders.map { $0.hasPrefix("CSeq") ? "CSeq: 1 INVITE" : $0 }))?.code == .invalidCSeq)
        #expect(parseError(message(base, basicHeaders.map { $0.hasPrefix("CSeq") ? "CSeq: 4294967295 OPTIONS" : $0 }))?.code == .invalidCSeq)
        #expect(parseError(message(base, basicHeaders.map { $0.hasPrefix("Via") ? "Via: HTTP/1.1 x" : $0 }))?.code == .invalidVia)
        #expect(parseError(message(base, basicHeaders.map { $0.hasPrefix("From") ? "From: <sip:unterminated" : $0 }))?.code == .invalidAddress)
        #expect(parseError(message(base, basicHeaders + ["Content-Length: ten"]))?.code == .invalidContentLength)
        #expect(parseError(message(base, basicHeaders + ["Content-Length: 50"], body: "short"))?.code == .bodyTruncated)
    }

    @Test("limits: message size gives 513, header count gives 513")
    func limits() {
        let big = message("OPTIONS sip:srs@example.com SIP/2.0", basicHeaders, body: String(repeating: "x", count: 70_000))
        let error = parseError(big)
        #expect(error?.code == .messageTooLarge)
        #expect(error?.statusCode == 513)
        let many = message("OPTIONS sip:srs@example.com SIP/2.0", basicHeaders + (0..<20).map { "X-H\($0): v" })
        let tooMany = parseError(many, limits: SIPParserLimits(maxHeaderCount: 10))
        #expect(tooMany?.code == .tooManyHeaders)
        #expect(tooMany?.statusCode == 513)
    }

    @Test("serialize then parse gives the same message, with Content-Length matching the body")
    func roundTrip() throws {
        let original = try parseRequest(message("INVITE sip:srs@example.com SIP/2.0",
                                                basicHeaders.map { $0.replacingOccurrences(of: "OPTIONS", with: "INVITE") } + ["Content-Type: application/sdp"],
                                                body: "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\n"))
        let again = try parseRequest(String(buffer: original.serialized()))
        #expect(again == original)
    }
}
