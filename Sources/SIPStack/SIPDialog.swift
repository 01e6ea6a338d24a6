import SIPCore

/// Identifies a dialog from this server's side (RFC 3261 §12): Call-ID, local tag, remote tag.
public struct SIPDialogID: Hashable, Sendable, CustomStringConvertible {
    public var callID: String
    public var localTag: String
    public var remoteTag: String

    public init(callID: String, localTag: String, remoteTag: String) {
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
    }

    /// Redacted for logs: Call-IDs are not personal data, but keep the line short.
    public var description: String { "dialog(\(callID.prefix(32)))" }
}

/// A dialog created by this server as UAS (RFC 3261 §12.1.1).
public struct SIPDialog: Sendable {
    public enum State: Hashable, Sendable {
        /// 2xx sent, ACK not yet received (2xx retransmitted on unreliable transports).
        case early2xx
        case confirmed
        case terminated
    }

    public let id: SIPDialogID
    public var state: State
    /// Remote party (the From of the INVITE) and local party (its To, with our tag).
    public var remote: SIPAddress
    public var local: SIPAddress
    public var remoteTarget: SIPURI
    /// Record-Route of the INVITE in order (§12.1.1).
    public var routeSet: [SIPAddress]
    public var remoteCSeq: UInt32
    public var localCSeq: UInt32
    /// Where in-dialog requests from us go: the peer the INVITE came from.
    public var peer: SIPPeer
    /// We sent an SDP offer in the 2xx (the INVITE had none); the answer comes in the ACK.
    public var awaitingAnswerInACK: Bool
    /// The 2xx being retransmitted until the ACK arrives (§13.3.1.4).
    var pending2xx: SIPResponse?
    var retransmitInterval: Duration
    /// CSeq number of the INVITE whose 2xx awaits the ACK.
    var pendingInviteCSeq: UInt32
    /// Server INVITE transactions on this dialog that have no final response yet.
    var pendingInvites: Set<ServerTransactionKey> = []
    /// The armings of the dialog's timers (2xx retransmission, ACK timeout, session expiry).
    var timers = SIPTimerArmings()

    init(id: SIPDialogID, invite: SIPRequest, local: SIPAddress, peer: SIPPeer, t1: Duration) {
        self.id = id
        self.state = .early2xx
        self.remote = invite.from ?? SIPAddress(uri: invite.uri)
        self.local = local
        self.remoteTarget = invite.contacts.first?.uri ?? self.remote.uri
        self.routeSet = invite.recordRoutes
        self.remoteCSeq = invite.cseq?.number ?? 0
        self.localCSeq = 0
        self.peer = peer
        self.awaitingAnswerInACK = false
        self.retransmitInterval = t1
        self.pendingInviteCSeq = invite.cseq?.number ?? 0
    }
}
