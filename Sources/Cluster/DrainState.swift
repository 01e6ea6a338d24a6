/// The graceful drain of a node, as a state machine (the SIP service feeds it events and does
/// what it answers). A first SIGTERM starts draining: new calls get 503, calls in progress keep
/// recording. The drain ends when the last call ends; when the timeout passes or a second
/// SIGTERM arrives, the calls still running are ended by the recorder (BYE, files finished).
public struct DrainState: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        case serving
        /// Waiting for calls to end, until `deadline` (seconds on the caller's monotonic clock).
        case draining(deadline: Double)
        /// The recorder is ending the remaining calls itself.
        case endingCalls(reason: EndReason)
        case finished
    }

    public enum EndReason: String, Sendable, Equatable {
        case drainTimeout = "drain timeout"
        case secondSignal = "second termination signal"
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Refuse new calls from now on (and report not ready).
        case startRefusing
        /// End every call still running with a BYE, then finish.
        case endCalls(EndReason)
        /// Nothing is left: close the listeners, flush, exit.
        case finish
    }

    public private(set) var phase: Phase = .serving

    public init() {}

    public var isDraining: Bool { phase != .serving }

    /// A termination signal. The first starts the drain (or finishes at once with no calls);
    /// any later one ends the calls now.
    public mutating func signal(now: Double, timeout: Double, activeCalls: Int) -> [Action] {
        switch phase {
        case .serving:
            if activeCalls == 0 {
                phase = .finished
                return [.startRefusing, .finish]
            }
            phase = .draining(deadline: now + max(0, timeout))
            return [.startRefusing]
        case .draining:
            phase = .endingCalls(reason: .secondSignal)
            return [.endCalls(.secondSignal)]
        case .endingCalls, .finished:
            return []
        }
    }

    /// The timer fired or time passed: past the deadline, the calls are ended.
    public mutating func tick(now: Double) -> Action {
        guard case .draining(let deadline) = phase, now >= deadline else { return .none }
        phase = .endingCalls(reason: .drainTimeout)
        return .endCalls(.drainTimeout)
    }

    /// The number of calls in progress changed.
    public mutating func callsChanged(activeCalls: Int) -> Action {
        switch phase {
        case .draining where activeCalls == 0:
            phase = .finished
            return .finish
        default:
            return .none
        }
    }

    /// The recorder ended the remaining calls (their BYEs were answered or timed out).
    public mutating func callsEnded() -> Action {
        guard case .endingCalls = phase else { return .none }
        phase = .finished
        return .finish
    }
}
