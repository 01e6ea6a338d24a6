import Testing
import SIPRECMetadata

/// Every vendor INVITE under sip-fixtures/siprec against its expected.json.
@Suite("SIPREC vendor fixtures")
struct VendorFixtureTests {
    static let metadataVendors = ["acme-packet", "audiocodes", "avaya-sbce", "broadworks", "cube", "freeswitch", "metaswitch", "opensips", "ribbon"]
    static let headerOnlyVendors = ["cube-nbr", "cucm-bib"]

    /// The INVITE whose headers expected.json's vendorIDs describe.
    static func inviteFile(_ vendor: String) -> String { vendor == "cucm-bib" ? "invite-nearend.sip" : "invite.sip" }

    @Test("every fixture folder is covered by these tests, and expected.json agrees on which carry metadata")
    func foldersCovered() throws {
        #expect(MetadataFixtures.vendorFolders() == (Self.metadataVendors + Self.headerOnlyVendors).sorted())
        for vendor in Self.metadataVendors {
            #expect(try MetadataFixtures.expected(vendor)["metadata"]?.isNull == false, "\(vendor)")
        }
        for vendor in Self.headerOnlyVendors {
            #expect(try MetadataFixtures.expected(vendor)["metadata"]?.isNull == true, "\(vendor)")
        }
    }

    @Test("INVITE metadata: session ids, group id, dialect and data mode", arguments: metadataVendors)
    func sessionsAndGroup(vendor: String) throws {
        let expected = try MetadataFixtures.expected(vendor)
        let message = try MetadataFixtures.message(vendor, "invite.sip")
        let body = try #require(message.metadata, "no metadata part in \(vendor)/invite.sip")
        let metadata = try RecordingMetadata.parse(body)
        #expect(metadata.sessionIDs == expected["sessionIDs"]?.strings)
        #expect(metadata.groupID == expected["groupID"]?.string)
        #expect(metadata.dataMode == .complete)
        let namespace = try #require(expected["metadata"]?["namespace"]?.string)
        let dialect: RecordingMetadata.Dialect = switch namespace {
        case "urn:ietf:params:xml:ns:recording:1": .rfc7865
        case "urn:ietf:params:xml:ns:recording": .draft
        case "urn:ietf:params:xml:ns:siprec": .preRFC
        default: .unknown
        }
        #expect(metadata.dialect == dialect)
        if let recordingID = expected["recordingID"]?.string {
            #expect(metadata.recordingID == recordingID)
        }
    }

    @Test("INVITE metadata: participants in document order with AOR, name and stream labels", arguments: metadataVendors)
    func participants(vendor: String) throws {
        let expected = try MetadataFixtures.expected(vendor)["participants"]?.array ?? []
        let body = try #require(try MetadataFixtures.message(vendor, "invite.sip").metadata)
        let resolved = try RecordingMetadata.parse(body).resolvedParticipants()
        try FollowUpTests.expectParticipants(resolved, expected)
        #expect(resolved.allSatisfy { $0.associated }, "\(vendor)")
    }

    @Test("vendor identifiers from the INVITE's headers and metadata equal expected.json vendorIDs",
          arguments: metadataVendors + headerOnlyVendors)
    func vendorIdentifiers(vendor: String) throws {
        let expected = try #require(try MetadataFixtures.expected(vendor)["vendorIDs"])
        let message = try MetadataFixtures.message(vendor, Self.inviteFile(vendor))
        let metadata = try message.metadata.map { try RecordingMetadata.parse($0) }
        let actual = VendorIdentifiers.extract(headers: message.headers, metadata: metadata, gtd: message.gtd)
        #expect(actual == Self.vendorIdentifiers(expected))
        // The four fixed keys are always listed.
        for key in ["ucid", "ciscoGuid", "extTrackingID", "sessionID"] {
            #expect(expected[key] != nil, "\(vendor) expected.json lacks \(key)")
        }
    }

    @Test("CUBE's GCI comes only from the application/gtd part; without it the other identifiers are unchanged")
    func cubeWithoutGTD() throws {
        let message = try MetadataFixtures.message("cube", "invite.sip")
        let metadata = try RecordingMetadata.parse(try #require(message.metadata))
        let withoutGTD = VendorIdentifiers.extract(headers: message.headers, metadata: metadata)
        var expected = Self.vendorIdentifiers(try #require(try MetadataFixtures.expected("cube")["vendorIDs"]))
        #expect(expected.extra.removeValue(forKey: "gci") != nil)
        #expect(withoutGTD == expected)
    }

    static func vendorIdentifiers(_ json: JSONValue) -> VendorIdentifiers {
        var ids = VendorIdentifiers()
        for (key, value) in json.object {
            let text = value.scalarText
            switch key {
            case "ucid": ids.ucid = text
            case "ucidRaw": ids.ucidRaw = text
            case "ciscoGuid": ids.ciscoGuid = text
            case "extTrackingID": ids.extTrackingID = text
            case "sessionID": ids.sessionID = text
            default: if let text { ids.extra[key] = text }
            }
        }
        return ids
    }

    // MARK: - Local-name collisions and extension data

    @Test("Ribbon: the <name> inside callData neither adds a participant nor renames one; a blank name is nil")
    func ribbonCallDataName() throws {
        let metadata = try RecordingMetadata.parse(try #require(try MetadataFixtures.message("ribbon", "invite.sip").metadata))
        #expect(metadata.participants.count == 2)
        #expect(metadata.participants.flatMap(\.nameIDs).compactMap(\.name) == ["Casey Morgan"])
        let callData = try #require(metadata.groups.first?.extensions.first)
        #expect(callData.parentID == "NTMwMTE3OTQyLWEwMS0xMA==")
        #expect(callData.element.name == "callData")
        #expect(callData.element.namespace == "urn:ietf:params:xml:ns:callData")
        #expect(callData.xml.contains("<name>Sales Queue</name>"))
        #expect(callData.xml.contains("&lt;sip:+12025550182@192.0.2.90&gt;"))
    }

    @Test("Acme Packet: apkt blocks and their unprefixed <value> stay extension data of their participant")
    func acmeExtensions() throws {
        let metadata = try RecordingMetadata.parse(try #require(try MetadataFixtures.message("acme-packet", "invite.sip").metadata))
        #expect(metadata.participants.count == 3)
        let first = try #require(metadata.participants.first)
        #expect(first.extensions.map(\.element.name) == ["callingParty", "request-uri", "realm", "header"])
        #expect(first.extensions.allSatisfy { $0.parentID == first.id })
        #expect(first.associateTime == "2024-06-04T16:05:41")
        #expect(first.sessionRef == "xD9mQnZ0Sa1kTWpZbDk3Ng==")
        let session = try #require(metadata.sessions.first)
        #expect(session.extensions.map(\.element.namespace) == ["http:/acmepacket.com/siprec/extensiondata", "http:/acmepacket.com/siprec/extensiondata"])
        #expect(metadata.streams.map(\.mode) == ["separate", "separate", "separate"])
    }

    @Test("Metaswitch: extension children in the recording namespace are not recording elements")
    func metaswitchExtension() throws {
        let metadata = try RecordingMetadata.parse(try #require(try MetadataFixtures.message("metaswitch", "invite.sip").metadata))
        #expect(metadata.participants.map(\.id) == ["Xk3yJOHTEeaxvOyezQV3BA==", "Xk3zbuHTEeaxvOyezQV3BA=="])
        let block = try #require(metadata.extensions.first)
        #expect(metadata.extensions.count == 1)
        #expect(block.parentID == nil)
        #expect(block.element.name == "metaswitchRecordingMetadata")
        #expect(block.element.namespace == "urn:ietf:params:xml:ns:recording")
        #expect(block.xml.hasPrefix("<metaswitchRecordingMetadata xmlns=\"urn:ietf:params:xml:ns:recording\"><callType>originating</callType>"))
    }

    @Test("BroadWorks: <extensiondata parent> keeps its id and parent; mixed stream mode is read")
    func broadWorksExtension() throws {
        let metadata = try RecordingMetadata.parse(try #require(try MetadataFixtures.message("broadworks", "invite.sip").metadata))
        let block = try #require(metadata.extensions.first)
        #expect(block.id == "urn:uuid:44d5e6f7-0819-42a3-b4c5-d6e7f8091a2b")
        #expect(block.parentID == "urn:uuid:c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f")
        #expect(block.element.namespace == "http://schema.broadsoft.com/broadworksCallRecording")
        #expect(metadata.streams.first?.mode == "mixed")
        #expect(metadata.sessions.first?.groupRef == "urn:uuid:8a9b0c1d-2e3f-4051-a627-38495a6b7c8d")
        // The BroadWorks <groupID> inside the extension is not the RFC group id.
        #expect(metadata.groupID == "urn:uuid:8a9b0c1d-2e3f-4051-a627-38495a6b7c8d")
    }

    @Test("AudioCodes: ac:AvayaUCID with a redeclared default namespace stays a session extension")
    func audioCodesUCID() throws {
        let metadata = try RecordingMetadata.parse(try #require(try MetadataFixtures.message("audiocodes", "invite.sip").metadata))
        let block = try #require(metadata.sessions.first?.extensions.first)
        #expect(block.element.name == "AvayaUCID")
        #expect(block.element.namespace == "http://AudioCodes")
        #expect(block.parentID == "0000-0000-0000-0000-7e3a1c9b2f4d6e80")
    }
}
