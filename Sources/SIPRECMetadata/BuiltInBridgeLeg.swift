/// Cisco Unified CM Built-in-Bridge leg, from the parameters inside the From URI
/// (x-nearend / x-farend flag, x-refci, x-nearendclusterid, x-nearenddevice, x-nearendaddr, x-farendrefci,
/// x-farendclusterid, x-farenddevice, x-farendaddr, x-farendguid, x-sessionid...). Parameter names case-insensitive.
///
/// CUCM records one call as two plain INVITEs, one per direction; both carry the same
/// `x-refci`/`x-farendrefci`, and `pairingKey` is what joins them into one recording.
public struct BuiltInBridgeLeg: Sendable, Equatable, Codable {
    public enum Side: String, Sendable, Codable {
        case nearEnd = "nearend", farEnd = "farend"
    }

    /// Which voice this leg carries: the near end (the recorded phone) or the far end.
    public var side: Side
    /// `x-refci`: the near-end call leg's reference id.
    public var refci: String?
    public var nearEndClusterID: String?
    public var nearEndDevice: String?
    /// `x-nearendaddr`: the near end's directory number.
    public var nearEndAddr: String?
    public var farEndRefci: String?
    public var farEndClusterID: String?
    public var farEndDevice: String?
    public var farEndAddr: String?
    public var farEndGUID: String?
    /// `x-sessionid`, where CUCM adds it.
    public var sessionID: String?

    /// The URI parameters as the URI parser gives them (values unescaped; a flag has no value).
    /// Nil when neither `x-nearend` nor `x-farend` is there.
    public init?(uriParameters: [(name: String, value: String?)]) {
        var values: [String: String] = [:]
        var side: Side?
        for parameter in uriParameters {
            let name = parameter.name.trimmingXMLWhitespace().lowercased()
            switch name {
            case "x-nearend": side = side ?? .nearEnd
            case "x-farend": side = side ?? .farEnd
            default:
                if let value = parameter.value?.trimmingXMLWhitespace(), !value.isEmpty, values[name] == nil {
                    values[name] = value
                }
            }
        }
        guard let side else { return nil }
        self.side = side
        refci = values["x-refci"]
        nearEndClusterID = values["x-nearendclusterid"]
        nearEndDevice = values["x-nearenddevice"]
        nearEndAddr = values["x-nearendaddr"]
        farEndRefci = values["x-farendrefci"]
        farEndClusterID = values["x-farendclusterid"]
        farEndDevice = values["x-farenddevice"]
        farEndAddr = values["x-farendaddr"]
        farEndGUID = values["x-farendguid"]
        sessionID = values["x-sessionid"]
    }

    /// The key both legs of one recorded call share: the near-end cluster id, `x-refci` and
    /// `x-farendrefci` (the near-end leg's refci is unique within its cluster). Nil without
    /// `x-refci`: such a leg cannot be told apart from another call's and is never paired.
    public var pairingKey: String? {
        guard let refci, !refci.isEmpty else { return nil }
        return [nearEndClusterID ?? "", refci, farEndRefci ?? ""].joined(separator: "/")
    }
}
