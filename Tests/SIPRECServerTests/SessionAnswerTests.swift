import Foundation
import Media
import NIOCore
import SDP
import SIPCore
import Testing
@testable import SIPRECServer

@Suite("SDP answers and session recognition")
struct SessionAnswerTests {
    let offer = """
    v=0\r
    o=src 1 1 IN IP4 192.0.2.10\r
    s=-\r
    c=IN IP4 192.0.2.10\r
    t=0 0\r
    m=audio 20000 RTP/AVP 8 0 101\r
    a=rtpmap:101 telephone-event/8000\r
    a=fmtp:101 0-15\r
    a=label:2\r
    a=sendonly\r
    m=video 20010 RTP/AVP 96\r
    a=rtpmap:96 H264/90000\r
    m=audio 20002 RTP/AVP 0\r
    a=label:1\r
    a=inactive\r
    m=audio 20004 RTP/SAVP 0\r
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r
    a=label:3\r

    """

    @Test("one answer m-line per offered m-line, in order; video rejected with port 0; SRTP answered with our own key")
    func answer() throws {
        let sdp = try SessionDescription(parsing: offer)
        #expect(sdp.media.map { SDPAnswerer.isRecordable($0) } == [true, false, true, true])
        let answer = SDPAnswerer(address: "192.0.2.20", sessionID: 7).answer(to: sdp, ports: [30000, nil, 30002, 30004])
        #expect(answer.media.map(\.port) == [30000, 0, 30002, 30004])
        #expect(answer.media.map(\.type) == ["audio", "video", "audio", "audio"])
        #expect(answer.media[0].formats == ["8", "101"])
        #expect(answer.media[0].direction == .recvonly)
        #expect(answer.media[0].label == "2")
        #expect(answer.media[2].direction == .inactive)
        #expect(answer.media[2].label == "1")
        #expect(answer.media[3].proto == "RTP/SAVP")
        let crypto = try #require(answer.media[3].attributes("crypto").first)
        let ours = try SRTPKey(attribute: crypto)
        #expect(ours.tag == 1 && ours.suite == .aesCM128HMACSHA1_80)
        #expect(ours.keyAndSalt != SDPAnswerer.chooseCrypto(sdp.media[3])?.keyAndSalt)
        #expect(answer.media[0].attributes("crypto").isEmpty)
        #expect(answer.connectionAddress == "192.0.2.20")
        // The answer parses back to itself.
        #expect(try SessionDescription(parsing: answer.text) == answer)
    }

    @Test("secure RTP is recognised by its protocol in any letter case", arguments: [
        ("RTP/SAVP", true), ("rtp/savpf", true), ("UDP/TLS/RTP/SAVP", true), ("RTP/AVP", false), ("RTP/AVPF", false), ("SAV", false), ("", false),
    ])
    func secureProtocol(proto: String, secure: Bool) throws {
        let offer = try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 \(proto) 0\r\n")
        #expect(SDPAnswerer.isSecure(offer.media[0]) == secure)
    }

    @Test("media.srtp require: only SRTP m-lines are recorded")
    func requireSRTP() throws {
        let sdp = try SessionDescription(parsing: offer)
        #expect(sdp.media.map { SDPAnswerer.isRecordable($0, srtp: .require) } == [false, false, false, true])
    }

    @Test("a=crypto lines: every suite, lifetimes, MKI; unusable ones are refused with a reason", arguments: [
        ("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4", SRTPSuite.aesCM128HMACSHA1_80, 30, [0, 0, 0, 1] as [UInt8]?, UInt64(1) << 20 as UInt64?),
        ("2 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", .aesCM128HMACSHA1_32, 30, nil, nil),
        ("3 AES_256_CM_HMAC_SHA1_80 inline:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==", .aes256CMHMACSHA1_80, 46, nil, nil),
        ("4 AES_256_CM_HMAC_SHA1_32 inline:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==|1048576", .aes256CMHMACSHA1_32, 46, nil, 1_048_576),
        ("5 AEAD_AES_128_GCM inline:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQg==", .aeadAES128GCM, 28, nil, nil),
        ("6 AEAD_AES_256_GCM inline:Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M=", .aeadAES256GCM, 44, nil, nil),
    ])
    func cryptoAttributes(value: String, suite: SRTPSuite, length: Int, mki: [UInt8]?, lifetime: UInt64?) throws {
        let key = try SRTPKey(attribute: value)
        #expect(key.suite == suite)
        #expect(key.keyAndSalt.count == length)
        #expect(key.mki == mki)
        #expect(key.lifetime == lifetime)
        #expect(try SRTPKey(attribute: key.attribute) == SRTPKey(tag: key.tag, suite: key.suite, keyAndSalt: key.keyAndSalt, mki: key.mki))
    }

    @Test("unusable a=crypto lines", arguments: [
        ("1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SRTPKey.ParseError.unsupportedSuite("F8_128_HMAC_SHA1_80")),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:QUFB", .badKeyLength),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz UNENCRYPTED_SRTP", .unsupportedParameter("UNENCRYPTED_SRTP")),
        ("x AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", .malformed),
        ("1 AES_CM_128_HMAC_SHA1_80 key:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", .malformed),
    ])
    func unusableCrypto(value: String, error: SRTPKey.ParseError) {
        #expect(throws: error) { try SRTPKey(attribute: value) }
    }

    @Test("the answer prefers a codec we decode over the SRC's first choice; one we cannot decode is still accepted", arguments: [
        ("9 18 8 0", "", "9"),
        ("96 0", "a=rtpmap:96 L16/16000\r\n", "0"),
        ("96 0", "a=rtpmap:96 L16/8000\r\n", "96"),
        ("96", "a=rtpmap:96 L16/16000\r\n", "96"),
        ("97 18", "a=rtpmap:97 AMR/8000\r\n", "18"),
    ])
    func codecPreference(formats: String, rtpmap: String, expected: String) throws {
        let sdp = try SessionDescription(parsing: "v=0\r\no=src 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
            + "m=audio 20000 RTP/AVP \(formats)\r\n\(rtpmap)a=sendonly\r\n")
        let answer = SDPAnswerer(address: "192.0.2.20", sessionID: 7).answer(to: sdp, ports: [30000])
        #expect(answer.media[0].formats == [expected])
    }

    @Test("delayed offer: our offer is recvonly with the codecs we decode")
    func ourOffer() {
        let offer = SDPAnswerer(address: "2001:db8::20", sessionID: 1).offer(port: 30010)
        #expect(offer.media.count == 1)
        #expect(offer.media[0].direction == .recvonly)
        #expect(offer.media[0].formats.contains("0"))
        #expect(offer.text.contains("c=IN IP6 2001:db8::20"))
        #expect(offer.media[0].proto == "RTP/AVP")
        #expect(offer.media[0].attributes("crypto").isEmpty)
        // media.srtp require: an SRTP offer with our key.
        let secure = SDPAnswerer(address: "192.0.2.20", sessionID: 1).offer(port: 30010, srtp: .require)
        #expect(secure.media[0].proto == "RTP/SAVP")
        #expect(secure.media[0].attributes("crypto").compactMap { try? SRTPKey(attribute: $0) }.first?.suite == .aesCM128HMACSHA1_80)
    }

    func request(contentType: String?, body: String?, extra: [String] = []) -> SIPRequest {
        var headers = SIPHeaders()
        if let contentType { headers.add(.contentType, contentType) }
        for line in extra {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers.add(SIPHeaderName(String(parts[0])), parts[1].trimmingCharacters(in: .whitespaces))
        }
        return SIPRequest(method: .invite, uri: SIPURI(host: "192.0.2.20"), headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    @Test("the SDP and metadata are found in plain and multipart bodies; other bodies are refused with the right status")
    func sessionBody() throws {
        let plain = try SessionBody.parse(request(contentType: "application/sdp", body: offer)).get()
        #expect(plain.sdp?.media.count == 4)
        #expect(plain.metadata == nil)
        let multipart = "--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<recording/>\r\n--b\r\nContent-Type: application/sdp\r\n\r\n\(offer)\r\n--b--\r\n"
        let both = try SessionBody.parse(request(contentType: "multipart/mixed;boundary=b", body: multipart)).get()
        #expect(both.sdp?.media.count == 4)
        #expect(both.metadata.map { String(buffer: $0) } == "<recording/>")
        // RFC 7866: a metadata-only update may carry the metadata as the whole body.
        let metadataOnly = try SessionBody.parse(request(contentType: "application/rs-metadata+xml", body: "<recording/>")).get()
        #expect(metadataOnly.sdp == nil)
        #expect(metadataOnly.metadata.map { String(buffer: $0) } == "<recording/>")
        let empty = try SessionBody.parse(request(contentType: nil, body: nil)).get()
        #expect(empty.sdp == nil && empty.metadata == nil)
        #expect(throws: SessionBody.Rejection(status: 415, warning: "unsupported body type")) {
            try SessionBody.parse(request(contentType: "text/html", body: "<p>")).get()
        }
        #expect(throws: SessionBody.Rejection(status: 488, warning: "SDP could not be parsed")) {
            try SessionBody.parse(request(contentType: "application/sdp", body: "garbage")).get()
        }
        let noUsefulPart = "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
        #expect(throws: SessionBody.Rejection(status: 415, warning: "no application/sdp or rs-metadata part")) {
            try SessionBody.parse(request(contentType: "multipart/mixed;boundary=b", body: noUsefulPart)).get()
        }
        #expect(throws: SessionBody.Rejection(status: 400, warning: "multipart body could not be split")) {
            try SessionBody.parse(request(contentType: "multipart/mixed", body: noUsefulPart)).get()
        }
    }

    @Test("SIPREC is recognised by Require, +sip.src, the older src tag, or an rs-metadata part")
    func recognition() {
        #expect(RecordingSessionController.isSIPREC(request(contentType: nil, body: nil, extra: ["Require: siprec"])))
        #expect(RecordingSessionController.isSIPREC(request(contentType: nil, body: nil, extra: ["Contact: <sip:src@192.0.2.10>;+sip.src"])))
        #expect(RecordingSessionController.isSIPREC(request(contentType: nil, body: nil, extra: ["Contact: <sip:src@192.0.2.10>;src"])))
        let multipart = "--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<recording/>\r\n--b--\r\n"
        #expect(RecordingSessionController.isSIPREC(request(contentType: "multipart/mixed;boundary=b", body: multipart)))
        #expect(!RecordingSessionController.isSIPREC(request(contentType: "application/sdp", body: offer, extra: ["Contact: <sip:a@192.0.2.10>"])))
    }
}

@Suite("Media recorder helpers")
struct MediaRecorderHelperTests {
    @Test("archive-name parties are the user parts of the participants' addresses, caller first")
    func parties() throws {
        let request = try VendorFixtureTests.request("cube", "invite.sip")
        let (session, _) = try RecordingSessionTests.begin("cube", "invite.sip", source: .siprec, leg: RecordingSessionTests.leg(request))
        let parties = MediaRecorder.parties(session.participants)
        #expect(session.participants == session.record.participants)
        #expect(!parties.isEmpty)
        #expect(parties.allSatisfy { !$0.contains("@") && !$0.hasPrefix("sip:") })
    }

    @Test("stereo channels: BIB near end left, SIPREC by the sending participant, others by m-line")
    func channels() {
        func stream(_ id: String, leg: String? = nil, mline: Int) -> RecordingRecord.Stream {
            RecordingRecord.Stream(id: id, leg: leg, mline: mline, label: id, media: "audio", codec: "PCMU", srtp: false, srtpSuite: nil,
                                   localPort: 30000, remote: nil, state: "active", channel: nil, quality: nil)
        }
        var record = RecordingRecord(recordingID: "r", interactionID: "r", segment: 1, previousRecordingID: nil, source: .siprec, state: .active,
                                     startedAt: Date(), endedAt: nil, durationSeconds: nil, dialogs: [], sessionIDs: [], groupID: nil,
                                     vendorIDs: .init(), builtInBridge: nil, participants: [], streams: [], metadataVersions: [],
                                     metadataVersionsDropped: 0, changes: [], file: nil, files: [], dtmf: [], problems: [])
        func party(_ sends: [String]) -> RecordingRecord.Participant {
            RecordingRecord.Participant(id: nil, aor: nil, name: nil, role: nil, device: nil, sends: sends, receives: [], associated: true,
                                        associateTime: nil, disassociateTime: nil)
        }
        record.participants = [party(["7"]), party(["3"])]
        #expect(MediaRecorder.channel(for: stream("3", mline: 0), in: record, channels: 2) == 1)
        #expect(MediaRecorder.channel(for: stream("7", mline: 1), in: record, channels: 2) == 0)
        #expect(MediaRecorder.channel(for: stream("9", mline: 1), in: record, channels: 2) == 1)
        #expect(MediaRecorder.channel(for: stream("farend", leg: "farend", mline: 0), in: record, channels: 2) == 1)
        #expect(MediaRecorder.channel(for: stream("3", mline: 0), in: record, channels: 1) == 0)
    }
}
