import Foundation
import NIOCore
import SDP
import SIPCore
import SIPTestSupport
import Testing
@testable import SIPRECServer

/// The vendor recording sessions in sip-fixtures/siprec/: what the SIP layer and the session
/// answer must already get right. Metadata and vendor ids are asserted when their parser lands.
@Suite("Vendor recording sessions")
struct VendorFixtureTests {
    static let vendors: [String] = {
        let folder = Fixtures.root.appendingPathComponent("siprec")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted()
    }()

    static func expected(_ vendor: String) -> [String: Any] {
        let url = Fixtures.root.appendingPathComponent("siprec/\(vendor)/expected.json")
        guard let data = try? Data(contentsOf: url) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    static func request(_ vendor: String, _ file: String) throws -> SIPRequest {
        let bytes = try Fixtures.bytes("siprec/\(vendor)", file)
        guard case .message(.request(let request)) = try SIPMessageParser().parse(datagram: bytes) else {
            throw FixtureError.notARequest(file)
        }
        return request
    }

    enum FixtureError: Error { case notARequest(String) }

    @Test("there is a fixture folder for every source named in the issue")
    func coverage() {
        for vendor in ["cube", "cube-nbr", "avaya-sbce", "broadworks", "acme-packet", "metaswitch", "audiocodes", "ribbon", "opensips", "freeswitch", "cucm-bib"] {
            #expect(Self.vendors.contains(vendor), "\(vendor)")
        }
    }

    @Test("every request of every vendor parses, and serializes back to the same request", arguments: vendors)
    func everyRequestParses(vendor: String) throws {
        let folder = Fixtures.root.appendingPathComponent("siprec/\(vendor)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sip") }
        #expect(!files.isEmpty)
        for file in files {
            let request = try Self.request(vendor, file)
            guard case .message(.request(let again)) = try SIPMessageParser().parse(datagram: request.serialized()) else {
                Issue.record("\(vendor)/\(file) did not parse after serializing")
                continue
            }
            #expect(again == request, "\(vendor)/\(file)")
        }
    }

    @Test("the initial INVITE: Call-ID, SIPREC recognition, SDP found, one answer m-line per offered one", arguments: vendors)
    func initialInvite(vendor: String) throws {
        let expected = Self.expected(vendor)
        let file = vendor == "cucm-bib" ? "invite-nearend.sip" : "invite.sip"
        let request = try Self.request(vendor, file)
        if vendor == "cucm-bib" {
            let dialogs = try #require(expected["dialogs"] as? [[String: Any]])
            #expect(request.callID == dialogs.first?["callID"] as? String)
        } else {
            #expect(request.callID == expected["callID"] as? String)
        }
        #expect(RecordingSessionController.isSIPREC(request) == (expected["isSIPREC"] as? Bool), "\(vendor)")
        if let multipart = expected["multipart"] as? [String: Any], let order = multipart["partOrder"] as? [String],
           let body = request.body, let type = request.contentType {
            let parts = try MultipartBody.split(body, contentType: type)
            #expect(parts.map(\.mediaType) == order.map { $0.lowercased() }, "\(vendor)")
        }
        let streams = (expected["streams"] as? [[String: Any]]) ?? []
        switch SessionBody.parse(request).map(\.sdp) {
        case .success(.none):
            // Delayed offer (CUCM): the streams are in the ACK.
            #expect(vendor == "cucm-bib")
        case .failure(let rejection):
            Issue.record("\(vendor): SDP unreadable (\(rejection.status) \(rejection.warning))")
        case .success(.some(let offer)):
            #expect(offer.media.count == streams.count, "\(vendor)")
            let answer = SDPAnswerer(address: "192.0.2.20").answer(to: offer, ports: offer.media.map { SDPAnswerer.isRecordable($0) ? 30000 : nil })
            #expect(answer.media.count == offer.media.count)
            for (index, stream) in streams.enumerated() where index < offer.media.count {
                let label = stream["label"] as? String
                #expect(offer.media[index].label == label, "\(vendor) m-line \(index)")
                let wanted = stream["accept"] as? Bool ?? false
                let recordable = SDPAnswerer.isRecordable(offer.media[index])
                #expect(recordable == wanted, "\(vendor) m-line \(index)")
                if wanted { #expect(answer.media[index].label == label) }
                if wanted, stream["srtp"] as? Bool == true {
                    #expect(answer.media[index].attributes("crypto").count == 1, "\(vendor) m-line \(index): our key")
                }
            }
        }
    }
}
