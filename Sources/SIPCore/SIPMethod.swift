/// A SIP request method. Known methods are cases; any other token is kept verbatim
/// (RFC 3261 §7.1: methods are case-sensitive tokens).
public enum SIPMethod: Hashable, Sendable, CustomStringConvertible {
    case invite, ack, bye, cancel, options, register, update, info, prack, subscribe, notify, refer, message, publish
    case `extension`(String)

    public init(_ token: String) {
        switch token {
        case "INVITE": self = .invite
        case "ACK": self = .ack
        case "BYE": self = .bye
        case "CANCEL": self = .cancel
        case "OPTIONS": self = .options
        case "REGISTER": self = .register
        case "UPDATE": self = .update
        case "INFO": self = .info
        case "PRACK": self = .prack
        case "SUBSCRIBE": self = .subscribe
        case "NOTIFY": self = .notify
        case "REFER": self = .refer
        case "MESSAGE": self = .message
        case "PUBLISH": self = .publish
        default: self = .extension(token)
        }
    }

    public var rawValue: String {
        switch self {
        case .invite: "INVITE"
        case .ack: "ACK"
        case .bye: "BYE"
        case .cancel: "CANCEL"
        case .options: "OPTIONS"
        case .register: "REGISTER"
        case .update: "UPDATE"
        case .info: "INFO"
        case .prack: "PRACK"
        case .subscribe: "SUBSCRIBE"
        case .notify: "NOTIFY"
        case .refer: "REFER"
        case .message: "MESSAGE"
        case .publish: "PUBLISH"
        case .extension(let token): token
        }
    }

    public var description: String { rawValue }
}
