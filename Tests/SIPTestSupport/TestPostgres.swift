import Foundation

/// A real PostgreSQL server for the tests, started once per test process by
/// `scripts/test-postgres.sh` on a private port and data folder, stopped when the process
/// exits. Each test asks for a database of its own (`freshDatabase`).
public enum TestPostgres {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static let port = 45432 + Int(getpid() % 500)
    public static let dataFolder = FileManager.default.temporaryDirectory
        .appendingPathComponent("siprecd-test-postgres-\(getpid())").path

    private static let started: Result<Void, Failure> = {
        let result = script(["start", dataFolder, String(port)])
        if case .success = result {
            atexit {
                _ = TestPostgres.script(["stop", TestPostgres.dataFolder])
                try? FileManager.default.removeItem(atPath: TestPostgres.dataFolder)
            }
        }
        return result
    }()

    /// Starts the server if this process has not yet.
    public static func ensureRunning() throws {
        try started.get()
    }

    /// Stops the server (fast shutdown: connections are cut), to test a database outage.
    public static func stop() throws {
        try script(["stop", dataFolder]).get()
    }

    /// Starts it again after `stop`.
    public static func restart() throws {
        try script(["start", dataFolder, String(port)]).get()
    }

    /// Creates an empty database and returns its URL.
    public static func freshDatabase() throws -> String {
        try ensureRunning()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try psql("CREATE DATABASE \(name)").get()
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    /// Runs SQL as the superuser on the `postgres` database (to act on other sessions).
    public static func execute(_ sql: String) throws {
        try ensureRunning()
        try psql(sql).get()
    }

    static func psql(_ sql: String) -> Result<Void, Failure> {
        run("/usr/bin/env", ["psql", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql])
    }

    static func script(_ arguments: [String]) -> Result<Void, Failure> {
        run(Fixtures.root.deletingLastPathComponent().appendingPathComponent("scripts/test-postgres.sh").path, arguments)
    }

    /// Runs a command with `system` (blocking, output to a log file): Foundation's
    /// `Process.waitUntilExit` was seen to hang here when called from a test's task.
    static func run(_ executable: String, _ arguments: [String]) -> Result<Void, Failure> {
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("siprecd-test-postgres-\(getpid())-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let command = ([executable] + arguments).map(quoted).joined(separator: " ") + " >\(quoted(log.path)) 2>&1 </dev/null"
        let status = system(command)
        guard status == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return .failure(Failure(description: "\(executable) \(arguments.first ?? "") exited \(status): \(text)"))
        }
        return .success(())
    }
}
