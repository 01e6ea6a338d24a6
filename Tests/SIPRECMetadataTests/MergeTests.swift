import Testing
import SIPRECMetadata

/// RFC 7865 §6 partial updates merged into the state, and complete documents replacing it.
@Suite("Metadata updates")
struct MergeTests {
    static let initial = """
    <?xml version="1.0" encoding="UTF-8"?>
    <recording xmlns="urn:ietf:params:xml:ns:recording:1">
      <datamode>complete</datamode>
      <session session_id="s1"><start-time>2024-01-01T10:00:00Z</start-time></session>
      <participant participant_id="p1"><nameID aor="sip:alice@example.com"><name>Alice</name></nameID></participant>
      <participant participant_id="p2"><nameID aor="sip:bob@example.com"/></participant>
      <stream stream_id="st1" session_id="s1"><label>1</label></stream>
      <stream stream_id="st2" session_id="s1"><label>2</label></stream>
      <participantsessionassoc participant_id="p1" session_id="s1"><associate-time>2024-01-01T10:00:00Z</associate-time></participantsessionassoc>
      <participantsessionassoc participant_id="p2" session_id="s1"><associate-time>2024-01-01T10:00:01Z</associate-time></participantsessionassoc>
      <participantstreamassoc participant_id="p1"><send>st1</send><recv>st2</recv></participantstreamassoc>
      <participantstreamassoc participant_id="p2"><send>st2</send><recv>st1</recv></participantstreamassoc>
    </recording>
    """

    static func partial(_ body: String) -> String {
        "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><dataMode>partial</dataMode>\(body)</recording>"
    }

    static func state() throws -> RecordingMetadata {
        try RecordingMetadata.parse(Array(initial.utf8))
    }

    static func applying(_ xml: String) throws -> RecordingMetadata {
        var state = try state()
        let update = try RecordingMetadata.parse(Array(xml.utf8))
        state.apply(update)
        return state
    }

    @Test("partial: a new participant is added, the others are kept")
    func participantAdded() throws {
        let state = try Self.applying(Self.partial("""
            <participant participant_id="p3"><nameID aor="sip:carol@example.com"><name>Carol</name></nameID></participant>
            <participantsessionassoc participant_id="p3" session_id="s1"><associate-time>2024-01-01T10:05:00Z</associate-time></participantsessionassoc>
            <participantstreamassoc participant_id="p3"><recv>st1</recv><recv>st2</recv></participantstreamassoc>
            """))
        let resolved = state.resolvedParticipants()
        #expect(resolved.map(\.id) == ["p1", "p2", "p3"])
        #expect(resolved[2] == ResolvedParticipant(id: "p3", aor: "sip:carol@example.com", name: "Carol", sends: [], receives: ["1", "2"],
                                                  associated: true, associateTime: "2024-01-01T10:05:00Z"))
        #expect(resolved[0].name == "Alice" && resolved[0].sends == ["1"] && resolved[0].receives == ["2"])
        #expect(state.dataMode == .complete)
    }

    @Test("partial: a disassociation keeps the participant, marks it gone, and keeps its join time")
    func participantDisassociated() throws {
        let state = try Self.applying(Self.partial("""
            <participantsessionassoc participant_id="p2" session_id="s1"><disassociate-time>2024-01-01T10:09:00Z</disassociate-time></participantsessionassoc>
            """))
        let bob = try #require(state.resolvedParticipants().first { $0.id == "p2" })
        #expect(!bob.associated)
        #expect(bob.associateTime == "2024-01-01T10:00:01Z")
        #expect(bob.disassociateTime == "2024-01-01T10:09:00Z")
        #expect(bob.aor == "sip:bob@example.com")
        #expect(state.resolvedParticipants().first { $0.id == "p1" }?.associated == true)
        #expect(state.participantSessionAssociations.count == 2)
    }

    @Test("partial: a new stream is added and a stream association replaces the participant's set")
    func streamAdded() throws {
        let state = try Self.applying(Self.partial("""
            <stream stream_id="st3" session_id="s1"><label>3</label></stream>
            <participantstreamassoc participant_id="p1"><send>st1</send><send>st3</send><recv>st2</recv></participantstreamassoc>
            """))
        #expect(state.streams.map(\.id) == ["st1", "st2", "st3"])
        #expect(state.label(ofStream: "st3") == "3")
        let alice = try #require(state.resolvedParticipants().first)
        #expect(alice.sends == ["1", "3"])
        #expect(alice.receives == ["2"])
        #expect(state.resolvedParticipants()[1].sends == ["2"])
    }

    @Test("partial: a participant's name changes; the streams and association stay")
    func nameChanged() throws {
        let state = try Self.applying(Self.partial("""
            <participant participant_id="p1"><nameID aor="sip:alice@example.com"><name>Alice Example</name></nameID></participant>
            """))
        let alice = try #require(state.resolvedParticipants().first)
        #expect(alice.name == "Alice Example")
        #expect(alice.sends == ["1"])
        #expect(alice.associated)
        #expect(state.participants.count == 2)
    }

    @Test("partial: a nameID repeated without <name> keeps the known name")
    func nameKept() throws {
        let state = try Self.applying(Self.partial("""
            <participant participant_id="p1"><nameID aor="sip:alice@example.com"/></participant>
            """))
        #expect(state.resolvedParticipants().first?.name == "Alice")
    }

    @Test("partial: the session end time is set without losing the start time")
    func sessionEnded() throws {
        let state = try Self.applying(Self.partial("""
            <session session_id="s1"><end-time>2024-01-01T10:10:00Z</end-time></session>
            """))
        #expect(state.sessions == [RecordingMetadata.Session(id: "s1", startTime: "2024-01-01T10:00:00Z", stopTime: "2024-01-01T10:10:00Z")])
    }

    @Test("complete: a complete document replaces everything, including what it does not mention")
    func completeReplaces() throws {
        let replacement = """
            <recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode>
            <session session_id="s1"/>
            <participant participant_id="p9"><nameID aor="sip:dave@example.com"/></participant>
            <stream stream_id="st9" session_id="s1"><label>9</label></stream>
            <participantstreamassoc participant_id="p9"><send>st9</send></participantstreamassoc>
            </recording>
            """
        let state = try Self.applying(replacement)
        #expect(state == (try RecordingMetadata.parse(Array(replacement.utf8))))
        #expect(state.resolvedParticipants().map(\.id) == ["p9"])
        #expect(state.resolvedParticipants().first?.sends == ["9"])
        #expect(state.label(ofStream: "st1") == nil)
        #expect(state.sessions.first?.startTime == nil)
    }

    @Test("a document without dataMode is complete")
    func defaultIsComplete() throws {
        let document = try RecordingMetadata.parse(Array("<recording xmlns='urn:ietf:params:xml:ns:recording:1'><session session_id='x'/></recording>".utf8))
        #expect(document.dataMode == .complete)
    }

    @Test("partial in the draft dialect: <send> inside <participant> is merged by participant id")
    func draftPartial() throws {
        var state = try RecordingMetadata.parse(Array("""
            <recording xmlns="urn:ietf:params:xml:ns:recording"><datamode>complete</datamode>
            <session id="s"/><participant id="a" session="s"><nameID aor="sip:a@example.com"/><send>x</send></participant>
            <stream id="x" session="s"><label>10</label></stream><stream id="y" session="s"><label>20</label></stream></recording>
            """.utf8))
        state.apply(try RecordingMetadata.parse(Array("""
            <recording xmlns="urn:ietf:params:xml:ns:recording"><datamode>partial</datamode>
            <participant id="a"><recv>y</recv></participant></recording>
            """.utf8)))
        let resolved = try #require(state.resolvedParticipants().first)
        #expect(resolved.sends == ["10"])
        #expect(resolved.receives == ["20"])
        #expect(resolved.aor == "sip:a@example.com")
        #expect(state.dialect == .draft)
    }
}
