import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SIPLocator

@Suite("HTTP requests cancelled while they fail")
struct CancellableRequestTests {
    /// A loopback TCP port with no listener: each connection is refused at once, so the
    /// request's failure races its cancellation.
    static func refusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits for `task` at most `seconds`; false when it is still running then.
    static func finishes(_ task: Task<Void, Never>, within seconds: Double) async -> Bool {
        final class Once: @unchecked Sendable {
            let lock = NSLock()
            var continuation: CheckedContinuation<Bool, Never>?
            func resume(_ value: Bool) {
                lock.lock()
                let waiting = continuation
                continuation = nil
                lock.unlock()
                waiting?.resume(returning: value)
            }
        }
        let once = Once()
        return await withCheckedContinuation { continuation in
            once.lock.lock()
            once.continuation = continuation
            once.lock.unlock()
            Task.detached {
                await task.value
                once.resume(true)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { once.resume(false) }
        }
    }

    @Test("many requests to a refused port, each cancelled as it fails: every one returns, none hangs the process")
    func cancelWhileFailing() async throws {
        let url = URL(string: "http://127.0.0.1:\(try Self.refusedPort())/healthz")!
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 2
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let outcomes = OutcomeCounter()
        let run = Task {
            for round in 0..<400 {
                let request = Task {
                    do {
                        _ = try await session.cancellableData(for: URLRequest(url: url))
                        outcomes.add(answered: 1)
                    } catch {
                        outcomes.add(failed: 1)
                    }
                }
                // Cancel at varying points of the request's short life (0 to 2 ms in).
                let delay = UInt32((round * 37) % 2000)
                if delay > 0 { usleep(delay) }
                request.cancel()
                await request.value
            }
        }
        let done = await Self.finishes(run, within: 60)
        #expect(done, "a cancelled request never returned: the process would hang at shutdown")
        #expect(outcomes.failed == 400 && outcomes.answered == 0, "answered \(outcomes.answered), failed \(outcomes.failed)")
    }
}

private final class OutcomeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts = (answered: 0, failed: 0)
    func add(answered: Int = 0, failed: Int = 0) {
        lock.lock()
        counts.answered += answered
        counts.failed += failed
        lock.unlock()
    }
    var answered: Int { lock.lock(); defer { lock.unlock() }; return counts.answered }
    var failed: Int { lock.lock(); defer { lock.unlock() }; return counts.failed }
}
