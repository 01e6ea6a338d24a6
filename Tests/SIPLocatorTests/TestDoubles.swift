import Foundation
import SIPTestSupport
@testable import SIPLocator

/// A clock the test moves by hand.
final class ManualClock: LocatorClock, @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double

    init(_ seconds: Double = 1000) {
        self.seconds = seconds
    }

    func now() -> Double { lock.withLock { seconds } }

    func advance(_ by: Double) { lock.withLock { seconds += by } }
}

/// A resolver answering from a table, counting what it was asked.
final class FakeResolver: DNSResolver, @unchecked Sendable {
    struct Question: Hashable {
        var name: String
        var type: DNSRecordType
    }

    private let lock = NSLock()
    private var table: [Question: Result<DNSAnswer, DNSError>] = [:]
    private var asked: [Question] = []

    /// Records at a name; other types there get NODATA, other names NXDOMAIN.
    func set(_ name: String, _ type: DNSRecordType, _ records: [DNSRecord.Data], ttl: UInt32 = 60) {
        lock.withLock {
            table[Question(name: name.lowercased(), type: type)] = .success(.records(records.map { DNSRecord(name: name, ttl: ttl, data: $0) }))
        }
    }

    func set(_ name: String, _ type: DNSRecordType, answer: DNSAnswer) {
        lock.withLock { table[Question(name: name.lowercased(), type: type)] = .success(answer) }
    }

    func fail(_ name: String, _ type: DNSRecordType, _ error: DNSError) {
        lock.withLock { table[Question(name: name.lowercased(), type: type)] = .failure(error) }
    }

    var questions: [Question] { lock.withLock { asked } }

    func count(_ name: String, _ type: DNSRecordType) -> Int {
        questions.filter { $0 == Question(name: name.lowercased(), type: type) }.count
    }

    func query(name: String, type: DNSRecordType) async throws(DNSError) -> DNSAnswer {
        let question = Question(name: name.lowercased(), type: type)
        let result: Result<DNSAnswer, DNSError> = lock.withLock {
            asked.append(question)
            if let entry = table[question] { return entry }
            let nameKnown = table.keys.contains { $0.name == question.name }
            return .success(nameKnown ? .noData : .nameNotFound)
        }
        return try result.get()
    }
}

/// Builds DNS messages byte by byte, compression pointers included, for the parser tests.
struct PacketBuilder {
    var bytes: [UInt8] = []

    init(id: UInt16 = 0x1234, flags: UInt16 = 0x8180, questions: UInt16 = 1, answers: UInt16 = 0, authority: UInt16 = 0,
         additional: UInt16 = 0) {
        for value in [id, flags, questions, answers, authority, additional] { u16(value) }
    }

    var offset: Int { bytes.count }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(value & 0xFFFF))
    }

    /// Labels of `text`, then either the root label or a pointer to `pointer`.
    @discardableResult
    mutating func name(_ text: String, pointer: Int? = nil) -> Int {
        let start = offset
        for label in text.split(separator: ".") where !label.isEmpty {
            u8(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        if let pointer {
            self.pointer(pointer)
        } else {
            u8(0)
        }
        return start
    }

    mutating func pointer(_ target: Int) {
        u16(0xC000 | UInt16(target))
    }

    mutating func characterString(_ text: String) {
        u8(UInt8(text.utf8.count))
        bytes += Array(text.utf8)
    }

    /// The question; returns the offset of its name.
    @discardableResult
    mutating func question(_ name: String, type: UInt16) -> Int {
        let start = self.name(name)
        u16(type)
        u16(1)
        return start
    }

    /// A record: `owner` writes its name, `data` its RDATA (RDLENGTH is filled in).
    mutating func record(type: UInt16, ttl: UInt32 = 300, recordClass: UInt16 = 1, owner: (inout PacketBuilder) -> Void,
                         data: (inout PacketBuilder) -> Void) {
        owner(&self)
        u16(type)
        u16(recordClass)
        u32(ttl)
        let lengthAt = offset
        u16(0)
        let start = offset
        data(&self)
        let length = UInt16(offset - start)
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}
