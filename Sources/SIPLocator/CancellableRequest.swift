import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension URLSession {
    /// `data(for:)` whose cancellation can neither deadlock nor crash the process.
    ///
    /// On Linux, cancelling the task that awaits FoundationNetworking's own `data(for:)` calls
    /// `URLSessionTask.cancel()` while the Swift runtime holds the task's status lock, and
    /// `cancel()` waits synchronously for the session's queue; if that queue is at the same
    /// moment finishing the request (a refused connection, say), it resumes the awaiting task,
    /// which needs the same status lock. Both threads then wait forever: a server stopping while
    /// a peer is down never exits. Calling `cancel()` from elsewhere is no cure: a `cancel()`
    /// that races the request's own end stops the process ("a task that is not in the
    /// registry"). So no request is ever cancelled here: a cancelled caller is answered at once
    /// with `CancellationError`, and the request itself runs to its end (bounded by its
    /// timeout), its answer dropped.
    public func cancellableData(for request: URLRequest) async throws -> (Data, URLResponse) {
        let waiter = RequestWaiter()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Data, URLResponse), any Error>) in
                guard waiter.wait(continuation) else { return }
                let task = self.dataTask(with: request) { data, response, error in
                    if let error {
                        waiter.finish(.failure(error))
                    } else if let response {
                        waiter.finish(.success((data ?? Data(), response)))
                    } else {
                        waiter.finish(.failure(URLError(.badServerResponse)))
                    }
                }
                task.resume()
            }
        } onCancel: {
            waiter.finish(.failure(CancellationError()))
        }
    }
}

/// The caller of one request, answered once: by the request's end or by its cancellation,
/// whichever comes first.
private final class RequestWaiter: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<(Data, URLResponse), any Error>?
    private var early: Result<(Data, URLResponse), any Error>?

    /// Keeps the continuation; false (and answered) when the caller was cancelled before.
    func wait(_ continuation: CheckedContinuation<(Data, URLResponse), any Error>) -> Bool {
        lock.lock()
        if let early {
            lock.unlock()
            continuation.resume(with: early)
            return false
        }
        self.continuation = continuation
        lock.unlock()
        return true
    }

    func finish(_ result: Result<(Data, URLResponse), any Error>) {
        lock.lock()
        guard let waiting = continuation else {
            if early == nil { early = result }
            lock.unlock()
            return
        }
        continuation = nil
        early = result
        lock.unlock()
        waiting.resume(with: result)
    }
}
