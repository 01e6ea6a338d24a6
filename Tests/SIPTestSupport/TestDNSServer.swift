import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real DNS server for the tests: dnsmasq on 127.0.0.1 on a private port, answering only
/// from the records the test gives (authoritative for example.com: other names there get
/// NXDOMAIN, other types NODATA; nothing is forwarded). Stopped by `stop`, and at process exit
/// whatever a test left running.
///
/// Started with `system` like `TestPostgres`: dnsmasq daemonizes once its sockets are bound,
/// so the command returning 0 means it is answering.
public final class TestDNSServer: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// One record, as a dnsmasq option.
    public enum Record: Sendable {
        /// An A or AAAA record (dnsmasq `--host-record`).
        case host(String, address: String)
        /// `--srv-host=_service._proto.domain,target,port,priority,weight`.
        case srv(String, target: String, port: UInt16, priority: UInt16, weight: UInt16)
        /// `--naptr-record=name,order,preference,flags,service,regexp,replacement`.
        case naptr(String, order: UInt16, preference: UInt16, flags: String, service: String, replacement: String)

        var option: String {
            switch self {
            case .host(let name, let address):
                "--host-record=\(name),\(address)"
            case .srv(let name, let target, let port, let priority, let weight):
                "--srv-host=\(name),\(target),\(port),\(priority),\(weight)"
            case .naptr(let name, let order, let preference, let flags, let service, let replacement):
                "--naptr-record=\(name),\(order),\(preference),\(flags),\(service),,\(replacement)"
            }
        }
    }

    public static let executable = "/usr/sbin/dnsmasq"

    public let port: UInt16
    public let pid: pid_t
    /// The folder of its pid file and query log.
    public let folder: String
    private let lock = NSLock()
    private var stopped = false

    private init(port: UInt16, pid: pid_t, folder: String) {
        self.port = port
        self.pid = pid
        self.folder = folder
    }

    deinit {
        stop()
    }

    /// "127.0.0.1:PORT", as resolvers and command lines take it.
    public var address: String { "127.0.0.1:\(port)" }

    /// Starts dnsmasq with `records` and any further options (`--local-ttl` is 30 unless given).
    public static func start(records: [Record], options: [String] = []) throws -> TestDNSServer {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "\(executable) is missing (Debian package dnsmasq-base)")
        }
        var lastFailure = Failure(description: "dnsmasq did not start")
        // A port the kernel just handed out is free; another process may take it before
        // dnsmasq binds it, so a failed start tries another.
        for _ in 0..<5 {
            let port = try freePort()
            let folder = FileManager.default.temporaryDirectory
                .appendingPathComponent("siprecd-test-dns-\(getpid())-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var arguments = [
                "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--pid-file=\(folder)/dnsmasq.pid", "--log-facility=\(folder)/dnsmasq.log",
                "--log-queries", "--local=/example.com/",
            ]
            if !options.contains(where: { $0.hasPrefix("--local-ttl") }) { arguments.append("--local-ttl=30") }
            arguments += records.map(\.option) + options
            switch run(executable, arguments, log: "\(folder)/start.log") {
            case .success:
                guard let pid = readPID("\(folder)/dnsmasq.pid") else {
                    throw Failure(description: "dnsmasq started without a pid file in \(folder)")
                }
                Registry.shared.add(pid)
                watch(pid)
                return TestDNSServer(port: port, pid: pid, folder: folder)
            case .failure(let failure):
                lastFailure = failure
                try? FileManager.default.removeItem(atPath: folder)
            }
        }
        throw lastFailure
    }

    /// Stops dnsmasq (SIGTERM, then SIGKILL after 5 s) and removes its folder. Idempotent.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        Self.terminate(pid)
        Registry.shared.remove(pid)
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The queries dnsmasq logged so far.
    public var queryLog: String {
        (try? String(contentsOfFile: "\(folder)/dnsmasq.log", encoding: .utf8)) ?? ""
    }

    // MARK: - Helpers

    static func terminate(_ pid: pid_t) {
        guard pid > 0, kill(pid, SIGTERM) == 0 else { return }
        let deadline = Date().addingTimeInterval(5)
        while isRunning(pid) {
            if Date() >= deadline {
                kill(pid, SIGKILL)
                return
            }
            usleep(10_000)
        }
    }

    /// Whether the process exists and has not exited: the daemon is not our child, so after
    /// exiting it stays a zombie until init reaps it.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    static func readPID(_ path: String) -> pid_t? {
        // The daemon writes the file before the starting command returns; allow a moment.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
                return pid
            }
            usleep(10_000)
        }
        return nil
    }

    /// A watchdog shell that ends the daemon within a second of this process ending, however
    /// it ends (a crashed test runs no `atexit`).
    static func watch(_ pid: pid_t) {
        let me = getpid()
        _ = system("(while kill -0 \(me) && kill -0 \(pid); do sleep 1; done; kill \(pid)) >/dev/null 2>&1 </dev/null &")
    }

    /// A port free for both UDP and TCP on 127.0.0.1, as the kernel hands them out.
    static func freePort() throws -> UInt16 {
        for _ in 0..<20 {
            let udp = try LoopbackSocket(type: SOCK_DGRAM)
            guard let tcp = try? LoopbackSocket(type: SOCK_STREAM, port: udp.port) else { continue }
            _ = tcp
            return udp.port
        }
        throw Failure(description: "no free loopback port")
    }

    static func run(_ executable: String, _ arguments: [String], log: String) -> Result<Void, Failure> {
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let command = ([executable] + arguments).map(quoted).joined(separator: " ") + " >\(quoted(log)) 2>&1 </dev/null"
        let status = system(command)
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return .failure(Failure(description: "dnsmasq exited \(status): \(text)"))
        }
        return .success(())
    }

    /// dnsmasq daemons this process started and has not stopped, killed at exit.
    final class Registry: @unchecked Sendable {
        static let shared: Registry = {
            let registry = Registry()
            atexit {
                for pid in Registry.shared.all() { TestDNSServer.terminate(pid) }
            }
            return registry
        }()

        private let lock = NSLock()
        private var pids: Set<pid_t> = []

        func add(_ pid: pid_t) { _ = lock.withLock { pids.insert(pid) } }
        func remove(_ pid: pid_t) { _ = lock.withLock { pids.remove(pid) } }
        func all() -> [pid_t] { lock.withLock { Array(pids) } }
    }
}

/// A UDP socket on 127.0.0.1 that never answers: a name server that is not responding.
public final class SilentUDPServer: @unchecked Sendable {
    private let socket: LoopbackSocket

    public init() throws {
        socket = try LoopbackSocket(type: SOCK_DGRAM)
    }

    public var port: UInt16 { socket.port }
    public var address: String { "127.0.0.1:\(port)" }
}

/// A socket bound on 127.0.0.1, closed when released.
final class LoopbackSocket: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init(type: __socket_type, port: UInt16 = 0) throws {
        let fd = socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestDNSServer.Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = bound == 0 ? withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        } : -1
        guard named == 0 else {
            let code = errno
            close(fd)
            throw TestDNSServer.Failure(description: "bind 127.0.0.1:\(port): errno \(code)")
        }
        self.fd = fd
        self.port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        close(fd)
    }
}
