import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOCore
import NIOSSL
import SIPCore
import Testing

/// Certificates made for the test run with the openssl command-line tool: a CA, a server
/// and a client certificate it signs, and a self-signed "rogue" client certificate.
struct TestPKI {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("siprecd-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=siprecd test CA"])
        for name in ["server", "client"] {
            try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                         "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name).example.com"])
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                         "-out", "\(name).pem", "-days", "2"])
        }
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2", "-subj", "/CN=rogue.example.com"])
        // The server key again, encrypted, for the passphrase-from-the-environment test.
        try openssl(["pkey", "-in", "server.key", "-aes256", "-passout", "pass:\(TestPKI.passphrase)", "-out", "server-encrypted.key"])
    }

    static let passphrase = "correct horse battery staple"

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PKIError.openssl(arguments.joined(separator: " ")) }
    }

    func clientContext(certificate: String?, key: String?) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(path("ca.pem"))
        tls.certificateVerification = .noHostnameVerification
        if let certificate, let key {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(path(certificate)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: path(key), format: .pem))
        }
        return try NIOSSLContext(configuration: tls)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    enum PKIError: Error { case openssl(String) }
}

@Suite("siprecd over TLS", .serialized)
struct TLSIntegrationTests {
    func startServer(_ pki: TestPKI, requireClientCertificate: Bool, key: String = "server.key",
                     environment: [String: String] = [:]) throws -> ServerProcess {
        let yaml = """
        sip:
          tls:
            certificate: \(pki.path("server.pem"))
            private-key: \(pki.path(key))
            client-ca: \(pki.path("ca.pem"))
            require-client-certificate: \(requireClientCertificate)
            handshake-timeout-ms: 400
        """
        return try ServerProcess(yaml: yaml, listen: ["udp:127.0.0.1:0", "tls:127.0.0.1:0"], environment: environment)
    }

    @Test("an encrypted private key is unlocked with SIPRECD_TLS_KEY_PASSPHRASE from the environment")
    func encryptedKey() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try startServer(pki, requireClientCertificate: false, key: "server-encrypted.key",
                                     environment: ["SIPRECD_TLS_KEY_PASSPHRASE": TestPKI.passphrase])
        defer { server.stop() }
        let client = try await SIPTestClient.tcp(port: server.port("tls"), tls: try pki.clientContext(certificate: nil, key: nil))
        try await client.send(SIPText.options(transport: "TLS"))
        #expect(await client.nextResponse()?.statusCode == 200)
        await client.close()
        // Without the passphrase the server refuses to start.
        #expect(throws: ServerProcess.ServerError.self) {
            let locked = try startServer(pki, requireClientCertificate: false, key: "server-encrypted.key")
            locked.stop()
        }
    }

    @Test("a client with a certificate from the configured CA gets its OPTIONS answered over TLS")
    func goodClient() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try startServer(pki, requireClientCertificate: true)
        defer { server.stop() }
        let client = try await SIPTestClient.tcp(port: server.port("tls"), tls: try pki.clientContext(certificate: "client.pem", key: "client.key"))
        try await client.send(SIPText.options(transport: "TLS"))
        let response = await client.nextResponse()
        #expect(response?.statusCode == 200)
        #expect(response?.optionTags(.supported).contains("siprec") == true)
        // The handshake timeout (400 ms here) must not close a connection whose handshake finished.
        #expect(await client.waitForClose(timeout: .seconds(1)) == false)
        try await client.send(SIPText.options(transport: "TLS"))
        #expect(await client.nextResponse()?.statusCode == 200)
        await client.close()
    }

    @Test("a rogue certificate or none at all is refused when client certificates are required", arguments: [
        ("rogue.pem", "rogue.key"), (nil, nil),
    ] as [(String?, String?)])
    func refusedClients(certificate: String?, key: String?) async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try startServer(pki, requireClientCertificate: true)
        defer { server.stop() }
        let client: SIPTestClient
        do {
            client = try await SIPTestClient.tcp(port: server.port("tls"), tls: try pki.clientContext(certificate: certificate, key: key))
        } catch {
            return // refused during the handshake: what we want
        }
        try? await client.send(SIPText.options(transport: "TLS"))
        #expect(await client.nextResponse(timeout: .seconds(3)) == nil)
        let closed = client.isClosed ? true : await client.waitForClose(timeout: .seconds(3))
        #expect(closed)
        #expect(server.isRunning)
    }

    @Test("without required client certificates, a client without one is served")
    func optionalClientCertificate() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try startServer(pki, requireClientCertificate: false)
        defer { server.stop() }
        let client = try await SIPTestClient.tcp(port: server.port("tls"), tls: try pki.clientContext(certificate: nil, key: nil))
        try await client.send(SIPText.options(transport: "TLS"))
        #expect(await client.nextResponse()?.statusCode == 200)
        await client.close()
    }

    @Test("a client that stalls in the middle of the handshake is disconnected after the handshake timeout")
    func stalledHandshake() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try startServer(pki, requireClientCertificate: false)
        defer { server.stop() }
        // Plain TCP to the TLS port: the start of a TLS record header, then nothing.
        let staller = try await SIPTestClient.tcp(port: server.port("tls"))
        try await staller.send(ByteBuffer(bytes: [0x16, 0x03, 0x01]))
        #expect(await staller.waitForClose(timeout: .seconds(5)))
        // The listener still serves others.
        let client = try await SIPTestClient.tcp(port: server.port("tls"), tls: try pki.clientContext(certificate: nil, key: nil))
        try await client.send(SIPText.options(transport: "TLS"))
        #expect(await client.nextResponse()?.statusCode == 200)
        await client.close()
    }

    /// One HTTPS GET with `openssl s_client` (the CA trusted; a client certificate when given);
    /// returns what the server sent back, headers and body.
    func httpsGet(_ pki: TestPKI, port: Int, path: String, certificate: String? = nil, key: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        var arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", pki.path("ca.pem"), "-quiet", "-ign_eof"]
        if let certificate, let key { arguments += ["-cert", pki.path(certificate), "-key", pki.path(key)] }
        process.arguments = arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data("GET \(path) HTTP/1.1\r\nHost: server.example.com\r\nConnection: close\r\n\r\n".utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("the admin API over HTTPS (http.tls): answered with the configured certificate; with a client CA required, a client without a certificate from it gets nothing")
    func adminAPIOverHTTPS() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        func start(requireClientCertificate: Bool) throws -> ServerProcess {
            try ServerProcess(yaml: """
                http:
                  tls:
                    certificate: \(pki.path("server.pem"))
                    private-key: \(pki.path("server.key"))
                    client-ca: \(pki.path("ca.pem"))
                    require-client-certificate: \(requireClientCertificate)
                """, listen: ["udp:127.0.0.1:0"])
        }
        let server = try start(requireClientCertificate: false)
        let answer = try httpsGet(pki, port: server.httpPort, path: "/healthz")
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.contains(#""status":"ok""#))
        // Plain HTTP to the same port gets no HTTP answer.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.httpPort)/healthz")!)
        request.timeoutInterval = 5
        let plain = try? await URLSession.shared.data(for: request)
        #expect((plain?.1 as? HTTPURLResponse)?.statusCode != 200)
        server.stop()

        let mutual = try start(requireClientCertificate: true)
        defer { mutual.stop() }
        #expect(try httpsGet(pki, port: mutual.httpPort, path: "/healthz", certificate: "client.pem", key: "client.key").hasPrefix("HTTP/1.1 200"))
        #expect(try httpsGet(pki, port: mutual.httpPort, path: "/healthz").isEmpty)
        #expect(try httpsGet(pki, port: mutual.httpPort, path: "/healthz", certificate: "rogue.pem", key: "rogue.key").isEmpty)
    }
}
