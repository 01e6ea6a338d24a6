import Foundation
import Media

/// How the load generator appears in the messages it sends.
struct LocalAgent: Sendable {
    enum Transport: String, Sendable {
        case udp, tcp
    }

    var ip: String
    var port: UInt16
    var transport: Transport

    var viaSentBy: String { "SIP/2.0/\(transport.rawValue.uppercased()) \(ip):\(port)" }

    var contactURI: String {
        "sip:src@\(ip):\(port)" + (transport == .tcp ? ";transport=tcp" : "")
    }
}

enum SIPTokens {
    static func hex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// A branch with the RFC 3261 magic cookie.
    static func branch() -> String { "z9hG4bK" + hex(bytes: 8) }

    static func tag() -> String { hex(bytes: 4) }

    /// An RFC 7865 identifier: a UUID's 16 bytes in base64.
    static func metadataID() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }
}

/// Serialises requests and responses: start line, headers in the order given, Content-Length.
enum SIPWriter {
    static func request(method: String, uri: String, headers: [(String, String)], contentType: String? = nil, body: String = "") -> [UInt8] {
        message(startLine: "\(method) \(uri) SIP/2.0", headers: headers, contentType: contentType, body: body)
    }

    /// A response to a request from the server (BYE, OPTIONS ...): its Via, From, To, Call-ID and
    /// CSeq copied, a To tag added when it has none.
    static func response(to request: SIPMessage, status: Int, reason: String) -> [UInt8] {
        var headers: [(String, String)] = request.headers("via").map { ("Via", $0) }
        if let from = request.header("from") { headers.append(("From", from)) }
        if var to = request.header("to") {
            if SIPMessage.tag(of: to) == nil { to += ";tag=\(SIPTokens.tag())" }
            headers.append(("To", to))
        }
        if let callID = request.callID { headers.append(("Call-ID", callID)) }
        if let cseq = request.header("cseq") { headers.append(("CSeq", cseq)) }
        return message(startLine: "SIP/2.0 \(status) \(reason)", headers: headers, contentType: nil, body: "")
    }

    private static func message(startLine: String, headers: [(String, String)], contentType: String?, body: String) -> [UInt8] {
        var text = startLine + "\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let contentType { text += "Content-Type: \(contentType)\r\n" }
        text += "Content-Length: \(body.utf8.count)\r\n\r\n"
        text += body
        return Array(text.utf8)
    }
}

/// The bodies of the INVITEs: SDP offers, RFC 7865 metadata, the Built-in-Bridge From header.
enum OfferBodies {
    /// An SDP offer with one sendonly PCMU m-line per port; `labels` adds `a=label:` lines
    /// (SIPREC names streams by label; a Built-in-Bridge leg has none). A stream with a key in
    /// `keys` is offered as SDES-SRTP: `RTP/SAVP` and its `a=crypto` line.
    static func sdp(ip: String, ports: [UInt16], labels: [Int]?, keys: [SRTPKey?] = []) -> String {
        let session = UInt32.random(in: 1...UInt32.max)
        var lines = [
            "v=0",
            "o=siprec-loadgen \(session) 1 IN IP4 \(ip)",
            "s=siprec-loadgen",
            "c=IN IP4 \(ip)",
            "t=0 0",
        ]
        for (index, port) in ports.enumerated() {
            let key = index < keys.count ? keys[index] : nil
            lines.append("m=audio \(port) \(key == nil ? "RTP/AVP" : "RTP/SAVP") 0")
            lines.append("a=rtpmap:0 PCMU/8000")
            if let key { lines.append("a=crypto:\(key.attribute)") }
            if let labels { lines.append("a=label:\(labels[index])") }
            lines.append("a=sendonly")
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// RFC 7865 metadata for one call of `streams` streams: participant K sends the stream with
    /// label K and receives the others. Addresses are example.com with 555 numbers.
    static func metadata(streams: Int, now: Date = Date()) -> String {
        let time = ISO8601DateFormatter().string(from: now)
        let group = SIPTokens.metadataID()
        let session = SIPTokens.metadataID()
        let participants = (0..<streams).map { _ in SIPTokens.metadataID() }
        let streamIDs = (0..<streams).map { _ in SIPTokens.metadataID() }
        var xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <recording xmlns="urn:ietf:params:xml:ns:recording:1">
          <datamode>complete</datamode>
          <group group_id="\(group)">
            <associate-time>\(time)</associate-time>
          </group>
          <session session_id="\(session)">
            <group-ref>\(group)</group-ref>
            <start-time>\(time)</start-time>
          </session>

        """
        for (index, participant) in participants.enumerated() {
            xml += """
              <participant participant_id="\(participant)">
                <nameID aor="sip:+1202555\(String(format: "%04d", 100 + index + 1))@example.com">
                  <name xml:lang="en">Party \(index + 1)</name>
                </nameID>
              </participant>
              <participantsessionassoc participant_id="\(participant)" session_id="\(session)">
                <associate-time>\(time)</associate-time>
              </participantsessionassoc>

            """
        }
        for (index, stream) in streamIDs.enumerated() {
            xml += """
              <stream stream_id="\(stream)" session_id="\(session)">
                <label>\(index + 1)</label>
              </stream>

            """
        }
        for (index, participant) in participants.enumerated() {
            let received = streamIDs.enumerated().filter { $0.offset != index }.map { "    <recv>\($0.element)</recv>\n" }.joined()
            xml += """
              <participantstreamassoc participant_id="\(participant)">
                <send>\(streamIDs[index])</send>
            \(received)  </participantstreamassoc>

            """
        }
        xml += "</recording>\n"
        return xml
    }

    /// The SIPREC INVITE body: SDP then metadata, multipart/mixed.
    static func siprecMultipart(sdp: String, metadata: String) -> (contentType: String, body: String) {
        let boundary = "loadgen-" + SIPTokens.hex(bytes: 8)
        let body = "--\(boundary)\r\n"
            + "Content-Type: application/sdp\r\n\r\n"
            + sdp
            + "\r\n--\(boundary)\r\n"
            + "Content-Type: application/rs-metadata+xml\r\n"
            + "Content-Disposition: recording-session\r\n\r\n"
            + metadata
            + "\r\n--\(boundary)--\r\n"
        return ("multipart/mixed;boundary=\(boundary)", body)
    }

    /// The From of a Cisco UCM Built-in-Bridge leg. Both legs of a call carry the same refci
    /// values (which is what pairs them); only the x-nearend / x-farend flag differs.
    static func builtInBridgeFrom(nearEnd: Bool, refci: String, farEndRefci: String, tag: String) -> String {
        let side = nearEnd ? "x-nearend" : "x-farend"
        return "<sip:+12025550100@example.com;\(side);x-refci=\(refci);x-nearendclusterid=cluster1"
            + ";x-nearenddevice=SEP00000000000A;x-nearendaddr=+12025550100;x-farendrefci=\(farEndRefci)"
            + ";x-farendclusterid=cluster1;x-farenddevice=SEP00000000000B;x-farendaddr=+12025550199>;tag=\(tag)"
    }
}
