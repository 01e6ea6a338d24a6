import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where output goes: results on standard output, diagnostics on standard error.
enum Console {
    static func out(_ text: String) {
        print(text)
    }

    static func error(_ text: String) {
        // Flush results first so the two streams interleave in the order they were written.
        flush()
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Writes out what `print` buffered (fflush of all output streams; `stdout` itself is a
    /// C global that strict concurrency does not let us name).
    static func flush() {
        fflush(nil)
    }

    static var standardOutputIsTerminal: Bool {
        isatty(STDOUT_FILENO) == 1
    }
}
