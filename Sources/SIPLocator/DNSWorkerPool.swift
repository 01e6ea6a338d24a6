import Foundation

/// Threads for blocking queries: started on demand up to `maxThreads`, kept while idle, ended
/// by `close` once the queue is empty.
final class DNSWorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private let maxThreads: Int
    private var jobs: [@Sendable () -> Void] = []
    private var threads = 0
    private var idle = 0
    private var closed = false

    init(maxThreads: Int) {
        self.maxThreads = maxThreads
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let startThread = idle == 0 && threads < maxThreads
        if startThread { threads += 1 }
        condition.signal()
        condition.unlock()
        if startThread {
            let thread = Thread { [self] in work() }
            thread.name = "dns-resolver"
            thread.start()
        }
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty && !closed {
                idle += 1
                condition.wait()
                idle -= 1
            }
            if jobs.isEmpty {
                threads -= 1
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
