import Testing
import SIPRECMetadata

@Suite("CUCM built-in bridge legs")
struct BuiltInBridgeLegTests {
    @Test("both cucm-bib From URIs give the expected.json bib parameters, the right side, and one pairing key")
    func fixtureLegs() throws {
        let expected = try MetadataFixtures.expected("cucm-bib")
        let bib = try #require(expected["bib"])
        var legs: [BuiltInBridgeLeg] = []
        for dialog in expected["dialogs"]?.array ?? [] {
            let file = try #require(dialog["file"]?.string)
            let message = try MetadataFixtures.message("cucm-bib", file)
            let leg = try #require(BuiltInBridgeLeg(uriParameters: message.fromURIParameters), "\(file)")
            #expect(leg.side.rawValue == dialog["side"]?.string)
            #expect(leg.refci == bib["refci"]?.string)
            #expect(leg.nearEndClusterID == bib["nearendclusterid"]?.string)
            #expect(leg.nearEndDevice == bib["nearenddevice"]?.string)
            #expect(leg.nearEndAddr == bib["nearendaddr"]?.string)
            #expect(leg.farEndRefci == bib["farendrefci"]?.string)
            #expect(leg.farEndClusterID == bib["farendclusterid"]?.string)
            #expect(leg.farEndDevice == bib["farenddevice"]?.string)
            #expect(leg.farEndAddr == bib["farendaddr"]?.string)
            #expect(leg.refci == expected["correlationKey"]?["refci"]?.string)
            #expect(leg.farEndRefci == expected["correlationKey"]?["farendrefci"]?.string)
            legs.append(leg)
        }
        try #require(legs.count == 2)
        #expect(legs.map(\.side) == [.nearEnd, .farEnd])
        #expect(legs[0].pairingKey == legs[1].pairingKey)
        #expect(legs[0].pairingKey?.contains("27415938") == true && legs[0].pairingKey?.contains("27415937") == true)
    }

    @Test("the ACK's From carries the same leg as its INVITE")
    func ackLeg() throws {
        let invite = try MetadataFixtures.message("cucm-bib", "invite-nearend.sip")
        let ack = try MetadataFixtures.message("cucm-bib", "ack-nearend.sip")
        #expect(BuiltInBridgeLeg(uriParameters: ack.fromURIParameters) == BuiltInBridgeLeg(uriParameters: invite.fromURIParameters))
    }

    @Test("a From without x-nearend or x-farend is not a BIB leg")
    func notBIB() throws {
        #expect(BuiltInBridgeLeg(uriParameters: []) == nil)
        #expect(BuiltInBridgeLeg(uriParameters: [("user", "phone"), ("x-refci", "1")]) == nil)
        let cube = try MetadataFixtures.message("cube", "invite.sip")
        #expect(BuiltInBridgeLeg(uriParameters: cube.fromURIParameters) == nil)
    }

    @Test("parameter names are case-insensitive; a different call gives a different pairing key")
    func caseInsensitive() throws {
        let leg = try #require(BuiltInBridgeLeg(uriParameters: [
            ("X-FarEnd", nil), ("X-RefCI", "100"), ("X-NearEndClusterID", "C1"), ("X-FarEndRefCI", "99"),
            ("x-farendguid", "ABC"), ("x-sessionid", "sess"),
        ]))
        #expect(leg.side == .farEnd)
        #expect(leg.refci == "100")
        #expect(leg.nearEndClusterID == "C1")
        #expect(leg.farEndGUID == "ABC")
        #expect(leg.sessionID == "sess")
        let other = try #require(BuiltInBridgeLeg(uriParameters: [("x-nearend", nil), ("x-refci", "101"), ("x-nearendclusterid", "C1"), ("x-farendrefci", "99")]))
        #expect(leg.pairingKey != other.pairingKey)
    }

    @Test("a leg without x-refci has no pairing key: it is never joined to another call's leg")
    func noRefci() throws {
        let leg = try #require(BuiltInBridgeLeg(uriParameters: [("x-nearend", nil), ("x-nearendclusterid", "C1")]))
        #expect(leg.pairingKey == nil)
        let blank = try #require(BuiltInBridgeLeg(uriParameters: [("x-farend", nil), ("x-refci", "")]))
        #expect(blank.pairingKey == nil)
    }
}
