import ArgumentParser
import Foundation

struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a recording's audio.",
        discussion: "Writes <id>.<ext> in the current folder unless -o is given (-o - writes to standard output). "
            + "Without --format the file comes as stored; other formats are transcoded by the server."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Recording id.")
    var id: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output file (- for standard output).", valueName: "file"))
    var output: String?

    @Option(help: "Audio format (default: as stored).")
    var format: AudioFormat?

    @Option(name: .customLong("file-index"), help: "Which file of a per-stream recording (default 0).")
    var fileIndex: Int?

    func validate() throws {
        if let fileIndex, fileIndex < 0 { throw ValidationError("--file-index must be 0 or more") }
        if output?.isEmpty == true { throw ValidationError("-o needs a file name") }
    }

    func run() async throws {
        let client = try global.makeClient()
        var query = QueryString()
        query.add("format", format?.rawValue)
        query.add("file", fileIndex)
        let downloaded = try await client.download(["api", "v1", "recordings", id, "audio"], query: query)
        defer { try? FileManager.default.removeItem(at: downloaded.location) }

        let contentType = downloaded.headers["content-type"]
        let bytes: Int
        let destination: String
        if output == "-" {
            destination = "-"
            bytes = try Self.copyToStandardOutput(downloaded.location)
        } else {
            let defaultName = DownloadName.defaultFileName(
                recordingID: id, format: format, contentType: contentType,
                contentDisposition: downloaded.headers["content-disposition"])
            destination = Self.destination(output: output, defaultName: defaultName)
            bytes = try Self.move(downloaded.location, to: destination)
        }

        if global.json {
            let report: [(String, String)] = [
                ("file", Self.jsonString(destination)),
                ("bytes", String(bytes)),
                ("contentType", contentType.map(Self.jsonString) ?? "null"),
            ]
            let members = report.map { JSONText.Member(rawKey: Self.jsonString($0.0), value: .scalar($0.1)) }
            let text = JSONText.object(members).pretty()
            if destination == "-" { Console.error(text) } else { Console.out(text) }
            return
        }
        let line = "wrote \(ByteCountText.binary(bytes)) (\(bytes) bytes) to \(destination == "-" ? "standard output" : destination)"
        if destination == "-" { Console.error(line) } else { Console.out(line) }
    }

    /// `-o` as given; a folder gets the default name inside it; no `-o`: the default name here.
    private static func destination(output: String?, defaultName: String) -> String {
        guard let output else { return defaultName }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue {
            return output.hasSuffix("/") ? output + defaultName : output + "/" + defaultName
        }
        return output
    }

    /// Moves the finished download into place (replacing an existing file); returns its size.
    private static func move(_ source: URL, to path: String) throws -> Int {
        let fileManager = FileManager.default
        let destination = URL(fileURLWithPath: path)
        do {
            let folder = destination.deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIError.local("cannot write \(path): no such folder \(folder)")
            }
            if fileManager.fileExists(atPath: path, isDirectory: &isDirectory) {
                if isDirectory.boolValue { throw CLIError.local("\(path) is a folder") }
                try fileManager.removeItem(at: destination)
            }
            do {
                try fileManager.moveItem(at: source, to: destination)
            } catch {
                // Another file system: copy instead.
                try fileManager.copyItem(at: source, to: destination)
            }
            let attributes = try fileManager.attributesOfItem(atPath: path)
            return (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.local("cannot write \(path): \(error.localizedDescription)")
        }
    }

    private static func copyToStandardOutput(_ source: URL) throws -> Int {
        do {
            let input = try FileHandle(forReadingFrom: source)
            defer { try? input.close() }
            var total = 0
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                try FileHandle.standardOutput.write(contentsOf: chunk)
                total += chunk.count
            }
            return total
        } catch {
            throw CLIError.local("cannot write the audio to standard output: \(error.localizedDescription)")
        }
    }

    /// A JSON string literal.
    private static func jsonString(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
