/// An SDP session description (RFC 8866), kept close to the wire: session-level lines and one
/// section per `m=` line, each with its attributes in order. Unknown lines are kept verbatim.
public struct SessionDescription: Hashable, Sendable {
    public struct Line: Hashable, Sendable {
        public var type: Character
        public var value: String

        public init(_ type: Character, _ value: String) {
            self.type = type
            self.value = value
        }
    }

    public struct Media: Hashable, Sendable {
        /// `audio`, `video`, `image`, `application`...
        public var type: String
        public var port: Int
        public var portCount: Int?
        /// `RTP/AVP`, `RTP/SAVP`, `RTP/AVPF`, `udptl`...
        public var proto: String
        public var formats: [String]
        /// Lines after the m= line (c=, b=, a=...), in order.
        public var lines: [Line]

        public init(type: String, port: Int, portCount: Int? = nil, proto: String, formats: [String], lines: [Line] = []) {
            self.type = type
            self.port = port
            self.portCount = portCount
            self.proto = proto
            self.formats = formats
            self.lines = lines
        }

        /// Values of `a=name:value` (or `a=name` → "") attributes.
        public func attributes(_ name: String) -> [String] {
            lines.compactMap { line in
                guard line.type == "a" else { return nil }
                return SessionDescription.attributeValue(line.value, named: name)
            }
        }

        public func attribute(_ name: String) -> String? { attributes(name).first }

        /// `a=label` (RFC 4574), which SIPREC metadata refers to.
        public var label: String? { attribute("label") }

        /// The direction attribute, `sendrecv` when absent (RFC 4566 §6).
        public var direction: Direction {
            for line in lines where line.type == "a" {
                if let direction = Direction(rawValue: line.value) { return direction }
            }
            return .sendrecv
        }

        public var connectionAddress: String? {
            lines.first { $0.type == "c" }.flatMap { SessionDescription.address(ofConnection: $0.value) }
        }

        public var isRTP: Bool { proto.uppercased().hasPrefix("RTP/") }
    }

    public enum Direction: String, Hashable, Sendable {
        case sendrecv, sendonly, recvonly, inactive
    }

    public var sessionLines: [Line]
    public var media: [Media]

    public init(sessionLines: [Line], media: [Media]) {
        self.sessionLines = sessionLines
        self.media = media
    }

    public var connectionAddress: String? {
        sessionLines.first { $0.type == "c" }.flatMap { SessionDescription.address(ofConnection: $0.value) }
    }

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "SDP line \(line): \(reason)" }
    }

    /// Parses liberally: CRLF or LF, blank lines skipped, unknown line types kept. Works on the
    /// UTF-8 bytes (splitting a String into grapheme clusters was the slow part).
    public init(parsing text: String) throws(ParseError) {
        var sessionLines: [Line] = []
        var media: [Media] = []
        var number = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            number += 1
            var line = rawLine
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.isEmpty { continue }
            guard line.count >= 2, let typeByte = line.first, line[line.index(after: line.startIndex)] == UInt8(ascii: "="),
                  typeByte < 0x80 else {
                throw ParseError(line: number, reason: "not type=value")
            }
            let type = Character(Unicode.Scalar(typeByte))
            let value = String(Substring(line.dropFirst(2)))
            if type == "m" {
                let fields = value.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 3 else { throw ParseError(line: number, reason: "m= needs media, port and proto") }
                let portField = fields[1].split(separator: "/", maxSplits: 1)
                guard let port = Int(portField[0]), (0...65535).contains(port) else {
                    throw ParseError(line: number, reason: "bad port")
                }
                media.append(Media(type: String(fields[0]), port: port, portCount: portField.count > 1 ? Int(portField[1]) : nil,
                                   proto: String(fields[2]), formats: fields.dropFirst(3).map(String.init)))
            } else if media.isEmpty {
                sessionLines.append(Line(type, value))
            } else {
                media[media.count - 1].lines.append(Line(type, value))
            }
        }
        guard sessionLines.contains(where: { $0.type == "v" }) || !media.isEmpty else {
            throw ParseError(line: 0, reason: "empty description")
        }
        self.sessionLines = sessionLines
        self.media = media
    }

    /// Serializes with CRLF line ends.
    public var text: String {
        var out = ""
        for line in sessionLines { out += "\(line.type)=\(line.value)\r\n" }
        for section in media {
            var port = String(section.port)
            if let count = section.portCount { port += "/\(count)" }
            out += "m=\(section.type) \(port) \(section.proto)"
            for format in section.formats { out += " " + format }
            out += "\r\n"
            for line in section.lines { out += "\(line.type)=\(line.value)\r\n" }
        }
        return out
    }

    static func attributeValue(_ attribute: String, named name: String) -> String? {
        if attribute == name { return "" }
        guard attribute.hasPrefix(name), attribute.dropFirst(name.count).first == ":" else { return nil }
        return String(attribute.dropFirst(name.count + 1))
    }

    static func address(ofConnection value: String) -> String? {
        let fields = value.split(separator: " ")
        guard fields.count >= 3 else { return nil }
        return String(fields[2].split(separator: "/").first ?? fields[2])
    }
}
