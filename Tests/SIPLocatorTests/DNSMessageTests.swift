import Testing
import SIPTestSupport
@testable import SIPLocator

/// An SRV answer for _sip._udp.example.com whose owner names and targets are compressed
/// against the question, with the targets' A records in the additional section.
private func srvAnswer() -> [UInt8] {
    var packet = PacketBuilder(answers: 2, additional: 1)
    let question = packet.question("_sip._udp.example.com", type: 33)
    let domain = question + 10  // "example.com" after the 4+1 and 4+1 octets of "_sip" and "_udp"
    packet.record(type: 33, ttl: 120, owner: { $0.pointer(question) }, data: {
        $0.u16(10); $0.u16(60); $0.u16(5070)
        $0.name("node1", pointer: domain)
    })
    var node2 = 0
    packet.record(type: 33, ttl: 90, owner: { $0.pointer(question) }, data: {
        $0.u16(20); $0.u16(0); $0.u16(5080)
        node2 = $0.name("node2", pointer: domain)
    })
    packet.record(type: 1, ttl: 30, owner: { $0.pointer(node2) }, data: { $0.bytes += [127, 0, 0, 2] })
    return packet.bytes
}

private func parseError(_ bytes: [UInt8]) -> DNSParseError? {
    do {
        _ = try DNSMessage(parsing: bytes)
        return nil
    } catch {
        return error
    }
}

@Suite("DNS answer parser")
struct DNSMessageTests {
    @Test("SRV records with compressed owner and target names")
    func srvWithCompression() throws {
        let message = try DNSMessage(parsing: srvAnswer())
        #expect(message.id == 0x1234)
        #expect(message.responseCode == .noError)
        #expect(message.questions == [DNSMessage.Question(name: "_sip._udp.example.com", type: .srv)])
        #expect(message.answers == [
            DNSRecord(name: "_sip._udp.example.com", ttl: 120,
                      data: .srv(SRVRecord(priority: 10, weight: 60, port: 5070, target: "node1.example.com"))),
            DNSRecord(name: "_sip._udp.example.com", ttl: 90,
                      data: .srv(SRVRecord(priority: 20, weight: 0, port: 5080, target: "node2.example.com"))),
        ])
        #expect(message.additional == [DNSRecord(name: "node2.example.com", ttl: 30, data: .a("127.0.0.2"))])
        let answer = DNSAnswer(message: message, type: .srv)
        #expect(answer.outcome == .records)
        #expect(answer.minimumTTL == 90)
    }

    @Test("NAPTR record (RFC 3403) with its character-strings and replacement")
    func naptr() throws {
        var packet = PacketBuilder(answers: 2)
        let question = packet.question("example.com", type: 35)
        packet.record(type: 35, ttl: 3600, owner: { $0.pointer(question) }, data: {
            $0.u16(10); $0.u16(50)
            $0.characterString("s"); $0.characterString("SIP+D2U"); $0.characterString("")
            $0.name("_sip._udp", pointer: question)
        })
        packet.record(type: 35, ttl: 3600, owner: { $0.pointer(question) }, data: {
            $0.u16(20); $0.u16(50)
            $0.characterString("S"); $0.characterString("SIPS+D2T"); $0.characterString("")
            $0.name("_sips._tcp.example.com")
        })
        let message = try DNSMessage(parsing: packet.bytes)
        #expect(message.answers.map(\.naptr) == [
            NAPTRRecord(order: 10, preference: 50, flags: "s", service: "SIP+D2U", regexp: "", replacement: "_sip._udp.example.com"),
            NAPTRRecord(order: 20, preference: 50, flags: "S", service: "SIPS+D2T", regexp: "", replacement: "_sips._tcp.example.com"),
        ])
    }

    @Test("A and AAAA records as text (RFC 5952 for IPv6)", arguments: [
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] as [UInt8], "2001:db8::1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], "2001:db8:0:1::1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], "2001:db8::1:0:0:1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6], "2001:db8:1:2:3:4:5:6"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "2001:db8:0:1:1:1:1:1"),
        ([UInt8](repeating: 0, count: 15) + [1], "::1"),
        ([UInt8](repeating: 0, count: 10) + [0xff, 0xff, 192, 0, 2, 1], "::ffff:192.0.2.1"),
    ])
    func addresses(bytes: [UInt8], text: String) throws {
        var packet = PacketBuilder(answers: 2)
        let question = packet.question("node.example.com", type: 28)
        packet.record(type: 28, ttl: 60, owner: { $0.pointer(question) }, data: { $0.bytes += bytes })
        packet.record(type: 1, ttl: 60, owner: { $0.pointer(question) }, data: { $0.bytes += [192, 0, 2, 10] })
        let message = try DNSMessage(parsing: packet.bytes)
        #expect(message.answers.map(\.address) == [text, "192.0.2.10"])
        #expect(message.answers.map(\.type) == [.aaaa, .a])
    }

    @Test("NXDOMAIN: negative TTL from the authority SOA is min(TTL, MINIMUM) (RFC 2308 §5)")
    func nxdomainWithSOA() throws {
        var packet = PacketBuilder(flags: 0x8183, authority: 1)
        packet.question("missing.example.com", type: 33)
        packet.record(type: 6, ttl: 900, owner: { $0.name("example.com") }, data: {
            $0.name("ns1.example.com"); $0.name("hostmaster.example.com")
            for value: UInt32 in [2024010101, 7200, 900, 1209600, 45] { $0.u32(value) }
        })
        // The resolver hands over its whole buffer: bytes after the message are ignored.
        let message = try DNSMessage(parsing: packet.bytes + [UInt8](repeating: 0, count: 64))
        #expect(message.responseCode == .nameError)
        #expect(message.negativeTTL == 45)
        let answer = DNSAnswer(message: message, type: .srv)
        #expect(answer.outcome == .nameNotFound)
        #expect(answer.records.isEmpty)
        #expect(answer.negativeTTL == 45)
    }

    @Test("NODATA: NOERROR without records of the type; CNAMEs the server followed are left out")
    func noDataAndCNAME() throws {
        var packet = PacketBuilder(answers: 1)
        let question = packet.question("alias.example.com", type: 33)
        packet.record(type: 5, owner: { $0.pointer(question) }, data: { $0.name("real.example.com") })
        let message = try DNSMessage(parsing: packet.bytes)
        #expect(message.answers.first?.data == .cname("real.example.com"))
        #expect(DNSAnswer(message: message, type: .srv).outcome == .noData)
    }

    @Test("a TTL with the top bit set counts as 0 (RFC 2181 §8); other classes and types are kept opaque")
    func ttlAndUnknown() throws {
        var packet = PacketBuilder(answers: 3)
        let question = packet.question("node.example.com", type: 1)
        packet.record(type: 1, ttl: 0x8000_0001, owner: { $0.pointer(question) }, data: { $0.bytes += [192, 0, 2, 1] })
        packet.record(type: 16, owner: { $0.pointer(question) }, data: { $0.characterString("v=spf1 -all") })
        packet.record(type: 1, recordClass: 3, owner: { $0.pointer(question) }, data: { $0.bytes += [1, 2, 3] })
        let message = try DNSMessage(parsing: packet.bytes)
        #expect(message.answers.map(\.ttl) == [0, 300, 300])
        #expect(message.answers.map(\.type) == [.a, DNSRecordType(rawValue: 16), .a])
        #expect(message.answers[2].data == .other(.a))
    }

    @Test("a label holding a dot or unprintable octets is escaped, so it cannot pose as two labels")
    func labelEscaping() throws {
        var packet = PacketBuilder(questions: 0, answers: 1)
        packet.record(type: 1, owner: {
            $0.u8(3); $0.bytes += Array("a.b".utf8)
            $0.u8(2); $0.bytes += [0x07, 0x5C]
            $0.name("example.com")
        }, data: { $0.bytes += [192, 0, 2, 1] })
        let message = try DNSMessage(parsing: packet.bytes)
        #expect(message.answers.first?.name == "a\\.b.\\007\\\\.example.com")
    }

    // MARK: - Hostile and broken packets

    @Test("every truncation of a valid answer is an error, not a crash")
    func truncations() throws {
        let bytes = srvAnswer()
        _ = try DNSMessage(parsing: bytes)
        for length in 0..<bytes.count {
            #expect(parseError(Array(bytes[0..<length])) != nil, "prefix of \(length) bytes")
        }
    }

    @Test("a pointer to itself is refused")
    func selfPointer() {
        var packet = PacketBuilder()
        let start = packet.offset
        packet.pointer(start)
        packet.u16(1); packet.u16(1)
        #expect(parseError(packet.bytes)?.code == .invalidPointer)
    }

    @Test("a forward pointer is refused")
    func forwardPointer() {
        var packet = PacketBuilder()
        packet.pointer(packet.offset + 6)
        packet.u16(1); packet.u16(1)
        packet.name("example.com")
        #expect(parseError(packet.bytes)?.code == .invalidPointer)
    }

    @Test("labels that lead back to a pointer to their own start (a loop through backward jumps) are refused")
    func backwardLoop() {
        var packet = PacketBuilder(answers: 1)
        let question = packet.question("example.com", type: 1)
        // Owner: "a" then a pointer back to "a" itself: backwards, yet a loop.
        packet.record(type: 1, owner: {
            let start = $0.offset
            $0.u8(1); $0.u8(UInt8(ascii: "a"))
            $0.pointer(start)
        }, data: { $0.bytes += [192, 0, 2, 1] })
        _ = question
        #expect(parseError(packet.bytes)?.code == .invalidPointer)
    }

    @Test("two pointers pointing at each other are refused")
    func pointerCycle() {
        var packet = PacketBuilder(answers: 1)
        // Question name is a pointer to the answer's owner, which points back: the first jump
        // is forward and refused.
        let questionAt = packet.offset
        packet.pointer(questionAt + 6)
        packet.u16(1); packet.u16(1)
        packet.record(type: 1, owner: { $0.pointer(questionAt) }, data: { $0.bytes += [192, 0, 2, 1] })
        #expect(parseError(packet.bytes)?.code == .invalidPointer)
    }

    @Test("a name over 255 octets is refused, also when built from pointers")
    func longName() {
        var packet = PacketBuilder(answers: 1)
        let long = Array(repeating: "abcdefghij", count: 20).joined(separator: ".")  // 220 octets
        let question = packet.question(long, type: 1)
        // 44 more octets in front of the question's 221: 265.
        packet.record(type: 1, owner: { $0.name(Array(repeating: "abcdefghij", count: 4).joined(separator: "."), pointer: question) },
                      data: { $0.bytes += [192, 0, 2, 1] })
        #expect(parseError(packet.bytes)?.code == .nameTooLong)
    }

    @Test("reserved label types (0x40, 0x80) are refused", arguments: [UInt8(0x40), 0x80])
    func reservedLabel(type: UInt8) {
        var packet = PacketBuilder()
        packet.u8(type | 3); packet.bytes += Array("abc".utf8); packet.u8(0)
        packet.u16(1); packet.u16(1)
        #expect(parseError(packet.bytes)?.code == .invalidLabel)
    }

    @Test("record data that does not fit its type is refused")
    func badRecordData() {
        var shortA = PacketBuilder(answers: 1)
        let question = shortA.question("node.example.com", type: 1)
        shortA.record(type: 1, owner: { $0.pointer(question) }, data: { $0.bytes += [192, 0, 2] })
        #expect(parseError(shortA.bytes)?.code == .invalidRecordData)

        var longAAAA = PacketBuilder(answers: 1)
        longAAAA.question("node.example.com", type: 28)
        longAAAA.record(type: 28, owner: { $0.name("node.example.com") }, data: { $0.bytes += [UInt8](repeating: 1, count: 17) })
        #expect(parseError(longAAAA.bytes)?.code == .invalidRecordData)

        // SRV whose RDLENGTH ends inside the target name: the name runs into the next bytes.
        var srv = PacketBuilder(answers: 1, additional: 1)
        srv.question("_sip._udp.example.com", type: 33)
        srv.record(type: 33, owner: { $0.name("_sip._udp.example.com") }, data: { $0.u16(1); $0.u16(1); $0.u16(5060); $0.u8(4) })
        srv.bytes += Array("node".utf8) + [0]
        #expect(parseError(srv.bytes) != nil)

        // NAPTR with a character-string longer than the data.
        var naptr = PacketBuilder(answers: 1)
        naptr.question("example.com", type: 35)
        naptr.record(type: 35, owner: { $0.name("example.com") }, data: { $0.u16(1); $0.u16(1); $0.u8(200); $0.bytes += [0x73] })
        #expect(parseError(naptr.bytes)?.code == .truncated)
    }

    @Test("an RDLENGTH past the end of the message is refused")
    func rdlengthPastEnd() {
        var packet = PacketBuilder(answers: 1)
        packet.question("node.example.com", type: 1)
        packet.name("node.example.com")
        packet.u16(1); packet.u16(1); packet.u32(60); packet.u16(400)
        packet.bytes += [192, 0, 2, 1]
        #expect(parseError(packet.bytes)?.code == .truncated)
    }

    @Test("a query (QR clear) is not taken for an answer")
    func notAResponse() {
        var packet = PacketBuilder(flags: 0x0100)
        packet.question("example.com", type: 1)
        #expect(parseError(packet.bytes)?.code == .notAResponse)
    }

    @Test("counts larger than the records present are refused, whatever the counts say")
    func overstatedCounts() {
        var packet = PacketBuilder(answers: 0xFFFF, authority: 0xFFFF, additional: 0xFFFF)
        packet.question("example.com", type: 1)
        #expect(parseError(packet.bytes)?.code == .truncated)
    }

    @Test("single-octet corruptions of a valid answer parse or fail cleanly")
    func corruptions() {
        let original = srvAnswer()
        var generator = SeededGenerator(seed: 7)
        var failures = 0
        for _ in 0..<5000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if parseError(bytes) != nil { failures += 1 }
        }
        // Most corruptions land in names, counts or lengths and must be caught.
        #expect(failures > 1000)
    }
}
