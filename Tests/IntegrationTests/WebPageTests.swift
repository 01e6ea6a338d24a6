import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The web page (index.html + app.js) against a real siprecd with a real recording, in real
/// headless Chromium: the DOM after the scripts ran, and a screenshot whose pixels show both
/// channels' waveforms.
@Suite("Web page in headless Chromium")
struct WebPageTests {
    /// Debian's package `chromium` (scripts/install-deps.sh installs it); `CHROMIUM` overrides.
    static var chromium: String { ProcessInfo.processInfo.environment["CHROMIUM"] ?? "/usr/bin/chromium" }

    @Test("a recorded call: the page lists it, opens it from ?recording= and draws channel 0 blue and channel 1 orange")
    func pageShowsRecording() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.chromium),
                     "Chromium is required for this test and is not at \(Self.chromium): install the Debian package chromium (scripts/install-deps.sh)")
        try #require(FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen),
                     "siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
        let token = "web-\(UUID().uuidString)"
        let server = try ServerProcess(yaml: MediaIntegrationTests.yaml, environment: ["SIPRECD_API_TOKEN": token])
        defer { server.stop() }

        // One SIPREC call with two streams; exit 0 after --verify means the recording is archived.
        let loadgen = try Self.runLoadgen(server: server)
        try #require(loadgen.status == 0, "loadgen: \(loadgen.summary)\nserver log:\n\(server.log.suffix(3000))")

        let id = try await Self.archivedRecordingID(port: server.httpPort, token: token)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("webpage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let page = "http://127.0.0.1:\(server.httpPort)/?token=\(token)&recording=\(id)"

        // 1. The DOM once the scripts ran: list loaded, the row, the player with two waveforms.
        let dom = try Self.runChromium(["--dump-dom", page], work: work, name: "dom")
        try #require(dom.status == 0, "chromium --dump-dom: \(dom.diagnostics)")
        let html = dom.stdout
        let body = Self.bodyTag(html)
        #expect(body.contains(#"data-state="loaded""#), "\(body)\n\(Self.errorBox(html))")
        #expect(body.contains(#"data-player="ready""#), "\(body)\n\(Self.errorBox(html))")
        #expect(Self.tags("tr", in: html).contains { $0.contains(#"data-recording-id="\#(id)""#) && Self.classes(of: $0).contains("recording") },
                "no row for the recording: \(Self.tags("tr", in: html).filter { $0.contains("recording") })")
        let canvases = Self.tags("canvas", in: html).filter { Self.classes(of: $0).contains("waveform") }
        #expect(canvases.count == 2, "\(canvases)")
        #expect(canvases.contains { $0.contains(#"data-channel="0""#) } && canvases.contains { $0.contains(#"data-channel="1""#) }, "\(canvases)")

        // 2. A screenshot of the same page: both waveforms are visible in their colours.
        let png = work.appendingPathComponent("page.png")
        let shot = try Self.runChromium(["--screenshot=\(png.path)", "--window-size=1280,1000", page], work: work, name: "shot")
        try #require(shot.status == 0, "chromium --screenshot: \(shot.diagnostics)")
        let data = try #require(FileManager.default.contents(atPath: png.path), "no screenshot at \(png.path): \(shot.diagnostics)")
        let image = try PNGImage(data: [UInt8](data))
        #expect(image.width == 1280 && image.height == 1000)
        let counts = image.countColours()
        // Measured on the 1280×1000 screenshot of this 4 s, 2-channel loadgen call: about 25,400
        // blue-ish pixels in channel 0's canvas plus about 950 in the page's accent-blue UI (tab,
        // "Close" link, title), and about 25,000 orange-ish pixels, all in channel 1's canvas (each
        // canvas shows a tone band of roughly 1,130 × 22 px). A canvas left empty gives at most the
        // ~950 UI pixels and no orange. 10,000 sits at 10× the UI's blue and at 40 % of what a
        // drawn waveform gives, so it tells "drawn" from "not drawn" with margin on both sides.
        #expect(counts.blue >= 10_000, "blue-ish pixels: \(counts.blue) (orange-ish \(counts.orange))")
        #expect(counts.orange >= 10_000, "orange-ish pixels: \(counts.orange) (blue-ish \(counts.blue))")
    }

    // MARK: - Helpers

    /// siprec-loadgen as `MediaIntegrationTests.loadgenVerifies` runs it: one call, two streams, verified.
    static func runLoadgen(server: ServerProcess) throws -> (status: Int32, summary: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "90", MediaIntegrationTests.loadgen,
                             "--target", "127.0.0.1:\(server.port("udp"))", "--calls", "1", "--rate", "1", "--duration", "4",
                             "--verify", server.dataDirectory.path, "--verify-timeout", "30", "--json", "--quiet",
                             "--mode", "siprec", "--streams", "2"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        let summary = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, summary + String(decoding: json, as: UTF8.self))
    }

    /// Polls the catalog (journal ingest follows the archive within about a second) until it lists
    /// one recording with a file; returns its id. Bounded: 20 s.
    static func archivedRecordingID(port: Int, token: String) async throws -> String {
        var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/api/v1/recordings")))
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.timeoutInterval = 5
        let deadline = Date().addingTimeInterval(20)
        var last = "no answer"
        while true {
            do {
                let (data, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                let items = object?["items"] as? [[String: Any]] ?? []
                if status == 200, items.count == 1, let file = items[0]["file"], !(file is NSNull), let id = items[0]["id"] as? String {
                    return id
                }
                last = "HTTP \(status), \(items.count) item(s), file: \(items.first.map { $0["file"] is [String: Any] ? "present" : "null" } ?? "-")"
            } catch {
                last = "\(error)"
            }
            if Date() >= deadline { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw Failure.noArchivedRecording(last)
    }

    enum Failure: Error, CustomStringConvertible {
        case noArchivedRecording(String)
        var description: String {
            switch self {
            case .noArchivedRecording(let last): "the catalog did not list one archived recording within 20 s; last answer: \(last)"
            }
        }
    }

    struct ChromiumRun {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool

        /// Exit status and Chromium's own complaints (the D-Bus noise of a machine without a bus left out).
        var diagnostics: String {
            let lines = stderr.split(separator: "\n").filter { !$0.contains("dbus") && !$0.contains("unexpected operator") }
            return "status \(status)\(timedOut ? " (killed at the deadline)" : ""); stderr: \(lines.suffix(20).joined(separator: "\n"))"
        }
    }

    /// Runs headless Chromium with a fresh profile in `work`. `timeout` puts Chromium and its
    /// helper processes in a process group of their own and kills the whole group after 60 s
    /// (SIGKILL 5 s later if it ignores SIGTERM); a deadline here kills `timeout` itself should
    /// that ever hang. Virtual time (15 s of page time, paused while fetches are pending) ends
    /// the run once the page is idle, so a normal run takes about a second.
    static func runChromium(_ arguments: [String], work: URL, name: String) throws -> ChromiumRun {
        let profile = work.appendingPathComponent("profile-\(name)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let stdoutURL = work.appendingPathComponent("\(name).out")
        let stderrURL = work.appendingPathComponent("\(name).err")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdout = try FileHandle(forWritingTo: stdoutURL)
        let stderr = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stdout.close()
            try? stderr.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "60", chromium,
                             "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--user-data-dir=\(profile.path)", "--virtual-time-budget=15000",
                             "--run-all-compositor-stages-before-draw"] + arguments
        process.currentDirectoryURL = work
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        var timedOut = false
        if exited.wait(timeout: .now() + 75) == .timedOut {
            timedOut = true
            kill(-process.processIdentifier, SIGKILL)
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 10)
        }
        let status = process.isRunning ? -1 : process.terminationStatus
        let out = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
        // timeout(1) exits 124 when it had to stop Chromium (137 after SIGKILL).
        return ChromiumRun(status: status, stdout: out, stderr: err, timedOut: timedOut || status == 124 || status == 137)
    }

    /// The opening tags `<name ...>` in `html`.
    static func tags(_ name: String, in html: String) -> [String] {
        var found: [String] = []
        var rest = html[...]
        while let start = rest.range(of: "<\(name)"), let end = rest[start.upperBound...].firstIndex(of: ">") {
            let next = rest[start.upperBound...].first
            if next == " " || next == ">" { found.append(String(rest[start.lowerBound...end])) }
            rest = rest[rest.index(after: end)...]
        }
        return found
    }

    /// The words of a tag's class attribute.
    static func classes(of tag: String) -> [String] {
        guard let start = tag.range(of: #"class=""#), let end = tag[start.upperBound...].firstIndex(of: "\"") else { return [] }
        return tag[start.upperBound..<end].split(separator: " ").map(String.init)
    }

    static func bodyTag(_ html: String) -> String { tags("body", in: html).first ?? "no <body> in \(html.count) characters of DOM" }

    /// The page's error box (its message, not the rest of the DOM).
    static func errorBox(_ html: String) -> String {
        guard let start = html.range(of: #"<div id="error""#), let end = html[start.upperBound...].range(of: "</div>") else { return "" }
        return "error box: " + html[start.lowerBound..<end.upperBound]
    }
}

/// A PNG as Chromium writes its screenshots (8-bit RGB or RGBA, not interlaced), decoded here so
/// the test needs nothing beyond Foundation: chunks, zlib/DEFLATE (RFC 1950/1951), row filters.
struct PNGImage {
    enum Failure: Error, CustomStringConvertible {
        case invalid(String)
        var description: String { if case .invalid(let reason) = self { return "PNG: \(reason)" }; return "PNG" }
    }

    let width: Int
    let height: Int
    /// Bytes per pixel: 3 (RGB) or 4 (RGBA).
    let channels: Int
    /// Rows top to bottom, `channels` bytes per pixel.
    let pixels: [UInt8]

    init(data: [UInt8]) throws {
        guard data.count > 8, data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw Failure.invalid("no signature") }
        func be32(_ at: Int) -> Int { Int(data[at]) << 24 | Int(data[at + 1]) << 16 | Int(data[at + 2]) << 8 | Int(data[at + 3]) }
        var offset = 8
        var header: (width: Int, height: Int, depth: UInt8, colour: UInt8, interlace: UInt8)?
        var compressed: [UInt8] = []
        while offset + 12 <= data.count {
            let length = be32(offset)
            let type = String(decoding: data[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let start = offset + 8
            guard length >= 0, start + length + 4 <= data.count else { throw Failure.invalid("chunk \(type) runs past the end") }
            switch type {
            case "IHDR":
                guard length == 13 else { throw Failure.invalid("IHDR of \(length) bytes") }
                header = (be32(start), be32(start + 4), data[start + 8], data[start + 9], data[start + 12])
            case "IDAT":
                compressed.append(contentsOf: data[start..<(start + length)])
            default:
                break
            }
            offset = start + length + 4
            if type == "IEND" { break }
        }
        guard let header else { throw Failure.invalid("no IHDR") }
        guard header.depth == 8, header.colour == 2 || header.colour == 6, header.interlace == 0 else {
            throw Failure.invalid("unsupported format: depth \(header.depth), colour type \(header.colour), interlace \(header.interlace)")
        }
        width = header.width
        height = header.height
        channels = header.colour == 6 ? 4 : 3
        guard compressed.count > 6, (UInt16(compressed[0]) << 8 | UInt16(compressed[1])) % 31 == 0, compressed[0] & 0x0F == 8 else {
            throw Failure.invalid("not a zlib stream")
        }
        let stride = width * channels
        var inflater = Inflater(Array(compressed[2...]), expected: height * (stride + 1))
        let raw = try inflater.run()
        guard raw.count >= height * (stride + 1) else { throw Failure.invalid("\(raw.count) bytes of image data, \(height * (stride + 1)) expected") }
        pixels = try Self.unfilter(raw, width: width, height: height, bpp: channels)
    }

    /// Undoes the per-row filters (none, sub, up, average, Paeth).
    static func unfilter(_ raw: [UInt8], width: Int, height: Int, bpp: Int) throws -> [UInt8] {
        let stride = width * bpp
        var out = [UInt8](repeating: 0, count: stride * height)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            let source = y * (stride + 1) + 1
            let row = y * stride
            for i in 0..<stride {
                let x = Int(raw[source + i])
                let a = i >= bpp ? Int(out[row + i - bpp]) : 0
                let b = y > 0 ? Int(out[row - stride + i]) : 0
                let c = i >= bpp && y > 0 ? Int(out[row - stride + i - bpp]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw Failure.invalid("row filter \(filter)")
                }
                out[row + i] = UInt8((x + predictor) & 0xFF)
            }
        }
        return out
    }

    /// Pixels in the waveform colours of app.js: channel 0 #1565c0 (blue), channel 1 #ef6c00
    /// (orange), and their anti-aliased blends with the canvas background #f3f6fa. Neither test
    /// takes the red play-position line (#d32f2f: green no higher than blue), greys or the pale
    /// blue of the selected row (#dce9fa: blue only 30 above red).
    func countColours() -> (blue: Int, orange: Int) {
        var blue = 0, orange = 0
        var index = 0
        while index + 2 < pixels.count {
            let r = Int(pixels[index]), g = Int(pixels[index + 1]), b = Int(pixels[index + 2])
            if b - r >= 60 && b - g >= 20 {
                blue += 1
            } else if r >= 180 && r - b >= 80 && g - b >= 40 {
                orange += 1
            }
            index += channels
        }
        return (blue, orange)
    }
}

/// DEFLATE decoder (RFC 1951): stored, fixed and dynamic Huffman blocks.
struct Inflater {
    private let input: [UInt8]
    private var position = 0
    private var bitBuffer = 0
    private var bitCount = 0
    private var output: [UInt8] = []

    init(_ input: [UInt8], expected: Int) {
        self.input = input
        output.reserveCapacity(expected)
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                       4097, 6145, 8193, 12289, 16385, 24577]
    private static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    private static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// A canonical Huffman code, decoded through a table indexed by the next `bits` input bits
    /// (LSB first, as DEFLATE packs them): entry = symbol << 4 | code length.
    struct Huffman {
        let table: [Int32]
        let bits: Int

        init(lengths: [Int]) throws {
            let maxLength = lengths.max() ?? 0
            bits = max(1, maxLength)
            var counts = [Int](repeating: 0, count: 16)
            for length in lengths { counts[length] += 1 }
            counts[0] = 0
            var next = [Int](repeating: 0, count: 16)
            var code = 0
            for length in 1..<16 {
                code = (code + counts[length - 1]) << 1
                next[length] = code
            }
            var table = [Int32](repeating: -1, count: 1 << bits)
            for (symbol, length) in lengths.enumerated() where length > 0 {
                let assigned = next[length]
                next[length] += 1
                guard assigned < 1 << length else { throw PNGImage.Failure.invalid("over-subscribed Huffman code") }
                // Bit-reverse the code: DEFLATE sends Huffman codes most significant bit first.
                var reversed = 0
                for bit in 0..<length where assigned & (1 << bit) != 0 { reversed |= 1 << (length - 1 - bit) }
                var index = reversed
                while index < 1 << bits {
                    table[index] = Int32(symbol << 4 | length)
                    index += 1 << length
                }
            }
            self.table = table
        }
    }

    private mutating func need(_ count: Int) throws {
        while bitCount < count {
            guard position < input.count else { throw PNGImage.Failure.invalid("compressed data ends early") }
            bitBuffer |= Int(input[position]) << bitCount
            position += 1
            bitCount += 8
        }
    }

    private mutating func bits(_ count: Int) throws -> Int {
        if count == 0 { return 0 }
        try need(count)
        let value = bitBuffer & ((1 << count) - 1)
        bitBuffer >>= count
        bitCount -= count
        return value
    }

    private mutating func decode(_ code: Huffman) throws -> Int {
        // Near the end of the stream fewer than `code.bits` bits may be left: use what there is.
        while bitCount < code.bits && position < input.count {
            bitBuffer |= Int(input[position]) << bitCount
            position += 1
            bitCount += 8
        }
        let entry = Int(code.table[bitBuffer & ((1 << code.bits) - 1)])
        let length = entry & 0xF
        guard entry >= 0, length <= bitCount else { throw PNGImage.Failure.invalid("bad Huffman code") }
        bitBuffer >>= length
        bitCount -= length
        return entry >> 4
    }

    mutating func run() throws -> [UInt8] {
        var last = false
        while !last {
            last = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(literal: Self.fixedLiteral, distance: Self.fixedDistance)
            case 2:
                let (literal, distance) = try dynamicCodes()
                try codes(literal: literal, distance: distance)
            default: throw PNGImage.Failure.invalid("block type 3")
            }
        }
        return output
    }

    private mutating func stored() throws {
        // Drop the rest of the current byte (fewer than 8 bits are ever buffered between reads).
        bitBuffer = 0
        bitCount = 0
        let length = try bits(16)
        let complement = try bits(16)
        guard length == ~complement & 0xFFFF, position + length <= input.count else { throw PNGImage.Failure.invalid("bad stored block") }
        output.append(contentsOf: input[position..<(position + length)])
        position += length
    }

    private static let fixedLiteral = try! Huffman(lengths: (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
    private static let fixedDistance = try! Huffman(lengths: [Int](repeating: 5, count: 30))

    private mutating func dynamicCodes() throws -> (Huffman, Huffman) {
        let literals = try bits(5) + 257
        let distances = try bits(5) + 1
        let codeLengthCount = try bits(4) + 4
        var codeLengths = [Int](repeating: 0, count: 19)
        for index in 0..<codeLengthCount { codeLengths[Self.codeLengthOrder[index]] = try bits(3) }
        let lengthCode = try Huffman(lengths: codeLengths)
        var lengths: [Int] = []
        while lengths.count < literals + distances {
            let symbol = try decode(lengthCode)
            switch symbol {
            case 0...15: lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw PNGImage.Failure.invalid("repeat with no previous length") }
                lengths.append(contentsOf: repeatElement(previous, count: 3 + (try bits(2))))
            case 17: lengths.append(contentsOf: repeatElement(0, count: 3 + (try bits(3))))
            default: lengths.append(contentsOf: repeatElement(0, count: 11 + (try bits(7))))
            }
        }
        guard lengths.count == literals + distances else { throw PNGImage.Failure.invalid("code lengths overrun") }
        return (try Huffman(lengths: Array(lengths[0..<literals])), try Huffman(lengths: Array(lengths[literals...])))
    }

    private mutating func codes(literal: Huffman, distance: Huffman) throws {
        while true {
            let symbol = try decode(literal)
            if symbol < 256 {
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let index = symbol - 257
                guard index < Self.lengthBase.count else { throw PNGImage.Failure.invalid("length symbol \(symbol)") }
                let length = Self.lengthBase[index] + (try bits(Self.lengthExtra[index]))
                let distanceSymbol = try decode(distance)
                guard distanceSymbol < Self.distanceBase.count else { throw PNGImage.Failure.invalid("distance symbol \(distanceSymbol)") }
                let back = Self.distanceBase[distanceSymbol] + (try bits(Self.distanceExtra[distanceSymbol]))
                guard back <= output.count else { throw PNGImage.Failure.invalid("distance past the start") }
                let from = output.count - back
                for offset in 0..<length { output.append(output[from + offset]) }
            }
        }
    }
}
