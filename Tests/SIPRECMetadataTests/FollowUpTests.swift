import Testing
import SIPRECMetadata

/// The re-INVITEs, UPDATEs and BYEs that follow a fixture INVITE (expected.json `followUps`).
@Suite("SIPREC follow-up requests")
struct FollowUpTests {
    static func followUp(_ vendor: String, _ file: String) throws -> JSONValue {
        let followUps = try MetadataFixtures.expected(vendor)["followUps"]?.array ?? []
        return try #require(followUps.first { $0["file"]?.string == file }, "\(vendor) has no follow-up \(file)")
    }

    static func metadata(_ vendor: String, _ file: String) throws -> RecordingMetadata {
        try RecordingMetadata.parse(try #require(try MetadataFixtures.message(vendor, file).metadata, "\(vendor)/\(file) has no metadata"))
    }

    static func expectParticipants(_ resolved: [ResolvedParticipant], _ expected: [JSONValue]) throws {
        try #require(resolved.count == expected.count, "\(resolved.map(\.id))")
        for (actual, wanted) in zip(resolved, expected) {
            if let id = wanted["id"]?.string { #expect(actual.id == id) }
            #expect(actual.aor == wanted["aor"]?.string)
            #expect(actual.name == wanted["name"]?.string)
            #expect(actual.sends == wanted["sends"]?.strings)
            #expect(actual.receives == wanted["receives"]?.strings)
            if case .bool(let associated)? = wanted["associated"] { #expect(actual.associated == associated, "\(actual.id)") }
            if let time = wanted["associateTime"]?.string { #expect(actual.associateTime == time) }
            if let time = wanted["disassociateTime"]?.string { #expect(actual.disassociateTime == time) }
        }
    }

    @Test("CUBE transfer re-INVITE: complete metadata replaces the state; old party disassociated, new one associated")
    func cubeTransfer() throws {
        var state = try Self.metadata("cube", "invite.sip")
        let update = try Self.metadata("cube", "reinvite-transfer.sip")
        #expect(update.dataMode == .complete)
        state.apply(update)
        #expect(state == update)
        let expected = try Self.followUp("cube", "reinvite-transfer.sip")["participants"]?.array ?? []
        try Self.expectParticipants(state.resolvedParticipants(), expected)
        // The video streams (labels 3 and 4) left the metadata.
        #expect(state.streams.compactMap(\.label) == ["1", "2"])
    }

    @Test("CUBE BYE: final metadata disassociates everyone and ends the session")
    func cubeBye() throws {
        var state = try Self.metadata("cube", "invite.sip")
        state.apply(try Self.metadata("cube", "reinvite-transfer.sip"))
        state.apply(try Self.metadata("cube", "bye.sip"))
        let expected = try Self.followUp("cube", "bye.sip")
        let resolved = state.resolvedParticipants()
        #expect(resolved.filter { !$0.associated }.map(\.id) == expected["disassociated"]?.strings)
        #expect(resolved.allSatisfy { $0.disassociateTime == "2024-06-04T14:27:55.866Z" })
        #expect(state.sessions.first?.stopTime == expected["sessionEndTime"]?.string)
        // The BYE's associations name the participant where the session id belongs (vendor quirk, kept as written).
        #expect(state.participantSessionAssociations.allSatisfy { $0.sessionID == $0.participantID })
    }

    @Test("Avaya SBCE UPDATE: a bare rs-metadata body replaces the placeholder participant")
    func avayaUpdate() throws {
        let message = try MetadataFixtures.message("avaya-sbce", "update-metadata-only.sip")
        let followUp = try Self.followUp("avaya-sbce", "update-metadata-only.sip")
        #expect(message.header("Content-Type") == followUp["contentType"]?.string)
        var state = try Self.metadata("avaya-sbce", "invite.sip")
        state.apply(try Self.metadata("avaya-sbce", "update-metadata-only.sip"))
        try Self.expectParticipants(state.resolvedParticipants(), followUp["participants"]?.array ?? [])
        let replaced = try #require(followUp["replaces"]?.string)
        #expect(!state.participants.contains { $0.id == replaced })
        #expect(state.sessionIDs == ["00FA08000C0012665E7A3B"])
    }

    @Test("BroadWorks pause and resume re-INVITEs carry no metadata; identifiers stay those of the INVITE",
          arguments: ["reinvite-pause.sip", "reinvite-resume.sip"])
    func broadWorksPauseResume(file: String) throws {
        let message = try MetadataFixtures.message("broadworks", file)
        let followUp = try Self.followUp("broadworks", file)
        #expect(message.header("Content-Type") == followUp["contentType"]?.string)
        #expect(message.metadata == nil)
        let state = try Self.metadata("broadworks", "invite.sip")
        let ids = VendorIdentifiers.extract(headers: message.headers, metadata: state)
        #expect(ids == VendorFixtureTests.vendorIdentifiers(try #require(try MetadataFixtures.expected("broadworks")["vendorIDs"])))
    }

    @Test("CUBE network-based recording: participants from X-Cisco-Recording-Participant, INVITE and transfer re-INVITE")
    func cubeNBR() throws {
        let expected = try MetadataFixtures.expected("cube-nbr")
        let cases: [(String, [JSONValue])] = [
            ("invite.sip", expected["participants"]?.array ?? []),
            ("reinvite-transfer.sip", try Self.followUp("cube-nbr", "reinvite-transfer.sip")["participants"]?.array ?? []),
        ]
        for (file, wanted) in cases {
            let message = try MetadataFixtures.message("cube-nbr", file)
            #expect(message.metadata == nil)
            let parsed = message.headers(named: "X-Cisco-Recording-Participant").map(CiscoRecordingParticipant.init(headerValue:))
            let expectedParticipants = wanted.map { entry in
                CiscoRecordingParticipant(aor: entry["aor"]?.string ?? "", mediaIndices: (entry["mediaIndex"]?.array ?? []).compactMap { $0.scalarText.flatMap { Int($0) } })
            }
            #expect(parsed == expectedParticipants, "\(file)")
        }
    }
}
