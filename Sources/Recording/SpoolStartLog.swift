import Foundation

/// The spool's log of calls in progress (`<spool>/.starts`): a line when a call begins and a
/// line when it ends, appended by the spool writer once per batch of work. A call has a spool
/// file only from its first audio; this log is what tells the recovery about a call the
/// recorder was in when it stopped before any audio came (decision 0016). One append per
/// batch replaces a file created (or renamed) and removed per call.
///
/// Lines (text fields percent-escaped, so no field holds a tab, a newline or a comma):
///
///     B <tab> start (Unix ms) <tab> channels <tab> recording id <tab> Call-ID <tab> parties, comma-separated
///     E <tab> recording id
///
/// A line cut short by a crash is ignored.
public enum SpoolStartLog {
    public struct Start: Sendable, Equatable {
        public var info: WAVFile.Info
        public var channels: Int

        public init(info: WAVFile.Info, channels: Int) {
            self.info = info
            self.channels = channels
        }
    }

    public static let fileName = ".starts"

    public static func beginLine(_ start: Start) -> String {
        let milliseconds = Int64((start.info.startedAt.timeIntervalSince1970 * 1000).rounded())
        let parties = (start.info.parties ?? []).map(escape).joined(separator: ",")
        return "B\t\(milliseconds)\t\(start.channels)\t\(escape(start.info.recordingID))\t\(escape(start.info.callID))\t\(parties)\n"
    }

    public static func endLine(_ recordingID: String) -> String {
        "E\t\(escape(recordingID))\n"
    }

    /// The calls begun and not ended, in the order they began.
    public static func open(_ text: Substring) -> [Start] {
        var order: [String] = []
        var started: [String: Start] = [:]
        // Only complete lines: the last one may have been cut by the crash.
        guard let lastNewline = text.lastIndex(of: "\n") else { return [] }
        for line in text[..<lastNewline].split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            switch fields.first {
            case "B" where fields.count == 6:
                guard let milliseconds = Int64(fields[1]), let channels = Int(fields[2]), channels > 0,
                      let id = unescape(fields[3]), !id.isEmpty, let callID = unescape(fields[4]) else { continue }
                let parties = fields[5].isEmpty ? [] : fields[5].split(separator: ",", omittingEmptySubsequences: false).compactMap(unescape)
                let info = WAVFile.Info(recordingID: id, startedAt: Date(timeIntervalSince1970: Double(milliseconds) / 1000),
                                        callID: callID, parties: parties.isEmpty ? nil : parties)
                if started[id] == nil { order.append(id) }
                started[id] = Start(info: info, channels: channels)
            case "E" where fields.count == 2:
                if let id = unescape(fields[1]) { started[id] = nil }
            default:
                continue
            }
        }
        return order.compactMap { started[$0] }
    }

    /// `%XX` for `%`, `,`, control characters and space; everything else as it is.
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: needsEscape) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        for byte in text.utf8 {
            if needsEscape(byte) {
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hex(byte >> 4))
                bytes.append(hex(byte & 0x0F))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func unescape(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(value), let low = iterator.next().flatMap(value) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte == UInt8(ascii: "%") || byte == UInt8(ascii: ",") || byte == 0x7F
    }

    private static func hex(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
