import Foundation
import NIOCore
import Testing
@testable import SIPCore

@Suite("Multipart splitter")
struct MultipartBodyTests {
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
    let xml = "<?xml version=\"1.0\"?>\r\n<recording xmlns='urn:ietf:params:xml:ns:recording:1'/>"

    @Test("quoted boundary, preamble and epilogue, two parts in order")
    func quotedBoundary() throws {
        let body = "preamble text\r\n--b1\r\nContent-Type: application/sdp\r\n\r\n\(sdp)\r\n--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n\(xml)\r\n--b1--\r\nepilogue\r\n"
        let parts = try MultipartBody.split(ByteBuffer(string: body), contentType: "multipart/mixed; boundary=\"b1\"")
        #expect(parts.count == 2)
        #expect(parts[0].mediaType == "application/sdp")
        #expect(String(buffer: parts[0].body) == sdp)
        #expect(parts[1].mediaType == "application/rs-metadata+xml")
        #expect(parts[1].contentDisposition == "recording-session")
        #expect(String(buffer: parts[1].body) == xml)
    }

    @Test("unquoted boundary, LF-only lines, metadata first")
    func lfOnly() throws {
        let lfSDP = sdp.replacingOccurrences(of: "\r\n", with: "\n")
        let body = "--abc\nContent-Type: application/rs-metadata+xml\n\n<recording/>\n--abc\nContent-Type: application/sdp\n\n\(lfSDP)\n--abc--\n"
        let parts = try MultipartBody.split(ByteBuffer(string: body), contentType: "multipart/mixed;boundary=abc")
        #expect(parts.map(\.mediaType) == ["application/rs-metadata+xml", "application/sdp"])
        #expect(String(buffer: parts[0].body) == "<recording/>")
        #expect(String(buffer: parts[1].body) == lfSDP)
    }

    @Test("a missing close delimiter: the last part runs to the end")
    func missingClose() throws {
        let body = "--b\r\nContent-Type: application/sdp\r\n\r\n\(sdp)\r\n--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<recording/>"
        let parts = try MultipartBody.split(ByteBuffer(string: body), contentType: "multipart/mixed;boundary=b")
        #expect(parts.count == 2)
        #expect(String(buffer: parts[1].body) == "<recording/>")
    }

    @Test("a wrong Content-Length inside a part does not matter: delimiters decide")
    func wrongPartLength() throws {
        let body = "--b\r\nContent-Type: application/sdp\r\nContent-Length: 3\r\n\r\n\(sdp)\r\n--b--"
        let parts = try MultipartBody.split(ByteBuffer(string: body), contentType: "multipart/mixed;boundary=b")
        #expect(String(buffer: parts[0].body) == sdp)
    }

    @Test("a boundary string inside a line is not a delimiter")
    func boundaryInsideLine() throws {
        let body = "--b\r\nContent-Type: text/plain\r\n\r\nsee --b here\r\n--b--"
        let parts = try MultipartBody.split(ByteBuffer(string: body), contentType: "multipart/mixed;boundary=b")
        #expect(parts.count == 1)
        #expect(String(buffer: parts[0].body) == "see --b here")
    }

    @Test("errors: not multipart, no boundary, no parts")
    func errors() {
        #expect(throws: MultipartBody.Error(code: .notMultipart)) {
            try MultipartBody.split(ByteBuffer(string: "x"), contentType: "application/sdp")
        }
        #expect(throws: MultipartBody.Error(code: .missingBoundary)) {
            try MultipartBody.split(ByteBuffer(string: "x"), contentType: "multipart/mixed")
        }
        #expect(throws: MultipartBody.Error(code: .noParts)) {
            try MultipartBody.split(ByteBuffer(string: "no delimiters at all"), contentType: "multipart/mixed;boundary=zz")
        }
    }
}
