import SIPCore

/// RFC 3261 §17.2.1 server INVITE transaction, with the "Accepted" state of RFC 6026 §7.1.
/// A pure state machine: events in, actions out.
public struct ServerInviteTransaction: Sendable {
    public enum State: Hashable, Sendable {
        case proceeding, completed, confirmed, accepted, terminated
    }

    public enum Action: Hashable, Sendable {
        case sendResponse(SIPResponse)
        case schedule(SIPTransactionTimer, after: Duration)
        case cancel(SIPTransactionTimer)
        /// The TU has not answered within 200 ms, or the INVITE was retransmitted before any
        /// answer: the owner passes a 100 Trying to `send` (§17.2.1).
        case sendTrying
        /// Timer H fired: no ACK for a non-2xx final response (§17.2.1).
        case timedOut
        case terminated
    }

    public private(set) var state: State = .proceeding
    public private(set) var lastResponse: SIPResponse?
    let reliable: Bool
    let timers: SIPTimerConfiguration
    var timerGInterval: Duration

    public init(reliable: Bool, timers: SIPTimerConfiguration) {
        self.reliable = reliable
        self.timers = timers
        self.timerGInterval = timers.t1
    }

    /// The INVITE arrived: 100 Trying follows unless the TU answers within 200 ms (§17.2.1);
    /// an answer that comes at once saves the SRC a message and us a send.
    public func start() -> [Action] {
        [.schedule(.trying, after: timers.tryingDelay)]
    }

    /// The TU passes a response down (§17.2.1).
    public mutating func send(_ response: SIPResponse) -> [Action] {
        switch state {
        case .proceeding:
            let first = lastResponse == nil
            lastResponse = response
            let cancelTrying: [Action] = first ? [.cancel(.trying)] : []
            if response.isProvisional { return cancelTrying + [.sendResponse(response)] }
            if response.isSuccess {
                // RFC 6026 §7.1: 2xx moves to Accepted; retransmitting it is the TU's job, so
                // the transaction need not keep it.
                state = .accepted
                lastResponse = nil
                return cancelTrying + [.sendResponse(response), .schedule(.timerL, after: timers.transactionTimeout)]
            }
            state = .completed
            var actions: [Action] = cancelTrying + [.sendResponse(response)]
            if !reliable { actions.append(.schedule(.timerG, after: timerGInterval)) }
            actions.append(.schedule(.timerH, after: timers.transactionTimeout))
            return actions
        case .accepted:
            // RFC 6026 §7.1: 2xx retransmissions from the TU pass through in Accepted.
            guard response.isSuccess else { return [] }
            return [.sendResponse(response)]
        case .completed, .confirmed, .terminated:
            return []
        }
    }

    /// A retransmission of the INVITE arrived.
    public mutating func receivedRetransmission() -> [Action] {
        switch state {
        case .proceeding, .completed:
            // §17.2.1: resend the most recent provisional or final response; before any, the
            // SRC is retransmitting because it heard nothing: 100 Trying now.
            if let lastResponse { return [.sendResponse(lastResponse)] }
            return state == .proceeding ? [.sendTrying] : []
        case .accepted, .confirmed, .terminated:
            // RFC 6026 §7.1: absorbed in Accepted; the TU retransmits its 2xx on its own timer.
            return []
        }
    }

    /// An ACK matched this transaction (only non-2xx ACKs carry the INVITE's branch).
    public mutating func receivedACK() -> [Action] {
        guard state == .completed else { return [] }
        state = .confirmed
        var actions: [Action] = [.cancel(.timerG), .cancel(.timerH)]
        if reliable {
            state = .terminated
            actions.append(.terminated)
        } else {
            actions.append(.schedule(.timerI, after: timers.t4))
        }
        return actions
    }

    public mutating func timerFired(_ timer: SIPTransactionTimer) -> [Action] {
        switch (state, timer) {
        case (.proceeding, .trying):
            return lastResponse == nil ? [.sendTrying] : []
        case (.completed, .timerG):
            guard let lastResponse else { return [] }
            timerGInterval = timers.nextRetransmitInterval(after: timerGInterval)
            return [.sendResponse(lastResponse), .schedule(.timerG, after: timerGInterval)]
        case (.completed, .timerH):
            state = .terminated
            return [.cancel(.timerG), .timedOut, .terminated]
        case (.confirmed, .timerI), (.accepted, .timerL):
            state = .terminated
            return [.terminated]
        default:
            return []
        }
    }

    /// A transport error sending a response (§17.2.4): the transaction ends.
    public mutating func transportError() -> [Action] {
        guard state != .terminated else { return [] }
        state = .terminated
        return [.cancel(.timerG), .cancel(.timerH), .cancel(.timerI), .cancel(.timerL), .terminated]
    }
}
