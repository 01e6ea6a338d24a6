extension VendorIdentifiers {
    mutating func readSessionIDs(header: HeaderLookup, metadata: RecordingMetadata?) {
        // RFC 7989: Session-ID = local-uuid *(";" param); an all-zero UUID means "not known yet".
        let headerUUID = header.first("Session-ID").flatMap { value -> String? in
            let uuid = VendorIdentifiers.beforeSemicolon(value)
            return uuid.isEmpty || uuid.allSatisfy({ $0 == "0" }) ? nil : uuid
        }
        let sipSessionID = metadata?.sessions.lazy.flatMap(\.sipSessionIDs).map(VendorIdentifiers.beforeSemicolon).first { !$0.isEmpty }
        if let sipSessionID {
            sessionID = sipSessionID
            // The request's own Session-ID then identifies the recording session, not the recorded call.
            if let headerUUID { extra["rsSessionIDHeader"] = headerUUID }
        } else {
            sessionID = headerUUID
        }
    }

    mutating func readUCID(header: HeaderLookup, blocks: [MetadataElement]) {
        // An element the SRC names as the UCID (Acme `apkt:ucid`, AudioCodes `ac:AvayaUCID`) wins.
        let element = blocks.lazy.flatMap { $0.descendants(named: "ucid") + $0.descendants(named: "avayaucid") }
            .compactMap(\.trimmedText).first
        if let element {
            ucidRaw = element
            ucid = VendorIdentifiers.canonicalUCID(element)
            return
        }
        // RFC 7433: User-to-User data, header parameters (";encoding=hex") after the data.
        if let uui = header.first("User-to-User").map(VendorIdentifiers.beforeSemicolon),
           let canonical = VendorIdentifiers.canonicalUCID(uui) {
            ucidRaw = uui
            ucid = canonical
        }
    }

    mutating func readBroadWorks(header: HeaderLookup, blocks: [MetadataElement]) {
        let block = blocks.lazy.flatMap { $0.descendants(named: "broadWorksRecordingMetadata") }.first
        extTrackingID = block?.child(named: "extTrackingID")?.trimmedText ?? header.first("X-BroadWorks-Correlation-Info")
        guard let block else { return }
        let keys = [("userID", "broadworksUserID"), ("callID", "broadworksCallID"),
                    ("serviceProviderID", "broadworksServiceProviderID"), ("groupID", "broadworksGroupID")]
        for (element, key) in keys {
            if let value = block.child(named: element)?.trimmedText { extra[key] = value }
        }
        // <callType><origCall|termCall>…</callType>: the child's name is the direction.
        if let direction = block.child(named: "callType")?.children.first?.name { extra["callDirection"] = direction }
    }

    mutating func readAcmePacket(blocks: [MetadataElement]) {
        // Acme binds apkt to "http://acmepacket.com/…" and, on the session, to "http:/acmepacket.com/…".
        let acme = blocks.flatMap(\.allElements)
            .filter { $0.namespace.lowercased().contains("acmepacket.com") }
        if let realm = acme.first(where: { $0.foldedName == "realm" })?.trimmedText { extra["realm"] = realm }
        if let callerOrig = acme.first(where: { $0.foldedName == "callerorig" })?.trimmedText { extra["callerOrig"] = callerOrig }
        let callIDHeader = acme.first { $0.foldedName == "header" && $0.attribute("label")?.lowercased() == "call-id" }
        if let callID = callIDHeader?.child(named: "value")?.trimmedText ?? callIDHeader?.trimmedText {
            extra["csCallID"] = callID
        }
    }

    mutating func readRibbon(blocks: [MetadataElement]) {
        guard let callData = blocks.lazy.flatMap({ $0.descendants(named: "callData") }).first else { return }
        let keys = [("gcid", "gcid"), ("callid", "csCallID"), ("fromhdr", "csFrom"), ("tohdr", "csTo")]
        for (element, key) in keys {
            if let value = callData.child(named: element)?.trimmedText { extra[key] = value }
        }
    }

    mutating func readMetaswitch(blocks: [MetadataElement]) {
        guard let block = blocks.lazy.flatMap({ $0.descendants(named: "metaswitchRecordingMetadata") }).first else { return }
        // Party numbers (callingPartyNumber, dialedDigits) describe participants, not the call: not copied.
        let keys = [("callType", "metaswitchCallType"), ("recordedParty", "metaswitchRecordedParty"),
                    ("businessGroup", "metaswitchBusinessGroup"), ("userName", "metaswitchUserName"),
                    ("systemName", "metaswitchSystemName")]
        for (element, key) in keys {
            if let value = block.child(named: element)?.trimmedText { extra[key] = value }
        }
    }

    mutating func readGenesys(header: HeaderLookup, blocks: [MetadataElement]) {
        if let uuid = blocks.lazy.flatMap({ $0.descendants(named: "GenesysUUID") }).compactMap(\.trimmedText).first {
            extra["genesysUUID"] = uuid
        }
        if let uuid = header.first("X-Genesys-CallUUID") { extra["genesysCallUUID"] = uuid }
    }

    mutating func readFreeSWITCH(header: HeaderLookup, metadata: RecordingMetadata?) {
        // mod_siprec uses the recorded channel's UUID as session id (and group id).
        guard let agent = header.first("User-Agent"), agent.lowercased().hasPrefix("freeswitch"),
              let uuid = metadata?.sessionIDs.first else { return }
        extra["fsCallUUID"] = uuid
    }

    /// The `GCI,<hex>` line of a GTD body.
    static func gci(inGTD gtd: String) -> String? {
        for line in gtd.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            let fields = line.split(separator: ",", maxSplits: 1)
            if fields.count == 2, fields[0].trimmingXMLWhitespace().uppercased() == "GCI" {
                let value = String(fields[1]).trimmingXMLWhitespace()
                if !value.isEmpty { return value }
            }
        }
        return nil
    }

    /// The 16 hex digits of an Avaya UCID from its UUI form: `00FA08` + 8 bytes (22+ hex),
    /// `FA08` + 8 bytes (20+ hex), or the bare 16 digits; `;encoding=hex` and the like are ignored.
    static func canonicalUCID(_ value: String) -> String? {
        let data = beforeSemicolon(value)
        guard data.allSatisfy(\.isHexDigit) else { return nil }
        let upper = data.uppercased()
        let digits = Array(data)
        if upper.hasPrefix("00FA08"), digits.count >= 22 { return String(digits[6..<22]) }
        if upper.hasPrefix("FA08"), digits.count >= 20 { return String(digits[4..<20]) }
        if digits.count == 16 { return data }
        return nil
    }

    static func beforeSemicolon(_ value: String) -> String {
        let head = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? value
        return head.trimmingXMLWhitespace()
    }
}

extension MetadataElement {
    /// This element and all its descendants, depth first.
    var allElements: [MetadataElement] {
        var found: [MetadataElement] = []
        var stack: [MetadataElement] = [self]
        while let element = stack.popLast() {
            found.append(element)
            stack.append(contentsOf: element.children.reversed())
        }
        return found
    }
}
