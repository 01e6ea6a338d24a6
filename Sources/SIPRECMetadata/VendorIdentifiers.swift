/// Call identifiers that SRCs add beside the RFC metadata, used to find a recording from the
/// contact-centre or PBX side (Avaya UCID, Cisco GUID, BroadWorks tracking id, RFC 7989 Session-ID…).
public struct VendorIdentifiers: Sendable, Equatable, Codable {
    /// Canonical Avaya Universal Call ID: 16 hex digits (8 bytes), as written.
    public var ucid: String?
    /// The UCID as carried (`User-to-User` data without its header parameters, or an XML element's text).
    public var ucidRaw: String?
    /// The `Cisco-Guid` header as sent (four decimal 32-bit words).
    public var ciscoGuid: String?
    /// BroadWorks external tracking id (`extTrackingID`, `X-BroadWorks-Correlation-Info`).
    public var extTrackingID: String?
    /// The recorded call's session identifier: `<sipSessionID>` up to the first `;`, else the
    /// local UUID of the request's RFC 7989 `Session-ID` header.
    public var sessionID: String?
    /// Every other identifier found, by key: `gci`, `rsSessionIDHeader`, `gcid`, `csCallID`, `csFrom`,
    /// `csTo`, `realm`, `callerOrig`, `broadworksUserID`, `broadworksCallID`, `broadworksServiceProviderID`,
    /// `broadworksGroupID`, `callDirection`, `metaswitchCallType`, `metaswitchRecordedParty`,
    /// `metaswitchBusinessGroup`, `metaswitchUserName`, `metaswitchSystemName`, `genesysUUID`,
    /// `genesysCallUUID`, `fsCallUUID`.
    public var extra: [String: String]

    public init(ucid: String? = nil, ucidRaw: String? = nil, ciscoGuid: String? = nil, extTrackingID: String? = nil,
                sessionID: String? = nil, extra: [String: String] = [:]) {
        self.ucid = ucid
        self.ucidRaw = ucidRaw
        self.ciscoGuid = ciscoGuid
        self.extTrackingID = extTrackingID
        self.sessionID = sessionID
        self.extra = extra
    }

    /// From the SIP headers of the request (name/value pairs as received, names case-insensitive)
    /// and the (merged) metadata if any.
    public static func extract(headers: [(name: String, value: String)], metadata: RecordingMetadata?) -> VendorIdentifiers {
        extract(headers: headers, metadata: metadata, gtd: nil)
    }

    /// As `extract(headers:metadata:)`, plus the text of an `application/gtd` body part when the
    /// request has one (CUBE with GTD passthrough): its `GCI` line gives `extra["gci"]`.
    public static func extract(headers: [(name: String, value: String)], metadata: RecordingMetadata?, gtd: String?) -> VendorIdentifiers {
        var ids = VendorIdentifiers()
        let header = HeaderLookup(headers)
        ids.ciscoGuid = header.first("Cisco-Guid")
        ids.readSessionIDs(header: header, metadata: metadata)
        let blocks = metadata?.allExtensions.map(\.element) ?? []
        ids.readUCID(header: header, blocks: blocks)
        ids.readBroadWorks(header: header, blocks: blocks)
        ids.readAcmePacket(blocks: blocks)
        ids.readRibbon(blocks: blocks)
        ids.readMetaswitch(blocks: blocks)
        ids.readGenesys(header: header, blocks: blocks)
        ids.readFreeSWITCH(header: header, metadata: metadata)
        if let gtd, let gci = VendorIdentifiers.gci(inGTD: gtd) { ids.extra["gci"] = gci }
        return ids
    }
}
