/// Who runs the maintenance jobs (retention purge, export): exactly one node at a time. With
/// PostgreSQL it is the node holding a session advisory lock (released by the server when that
/// node's connection dies, so another takes over at its next check); with SQLite the single
/// node is always the leader.
public protocol JobLeadership: Sendable {
    /// Tries to become or stay the leader; true while this node leads. Never throws: an
    /// unreachable database means not leading.
    func check() async -> Bool
    /// Gives the leadership up (at shutdown), so another node takes over at once.
    func release() async
}

/// The leadership of a node whose catalog no other node shares (SQLite).
public struct SingleNodeLeadership: JobLeadership {
    public init() {}
    public func check() async -> Bool { true }
    public func release() async {}
}
