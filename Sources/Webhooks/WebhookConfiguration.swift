import Foundation

/// One webhook endpoint: where events are POSTed, which, and the signing key.
public struct WebhookEndpoint: Sendable, Equatable {
    public var url: URL
    public var events: Set<WebhookEventKind>
    /// HMAC-SHA256 key of `X-Siprecd-Signature`; nil sends no signature.
    public var secret: String?

    public init(url: URL, events: Set<WebhookEventKind> = Set(WebhookEventKind.allCases), secret: String?) {
        self.url = url
        self.events = events
        self.secret = secret
    }
}

public struct WebhookSettings: Sendable, Equatable {
    public var endpoints: [WebhookEndpoint]
    /// Attempts of one delivery stop after this long (the event is moved to `failed/`).
    public var giveUpAfter: TimeInterval
    /// Delays between attempts, the last repeating.
    public var retryDelays: [TimeInterval]
    public var requestTimeout: TimeInterval

    public init(endpoints: [WebhookEndpoint], giveUpAfter: TimeInterval = 86_400,
                retryDelays: [TimeInterval] = [1, 5, 30, 120, 600], requestTimeout: TimeInterval = 10) {
        self.endpoints = endpoints
        self.giveUpAfter = giveUpAfter
        self.retryDelays = retryDelays
        self.requestTimeout = requestTimeout
    }
}
