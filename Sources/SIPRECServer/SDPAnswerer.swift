import Media
import SDP

/// Whether plain RTP is recorded too, or only SRTP (`media.srtp`).
public enum SRTPPolicy: String, Sendable {
    /// SRTP and plain RTP m-lines are both recorded.
    case accept
    /// Only SRTP m-lines are recorded; an offer with none gets 488.
    case require
}

/// Builds this recorder's SDP: the answer to an SRC's offer (one answer m-line per offered
/// m-line, in order, RFC 3264 §6) and our own offer for delayed-offer INVITEs.
public struct SDPAnswerer: Sendable {
    /// Static payload types we can record, and encoding names for dynamic ones.
    static let staticPayloads: [String: String] = ["0": "PCMU", "8": "PCMA", "9": "G722", "18": "G729"]
    static let recordableEncodings: Set<String> = ["PCMU", "PCMA", "G722", "G729", "OPUS", "L16", "G726-16", "G726-24", "G726-32", "G726-40", "AAL2-G726-16", "AAL2-G726-24", "AAL2-G726-32", "AAL2-G726-40"]

    public var address: String
    public var sessionID: UInt64

    public init(address: String, sessionID: UInt64 = UInt64.random(in: 1...UInt64(Int64.max))) {
        self.address = address
        self.sessionID = sessionID
    }

    /// Whether an offered m-line is an audio stream we can record: a codec we take, and plain
    /// RTP (unless the policy requires SRTP) or SRTP with an SDES key we can use.
    public static func isRecordable(_ media: SessionDescription.Media, srtp policy: SRTPPolicy = .accept) -> Bool {
        guard media.type.lowercased() == "audio", media.port != 0, chooseCodec(media) != nil else { return false }
        switch media.proto.uppercased() {
        case "RTP/AVP", "RTP/AVPF": return policy == .accept
        case "RTP/SAVP", "RTP/SAVPF": return chooseCrypto(media) != nil
        default: return false  // DTLS-SRTP (UDP/TLS/RTP/SAVP) and others are not recorded.
        }
    }

    /// Whether the m-line's protocol is secure RTP (`RTP/SAVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVP`…),
    /// in any letter case.
    static func isSecure(_ media: SessionDescription.Media) -> Bool {
        let letters = Array(media.proto.utf8)
        let savp = Array("SAVP".utf8)
        guard letters.count >= savp.count else { return false }
        for start in 0...(letters.count - savp.count)
        where (0..<savp.count).allSatisfy({ letters[start + $0] & 0xDF == savp[$0] }) {
            return true
        }
        return false
    }

    /// The SRC's key we decrypt with: the first `a=crypto` line we can use (RFC 4568 §7.1.1:
    /// the answerer picks one of the offered lines).
    public static func chooseCrypto(_ media: SessionDescription.Media) -> SRTPKey? {
        guard isSecure(media) else { return nil }
        for value in media.attributes("crypto") {
            if let key = try? SRTPKey(attribute: value) { return key }
        }
        return nil
    }

    static func encodingName(_ payload: String, in media: SessionDescription.Media) -> String? {
        for rtpmap in media.attributes("rtpmap") {
            let parts = rtpmap.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0] == payload {
                return parts[1].split(separator: "/").first.map { $0.uppercased() }
            }
        }
        return staticPayloads[payload]
    }

    /// Codecs the media engine decodes; the others are accepted (the SRC would otherwise fail
    /// the call) and recorded as silence, and the record names them.
    static let decodedEncodings: Set<String> = [
        "PCMU", "PCMA", "L16", "G722", "G729", "OPUS", "G726-16", "G726-24", "G726-32", "G726-40",
        "AAL2-G726-16", "AAL2-G726-24", "AAL2-G726-32", "AAL2-G726-40",
    ]

    /// The offered format we answer with: the SRC's first that we decode, else its first that
    /// we accept.
    static func chooseCodec(_ media: SessionDescription.Media) -> String? {
        let recordable = media.formats.filter { format in
            guard let name = encodingName(format, in: media) else { return false }
            return recordableEncodings.contains(name)
        }
        return recordable.first { format in
            guard let name = encodingName(format, in: media), decodedEncodings.contains(name) else { return false }
            // L16 only at 8 kHz mono (RFC 3551 §4.5.11 names the rate and channels in the rtpmap).
            return name != "L16" || media.attributes("rtpmap").contains { $0.hasPrefix("\(format) ") && $0.uppercased().hasSuffix("L16/8000") }
        } ?? recordable.first
    }

    /// The answer; `ports[i]` is the port for offered m-line i, nil to reject it (port 0).
    public func answer(to offer: SessionDescription, ports: [Int?], version: UInt64 = 1) -> SessionDescription {
        var media: [SessionDescription.Media] = []
        for (index, offered) in offer.media.enumerated() {
            guard let port = index < ports.count ? ports[index] : nil, let codec = SDPAnswerer.chooseCodec(offered) else {
                // RFC 3264 §6: a rejected stream keeps its m-line with port 0.
                media.append(SessionDescription.Media(type: offered.type, port: 0, proto: offered.proto,
                                                      formats: offered.formats.isEmpty ? ["0"] : [offered.formats[0]]))
                continue
            }
            var formats = [codec]
            var lines: [SessionDescription.Line] = []
            for format in formats { lines += SDPAnswerer.formatLines(format, from: offered) }
            if let dtmf = offered.formats.first(where: { SDPAnswerer.encodingName($0, in: offered) == "TELEPHONE-EVENT" }) {
                formats.append(dtmf)
                lines += SDPAnswerer.formatLines(dtmf, from: offered)
            }
            if let theirs = SDPAnswerer.chooseCrypto(offered) {
                // Same tag and suite, our own key (RFC 4568 §7.1.2); we never send with it.
                lines.append(SessionDescription.Line("a", "crypto:\(SRTPKey.random(tag: theirs.tag, suite: theirs.suite).attribute)"))
            }
            // We only receive: recvonly, or inactive when the SRC is not sending (RFC 3264 §6.1).
            let direction: SessionDescription.Direction = (offered.direction == .inactive || offered.direction == .recvonly) ? .inactive : .recvonly
            lines.append(SessionDescription.Line("a", direction.rawValue))
            if let label = offered.label { lines.append(SessionDescription.Line("a", "label:\(label)")) }
            media.append(SessionDescription.Media(type: offered.type, port: port, proto: offered.proto, formats: formats, lines: lines))
        }
        return SessionDescription(sessionLines: sessionLines(version: version), media: media)
    }

    /// Our offer when the INVITE had no SDP (delayed offer, as CUCM sends).
    /// With `media.srtp: require` the offer is RTP/SAVP with our SDES key; the SRC's key comes
    /// in its answer (the ACK).
    public func offer(port: Int, version: UInt64 = 1, srtp policy: SRTPPolicy = .accept) -> SessionDescription {
        var lines: [SessionDescription.Line] = [
            .init("a", "rtpmap:0 PCMU/8000"), .init("a", "rtpmap:8 PCMA/8000"), .init("a", "rtpmap:9 G722/8000"),
            .init("a", "rtpmap:18 G729/8000"), .init("a", "fmtp:18 annexb=no"),
            .init("a", "rtpmap:101 telephone-event/8000"), .init("a", "fmtp:101 0-15"), .init("a", "recvonly"),
        ]
        if policy == .require {
            lines.append(.init("a", "crypto:\(SRTPKey.random(tag: 1, suite: .aesCM128HMACSHA1_80).attribute)"))
        }
        let media = SessionDescription.Media(type: "audio", port: port, proto: policy == .require ? "RTP/SAVP" : "RTP/AVP",
                                             formats: ["0", "8", "9", "18", "101"], lines: lines)
        return SessionDescription(sessionLines: sessionLines(version: version), media: [media])
    }

    private func sessionLines(version: UInt64) -> [SessionDescription.Line] {
        let family = address.utf8.contains(UInt8(ascii: ":")) ? "IP6" : "IP4"
        return [
            .init("v", "0"),
            .init("o", "siprecd \(sessionID) \(version) IN \(family) \(address)"),
            .init("s", "siprecd"),
            .init("c", "IN \(family) \(address)"),
            .init("t", "0 0"),
        ]
    }

    static func formatLines(_ format: String, from media: SessionDescription.Media) -> [SessionDescription.Line] {
        var lines: [SessionDescription.Line] = []
        for name in ["rtpmap", "fmtp"] {
            for value in media.attributes(name) where value.split(separator: " ", maxSplits: 1).first.map(String.init) == format {
                lines.append(.init("a", "\(name):\(value)"))
            }
        }
        return lines
    }
}
