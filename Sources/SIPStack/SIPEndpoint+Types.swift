import NIOCore
import SIPCore

/// Settings of the SIP endpoint core.
public struct SIPEndpointConfiguration: Sendable {
    public var timers: SIPTimerConfiguration
    public var trustedNetworks: TrustedNetworks
    /// Value of the Server and User-Agent headers.
    public var serverName: String
    /// Option tags in Supported; a Require naming anything else gets 420 (RFC 3261 §8.2.2.3).
    public var supportedOptionTags: [String]
    public var acceptedContentTypes: [String]
    /// Host written in Via and Contact when the listener is bound to a wildcard address.
    public var advertisedHost: String?
    public var contactUser: String
    /// Server transactions at once; beyond it new requests get a stateless 503.
    public var maxTransactions: Int
    /// RFC 4028 Min-SE in seconds: a shorter Session-Expires gets 422.
    public var minSessionExpires: Int

    public init(timers: SIPTimerConfiguration = SIPTimerConfiguration(),
                trustedNetworks: TrustedNetworks = .everyone,
                serverName: String = "siprecd",
                supportedOptionTags: [String] = ["siprec", "timer"],
                acceptedContentTypes: [String] = ["application/sdp", "application/rs-metadata+xml", "multipart/mixed"],
                advertisedHost: String? = nil,
                contactUser: String = "siprecd",
                maxTransactions: Int = 500_000,
                minSessionExpires: Int = 90) {
        self.timers = timers
        self.trustedNetworks = trustedNetworks
        self.serverName = serverName
        self.supportedOptionTags = supportedOptionTags
        self.acceptedContentTypes = acceptedContentTypes
        self.advertisedHost = advertisedHost
        self.contactUser = contactUser
        self.maxTransactions = maxTransactions
        self.minSessionExpires = minSessionExpires
    }

    /// Methods this endpoint implements (Allow); other known methods get 405, unknown ones 501.
    public static let allowedMethods: [SIPMethod] = [.invite, .ack, .bye, .cancel, .options, .update, .info]
    public var allowHeader: String { SIPEndpointConfiguration.allowedMethods.map(\.rawValue).joined(separator: ", ") }
}

public enum SIPTimerID: Hashable, Sendable {
    case serverInvite(ServerTransactionKey, SIPTransactionTimer)
    case serverNonInvite(ServerTransactionKey, SIPTransactionTimer)
    case client(String, SIPTransactionTimer)
    /// RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx until the ACK arrives.
    case retransmit2xx(SIPDialogID)
    case ackTimeout(SIPDialogID)
    /// RFC 4028 §10: the SRC stopped refreshing the session.
    case sessionExpiry(SIPDialogID)
}

/// A request the application answers with `SIPEndpoint.respond(to:…)`.
public struct SIPIncomingRequest: Sendable {
    public var key: ServerTransactionKey
    public var request: SIPRequest
    public var peer: SIPPeer
    /// Set for requests inside an established dialog.
    public var dialogID: SIPDialogID?
    /// The To tag this server's final responses to the request carry (the dialog's local tag
    /// once a 2xx creates it).
    public var localTag: String
}

public enum SIPDialogEndReason: String, Hashable, Sendable {
    case remoteBye
    case localBye
    /// No ACK for our 2xx within 64*T1 (§13.3.1.4).
    case ackTimeout
    /// The SRC did not refresh the session in time (RFC 4028 §10).
    case sessionExpired
}

/// Why the endpoint refused or dropped something, for counters and logs.
public enum SIPRejectReason: String, Hashable, Sendable, CaseIterable {
    case untrustedSource
    case malformedRequest
    case malformedResponseDropped
    case unroutableDropped
    case unknownMethod
    case methodNotAllowed
    case badExtension
    case noSuchDialog
    case noSuchTransaction
    case outOfOrderCSeq
    case requestPending
    case strayResponse
    case strayACK
    case overloaded
    case tooManyConnections
    case sessionIntervalTooSmall
}

public enum SIPClientResult: Hashable, Sendable {
    case response(SIPResponse)
    case timeout
}

public enum SIPEndpointEvent: Sendable {
    case request(SIPIncomingRequest)
    /// ACK for a 2xx in a dialog; carries the SDP answer after a delayed offer.
    case ack(SIPDialogID, SIPRequest)
    /// CANCEL matched a pending INVITE; 200 and 487 have been sent.
    case cancelled(ServerTransactionKey)
    /// The dialog is over; `bye` is the SRC's BYE (with its body: CUBE sends final metadata in it).
    case dialogEnded(SIPDialogID, SIPDialogEndReason, bye: SIPRequest?)
    case clientResult(branch: String, dialogID: SIPDialogID?, SIPClientResult)
    case rejected(SIPRejectReason)
}

public enum SIPEndpointAction: Sendable {
    case send(SIPMessage, to: SIPPeer)
    /// Arms a timer; `generation` goes back to `SIPEndpoint.timerFired` when it expires. There
    /// is no cancel: the endpoint ignores an expiry whose generation is no longer the one its
    /// transaction or dialog holds (see `SIPTimerArmings`).
    case schedule(SIPTimerID, after: Duration, generation: UInt64)
    case event(SIPEndpointEvent)
}

/// The current arming of each timer of one owner (a transaction or a dialog): the generation
/// of the `schedule` action that armed it, 0 when it is not armed. Cancelling or re-arming
/// changes only this value, so the timer queue needs no index by timer id (hashing and moving
/// string keys on every arm, cancel and expiry was a tenth of the SIP loop's CPU), and an
/// expiry that finds another generation here is stale and ignored.
struct SIPTimerArmings: Sendable {
    private var first: UInt64 = 0
    private var second: UInt64 = 0
    private var third: UInt64 = 0
    private var fourth: UInt64 = 0
    private var fifth: UInt64 = 0

    /// Slots: transaction timers share five (no transaction has more), dialog timers three.
    static func slot(_ timer: SIPTransactionTimer) -> Int {
        switch timer {
        case .trying: 0
        case .timerE, .timerG, .timerJ: 1
        case .timerF, .timerH: 2
        case .timerI, .timerK: 3
        case .timerL: 4
        }
    }

    static let retransmit2xx = 0
    static let ackTimeout = 1
    static let sessionExpiry = 2

    subscript(slot: Int) -> UInt64 {
        get {
            switch slot {
            case 0: first
            case 1: second
            case 2: third
            case 3: fourth
            default: fifth
            }
        }
        set {
            switch slot {
            case 0: first = newValue
            case 1: second = newValue
            case 2: third = newValue
            case 3: fourth = newValue
            default: fifth = newValue
            }
        }
    }

    func isArmed(_ slot: Int) -> Bool { self[slot] != 0 }

    /// Whether an expiry of `generation` (nil: whichever arming is current) is the current
    /// arming of `slot`; if so the slot is disarmed, since a timer fires once.
    mutating func fire(_ slot: Int, generation: UInt64?) -> Bool {
        let current = self[slot]
        guard current != 0, generation == nil || generation == current else { return false }
        self[slot] = 0
        return true
    }

    mutating func disarmAll() { self = SIPTimerArmings() }
}
