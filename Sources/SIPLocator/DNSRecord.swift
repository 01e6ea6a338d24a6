/// One resource record of an answer: its owner name, time to live and data.
public struct DNSRecord: Hashable, Sendable {
    public enum Data: Hashable, Sendable {
        /// An IPv4 address, dotted.
        case a(String)
        /// An IPv6 address in RFC 5952 text form.
        case aaaa(String)
        case srv(SRVRecord)
        case naptr(NAPTRRecord)
        case cname(String)
        case soa(SOARecord)
        /// A type the locator does not read; its data is skipped.
        case other(DNSRecordType)
    }

    /// Owner name, without the trailing dot ("." for the root).
    public var name: String
    /// Seconds (RFC 2181 §8: values with the top bit set count as 0).
    public var ttl: UInt32
    public var data: Data

    public init(name: String, ttl: UInt32, data: Data) {
        self.name = name
        self.ttl = ttl
        self.data = data
    }

    public var type: DNSRecordType {
        switch data {
        case .a: .a
        case .aaaa: .aaaa
        case .srv: .srv
        case .naptr: .naptr
        case .cname: .cname
        case .soa: .soa
        case .other(let type): type
        }
    }

    /// The address of an A or AAAA record.
    public var address: String? {
        switch data {
        case .a(let address), .aaaa(let address): address
        default: nil
        }
    }

    public var srv: SRVRecord? {
        if case .srv(let record) = data { return record }
        return nil
    }

    public var naptr: NAPTRRecord? {
        if case .naptr(let record) = data { return record }
        return nil
    }
}
