import Foundation
import NIOCore

/// The fixtures under sip-fixtures/ with the facts their manifests state about them.
public enum Fixtures {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("sip-fixtures")

    public static func manifest(_ folder: String) -> [[String: Any]] {
        let url = root.appendingPathComponent(folder).appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url),
              let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return entries
    }

    public static func bytes(_ folder: String, _ file: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try Data(contentsOf: root.appendingPathComponent(folder).appendingPathComponent(file)))
    }

    public static func files(_ folder: String, kinds: Set<String>) -> [String] {
        manifest(folder).filter { kinds.contains($0["kind"] as? String ?? "") }.compactMap { $0["file"] as? String }
    }

    public static func entry(_ folder: String, _ file: String) -> [String: Any] {
        manifest(folder).first { $0["file"] as? String == file } ?? [:]
    }
}

