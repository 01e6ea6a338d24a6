import Testing
import SIPRECMetadata

@Suite("CUBE X-Cisco-Recording-Participant")
struct CiscoRecordingParticipantTests {
    @Test("cube-nbr INVITE headers give the expected.json participants and media indexes")
    func fixture() throws {
        let message = try MetadataFixtures.message("cube-nbr", "invite.sip")
        let expected = try MetadataFixtures.expected("cube-nbr")["participants"]?.array ?? []
        let parsed = message.headers(named: "X-Cisco-Recording-Participant").compactMap(CiscoRecordingParticipant.init(headerValue:))
        #expect(parsed.map(\.aor) == expected.compactMap { $0["aor"]?.string })
        #expect(parsed.map(\.mediaIndices) == expected.map { ($0["mediaIndex"]?.array ?? []).compactMap { $0.scalarText.flatMap { Int($0) } } })
    }

    @Test("video calls list two m-lines; name-addr form; bad values are refused")
    func variants() {
        #expect(CiscoRecordingParticipant(headerValue: "sip:+12025550111@192.0.2.16;media-index=\"0 2\"")
                == CiscoRecordingParticipant(aor: "sip:+12025550111@192.0.2.16", mediaIndices: [0, 2]))
        #expect(CiscoRecordingParticipant(headerValue: "<sip:a@example.com;user=phone>;Media-Index=1")
                == CiscoRecordingParticipant(aor: "sip:a@example.com;user=phone", mediaIndices: [1]))
        #expect(CiscoRecordingParticipant(headerValue: "sip:a@example.com") == nil)
        #expect(CiscoRecordingParticipant(headerValue: "sip:a@example.com;media-index=\"x\"") == nil)
        #expect(CiscoRecordingParticipant(headerValue: "sip:a@example.com;media-index=\"-1\"") == nil)
        #expect(CiscoRecordingParticipant(headerValue: ";media-index=0") == nil)
        #expect(CiscoRecordingParticipant(headerValue: "<sip:a@example.com;media-index=0") == nil)
    }
}
