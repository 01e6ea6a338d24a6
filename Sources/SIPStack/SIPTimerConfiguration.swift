/// RFC 3261 §17 timer values, derived from T1, T2 and T4 (Table 4).
public struct SIPTimerConfiguration: Hashable, Sendable {
    public var t1: Duration
    public var t2: Duration
    public var t4: Duration

    public init(t1: Duration = .milliseconds(500), t2: Duration = .seconds(4), t4: Duration = .seconds(5)) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
    }

    /// RFC 3261 §17.2.1: how long a server INVITE transaction waits for the TU's first
    /// response before it sends 100 Trying itself.
    public var tryingDelay: Duration { .milliseconds(200) }

    /// 64*T1: Timers B, F, H, J (unreliable) and L, M (RFC 6026).
    public var transactionTimeout: Duration { t1 * 64 }

    /// Timer G/E: the next retransmission interval, doubling up to T2.
    public func nextRetransmitInterval(after interval: Duration) -> Duration {
        min(interval * 2, t2)
    }
}

/// The transports a message can arrive on.
public enum SIPTransportKind: String, Hashable, Sendable, CaseIterable {
    case udp = "UDP"
    case tcp = "TCP"
    case tls = "TLS"

    /// RFC 3261 §17: timers that only cover for loss are zero on reliable transports.
    public var isReliable: Bool { self != .udp }
}

/// Timer names of RFC 3261 §17 and RFC 6026, used verbatim.
public enum SIPTransactionTimer: Hashable, Sendable {
    case timerE, timerF, timerG, timerH, timerI, timerJ, timerK, timerL
    /// RFC 3261 §17.2.1: 100 Trying is sent unless the TU answers within 200 ms.
    case trying
}
