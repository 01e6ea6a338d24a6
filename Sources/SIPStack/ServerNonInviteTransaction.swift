import SIPCore

/// RFC 3261 §17.2.2 server non-INVITE transaction.
public struct ServerNonInviteTransaction: Sendable {
    public enum State: Hashable, Sendable {
        case trying, proceeding, completed, terminated
    }

    public enum Action: Hashable, Sendable {
        case sendResponse(SIPResponse)
        case schedule(SIPTransactionTimer, after: Duration)
        case terminated
    }

    public private(set) var state: State = .trying
    public private(set) var lastResponse: SIPResponse?
    let reliable: Bool
    let timers: SIPTimerConfiguration

    public init(reliable: Bool, timers: SIPTimerConfiguration) {
        self.reliable = reliable
        self.timers = timers
    }

    public mutating func send(_ response: SIPResponse) -> [Action] {
        switch state {
        case .trying, .proceeding:
            lastResponse = response
            if response.isProvisional {
                state = .proceeding
                return [.sendResponse(response)]
            }
            if reliable {
                // Timer J is zero on reliable transports.
                state = .terminated
                return [.sendResponse(response), .terminated]
            }
            state = .completed
            return [.sendResponse(response), .schedule(.timerJ, after: timers.transactionTimeout)]
        case .completed, .terminated:
            return []
        }
    }

    public mutating func receivedRetransmission() -> [Action] {
        switch state {
        case .trying:
            // §17.2.2: discarded in Trying.
            return []
        case .proceeding, .completed:
            if let lastResponse { return [.sendResponse(lastResponse)] }
            return []
        case .terminated:
            return []
        }
    }

    public mutating func timerFired(_ timer: SIPTransactionTimer) -> [Action] {
        guard state == .completed, timer == .timerJ else { return [] }
        state = .terminated
        return [.terminated]
    }
}
