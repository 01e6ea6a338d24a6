import Foundation
import SIPTestSupport
import Testing
import SIPRECMetadata

/// Hostile and broken documents: refused with a specific code, never a crash, never caller data in errors.
@Suite("Metadata parser hardening")
struct HardeningTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func code(_ text: String, limits: MetadataLimits = MetadataLimits()) -> MetadataParseError? {
        code(bytes(text), limits: limits)
    }

    static func code(_ bytes: [UInt8], limits: MetadataLimits = MetadataLimits()) -> MetadataParseError? {
        do {
            _ = try RecordingMetadata.parse(bytes, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test("a DOCTYPE is refused before parsing, with its line, whatever its case")
    func doctype() {
        let error = Self.code("<?xml version=\"1.0\"?>\n<!DOCTYPE recording SYSTEM \"http://198.51.100.1/r.dtd\">\n<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"/>")
        #expect(error == MetadataParseError(code: .doctypeForbidden, line: 2))
        #expect(Self.code("<!doctype recording><recording/>")?.code == .doctypeForbidden)
    }

    @Test("billion laughs is refused as a DOCTYPE, not expanded")
    func billionLaughs() {
        var document = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        document += (1...9).map { level in
            " <!ENTITY lol\(level) \"" + String(repeating: "&lol\(level == 1 ? "" : String(level - 1));", count: 10) + "\">\n"
        }.joined()
        document += "]>\n<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"><participant participant_id=\"&lol9;\"/></recording>"
        #expect(Self.code(document)?.code == .doctypeForbidden)
    }

    @Test("an external entity (XXE) is refused")
    func externalEntity() {
        let document = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><recording>&xxe;</recording>"
        #expect(Self.code(document)?.code == .doctypeForbidden)
    }

    @Test("nesting deeper than maxDepth aborts the parser")
    func deepNesting() {
        let deep = "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">" + String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40) + "</recording>"
        #expect(Self.code(deep)?.code == .tooDeep)
        #expect(Self.code(deep, limits: MetadataLimits(maxDepth: 64)) == nil)
        let veryDeep = "<recording>" + String(repeating: "<a>", count: 50_000)
        #expect(Self.code(veryDeep)?.code == .tooDeep)
    }

    @Test("more elements than maxElements aborts the parser")
    func tooManyElements() {
        let many = "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">" + String(repeating: "<a/>", count: 25_000) + "</recording>"
        #expect(Self.code(many)?.code == .tooManyElements)
        let few = "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">" + String(repeating: "<a/>", count: 10) + "</recording>"
        #expect(Self.code(few, limits: MetadataLimits(maxElements: 10))?.code == .tooManyElements)
        #expect(Self.code(few, limits: MetadataLimits(maxElements: 11)) == nil)
    }

    @Test("maxBytes is enforced before parsing")
    func tooLarge() {
        let document = "<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\"/>"
        let size = document.utf8.count
        #expect(Self.code(document, limits: MetadataLimits(maxBytes: size - 1)) == MetadataParseError(code: .tooLarge))
        #expect(Self.code(document, limits: MetadataLimits(maxBytes: size)) == nil)
        // Over the default limit, even though it is garbage: the size check comes first.
        #expect(Self.code([UInt8](repeating: 0x41, count: 262_145))?.code == .tooLarge)
    }

    @Test("a truncated fixture document is malformed XML with a line number")
    func truncated() throws {
        let body = try #require(try MetadataFixtures.message("cube", "invite.sip").metadata)
        let error = try #require(Self.code(Array(body.prefix(body.count / 2))))
        #expect(error.code == .malformedXML)
        #expect(error.line != nil)
        let mismatched = Self.code("<recording>\n<session>\n</participant>\n</recording>")
        #expect(mismatched == MetadataParseError(code: .malformedXML, line: 3))
    }

    @Test("non-XML input, empty input and non-UTF-8 input are refused")
    func garbage() {
        #expect(Self.code("SIP/2.0 200 OK\r\nVia: x\r\n\r\n")?.code == .malformedXML)
        #expect(Self.code([])?.code == .malformedXML)
        #expect(Self.code(" \r\n\t ")?.code == .malformedXML)
        #expect(Self.code([0xFF, 0xFE, 0x3C, 0x00, 0x72, 0x00])?.code == .malformedXML)
        #expect(Self.code([0x3C, 0x72, 0x00, 0x2F, 0x3E])?.code == .malformedXML)
        #expect(Self.code([0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1])?.code == .malformedXML)
        #expect(Self.code("<recording/><recording/>")?.code == .malformedXML)
        #expect(Self.code("<recording>&undefined;</recording>")?.code == .malformedXML)
    }

    @Test("bytes that are not UTF-8 never reach the XML parser (FoundationXML traps on them in names)")
    func invalidUTF8() {
        // "<recording><s\xCCnd/></recording>": the byte sequence a fuzzed Acme document crashed XMLParser with.
        let name: [UInt8] = Array("<recording>\n<s".utf8) + [0xCC] + Array("nd/></recording>".utf8)
        #expect(Self.code(name) == MetadataParseError(code: .malformedXML, line: 2))
        let comment: [UInt8] = Array("<recording><!-- ".utf8) + [0xFF] + Array(" --></recording>".utf8)
        #expect(Self.code(comment)?.code == .malformedXML)
        // Latin-1 text is refused even when declared: metadata is UTF-8.
        let latin1: [UInt8] = Array("<?xml version='1.0' encoding='ISO-8859-1'?><recording><x>".utf8) + [0xE9] + Array("</x></recording>".utf8)
        #expect(Self.code(latin1)?.code == .malformedXML)
        // A UTF-8 byte-order mark is fine.
        #expect(Self.code([0xEF, 0xBB, 0xBF] + Array("<recording xmlns='urn:ietf:params:xml:ns:recording:1'/>".utf8)) == nil)
    }

    @Test("a recording root in an unknown namespace is read as dialect unknown; any other root is refused")
    func unknownNamespace() throws {
        let metadata = try RecordingMetadata.parse(Self.bytes("""
            <x:recording xmlns:x="urn:example:not-a-recording-namespace"><x:session x:session_id="s"/>
            <x:participant participant_id="p"><x:nameID aor="sip:p@example.com"><x:name> P </x:name></x:nameID></x:participant></x:recording>
            """))
        #expect(metadata.dialect == .unknown)
        #expect(metadata.sessionIDs == ["s"])
        #expect(metadata.resolvedParticipants() == [ResolvedParticipant(id: "p", aor: "sip:p@example.com", name: "P")])
        // Misspelled RFC namespace: same treatment.
        #expect(try RecordingMetadata.parse(Self.bytes("<recording xmlns='urn:ietf:params:xml:ns:recordng:1'/>")).dialect == .unknown)
        #expect(try RecordingMetadata.parse(Self.bytes("<recording xmlns='URN:IETF:PARAMS:XML:NS:RECORDING:1'/>")).dialect == .rfc7865)
        #expect(Self.code("<html><body/></html>") == MetadataParseError(code: .notRecordingMetadata))
        #expect(Self.code("<recordings xmlns='urn:ietf:params:xml:ns:recording:1'/>")?.code == .notRecordingMetadata)
    }

    @Test("a participant in a vendor namespace under the root is extension data, not a participant")
    func foreignParticipant() throws {
        let metadata = try RecordingMetadata.parse(Self.bytes("""
            <recording xmlns="urn:ietf:params:xml:ns:recording:1"><v:participant xmlns:v="urn:example:vendor" participant_id="ghost"/>
            <participant participant_id="real"><nameID aor="sip:r@example.com"/><extensiondata><participant participant_id="ghost2"/></extensiondata></participant></recording>
            """))
        #expect(metadata.participants.map(\.id) == ["real"])
        #expect(metadata.extensions.map(\.element.name) == ["participant"])
        #expect(metadata.participants.first?.extensions.map(\.element.name) == ["participant"])
    }

    @Test("error descriptions carry the code and line, never document text")
    func redactedDescription() {
        let error = Self.code("<recording>\n<participant>Jane Secret +12025550100</recording>")
        #expect(error?.code == .malformedXML)
        let description = error.map(String.init(describing:)) ?? ""
        #expect(description.contains("malformedXML"))
        #expect(!description.contains("Jane"))
        #expect(!description.contains("2025550100"))
        #expect(MetadataParseError(code: .tooDeep, line: 7).description == "MetadataParseError(tooDeep, line 7)")
    }

    @Test("mutated fixture documents either parse or fail with a parse error (never crash)")
    func mutations() throws {
        var generator = SeededGenerator(seed: 7865)
        var parsed = 0
        var refused = 0
        for vendor in VendorFixtureTests.metadataVendors {
            let body = try #require(try MetadataFixtures.message(vendor, "invite.sip").metadata)
            for _ in 0..<60 {
                var mutated = body
                switch generator.next() % 3 {
                case 0:
                    for _ in 0..<(1 + generator.next() % 4) {
                        mutated[Int(generator.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: generator.next())
                    }
                case 1:
                    mutated = Array(mutated.prefix(Int(generator.next() % UInt64(mutated.count))))
                default:
                    let start = Int(generator.next() % UInt64(mutated.count))
                    let length = min(mutated.count - start, Int(generator.next() % 64))
                    mutated.removeSubrange(start..<(start + length))
                }
                if Self.code(mutated) == nil { parsed += 1 } else { refused += 1 }
            }
        }
        #expect(parsed > 0)
        #expect(refused > 0)
    }
}

@Suite("Metadata fuzz corpus")
struct MetadataFuzzCorpusTests {
    /// sip-fixtures/fuzz/metadata seeds `make fuzz`; replaying it here keeps every document
    /// libFuzzer ever tripped on fixed. Each one parses or fails with a MetadataParseError.
    @Test("every seed parses or is refused with a code; hostile ones are refused for the right reason")
    func replay() throws {
        let folder = Fixtures.root.appendingPathComponent("fuzz/metadata")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(files.count >= 15)
        var refused: [String: MetadataParseError.Code] = [:]
        for file in files {
            let bytes = Array(try Data(contentsOf: folder.appendingPathComponent(file)))
            do {
                var metadata = try RecordingMetadata.parse(bytes)
                _ = metadata.resolvedParticipants()
                metadata.apply(metadata)
            } catch {
                refused[file] = error.code
            }
        }
        #expect(refused["billion-laughs.xml"] == .doctypeForbidden)
        #expect(refused["external-entity.xml"] == .doctypeForbidden)
        #expect(refused["deep-nesting.xml"] == .tooDeep)
        #expect(refused["truncated.xml"] == .malformedXML)
        // Every vendor document extracted from sip-fixtures/siprec parses.
        #expect(refused.keys.filter { !["billion-laughs.xml", "external-entity.xml", "deep-nesting.xml", "truncated.xml"].contains($0) }.isEmpty,
                "\(refused)")
    }
}
