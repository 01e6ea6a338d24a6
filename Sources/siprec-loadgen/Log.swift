import Foundation

/// Progress and warnings go to standard error, so `--json` output on standard output stays
/// machine-readable. Nothing logged here may carry a phone number (call indexes and ids only).
enum Log {
    static func info(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func warning(_ text: String) {
        FileHandle.standardError.write(Data(("warning: " + text + "\n").utf8))
    }
}
