import Foundation
import Media

/// A parsed SIP message, as much of it as the load generator needs: start line, headers (in
/// order, names in their long lower-case form) and body.
struct SIPMessage {
    enum StartLine {
        case request(method: String, uri: String)
        case response(status: Int, reason: String)
    }

    var startLine: StartLine
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    var isResponse: Bool {
        if case .response = startLine { return true }
        return false
    }

    var status: Int? {
        if case .response(let status, _) = startLine { return status }
        return nil
    }

    var method: String? {
        if case .request(let method, _) = startLine { return method }
        return nil
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    func headers(_ name: String) -> [String] {
        headers.filter { $0.name == name }.map(\.value)
    }

    var callID: String? { header("call-id") }

    /// CSeq number and method.
    var cseq: (number: Int, method: String)? {
        guard let value = header("cseq") else { return nil }
        let parts = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, let number = Int(parts[0]) else { return nil }
        return (number, parts[1].uppercased())
    }

    /// The `tag` parameter of the To header.
    var toTag: String? { header("to").flatMap(SIPMessage.tag(of:)) }

    /// The URI of the first Contact header, without its angle brackets and header parameters.
    var contactURI: String? {
        guard let contact = header("contact") else { return nil }
        return SIPMessage.uri(of: contact)
    }

    /// The branch of the top Via: which client transaction a response belongs to (RFC 3261 §17.1.3).
    var topViaBranch: String? {
        headers("via").first.flatMap(SIPMessage.branch(ofVia:))
    }

    // MARK: - Header value helpers

    /// The `branch` parameter of the first Via value in `value` (a header may hold several).
    static func branch(ofVia value: String) -> String? {
        let first = value.split(separator: ",", maxSplits: 1).first ?? ""
        for parameter in first.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingWhitespace().lowercased() == "branch" {
                return String(pair[1].trimmingWhitespace())
            }
        }
        return nil
    }

    /// Compact header forms (RFC 3261 7.3.3) and their long names.
    private static let compactForms: [String: String] = [
        "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length", "c": "content-type",
        "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
    ]

    static func canonicalName(_ name: Substring) -> String {
        let lower = name.lowercased()
        return compactForms[lower] ?? lower
    }

    /// The header parameters of a From/To/Contact value: after the `>` of a name-addr, or
    /// after the URI of an addr-spec.
    static func parameters(of value: String) -> [String: String] {
        let tail: Substring
        if let close = value.lastIndex(of: ">") {
            tail = value[value.index(after: close)...]
        } else if let semicolon = value.firstIndex(of: ";") {
            tail = value[semicolon...]
        } else {
            return [:]
        }
        var result: [String: String] = [:]
        for parameter in tail.split(separator: ";") {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard let key = pair.first?.trimmingWhitespace(), !key.isEmpty else { continue }
            result[key.lowercased()] = pair.count > 1 ? String(pair[1].trimmingWhitespace()) : ""
        }
        return result
    }

    static func tag(of value: String) -> String? {
        parameters(of: value)["tag"]
    }

    static func uri(of value: String) -> String {
        if let open = value.firstIndex(of: "<"), let close = value[open...].firstIndex(of: ">") {
            return String(value[value.index(after: open)..<close])
        }
        let bare = value.split(separator: ";", maxSplits: 1).first ?? ""
        return String(bare.trimmingWhitespace())
    }

    /// A header parameter (`boundary`, say) of a Content-Type value.
    static func mediaParameter(_ name: String, of value: String) -> String? {
        for parameter in value.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingWhitespace().lowercased() == name else { continue }
            var text = pair[1].trimmingWhitespace()
            if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
            return String(text)
        }
        return nil
    }

    static func mediaType(of value: String) -> String {
        String((value.split(separator: ";").first ?? "").trimmingWhitespace()).lowercased()
    }
}

// MARK: - Parsing

extension SIPMessage {
    /// Parses one whole message (a UDP datagram, or one framed out of a TCP stream). The body is
    /// cut to Content-Length when there is one.
    static func parse(_ bytes: ArraySlice<UInt8>) -> SIPMessage? {
        guard let headerEnd = headerEnd(in: bytes) else { return nil }
        guard let head = String(validating: bytes[bytes.startIndex..<headerEnd.lowerBound], as: UTF8.self) else { return nil }
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)[...]
        // Leading CRLFs (keep-alives) before the start line are skipped.
        while let first = lines.first, first.isEmpty { lines = lines.dropFirst() }
        guard let first = lines.popFirst() else { return nil }
        let parts = first.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return nil }
        let startLine: StartLine
        if parts[0].hasPrefix("SIP/") {
            guard let status = Int(parts[1]), (100...699).contains(status) else { return nil }
            startLine = .response(status: status, reason: parts.count > 2 ? String(parts[2]) : "")
        } else {
            guard parts.count == 3, parts[2].hasPrefix("SIP/") else { return nil }
            startLine = .request(method: String(parts[0]).uppercased(), uri: String(parts[1]))
        }

        var headers: [(name: String, value: String)] = []
        for line in lines {
            if let firstCharacter = line.first, firstCharacter == " " || firstCharacter == "\t" {
                // Folded continuation line (RFC 3261 7.3.1).
                guard !headers.isEmpty else { return nil }
                headers[headers.count - 1].value += " " + line.trimmingWhitespace()
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = canonicalName(line[..<colon].trimmingWhitespace())
            headers.append((name, String(line[line.index(after: colon)...].trimmingWhitespace())))
        }

        var body = Array(bytes[headerEnd.upperBound...])
        let lengthText = headers.first { $0.name == "content-length" }?.value
        if let lengthText, let length = Int(lengthText), length >= 0 {
            guard length <= body.count else { return nil }
            body = Array(body.prefix(length))
        }
        return SIPMessage(startLine: startLine, headers: headers, body: body)
    }

    /// The range of the blank line (CRLF CRLF) ending the header section.
    static func headerEnd(in bytes: ArraySlice<UInt8>) -> Range<Int>? {
        var index = bytes.startIndex
        while index + 3 < bytes.endIndex {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                return index..<(index + 4)
            }
            index += 1
        }
        return nil
    }

    /// The SDP of the body: the body itself when it is `application/sdp`, or the first
    /// `application/sdp` part of a multipart body.
    var sdp: String? {
        guard let type = header("content-type") else { return nil }
        switch SIPMessage.mediaType(of: type) {
        case "application/sdp":
            return String(decoding: body, as: UTF8.self)
        case let media where media.hasPrefix("multipart/"):
            guard let boundary = SIPMessage.mediaParameter("boundary", of: type) else { return nil }
            return MultipartBody.parts(of: body, boundary: boundary)
                .first { SIPMessage.mediaType(of: $0.contentType) == "application/sdp" }
                .map { String(decoding: $0.body, as: UTF8.self) }
        default:
            return nil
        }
    }
}

/// Splits a multipart body into parts (RFC 2046 5.1) enough to find its SDP.
enum MultipartBody {
    static func parts(of body: [UInt8], boundary: String) -> [(contentType: String, body: [UInt8])] {
        let text = String(decoding: body, as: UTF8.self)
        var result: [(String, [UInt8])] = []
        let delimiter = "--" + boundary
        let chunks = text.components(separatedBy: delimiter)
        for chunk in chunks.dropFirst() {
            if chunk.hasPrefix("--") { break }  // close delimiter
            // The part starts after the delimiter line's CRLF; headers end at the first blank line.
            guard let headerEnd = chunk.range(of: "\r\n\r\n") else { continue }
            let headerText = chunk[chunk.startIndex..<headerEnd.lowerBound]
            var contentType = "text/plain"
            for line in headerText.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if SIPMessage.canonicalName(line[..<colon].trimmingWhitespace()) == "content-type" {
                    contentType = String(line[line.index(after: colon)...].trimmingWhitespace())
                }
            }
            var partBody = String(chunk[headerEnd.upperBound...])
            // The CRLF before the next delimiter belongs to the delimiter.
            if partBody.hasSuffix("\r\n") { partBody.removeLast(1) }
            result.append((contentType, Array(partBody.utf8)))
        }
        return result
    }
}

/// The parts of an SDP answer the sender needs: where to send each offered stream, and for
/// SRTP whether the server took it.
struct SDPAnswer {
    struct Media {
        var port: Int
        var proto: String
        var connection: String?
        /// The values of its `a=crypto:` lines (after `crypto:`).
        var crypto: [String] = []
    }

    var connection: String?
    var media: [Media] = []

    init(_ text: String) {
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingWhitespace()
            if line.hasPrefix("m=") {
                let fields = line.dropFirst(2).split(separator: " ")
                let port = fields.count > 1 ? Int(fields[1].split(separator: "/").first ?? "") ?? 0 : 0
                media.append(Media(port: port, proto: fields.count > 2 ? String(fields[2]) : "", connection: nil))
            } else if line.hasPrefix("a=crypto:"), !media.isEmpty {
                media[media.count - 1].crypto.append(String(line.dropFirst("a=crypto:".count)))
            } else if line.hasPrefix("c=") {
                // c=IN IP4 ADDRESS[/ttl]: at media level it overrides the session's.
                let fields = line.dropFirst(2).split(separator: " ")
                guard fields.count >= 3 else { continue }
                let address = String(fields[2].split(separator: "/").first ?? "")
                if media.isEmpty {
                    connection = address
                } else {
                    media[media.count - 1].connection = address
                }
            }
        }
    }

    /// Where offered stream `index` (m-line order) goes; nil when refused (port 0, missing
    /// m-line, no or unspecified address).
    func destination(ofStream index: Int) -> Endpoint? {
        guard index < media.count else { return nil }
        let line = media[index]
        guard line.port > 0, line.port < 65536, let address = line.connection ?? connection,
              address != "0.0.0.0", let ip = Endpoint.resolve(address) else { return nil }
        return Endpoint(ip: ip, port: UInt16(line.port))
    }

    /// Whether the answer to SRTP stream `index`, offered with `key`, is SDES-SRTP too:
    /// `RTP/SAVP` with an `a=crypto` line of the offer's tag and suite (RFC 4568 §7.1.2).
    func acceptsSRTP(ofStream index: Int, offered key: SRTPKey) -> Bool {
        guard index < media.count else { return false }
        let line = media[index]
        guard line.proto.uppercased() == "RTP/SAVP" else { return false }
        return line.crypto.contains { value in
            let fields = value.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 3 && Int(fields[0]) == key.tag && SRTPSuite(name: String(fields[1])) == key.suite
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return Substring(text)
    }
}
