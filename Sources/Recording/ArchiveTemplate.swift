import Foundation

/// Where a finished recording goes under the archive folder: a template with `{yyyy}`,
/// `{MM}`, `{dd}`, `{HH}`, `{mm}`, `{ss}` (UTC start), `{recording}`, `{callid}`, `{caller}` and
/// `{callee}` (the user part of the first two participants' addresses, `unknown` when there is
/// none). Values are cleaned to letters, digits, `.`, `_`, `+` and `-`, so no value can climb
/// out of the archive.
public struct ArchiveTemplate: Sendable, Equatable {
    public let template: String
    public static let tokens = ["{yyyy}", "{MM}", "{dd}", "{HH}", "{mm}", "{ss}", "{recording}", "{callid}", "{caller}", "{callee}"]
    public static let `default` = ArchiveTemplate(unchecked: "{yyyy}/{MM}/{dd}/{recording}.wav")

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var problem: String
        public var description: String { problem }
    }

    private init(unchecked template: String) { self.template = template }

    public init(_ template: String) throws(Invalid) {
        guard template.contains("{recording}") else { throw Invalid(problem: "must contain {recording}, so names are unique") }
        guard !template.hasPrefix("/"), !template.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            throw Invalid(problem: "must be a relative path without . or .. parts")
        }
        guard template.hasSuffix(".wav") else { throw Invalid(problem: "must end in .wav (replaced by the format's extension)") }
        self.template = template
    }

    public func path(recordingID: String, callID: String, startedAt: Date, parties: [String] = []) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: startedAt)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        let values: [String: String] = [
            "{yyyy}": String(parts.year ?? 1970), "{MM}": two(parts.month), "{dd}": two(parts.day),
            "{HH}": two(parts.hour), "{mm}": two(parts.minute), "{ss}": two(parts.second),
            "{recording}": Self.clean(recordingID), "{callid}": Self.clean(callID),
            "{caller}": parties.first.map(Self.clean) ?? "unknown", "{callee}": parties.dropFirst().first.map(Self.clean) ?? "unknown",
        ]
        var result = template
        for (token, value) in values { result = result.replacingOccurrences(of: token, with: value) }
        return result
    }

    static func clean(_ value: String) -> String {
        let cleaned = String(value.prefix(128).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" || $0 == "+") ? $0 : "_" })
        return cleaned.isEmpty || cleaned.allSatisfy({ $0 == "." }) ? "_" : cleaned
    }
}
