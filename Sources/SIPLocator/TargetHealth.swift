/// Which of an ordered list of targets are up, and where a request goes first and next.
///
/// Health comes from OPTIONS pings, as SBCs keep it (Cisco CUBE `options-keepalive`, Acme
/// `ping-method`): a target that answers 503 or not at all within the timeout is down until a
/// later ping gets a 2xx. A request goes to the first target that is up; RFC 3263 §4.3 moves
/// it to the next on a 503, a transport error or a timeout, never on other statuses (403, 404,
/// 488: another server would say the same).
public struct TargetHealth: Hashable, Sendable {
    /// What one OPTIONS ping got.
    public enum Probe: Hashable, Sendable {
        case response(status: Int)
        case timeout
        case transportError
    }

    /// What ended a request's attempt on one target.
    public enum AttemptOutcome: Hashable, Sendable {
        case response(status: Int)
        /// No response in time (the short failover timer, or RFC 3261 Timer B).
        case timeout
        case transportError
    }

    public private(set) var up: [Bool]

    /// Every target starts up (no ping has said otherwise).
    public init(targets: Int) {
        up = Array(repeating: true, count: targets)
    }

    public var count: Int { up.count }

    /// Records a ping's result; returns whether the target's state changed.
    @discardableResult
    public mutating func record(_ probe: Probe, target: Int) -> Bool {
        guard up.indices.contains(target) else { return false }
        let was = up[target]
        switch probe {
        case .response(let status) where (200..<300).contains(status):
            up[target] = true
        case .response(503), .timeout, .transportError:
            up[target] = false
        case .response:
            // Any other answer leaves the state as it was: the target is there, but not
            // saying it is ready.
            break
        }
        return up[target] != was
    }

    /// Where a new request goes: the first target up, in order.
    public func first() -> Int? {
        up.firstIndex(of: true)
    }

    /// Where a request goes after failing on `target`: the next target up after it, in order,
    /// among those not yet tried; nil when all are exhausted.
    public func next(after target: Int, tried: Set<Int>) -> Int? {
        guard target + 1 < up.count else { return nil }
        return (target + 1..<up.count).first { up[$0] && !tried.contains($0) }
    }

    /// RFC 3263 §4.3: whether an attempt's outcome sends the request to the next target.
    public static func failsOver(_ outcome: AttemptOutcome) -> Bool {
        switch outcome {
        case .response(let status): status == 503
        case .timeout, .transportError: true
        }
    }
}
