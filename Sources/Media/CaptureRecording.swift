/// The streams of one recording, mixed into its channels a chunk at a time. Pure: the media
/// engine says up to which timeline position to drain; this hands back interleaved 16-bit
/// frames (streams on one channel added, with saturation).
///
/// Until the first packet of any stream arrives there is nothing worth a file: draining then
/// only counts frames of silence, and the first chunk with audio carries that count so the
/// file still starts at the call's start.
public final class CaptureRecording {
    public let id: String
    public let channels: Int
    public private(set) var drainedUpTo: Int64 = 0
    private final class Member {
        let key: String
        let channel: Int
        let capture: StreamCapture
        /// Removed: the next drain takes what it still holds, then it leaves.
        var leaving = false
        init(key: String, channel: Int, capture: StreamCapture) {
            self.key = key
            self.channel = channel
            self.capture = capture
        }
    }

    private var members: [Member] = []
    /// Streams that left the recording (a re-INVITE removed them), kept for their statistics.
    public private(set) var departed: [(key: String, capture: StreamCapture)] = []
    private var silenceOwed: Int64 = 0
    public private(set) var hasAudio = false

    public init(id: String, channels: Int) {
        self.id = id
        self.channels = max(1, channels)
    }

    /// Where drains add up streams: one for all recordings of a thread (drains run one at a
    /// time), so a recording holds no mixing memory of its own.
    public final class MixBuffer {
        let capacity: Int
        let samples: UnsafeMutablePointer<Int32>
        /// Room for `frames` frames of up to `channels` channels.
        public init(frames: Int = 1600, channels: Int = 2) {
            capacity = frames * max(1, channels)
            samples = .allocate(capacity: capacity)
        }
        deinit { samples.deallocate() }
    }

    public var streams: [(key: String, capture: StreamCapture)] {
        members.map { ($0.key, $0.capture) } + departed
    }

    /// A new stream, its ring starting where the recording has drained to.
    public func add(key: String, channel: Int, payloads: PayloadMap, ringCapacity: Int = 32768) -> StreamCapture {
        let capture = StreamCapture(payloads: payloads, start: drainedUpTo, capacity: ringCapacity)
        members.append(Member(key: key, channel: min(max(0, channel), channels - 1), capture: capture))
        return capture
    }

    /// Takes a stream out once the next drain has taken its samples.
    public func remove(_ capture: StreamCapture) {
        members.first { $0.capture === capture }?.leaving = true
    }

    private func releaseLeaving() {
        for member in members where member.leaving { departed.append((member.key, member.capture)) }
        members.removeAll { $0.leaving }
    }

    public var anyPacket: Bool { members.contains { $0.capture.statistics.packets > 0 } || departed.contains { $0.capture.statistics.packets > 0 } }

    /// The furthest position any stream wrote.
    public var writtenUpTo: Int64 { members.reduce(drainedUpTo) { max($0, $1.capture.writtenUpTo) } }

    public struct Chunk: Sendable {
        /// Frames of silence that come before `samples` (the wait for the first packet).
        public var leadingSilenceFrames: Int64
        /// Interleaved frames.
        public var samples: [Int16]
        public init(leadingSilenceFrames: Int64, samples: [Int16]) {
            self.leadingSilenceFrames = leadingSilenceFrames
            self.samples = samples
        }
    }

    /// Everything up to `end`; nil while no stream has sent anything.
    public func drain(upTo end: Int64, using buffer: MixBuffer? = nil) -> Chunk? {
        guard end > drainedUpTo else { return nil }
        if !hasAudio {
            if !anyPacket {
                for member in members { member.capture.discard(upTo: end) }
                silenceOwed += end - drainedUpTo
                drainedUpTo = end
                releaseLeaving()
                return nil
            }
            hasAudio = true
        }
        var chunk = Chunk(leadingSilenceFrames: silenceOwed, samples: [])
        silenceOwed = 0
        var position = drainedUpTo
        chunk.samples.reserveCapacity(Int(end - drainedUpTo) * channels)
        let buffer = buffer ?? MixBuffer(channels: channels)
        let mix = buffer.samples
        let mixFrames = buffer.capacity / channels
        while position < end {
            let frames = Int(min(Int64(mixFrames), end - position))
            mix.initialize(repeating: 0, count: frames * channels)
            for member in members {
                member.capture.take(upTo: position + Int64(frames), into: mix, channels: channels, channel: member.channel)
            }
            for index in 0..<(frames * channels) {
                chunk.samples.append(Int16(clamping: mix[index]))
            }
            position += Int64(frames)
        }
        drainedUpTo = end
        releaseLeaving()
        return chunk
    }
}
