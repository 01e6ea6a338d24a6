/// Whether this node should take new calls, from what matters to a recording: space and
/// writability of the storage, capacity, and whether it is draining. Pure: the server gathers
/// the inputs, this decides, and SIP answers what the verdict says (OPTIONS 200 or 503, INVITE
/// accepted or 503 with Retry-After, so the SBC sends the call to another recorder).
public struct HealthInputs: Sendable, Equatable {
    /// SIGTERM was received: calls in progress go on, new ones go elsewhere.
    public var draining = false
    /// The records journal can be written (a call without a record is not taken).
    public var recordsWritable = true
    /// The spool has space above the minimum and its last write succeeded.
    public var spoolHealthy = true
    /// The archive has space above the minimum (or is unknown: a missing archive folder is
    /// created on the first move, and the spool covers an archive outage).
    public var archiveHasSpace = true
    public var activeCalls = 0
    public var maxCalls = Int.max
    /// Media ports free for new streams; a call needs at least one.
    public var freeMediaPorts = Int.max

    public init() {}
}

/// Why the node is not taking calls. The raw values are the `reason` label of
/// `siprecd_sip_rejected_total` and the words of the 503's Warning and of `/readyz`.
public enum HealthProblem: String, Sendable, CaseIterable, Comparable {
    case draining
    case recordsNotWritable
    case spoolUnhealthy
    case archiveLowSpace
    case atCapacity
    case noMediaPorts

    /// For the SIP Warning header (RFC 3261 §20.43, code 399) and logs.
    public var text: String {
        switch self {
        case .draining: "recorder draining"
        case .recordsNotWritable: "recording records cannot be written"
        case .spoolUnhealthy: "spool short of space or not writable"
        case .archiveLowSpace: "archive short of space"
        case .atCapacity: "at max-concurrent-calls"
        case .noMediaPorts: "no free media ports"
        }
    }

    /// Seconds for Retry-After (RFC 3261 §20.33). Capacity frees up as calls end; storage
    /// needs an operator; a draining node is going away.
    public var retryAfterSeconds: Int {
        switch self {
        case .atCapacity, .noMediaPorts: 5
        case .recordsNotWritable, .spoolUnhealthy, .archiveLowSpace: 30
        case .draining: 300
        }
    }

    public static func < (lhs: HealthProblem, rhs: HealthProblem) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public struct HealthVerdict: Sendable, Equatable {
    /// Every problem, most serious first (the order of `HealthProblem.allCases`).
    public var problems: [HealthProblem]

    public var healthy: Bool { problems.isEmpty }
    /// The problem a rejection names.
    public var primary: HealthProblem? { problems.first }
    /// The longest wait any problem asks for.
    public var retryAfterSeconds: Int { problems.map(\.retryAfterSeconds).max() ?? 0 }

    public static func evaluate(_ inputs: HealthInputs) -> HealthVerdict {
        var problems: [HealthProblem] = []
        if inputs.draining { problems.append(.draining) }
        if !inputs.recordsWritable { problems.append(.recordsNotWritable) }
        if !inputs.spoolHealthy { problems.append(.spoolUnhealthy) }
        if !inputs.archiveHasSpace { problems.append(.archiveLowSpace) }
        if inputs.activeCalls >= inputs.maxCalls { problems.append(.atCapacity) }
        if inputs.freeMediaPorts < 1 { problems.append(.noMediaPorts) }
        return HealthVerdict(problems: problems)
    }
}
