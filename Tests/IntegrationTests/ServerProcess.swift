import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Runs the built siprecd binary with a configuration, and learns its ports from the
/// "listening" log lines it prints once its listeners are bound.
final class ServerProcess: @unchecked Sendable {
    struct Listener: Hashable {
        var transport: String
        var host: String
        var port: Int
    }

    let process = Process()
    let directory: URL
    private(set) var listeners: [Listener] = []
    /// The admin HTTP API's port (the kernel picks it: `--http-listen 127.0.0.1:0`).
    private(set) var httpPort = 0
    private let lines = LineCollector()

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["SIPRECD_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/siprecd").path
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Starts siprecd with `yaml` as its configuration file and `listen` as its listeners
    /// (port 0: the kernel picks), and waits until every listener is bound.
    /// `prepare` gets the data folder before the server starts (to break it on purpose).
    /// `reuse`: the folder of an earlier server (its data folder is kept: a restart).
    init(yaml: String = "", listen: [String] = ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"], environment: [String: String] = [:],
         reuse: URL? = nil, extraArguments: [String] = [], prepare: ((URL) throws -> Void)? = nil) throws {
        directory = reuse ?? FileManager.default.temporaryDirectory.appendingPathComponent("siprecd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let prepare {
            let data = directory.appendingPathComponent("var")
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            try prepare(data)
        }
        let config = directory.appendingPathComponent("siprecd.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: ServerProcess.binary)
        process.arguments = ["--config", config.path, "--data-dir", directory.appendingPathComponent("var").path, "--log-level", "info",
                             "--http-listen", "127.0.0.1:0"]
            + listen.flatMap { ["--sip-listen", $0] } + extraArguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let collector = lines
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                collector.finish()
            } else {
                collector.append(data)
            }
        }
        // A server that exits (bad configuration) ends the wait at once, even if another child
        // process still holds the pipe open.
        process.terminationHandler = { _ in collector.finish() }
        try process.run()
        let expected = listen.count
        guard let found = collector.waitFor(timeout: 30, { lines -> ([Listener], Int)? in
            let bound = lines.compactMap(ServerProcess.parseListening)
            guard bound.count >= expected, let http = lines.lazy.compactMap(ServerProcess.parseHTTPListening).first else { return nil }
            return (bound, http)
        }) else {
            process.terminate()
            throw ServerError.didNotStart(collector.text)
        }
        listeners = found.0
        httpPort = found.1
    }

    static func parseListening(_ line: String) -> Listener? {
        // "... info siprecd: sip=udp:127.0.0.1:40123 [SIPRECServer] listening"
        guard line.hasSuffix("listening"), let range = line.range(of: "sip=") else { return nil }
        let value = line[range.upperBound...].split(separator: " ").first.map(String.init) ?? ""
        let parts = value.split(separator: ":")
        guard parts.count >= 3, let port = Int(parts.last!) else { return nil }
        return Listener(transport: String(parts[0]), host: parts[1..<(parts.count - 1)].joined(separator: ":"), port: port)
    }

    static func parseHTTPListening(_ line: String) -> Int? {
        // "... info siprecd: http=127.0.0.1:40123 [SIPRECServer] listening"
        guard line.hasSuffix("listening"), let range = line.range(of: "http=") else { return nil }
        let value = line[range.upperBound...].split(separator: " ").first.map(String.init) ?? ""
        return value.split(separator: ":").last.flatMap { Int($0) }
    }

    func port(_ transport: String) -> Int { listeners.first { $0.transport == transport }?.port ?? 0 }

    var log: String { lines.text }

    var isRunning: Bool { process.isRunning }

    var dataDirectory: URL { directory.appendingPathComponent("var") }

    /// SIGKILL (a crash): nothing is finished, the data folder stays as the process left it.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(timeout: 30)
    }

    /// Polls (bounded) until the process has exited; false when it still runs at the deadline.
    func waitForExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// SIGTERM and a bounded wait for the exit. A server that does not exit within `timeout`
    /// is a failure of the test (a stop that hangs is a bug in siprecd): it is recorded with
    /// the end of the server's log, then the process is killed so the suite goes on.
    func terminateAndWait(timeout: TimeInterval = 60) {
        guard process.isRunning else { return }
        process.terminate()
        if !waitForExit(timeout: timeout) {
            Issue.record("siprecd did not exit within \(Int(timeout)) s of SIGTERM; end of its log:\n\(log.suffix(4000))")
            Glibc.kill(process.processIdentifier, SIGKILL)
            _ = waitForExit(timeout: 30)
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        terminateAndWait()
        try? FileManager.default.removeItem(at: directory)
        return process.isRunning ? -1 : process.terminationStatus
    }

    /// SIGTERM and wait (the server finishes every record it has queued), then returns the
    /// records it wrote to the journals under `<data-dir>/recordings` (the last line of each
    /// recording id), decoded as JSON objects. The data folder is removed after reading.
    func stopAndReadRecords(removeData: Bool = true) throws -> [[String: Any]] {
        terminateAndWait()
        defer { if removeData { try? FileManager.default.removeItem(at: directory) } }
        let root = directory.appendingPathComponent("var/recordings")
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var latest: [String: [String: Any]] = [:]
        var order: [String] = []
        for case let url as URL in walker where url.lastPathComponent == "records.jsonl" {
            let text = try String(contentsOf: url, encoding: .utf8)
            for line in text.split(separator: "\n") {
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let id = object["recordingID"] as? String else { continue }
                if latest.updateValue(object, forKey: id) == nil { order.append(id) }
            }
        }
        return order.compactMap { latest[$0] }
    }

    enum ServerError: Error { case didNotStart(String) }
}

/// Collects a child's output lines and lets a caller wait for a condition on them.
final class LineCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer = Data()
    private var collected: [String] = []
    private var finished = false

    func append(_ data: Data) {
        condition.lock()
        buffer.append(data)
        while let newline = buffer.firstIndex(of: 0x0A) {
            collected.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
            buffer.removeSubrange(buffer.startIndex...newline)
        }
        condition.broadcast()
        condition.unlock()
    }

    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    var text: String {
        condition.lock()
        defer { condition.unlock() }
        return collected.joined(separator: "\n")
    }

    /// Waits (bounded) until `check` returns a value for the lines so far.
    func waitFor<T>(timeout: TimeInterval, _ check: ([String]) -> T?) -> T? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value = check(collected) { return value }
            if finished || !condition.wait(until: deadline) { return check(collected) }
        }
    }
}

/// Runs a sipp scenario from sip-fixtures/sipp against the server.
struct Sipp {
    struct Result {
        var status: Int32
        var errors: String
        var output: String
    }

    static func run(_ scenario: String, port: Int, transport: String = "u1", calls: Int = 1, rate: Int = 5,
                    extra: [String] = []) throws -> Result {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("sipp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let scenarioPath = ServerProcess.repositoryRoot.appendingPathComponent("sip-fixtures/sipp/\(scenario)").path
        let errorFile = work.appendingPathComponent("errors.log").path
        // sipp's own port is free when chosen, but another process may take it before sipp
        // binds it (seen once in CI over TCP): sipp then stops at once, having sent nothing,
        // and runs again on another port.
        var attempt = 0
        while true {
            attempt += 1
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.currentDirectoryURL = work
            process.arguments = ["90", "sipp", "127.0.0.1:\(port)", "-sf", scenarioPath, "-i", "127.0.0.1", "-p", "\(try freeUDPAndTCPPort())",
                                 "-t", transport, "-m", "\(calls)", "-r", "\(rate)", "-l", "\(max(calls, 1))",
                                 "-timeout", "60s", "-timeout_error", "-trace_err", "-error_file", errorFile,
                                 "-buff_size", "4194304", "-nostdin"] + extra
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data.suffix(4000), as: UTF8.self)
            if process.terminationStatus != 0, attempt < 3, text.contains("Unable to bind main socket") { continue }
            let errors = (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
            return Result(status: process.terminationStatus, errors: errors, output: text)
        }
    }

    /// A port free for both UDP and TCP now: sipp binds its `-p` port for the transport it
    /// runs (a UDP port the kernel chose may be a TCP connection's local port).
    static func freeUDPAndTCPPort() throws -> Int {
        for _ in 0..<100 {
            let port = try freeUDPPort()
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }
        }
        return try freeUDPPort()
    }

    /// A port no one listens on now (sipp needs its own; the kernel's choice avoids clashes).
    static func freeUDPPort() throws -> Int {
        try freePort(type: Int32(SOCK_DGRAM.rawValue))
    }

    /// A TCP port no one listens on now (for a server started later on a known port).
    static func freeTCPPort() throws -> Int {
        try freePort(type: Int32(SOCK_STREAM.rawValue))
    }

    private static func freePort(type: Int32) throws -> Int {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
