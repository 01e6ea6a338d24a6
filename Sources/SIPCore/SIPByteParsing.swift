/// Byte-level parsing of URIs, name-addrs and Via values: one pass over the header value's
/// UTF-8 bytes, Strings made only for the pieces kept (the parser runs this for every request).
enum SIPBytes {
    typealias Bytes = UnsafeRawBufferPointer

    static func string(_ bytes: Bytes, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }

    static func trim(_ bytes: Bytes, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isWhitespace(bytes[lower]) { lower += 1 }
        while upper > lower, isWhitespace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    static func firstIndex(of byte: UInt8, in bytes: Bytes, _ range: Range<Int>) -> Int? {
        var index = range.lowerBound
        while index < range.upperBound {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// `a=b;c;d="x;y"` (no leading semicolon); quoted values may contain `;`.
    static func parameters(_ bytes: Bytes, _ range: Range<Int>) -> [SIPParameter] {
        var result: [SIPParameter] = []
        var start = range.lowerBound
        var index = start
        var inQuotes = false
        var escaped = false
        func emit(_ piece: Range<Int>) {
            let trimmed = trim(bytes, piece)
            guard !trimmed.isEmpty else { return }
            if let eq = firstIndex(of: UInt8(ascii: "="), in: bytes, trimmed) {
                let name = trim(bytes, trimmed.lowerBound..<eq)
                let value = trim(bytes, (eq + 1)..<trimmed.upperBound)
                result.append(SIPParameter(string(bytes, name), string(bytes, value)))
            } else {
                result.append(SIPParameter(string(bytes, trimmed), nil))
            }
        }
        while index < range.upperBound {
            let byte = bytes[index]
            if escaped {
                escaped = false
            } else if inQuotes {
                if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inQuotes = false }
            } else if byte == UInt8(ascii: "\"") {
                inQuotes = true
            } else if byte == UInt8(ascii: ";") {
                emit(start..<index)
                start = index + 1
            }
            index += 1
        }
        emit(start..<range.upperBound)
        return result
    }

    /// `host[:port]`, with IPv6 references in brackets (kept in the host).
    static func hostPort(_ bytes: Bytes, _ range: Range<Int>) -> (String, Int?)? {
        let range = trim(bytes, range)
        guard !range.isEmpty else { return nil }
        var hostRange = range
        var portRange: Range<Int>?
        if bytes[range.lowerBound] == UInt8(ascii: "[") {
            guard let close = firstIndex(of: UInt8(ascii: "]"), in: bytes, range) else { return nil }
            hostRange = range.lowerBound..<(close + 1)
            if close + 1 < range.upperBound {
                guard bytes[close + 1] == UInt8(ascii: ":") else { return nil }
                portRange = (close + 2)..<range.upperBound
            }
        } else {
            var colon: Int?
            var index = range.upperBound
            while index > range.lowerBound {
                index -= 1
                if bytes[index] == UInt8(ascii: ":") { colon = index; break }
            }
            if let colon {
                hostRange = range.lowerBound..<colon
                portRange = (colon + 1)..<range.upperBound
            }
            guard !hostRange.isEmpty else { return nil }
            for index in hostRange where !SIPURI.isHostByte(bytes[index]) { return nil }
        }
        var port: Int?
        if let portRange {
            guard !portRange.isEmpty, portRange.count <= 5 else { return nil }
            var value = 0
            for index in portRange {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            guard value <= 65535 else { return nil }
            port = value
        }
        return (string(bytes, hostRange), port)
    }

    /// Runs `body` over the UTF-8 bytes of `text` without copying a native String.
    static func withBytes<T, E: Error>(_ text: some StringProtocol, _ body: (Bytes) throws(E) -> T) throws(E) -> T {
        var string = String(text)
        let result: Result<T, E> = string.withUTF8 { buffer in
            do throws(E) {
                return .success(try body(UnsafeRawBufferPointer(buffer)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

extension SIPURI {
    init(bytes: SIPBytes.Bytes, range: Range<Int>) throws(ParseError) {
        let range = SIPBytes.trim(bytes, range)
        guard let colon = SIPBytes.firstIndex(of: UInt8(ascii: ":"), in: bytes, range), colon > range.lowerBound else { throw .invalid }
        let first = bytes[range.lowerBound] | 0x20
        guard first >= 0x61, first <= 0x7A else { throw .invalid }
        for index in range.lowerBound..<colon where !SIPURI.isSchemeByte(bytes[index]) { throw .invalid }
        let scheme = SIPBytes.string(bytes, range.lowerBound..<colon).lowercased()
        self.init(scheme: scheme, host: "")
        let rest = (colon + 1)..<range.upperBound
        guard scheme == "sip" || scheme == "sips" else {
            guard !rest.isEmpty else { throw .invalid }
            for index in rest where bytes[index] <= 0x20 { throw .invalid }
            opaque = SIPBytes.string(bytes, rest)
            return
        }
        var mainEnd = rest.upperBound
        if let question = SIPBytes.firstIndex(of: UInt8(ascii: "?"), in: bytes, rest) {
            headers = SIPBytes.string(bytes, (question + 1)..<rest.upperBound)
            mainEnd = question
        }
        var hostStart = rest.lowerBound
        if let at = SIPBytes.firstIndex(of: UInt8(ascii: "@"), in: bytes, rest.lowerBound..<mainEnd) {
            let userInfo = rest.lowerBound..<at
            if let passwordColon = SIPBytes.firstIndex(of: UInt8(ascii: ":"), in: bytes, userInfo) {
                guard passwordColon > userInfo.lowerBound else { throw .invalid }
                user = SIPBytes.string(bytes, userInfo.lowerBound..<passwordColon)
                password = SIPBytes.string(bytes, (passwordColon + 1)..<at)
            } else {
                guard !userInfo.isEmpty else { throw .invalid }
                user = SIPBytes.string(bytes, userInfo)
            }
            hostStart = at + 1
        }
        var hostEnd = mainEnd
        if let semicolon = SIPBytes.firstIndex(of: UInt8(ascii: ";"), in: bytes, hostStart..<mainEnd) {
            parameters = SIPBytes.parameters(bytes, (semicolon + 1)..<mainEnd)
            hostEnd = semicolon
        }
        guard let (host, port) = SIPBytes.hostPort(bytes, hostStart..<hostEnd) else { throw .invalid }
        self.host = host
        self.port = port
    }
}

extension SIPAddress {
    init(bytes: SIPBytes.Bytes, range: Range<Int>) throws(ParseError) {
        let range = SIPBytes.trim(bytes, range)
        guard !range.isEmpty else { throw .invalid }
        if range.count == 1, bytes[range.lowerBound] == UInt8(ascii: "*") {
            self.init(uri: SIPURI(host: "*"))
            isWildcard = true
            return
        }
        var index = range.lowerBound
        var display: String?
        if bytes[index] == UInt8(ascii: "\"") {
            // quoted-string with quoted-pair escapes (RFC 3261 §25.1).
            var value: [UInt8] = []
            index += 1
            var closed = false
            while index < range.upperBound {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < range.upperBound else { break }
                    value.append(bytes[index])
                } else if byte == UInt8(ascii: "\"") {
                    closed = true
                    index += 1
                    break
                } else {
                    value.append(byte)
                }
                index += 1
            }
            guard closed else { throw .invalid }
            display = String(decoding: value, as: UTF8.self)
            while index < range.upperBound, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
            guard index < range.upperBound, bytes[index] == UInt8(ascii: "<") else { throw .invalid }
        }
        var parameters: [SIPParameter] = []
        let uri: SIPURI
        if let open = SIPBytes.firstIndex(of: UInt8(ascii: "<"), in: bytes, index..<range.upperBound) {
            if display == nil {
                let name = SIPBytes.trim(bytes, index..<open)
                if !name.isEmpty { display = SIPBytes.string(bytes, name) }
            }
            guard let close = SIPBytes.firstIndex(of: UInt8(ascii: ">"), in: bytes, open..<range.upperBound) else { throw .invalid }
            do {
                uri = try SIPURI(bytes: bytes, range: (open + 1)..<close)
            } catch {
                throw .invalid
            }
            let rest = SIPBytes.trim(bytes, (close + 1)..<range.upperBound)
            if !rest.isEmpty {
                guard bytes[rest.lowerBound] == UInt8(ascii: ";") else { throw .invalid }
                parameters = SIPBytes.parameters(bytes, (rest.lowerBound + 1)..<rest.upperBound)
            }
        } else {
            // addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10).
            var uriEnd = range.upperBound
            if let semicolon = SIPBytes.firstIndex(of: UInt8(ascii: ";"), in: bytes, index..<range.upperBound) {
                parameters = SIPBytes.parameters(bytes, (semicolon + 1)..<range.upperBound)
                uriEnd = semicolon
            }
            do {
                uri = try SIPURI(bytes: bytes, range: index..<uriEnd)
            } catch {
                throw .invalid
            }
        }
        self.init(displayName: display, uri: uri, parameters: parameters)
    }
}

extension SIPVia {
    init(bytes: SIPBytes.Bytes, range: Range<Int>) throws(ParseError) {
        let range = SIPBytes.trim(bytes, range)
        var index = range.lowerBound
        func skipWhitespace() {
            while index < range.upperBound, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        }
        func expect(_ literal: StaticString, caseInsensitive: Bool) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard index + count <= range.upperBound else { return false }
            let start = literal.utf8Start
            for offset in 0..<count {
                var byte = bytes[index + offset]
                var wanted = start[offset]
                if caseInsensitive { byte |= 0x20; wanted |= 0x20 }
                if byte != wanted { return false }
            }
            index += count
            return true
        }
        // sent-protocol = "SIP" SLASH "2.0" SLASH transport, LWS allowed around the slashes.
        guard expect("SIP", caseInsensitive: true) else { throw .invalid }
        skipWhitespace()
        guard expect("/", caseInsensitive: false) else { throw .invalid }
        skipWhitespace()
        guard expect("2.0", caseInsensitive: false) else { throw .invalid }
        skipWhitespace()
        guard expect("/", caseInsensitive: false) else { throw .invalid }
        skipWhitespace()
        let transportStart = index
        while index < range.upperBound, SIPGrammar.isTokenByte(bytes[index]) { index += 1 }
        guard index > transportStart else { throw .invalid }
        let transport = SIPBytes.string(bytes, transportStart..<index).uppercased()
        skipWhitespace()
        var sentByEnd = range.upperBound
        var parameters: [SIPParameter] = []
        if let semicolon = SIPBytes.firstIndex(of: UInt8(ascii: ";"), in: bytes, index..<range.upperBound) {
            parameters = SIPBytes.parameters(bytes, (semicolon + 1)..<range.upperBound)
            sentByEnd = semicolon
        }
        guard let (host, port) = SIPBytes.hostPort(bytes, index..<sentByEnd) else { throw .invalid }
        self.init(transport: transport, host: host, port: port, parameters: parameters)
    }
}
