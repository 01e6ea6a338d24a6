/// A participant as the recorder needs it: who, which SDP labels they send and receive, and
/// whether they are still in the call, whichever way the metadata dialect expressed it.
public struct ResolvedParticipant: Sendable, Equatable, Codable {
    public var id: String
    /// The first nameID's AOR, as written.
    public var aor: String?
    /// The first non-blank name among the nameIDs.
    public var name: String?
    /// Labels of the streams this participant sends, in the order the metadata lists them.
    public var sends: [String]
    /// Labels of the streams this participant receives.
    public var receives: [String]
    /// False once the participant is disassociated from the session.
    public var associated: Bool
    public var associateTime: String?
    public var disassociateTime: String?

    public init(id: String, aor: String? = nil, name: String? = nil, sends: [String] = [], receives: [String] = [],
                associated: Bool = true, associateTime: String? = nil, disassociateTime: String? = nil) {
        self.id = id
        self.aor = aor
        self.name = name
        self.sends = sends
        self.receives = receives
        self.associated = associated
        self.associateTime = associateTime
        self.disassociateTime = disassociateTime
    }
}
