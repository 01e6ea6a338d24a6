import Foundation

/// The state a journal sink keeps beside its output (journal positions and the like): one JSON
/// file, read once, replaced atomically (written to a temporary name, then renamed, so a crash
/// leaves the old state or the new one, never half of either).
public final class SinkStateFile<State: Codable & Sendable>: @unchecked Sendable {
    public let url: URL
    private let lock = NSLock()
    private var cached: State?
    private let initial: @Sendable () -> State

    public init(url: URL, initial: @escaping @Sendable () -> State) {
        self.url = url
        self.initial = initial
    }

    /// The current state: the file's on first use (or `initial` when there is none).
    public func load() throws -> State {
        if let state = lock.withLock({ cached }) { return state }
        var loaded = initial()
        if let data = FileManager.default.contents(atPath: url.path) {
            loaded = try JSONDecoder().decode(State.self, from: data)
        }
        lock.withLock { cached = loaded }
        return loaded
    }

    public func save(_ state: State) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let temporary = url.appendingPathExtension("tmp")
        try encoder.encode(state).write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        lock.withLock { cached = state }
    }
}
