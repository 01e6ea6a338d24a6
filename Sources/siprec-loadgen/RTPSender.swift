import Foundation
import Media
#if canImport(Glibc)
import Glibc
#endif

/// Sends every active RTP stream from one thread, one packet per stream per 20 ms tick.
///
/// The tick loop sleeps to absolute CLOCK_MONOTONIC deadlines, so the packet rate does not drift
/// with the time each tick takes; a tick that starts more than 5 ms after its deadline is counted
/// late, and overdue ticks are caught up back to back (each stream still gets one packet per
/// 20 ms of wall time, so recordings keep their length). Streams are added and removed a whole
/// call at a time through a locked mailbox that the loop drains at the start of each tick, so
/// all streams of a call start in the same tick and stop in the same tick.
///
/// SRTP streams (`StreamSpec.srtp`) are protected with the Media module's `SRTPContext`, one
/// session per stream. Protection costs more than sending (about 5 µs a packet with 2,000
/// sessions, see `SRTPBackend`), so a tick with SRTP streams first makes and protects every
/// packet, split among the cores, and then sends them all from this thread.
final class RTPSender: @unchecked Sendable {
    /// How packets leave. `perStream`: every stream has its own connected socket (its own source
    /// port, as a real SRC has), one `send` per packet. `shared`: all streams go out of one
    /// socket and packets are batched with sendmmsg(2), up to `batchSize` per system call.
    enum SocketMode: Sendable {
        case perStream
        case shared(fd: Int32)
    }

    struct StreamSpec: Sendable {
        /// The stream's own socket, connected to `destination` (perStream mode); owned by the
        /// sender from `startCall` on, which closes it when the stream stops.
        var fd: Int32
        var destination: Endpoint
        /// Index into `StreamAudio.frequencies`.
        var tone: Int
        /// The stream's SDES key: its packets are SRTP-protected with it. Nil: plain RTP.
        var srtp: SRTPKey? = nil
    }

    struct Stats: Sendable {
        var packets = 0
        var ticks = 0
        var lateTicks = 0
        /// Ticks given up after falling more than a second behind.
        var skippedTicks = 0
        var sendErrors = 0
        /// SRTP packets that could not be protected (not sent).
        var protectErrors = 0
        var maxLatenessMs = 0.0
        var activeStreams = 0
        var peakStreams = 0
    }

    struct Events: Sendable {
        /// Calls whose first packets went out, with the monotonic time just before the first one.
        var started: [(call: Int, time: Double)] = []
        /// Calls whose streams were removed: nothing more is sent for them.
        var stopped: [Int] = []
    }

    private struct UncheckedStreams: @unchecked Sendable {
        let streams: UnsafeMutableBufferPointer<Stream>
    }

    private struct Stream {
        var fd: Int32
        var address: sockaddr_in
        var call: Int
        var tone: Int
        var ssrc: UInt32
        var sequence: UInt16
        var timestamp: UInt32
        var packetIndex: Int
        /// The outbound SRTP session of an SRTP stream.
        var srtp: SRTPContext?
        /// An SRTP stream whose session could not be made: nothing of it is sent.
        var srtpBroken: Bool
    }

    static let packetBytes = 12 + StreamAudio.samplesPerPacket
    /// Room for a packet and the most SRTP adds (authentication tag and MKI; `SRTPContext.protect`
    /// allows 148 bytes).
    static let slotBytes = packetBytes + 148
    static let tickNanos: Int64 = Int64(StreamAudio.packetMilliseconds) * 1_000_000
    static let lateThresholdNanos: Int64 = 5_000_000
    static let batchSize = 256
    /// Threads that protect an SRTP tick's packets.
    static let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))

    private let mode: SocketMode
    private let lock = NSLock()
    private var pendingStarts: [(call: Int, streams: [Stream])] = []
    private var warnedSRTP = false
    private var pendingStops: [Int] = []
    private var events = Events()
    private var finishRequested = false
    private var published = Stats()
    private let finished = DispatchSemaphore(value: 0)

    /// Tone payloads then silence, 160 bytes each, for memcpy into packets.
    private let payloads: UnsafeMutableRawPointer
    private let silenceIndex = StreamAudio.frequencies.count

    init(mode: SocketMode) {
        self.mode = mode
        let all = StreamAudio.tonePayloads + [StreamAudio.silencePayload]
        payloads = UnsafeMutableRawPointer.allocate(byteCount: all.count * StreamAudio.samplesPerPacket, alignment: 16)
        for (index, payload) in all.enumerated() {
            payload.withUnsafeBytes { (payloads + index * StreamAudio.samplesPerPacket).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
    }

    deinit {
        payloads.deallocate()
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "rtp-sender"
        thread.start()
    }

    /// Streams of one call; they start together on the next tick. Their SRTP sessions are made
    /// here, on the caller's thread, and each protects one packet it does not send: libsrtp2
    /// sets a stream up on its first packet (0.1 ms or more with NSS), which is then not in a tick.
    func startCall(_ call: Int, streams specs: [StreamSpec]) {
        var rng = SystemRandomNumberGenerator()
        var failure: Int32?
        let streams = specs.map { spec in
            var stream = Stream(fd: spec.fd, address: spec.destination.sockaddr, call: call, tone: spec.tone,
                                ssrc: rng.next(), sequence: rng.next(), timestamp: rng.next(),
                                packetIndex: 0, srtp: nil, srtpBroken: false)
            guard let key = spec.srtp else { return stream }
            // The unsent packet takes the sequence number before the first, which must not wrap:
            // the recorder takes the first packet it gets to have rollover counter 0.
            if stream.sequence == 0 { stream.sequence = 1 }
            do {
                let context = try SRTPContext(key: key, outbound: true)
                var warmUp = Stream(fd: -1, address: stream.address, call: call, tone: spec.tone, ssrc: stream.ssrc,
                                    sequence: stream.sequence &- 1, timestamp: stream.timestamp &- UInt32(StreamAudio.samplesPerPacket),
                                    packetIndex: 1, srtp: context, srtpBroken: false)
                let scratchPacket = UnsafeMutableRawPointer.allocate(byteCount: Self.slotBytes, alignment: 16)
                defer { scratchPacket.deallocate() }
                var scratch = [UInt8](repeating: 0, count: Self.packetBytes)
                _ = fill(scratchPacket, &warmUp, scratch: &scratch)
                stream.srtp = context
            } catch {
                failure = (error as? SRTPContext.Failure)?.status ?? -1
                stream.srtpBroken = true
            }
            return stream
        }
        let warn = lock.withLock {
            pendingStarts.append((call, streams))
            defer { if failure != nil { warnedSRTP = true } }
            return failure != nil && !warnedSRTP
        }
        if warn, let failure {
            Log.warning("call \(call): no SRTP session (libsrtp status \(failure)): its packets are not sent")
        }
    }

    /// Stops a call's streams on the next tick; `takeEvents` reports it once done.
    func stopCall(_ call: Int) {
        lock.withLock { pendingStops.append(call) }
    }

    func takeEvents() -> Events {
        lock.withLock {
            let taken = events
            events = Events()
            return taken
        }
    }

    var stats: Stats { lock.withLock { published } }

    /// Stops every stream, ends the thread and waits for it.
    func finish() {
        lock.withLock { finishRequested = true }
        finished.wait()
    }

    // MARK: - The sender thread

    private func run() {
        var streams: [Stream] = []
        var stats = Stats()
        let batch = Batch(capacity: Self.batchSize)
        defer { batch.deallocate() }
        var deadline = Clock.nanos() + Self.tickNanos
        // Plain packets handed to `SRTPContext.protect`, which takes an array.
        var scratch = [UInt8](repeating: 0, count: Self.packetBytes)
        // SRTP streams among `streams`, and the packets of an SRTP tick.
        var srtpStreams = 0
        let tick = TickBuffer()
        defer { tick.deallocate() }
        // SRTP sessions of stopped streams, freed on another thread: libsrtp2 with NSS takes
        // about 0.07 ms a session, too long for a tick when many stop at once.
        var retired: [SRTPContext] = []
        let teardown = DispatchQueue(label: "srtp-teardown")

        while true {
            Clock.sleep(untilNanos: deadline)
            let tickStart = Clock.nanos()
            let lateness = tickStart - deadline
            stats.ticks += 1
            if lateness > Self.lateThresholdNanos { stats.lateTicks += 1 }
            stats.maxLatenessMs = max(stats.maxLatenessMs, Double(lateness) / 1e6)

            let (starts, stops, finishing) = lock.withLock {
                defer {
                    pendingStarts.removeAll(keepingCapacity: true)
                    pendingStops.removeAll(keepingCapacity: true)
                }
                return (pendingStarts, pendingStops, finishRequested)
            }
            let stopping = Set(stops)
            if !stopping.isEmpty || finishing {
                streams.removeAll { stream in
                    guard finishing || stopping.contains(stream.call) else { return false }
                    closeSocket(stream.fd)
                    if stream.srtp != nil || stream.srtpBroken { srtpStreams -= 1 }
                    if let context = stream.srtp { retired.append(context) }
                    return true
                }
            }
            let established = streams.count
            var started: [Int] = []
            for (call, specs) in starts {
                // Started and stopped within one tick (or the sender is finishing): nothing is sent.
                guard !finishing && !stopping.contains(call) else {
                    specs.forEach { closeSocket($0.fd) }
                    continue
                }
                started.append(call)
                for stream in specs {
                    streams.append(stream)
                    if stream.srtp != nil || stream.srtpBroken { srtpStreams += 1 }
                }
            }
            if finishing {
                lock.withLock { events.stopped.append(contentsOf: stops) }
                break
            }

            // New calls first, so their first-packet time is taken right before they go out.
            var firstPacketTime = 0.0
            if srtpStreams > 0 {
                // SRTP: every packet of the tick is made and protected first, on every core
                // (protection costs more than sending), then they all go out.
                tick.reserve(streams.count)
                streams.withUnsafeMutableBufferPointer { all in
                    prepare(all, into: tick)
                    firstPacketTime = Clock.now()
                    send(all, range: established..<all.count, prepared: tick, batch: batch, stats: &stats)
                    send(all, range: 0..<established, prepared: tick, batch: batch, stats: &stats)
                }
            } else {
                firstPacketTime = Clock.now()
                streams.withUnsafeMutableBufferPointer { all in
                    send(all, range: established..<all.count, batch: batch, scratch: &scratch, stats: &stats)
                    send(all, range: 0..<established, batch: batch, scratch: &scratch, stats: &stats)
                }
            }
            stats.activeStreams = streams.count
            stats.peakStreams = max(stats.peakStreams, streams.count)
            lock.withLock {
                for call in started { events.started.append((call, firstPacketTime)) }
                events.stopped.append(contentsOf: stops)
                published = stats
            }
            if !retired.isEmpty {
                let sessions = RetiredSessions(retired)
                retired = []
                teardown.async { sessions.free() }
            }

            deadline += Self.tickNanos
            let behind = Clock.nanos() - deadline
            if behind > 1_000_000_000 {
                // Hopelessly behind (machine overloaded or suspended): resynchronise rather
                // than bursting a second of packets.
                stats.skippedTicks += Int(behind / Self.tickNanos)
                deadline += (behind / Self.tickNanos) * Self.tickNanos
            }
        }
        lock.withLock { published = stats }
        finished.signal()
    }

    private func closeSocket(_ fd: Int32) {
        if case .perStream = mode, fd >= 0 { close(fd) }
    }

    /// Writes the next packet of `stream` at `packet` (SRTP-protected for an SRTP stream) and
    /// advances the stream. Returns the packet's length, or nil when it cannot be protected.
    @inline(__always)
    private func fill(_ packet: UnsafeMutableRawPointer, _ stream: inout Stream, scratch: inout [UInt8]) -> Int? {
        packet.storeBytes(of: 0x80, as: UInt8.self)  // version 2, no padding/extension/CSRC
        packet.storeBytes(of: stream.packetIndex == 0 ? 0x80 : 0x00, toByteOffset: 1, as: UInt8.self)  // marker, PT 0
        packet.storeBytes(of: stream.sequence.bigEndian, toByteOffset: 2, as: UInt16.self)
        packet.storeBytes(of: stream.timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        packet.storeBytes(of: stream.ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        let payload = StreamAudio.isGap(packetIndex: stream.packetIndex) ? silenceIndex : stream.tone
        (packet + 12).copyMemory(from: payloads + payload * StreamAudio.samplesPerPacket, byteCount: StreamAudio.samplesPerPacket)
        stream.sequence &+= 1
        stream.timestamp &+= UInt32(StreamAudio.samplesPerPacket)
        stream.packetIndex += 1
        if let context = stream.srtp { return Self.protect(packet, context, scratch: &scratch) }
        return stream.srtpBroken ? nil : Self.packetBytes
    }

    /// Protects the plain packet at `packet` in place (the slot has `slotBytes` of room).
    /// `SRTPContext.protect` takes and returns arrays: one copy in, allocations inside, one copy out.
    @inline(__always)
    private static func protect(_ packet: UnsafeMutableRawPointer, _ context: SRTPContext, scratch: inout [UInt8]) -> Int? {
        scratch.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: packet, byteCount: packetBytes) }
        guard let protected = context.protect(scratch), protected.count <= slotBytes else { return nil }
        protected.withUnsafeBytes { packet.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return protected.count
    }

    /// Makes (and protects) the next packet of every stream into `tick`, the streams split
    /// among the cores. Each stream, and so its SRTP session, is worked on by one thread only.
    private func prepare(_ streams: UnsafeMutableBufferPointer<Stream>, into tick: TickBuffer) {
        let count = streams.count
        let chunks = max(1, min(Self.workers, count / 128))
        // The workers touch disjoint streams and slots, and this thread waits for them all.
        let shared = UncheckedStreams(streams: streams)
        let work: @Sendable (Int) -> Void = { chunk in
            var scratch = [UInt8](repeating: 0, count: Self.packetBytes)
            for index in (count * chunk / chunks)..<(count * (chunk + 1) / chunks) {
                tick.lengths[index] = self.fill(tick.packet(index), &shared.streams[index], scratch: &scratch) ?? -1
            }
        }
        if chunks == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
        }
    }

    /// Sends the packets `prepare` made for `range`.
    private func send(_ streams: UnsafeMutableBufferPointer<Stream>, range: Range<Int>, prepared tick: TickBuffer, batch: Batch,
                      stats: inout Stats) {
        var queued = 0
        for index in range {
            let length = tick.lengths[index]
            guard length >= 0 else {
                stats.protectErrors += 1
                continue
            }
            switch mode {
            case .perStream:
                if Glibc.send(streams[index].fd, tick.packet(index), length, Int32(MSG_DONTWAIT)) == length {
                    stats.packets += 1
                } else {
                    stats.sendErrors += 1
                }
            case .shared(let fd):
                batch.vectors[queued] = iovec(iov_base: tick.packet(index), iov_len: length)
                batch.addresses[queued] = streams[index].address
                queued += 1
                if queued == batch.capacity {
                    batch.flush(fd: fd, count: queued, stats: &stats)
                    queued = 0
                }
            }
        }
        if case .shared(let fd) = mode, queued > 0 { batch.flush(fd: fd, count: queued, stats: &stats) }
    }

    private func send(_ streams: UnsafeMutableBufferPointer<Stream>, range: Range<Int>, batch: Batch, scratch: inout [UInt8],
                      stats: inout Stats) {
        switch mode {
        case .perStream:
            let packet = batch.packet(0)
            for index in range {
                guard let length = fill(packet, &streams[index], scratch: &scratch) else {
                    stats.protectErrors += 1
                    continue
                }
                if Glibc.send(streams[index].fd, packet, length, Int32(MSG_DONTWAIT)) == length {
                    stats.packets += 1
                } else {
                    stats.sendErrors += 1
                }
            }
        case .shared(let fd):
            var queued = 0
            for index in range {
                guard let length = fill(batch.packet(queued), &streams[index], scratch: &scratch) else {
                    stats.protectErrors += 1
                    continue
                }
                batch.vectors[queued] = iovec(iov_base: batch.packet(queued), iov_len: length)
                batch.addresses[queued] = streams[index].address
                queued += 1
                if queued == batch.capacity {
                    batch.flush(fd: fd, count: queued, stats: &stats)
                    queued = 0
                }
            }
            if queued > 0 { batch.flush(fd: fd, count: queued, stats: &stats) }
        }
    }
}

/// `struct mmsghdr` from <sys/socket.h>, which Swift's Glibc module does not import.
private struct MMsgHdr {
    var header: msghdr
    var length: UInt32
}

/// sendmmsg(2), looked up at run time because Glibc's Swift module does not import it.
private let sendmmsgFunction: (@convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32)? = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "sendmmsg") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32).self)
}()

/// Scratch memory of the sender thread: packets, and for sendmmsg their headers and addresses.
private final class Batch {
    let capacity: Int
    let packets: UnsafeMutableRawPointer
    let addresses: UnsafeMutablePointer<sockaddr_in>
    let vectors: UnsafeMutablePointer<iovec>
    let messages: UnsafeMutablePointer<MMsgHdr>

    init(capacity: Int) {
        self.capacity = capacity
        packets = UnsafeMutableRawPointer.allocate(byteCount: capacity * RTPSender.slotBytes, alignment: 16)
        addresses = .allocate(capacity: capacity)
        vectors = .allocate(capacity: capacity)
        messages = .allocate(capacity: capacity)
        for index in 0..<capacity {
            vectors[index] = iovec(iov_base: packet(index), iov_len: RTPSender.packetBytes)
            var header = msghdr()
            header.msg_name = UnsafeMutableRawPointer(addresses + index)
            header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            header.msg_iov = vectors + index
            header.msg_iovlen = 1
            messages[index] = MMsgHdr(header: header, length: 0)
        }
    }

    func deallocate() {
        packets.deallocate()
        addresses.deallocate()
        vectors.deallocate()
        messages.deallocate()
    }

    @inline(__always)
    func packet(_ index: Int) -> UnsafeMutableRawPointer {
        packets + index * RTPSender.slotBytes
    }

    /// Sends the first `count` queued packets; a message the kernel refuses is counted and skipped.
    func flush(fd: Int32, count: Int, stats: inout RTPSender.Stats) {
        var sent = 0
        while sent < count {
            let result: Int32
            if let sendmmsg = sendmmsgFunction {
                result = sendmmsg(fd, UnsafeMutableRawPointer(messages + sent), UInt32(count - sent), Int32(MSG_DONTWAIT))
            } else {
                result = sendmsg(fd, &messages[sent].header, Int32(MSG_DONTWAIT)) >= 0 ? 1 : -1
            }
            if result > 0 {
                sent += Int(result)
                stats.packets += Int(result)
            } else {
                stats.sendErrors += 1
                sent += 1
            }
        }
    }
}

/// The packets of one SRTP tick, one slot per stream, and their lengths (-1: not protected).
private final class TickBuffer: @unchecked Sendable {
    private(set) var capacity = 0
    private(set) var packets = UnsafeMutableRawPointer.allocate(byteCount: 0, alignment: 16)
    private(set) var lengths = UnsafeMutablePointer<Int>.allocate(capacity: 0)

    func reserve(_ count: Int) {
        guard count > capacity else { return }
        let newCapacity = max(count, 2 * capacity, 64)
        packets.deallocate()
        lengths.deallocate()
        packets = .allocate(byteCount: newCapacity * RTPSender.slotBytes, alignment: 16)
        lengths = .allocate(capacity: newCapacity)
        capacity = newCapacity
    }

    @inline(__always)
    func packet(_ index: Int) -> UnsafeMutableRawPointer {
        packets + index * RTPSender.slotBytes
    }

    func deallocate() {
        packets.deallocate()
        lengths.deallocate()
    }
}

/// SRTP sessions handed to the teardown queue, which frees them.
private final class RetiredSessions: @unchecked Sendable {
    private var contexts: [SRTPContext]

    init(_ contexts: [SRTPContext]) { self.contexts = contexts }

    func free() { contexts.removeAll() }
}
