import SIPCore

/// RFC 3261 §17.1.2 client non-INVITE transaction, for the requests this server sends (BYE).
public struct ClientNonInviteTransaction: Sendable {
    public enum State: Hashable, Sendable {
        case trying, proceeding, completed, terminated
    }

    public enum Action: Hashable, Sendable {
        case sendRequest(SIPRequest)
        case schedule(SIPTransactionTimer, after: Duration)
        case cancel(SIPTransactionTimer)
        case deliverResponse(SIPResponse)
        /// Timer F fired or the transport failed: the TU learns the request timed out (§8.1.3.1 → 408).
        case timedOut
        case terminated
    }

    public private(set) var state: State = .trying
    let request: SIPRequest
    let reliable: Bool
    let timers: SIPTimerConfiguration
    var timerEInterval: Duration

    public init(request: SIPRequest, reliable: Bool, timers: SIPTimerConfiguration) {
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.timerEInterval = timers.t1
    }

    public mutating func start() -> [Action] {
        var actions: [Action] = [.sendRequest(request)]
        if !reliable { actions.append(.schedule(.timerE, after: timerEInterval)) }
        actions.append(.schedule(.timerF, after: timers.transactionTimeout))
        return actions
    }

    public mutating func received(_ response: SIPResponse) -> [Action] {
        switch state {
        case .trying, .proceeding:
            if response.isProvisional {
                state = .proceeding
                return [.deliverResponse(response)]
            }
            var actions: [Action] = [.cancel(.timerE), .cancel(.timerF), .deliverResponse(response)]
            if reliable {
                state = .terminated
                actions.append(.terminated)
            } else {
                state = .completed
                actions.append(.schedule(.timerK, after: timers.t4))
            }
            return actions
        case .completed, .terminated:
            // Retransmitted final responses are absorbed.
            return []
        }
    }

    public mutating func timerFired(_ timer: SIPTransactionTimer) -> [Action] {
        switch (state, timer) {
        case (.trying, .timerE), (.proceeding, .timerE):
            // §17.1.2.2: in Proceeding the interval stays at T2.
            timerEInterval = state == .proceeding ? timers.t2 : timers.nextRetransmitInterval(after: timerEInterval)
            return [.sendRequest(request), .schedule(.timerE, after: timerEInterval)]
        case (.trying, .timerF), (.proceeding, .timerF):
            state = .terminated
            return [.cancel(.timerE), .timedOut, .terminated]
        case (.completed, .timerK):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    public mutating func transportError() -> [Action] {
        guard state == .trying || state == .proceeding else { return [] }
        state = .terminated
        return [.cancel(.timerE), .cancel(.timerF), .timedOut, .terminated]
    }
}
