import CMediaIO
import Foundation

/// Where finished chunks of audio go (the spool writer). Called on the media thread: it must
/// only queue the work.
public protocol AudioSink: AnyObject, Sendable {
    func audio(recordingID: String, chunk: CaptureRecording.Chunk, channels: Int)
}

/// The receive path: one thread that owns every media socket of this node, reads them with
/// epoll and recvmmsg (64 datagrams a call, into buffers allocated once), places each packet
/// on its recording's timeline and, once a second per recording, hands the mixed audio to the
/// sink. The SIP side talks to it through commands (a locked queue and an eventfd), so no
/// stream state is shared between threads. `decisions/0009` says why a thread of its own
/// rather than NIO datagram channels.
public final class MediaEngine: @unchecked Sendable {
    public struct Settings: Sendable {
        /// How often each recording's audio goes to the sink.
        public var flushInterval: Duration = .seconds(1)
        /// How far behind real time the drain stays, for late and reordered packets.
        public var playoutDelay: Duration = .milliseconds(300)
        /// Ring per stream, in samples: what it must hold is a flush interval, the playout
        /// delay, the housekeeping tick and packets up to 100 ms early; rounded up to a power
        /// of two (16,384 samples = 32 KiB with the defaults).
        public var ringSamples: Int {
            let seconds = flushInterval.secondsValue + playoutDelay.secondsValue + 0.25
            return Int(seconds * 8000)
        }
        public var receiveBufferBytes = 256 * 1024
        /// A stream without packets this long is noted (once per silence).
        public var streamTimeout: Duration = .seconds(30)
        /// A recording without any packet this long is reported (its call gets a BYE).
        public var recordingTimeout: Duration = .seconds(300)
        /// Ended streams' sockets kept bound for later calls, at most (`decisions/0018`): a
        /// socket made and closed per call was a fifth of the server's CPU under load. Each
        /// holds two descriptors (RTP and RTCP); rest × call rate must stay below it for the
        /// sockets to be used again (2,048 serves 10,000 streams ending a second).
        public var parkedSocketLimit = 2048
        /// How long a parked socket rests before a new call gets it, so that packets still on
        /// their way to the old call are not taken for the new one's (what waited on it is
        /// dropped when it is taken).
        public var parkedSocketRest: Duration = .milliseconds(200)
        public init() {}
    }

    /// The address and port a stream's socket is bound to: an attached socket that names it
    /// is parked at its stream's end instead of closed.
    public struct Binding: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// A bound RTP socket (and its RTCP neighbour, where there was one) that an ended stream
    /// left: the next call on its port takes it instead of binding a new one.
    public struct ParkedSocket: Sendable {
        public let binding: Binding
        public let fd: Int32
        public let rtcpFD: Int32?
        let parkedAt: UInt64
    }

    /// The final word on a stream, when its recording ends.
    public struct StreamReport: Sendable, Equatable {
        public var key: String
        public var statistics: StreamCapture.Statistics
        public var dtmf: [StreamCapture.DTMFEvent]
        /// Encoding names (or `PT n`) of payloads received that this build does not decode.
        public var notDecoded: [String]
    }

    public enum Event: Sendable {
        case streamSilent(recordingID: String, streamKey: String)
        case streamResumed(recordingID: String, streamKey: String)
        case noMedia(recordingID: String)
        /// libsrtp2 would not take a key the SDP offered (its status code).
        case srtpKeyRefused(recordingID: String, streamKey: String, status: Int32)
    }

    private enum Command {
        case begin(id: String, channels: Int, startNanos: UInt64)
        case attach(fd: Int32, rtcp: RTCPSocket?, binding: Binding?, recordingID: String, key: String, channel: Int, payloads: PayloadMap, srtp: SRTPKey?)
        case update(fd: Int32, payloads: PayloadMap, srtp: SRTPKey?)
        case detach(fd: Int32)
        case end(id: String, reply: @Sendable ([StreamReport], _ audioFrames: Int64) -> Void)
        case restartTimeout(id: String)
        case pause(id: String, paused: Bool)
        case statistics(reply: @Sendable ([String: [StreamReport]]) -> Void)
    }

    private final class Live {
        let recording: CaptureRecording
        let startNanos: UInt64
        var nextFlush: UInt64
        var lastPacketNanos: UInt64
        var noMediaReported = false
        var audioFrames: Int64 = 0
        /// Paused by an operator since this timeline frame (silence is written from there).
        var pausedFrom: Int64?
        /// Paused stretches (timeline frames, end excluded) not yet written.
        var pausedIntervals: [Range<Int64>] = []
        /// Its attached RTP sockets: the end reads and closes these without looking at every
        /// socket of the engine (thousands of calls end a second in signalling bursts).
        var sockets: [Int32] = []
        init(recording: CaptureRecording, startNanos: UInt64, nextFlush: UInt64) {
            self.recording = recording
            self.startNanos = startNanos
            self.nextFlush = nextFlush
            lastPacketNanos = startNanos
        }
    }

    private final class Socket {
        let fd: Int32
        /// The RTCP port's socket (RTP port + 1), when it could be bound.
        var rtcpFD: Int32?
        let capture: StreamCapture
        let live: Live
        let key: String
        /// Where it is bound, when it may be parked at its end.
        var binding: Binding?
        var silent = false
        var lastPackets = 0
        var srtpKey: SRTPKey?
        var srtp: SRTPContext?
        /// The key before a rekey: packets sent with it may still be on their way, so it is
        /// tried too until the new one has worked for a while.
        var previousSRTP: SRTPContext?
        var successesSinceRekey = 0
        var lastActivity: UInt64
        init(fd: Int32, capture: StreamCapture, live: Live, key: String, now: UInt64) {
            self.fd = fd
            self.capture = capture
            self.live = live
            self.key = key
            lastActivity = now
        }
    }

    public let settings: Settings
    private let sink: AudioSink
    private let events: @Sendable (Event) -> Void
    private let lock = NSLock()
    private var commands: [Command] = []
    /// An eventfd signal is on its way for the queued commands (under `lock`).
    private var wakeSent = false
    private var stopping = false
    private let epoll: Int32
    private let wake: Int32
    private var thread: Thread?
    private let stopped = DispatchSemaphore(value: 0)
    /// Parked sockets by address, oldest first, and the ports of sockets closed instead of
    /// parked (the SIP side gives them back to its pool); under `parkLock`.
    private let parkLock = NSLock()
    private var parked: [String: ParkQueue] = [:]
    private var parkedTotal = 0
    private var freedPorts: [Int] = []
    private var parkClosed = false

    // Media thread only.
    private var recordings: [String: Live] = [:]
    private var sockets: [Int32: Socket] = [:]
    private var rtcpSockets: [Int32: Socket] = [:]
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: Int(MIO_PACKET_BYTES), alignment: 16)
    private let mixBuffer = CaptureRecording.MixBuffer()

    public init(settings: Settings = Settings(), sink: AudioSink, events: @escaping @Sendable (Event) -> Void = { _ in }) throws {
        self.settings = settings
        self.sink = sink
        self.events = events
        epoll = mio_epoll_create()
        wake = mio_eventfd_create()
        guard epoll >= 0, wake >= 0 else { throw POSIXError(.EMFILE) }
        _ = mio_epoll_add(epoll, wake, UInt64(UInt32.max))
    }

    deinit {
        scratch.deallocate()
        mio_close(epoll)
        mio_close(wake)
    }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "siprecd-media"
        thread.qualityOfService = .userInteractive
        self.thread = thread
        thread.start()
    }

    /// Ends the thread; recordings still open are drained to the sink first.
    public func stop() {
        lock.lock()
        let running = thread != nil && !stopping
        stopping = true
        // A running thread runs every queued command (ends included) before it stops.
        let unread = running ? [] : commands
        if !running { commands.removeAll() }
        lock.unlock()
        mio_eventfd_signal(wake)
        if running { stopped.wait() }
        // Never started: the sockets handed over are still ours to close.
        for case let .attach(fd, rtcp, _, _, _, _, _, _) in unread {
            mio_close(fd)
            if case .bound(let rtcpFD) = rtcp { mio_close(rtcpFD) }
        }
        // The thread is done with its sockets: none is parked from now on.
        parkLock.lock()
        parkClosed = true
        let left = parked.values.flatMap { $0.all }
        parked.removeAll()
        parkedTotal = 0
        parkLock.unlock()
        for socket in left {
            mio_close(socket.fd)
            if let rtcpFD = socket.rtcpFD { mio_close(rtcpFD) }
        }
    }

    // MARK: - Parked sockets (any thread)

    /// A parked socket bound to `host`, the one parked longest, once it has rested
    /// (`Settings.parkedSocketRest`) or, with `evenIfResting`, at once; what waited on it is
    /// read and dropped first. The caller owns it (attach it with its binding, or close it).
    public func takeParkedSocket(host: String, evenIfResting: Bool = false) -> ParkedSocket? {
        let rest = UInt64(settings.parkedSocketRest.nanosecondsValue)
        parkLock.lock()
        guard let oldest = parked[host]?.first, evenIfResting || mio_monotonic_ns() >= oldest.parkedAt + rest else {
            parkLock.unlock()
            return nil
        }
        parked[host]?.removeFirst()
        parkedTotal -= 1
        parkLock.unlock()
        _ = mio_udp_discard(oldest.fd)
        if let rtcpFD = oldest.rtcpFD { _ = mio_udp_discard(rtcpFD) }
        return oldest
    }

    /// Ports whose attached sockets were closed rather than parked since the last call (the
    /// park was full, or their recording was gone), for the caller's port pool.
    public func takeFreedPorts() -> [Int] {
        parkLock.lock()
        defer { parkLock.unlock() }
        guard !freedPorts.isEmpty else { return [] }
        let ports = freedPorts
        freedPorts.removeAll(keepingCapacity: true)
        return ports
    }

    /// Sockets parked now.
    public var parkedSocketCount: Int {
        parkLock.lock()
        defer { parkLock.unlock() }
        return parkedTotal
    }

    /// Parks an attached socket whose stream ended, or closes it when the park is full or the
    /// engine stops; it is out of epoll and the tables already.
    private func park(fd: Int32, rtcpFD: Int32?, binding: Binding?, now: UInt64) {
        guard let binding else {
            mio_close(fd)
            if let rtcpFD { mio_close(rtcpFD) }
            return
        }
        parkLock.lock()
        if !parkClosed, parkedTotal < settings.parkedSocketLimit {
            parked[binding.host, default: ParkQueue()].append(ParkedSocket(binding: binding, fd: fd, rtcpFD: rtcpFD, parkedAt: now))
            parkedTotal += 1
            parkLock.unlock()
            return
        }
        freedPorts.append(binding.port)
        parkLock.unlock()
        mio_close(fd)
        if let rtcpFD { mio_close(rtcpFD) }
    }

    public static func monotonicNanos() -> UInt64 { mio_monotonic_ns() }

    // MARK: - Commands (any thread)

    /// A bound, non-blocking UDP socket for a stream, or the errno that prevented it.
    public func bind(host: String, port: Int) -> Result<Int32, POSIXError> {
        let fd = mio_udp_bind(host, Int32(port), Int32(settings.receiveBufferBytes))
        if fd < 0 { return .failure(POSIXError(POSIXErrorCode(rawValue: -fd) ?? .EINVAL)) }
        return .success(fd)
    }

    public static func localPort(of fd: Int32) -> Int? {
        let port = mio_local_port(fd)
        return port >= 0 ? Int(port) : nil
    }

    public func begin(recordingID: String, channels: Int, startNanos: UInt64) {
        send(.begin(id: recordingID, channels: channels, startNanos: startNanos))
    }

    /// A stream's RTCP socket: one already bound, or where the media thread should bind it
    /// (off the SIP event loop; without it the stream simply has no RTCP).
    public enum RTCPSocket: Sendable {
        case bound(Int32)
        case bind(host: String, port: Int)
    }

    /// Puts a bound socket's packets into a recording's channel; `rtcp`: its RTCP port's
    /// socket; `srtp`: the SRC's SDES key.
    /// `binding`: where `fd` is bound; with it the socket (and its RTCP one) is parked at the
    /// stream's end for a later call (`takeParkedSocket`), or its port is reported freed.
    public func attach(fd: Int32, rtcp: RTCPSocket? = nil, binding: Binding? = nil, recordingID: String, streamKey: String, channel: Int, payloads: PayloadMap,
                       srtp: SRTPKey? = nil) {
        send(.attach(fd: fd, rtcp: rtcp, binding: binding, recordingID: recordingID, key: streamKey, channel: channel, payloads: payloads, srtp: srtp), urgent: true)
    }

    /// New payload types or a new key for a stream (a re-INVITE changed the codec or rekeyed).
    public func update(fd: Int32, payloads: PayloadMap, srtp: SRTPKey? = nil) { send(.update(fd: fd, payloads: payloads, srtp: srtp), urgent: true) }

    /// Stops reading a socket and closes (or parks) it.
    public func detach(fd: Int32) { send(.detach(fd: fd)) }

    /// Starts the no-media clock again (the recording is paused on purpose); a later silence
    /// of the full timeout is reported again.
    public func restartMediaTimeout(recordingID: String) { send(.restartTimeout(id: recordingID)) }

    /// Pauses (silence is written from the audio arriving now) or resumes a recording.
    public func setPaused(recordingID: String, _ paused: Bool) { send(.pause(id: recordingID, paused: paused), urgent: true) }

    /// Drains the recording's last audio to the sink, then replies (on the media thread) with
    /// every stream's final statistics and the frames of audio written.
    public func end(recordingID: String, reply: @escaping @Sendable ([StreamReport], Int64) -> Void) {
        send(.end(id: recordingID, reply: reply))
    }

    /// Replies (on the media thread) with the statistics so far of every stream of every live
    /// recording, by recording id: what the admin API shows for calls in progress.
    /// An engine not running (not started yet, or stopping) replies at once with nothing.
    public func statistics(reply: @escaping @Sendable ([String: [StreamReport]]) -> Void) {
        lock.lock()
        guard thread != nil, !stopping else {
            lock.unlock()
            return reply([:])
        }
        // Queued under the same lock as the check: a stop cannot come between them and leave
        // the reply unsent.
        commands.append(.statistics(reply: reply))
        let signal = !wakeSent
        wakeSent = true
        lock.unlock()
        if signal { mio_eventfd_signal(wake) }
    }

    /// Queues a command. Only an urgent one wakes the thread (once until it reads the queue):
    /// the others wait for its next wake, at the latest its 20 ms tick, so thousands of calls
    /// a second do not cost a wake-up (an eventfd write and a context switch) each. Urgent:
    /// what packets depend on (a socket attached late would date its first packet late on the
    /// recording's timeline; a new key must apply before the packets it protects), pause, and
    /// what someone waits for. Commands run before packets are read, in the order queued.
    private func send(_ command: Command, urgent: Bool = false) {
        lock.lock()
        commands.append(command)
        let signal = urgent && !wakeSent
        if signal { wakeSent = true }
        lock.unlock()
        if signal { mio_eventfd_signal(wake) }
    }

    // MARK: - The media thread

    private func run() {
        guard let batch = mio_batch_create() else { fatalError("media receive buffers could not be allocated") }
        defer { mio_batch_destroy(batch) }
        var tokens = [UInt64](repeating: 0, count: 256)
        let flushNanos = UInt64(settings.flushInterval.nanosecondsValue)
        var nextHousekeeping = mio_monotonic_ns()
        while true {
            let ready = tokens.withUnsafeMutableBufferPointer { mio_epoll_wait(epoll, $0.baseAddress, 256, 20) }
            let now = mio_monotonic_ns()
            // Commands first: a stream's new key or codec applies to the packets read after it.
            if runCommands(now: now, batch: batch) { break }
            if ready > 0 {
                for index in 0..<Int(ready) {
                    let token = tokens[index]
                    if token == UInt64(UInt32.max) {
                        mio_eventfd_drain(wake)
                        continue
                    }
                    let fd = Int32(truncatingIfNeeded: token)
                    if let socket = sockets[fd] {
                        read(socket, batch: batch, now: now)
                    } else if let socket = rtcpSockets[fd] {
                        readRTCP(socket, fd: fd, batch: batch)
                    }
                }
            }
            if now >= nextHousekeeping {
                flushDue(now: now, interval: flushNanos)
                nextHousekeeping = now + 50_000_000
            }
        }
        for live in Array(recordings.values) { finish(live, now: mio_monotonic_ns(), reply: nil, batch: batch) }
        stopped.signal()
    }

    private func position(_ nanos: UInt64, in live: Live) -> Int64 {
        guard nanos > live.startNanos else { return 0 }
        return Int64((nanos - live.startNanos) / 125_000)  // 8 kHz: one sample per 125 µs
    }

    /// Up to `batches` recvmmsg calls on `fd`; each datagram is handed to `handle` as a mutable
    /// pointer, its length and when the kernel received it (monotonic ns, 0 if unknown). One
    /// too long for the buffer is skipped and counted as malformed on the stream, where the
    /// record shows it.
    private func readDatagrams(_ fd: Int32, capture: StreamCapture, batch: UnsafeMutablePointer<mio_batch>, batches: Int,
                               _ handle: (UnsafeMutableRawPointer, Int, UInt64) -> Void) {
        var received = Int32(MIO_BATCH)
        var round = 0
        while received == Int32(MIO_BATCH), round < batches {
            round += 1
            received = mio_recv_batch(fd, batch)
            guard received > 0 else { break }
            withUnsafeMutableBytes(of: &batch.pointee.data) { all in
                withUnsafeBytes(of: &batch.pointee.lengths) { lengthBytes in
                    withUnsafeBytes(of: &batch.pointee.arrivals) { arrivalBytes in
                        let lengths = lengthBytes.bindMemory(to: Int32.self)
                        let arrivals = arrivalBytes.bindMemory(to: UInt64.self)
                        for message in 0..<Int(received) {
                            let length = Int(lengths[message])
                            guard length > 0 else {
                                capture.noteMalformed()
                                continue
                            }
                            handle(all.baseAddress! + message * Int(MIO_PACKET_BYTES), length, arrivals[message])
                        }
                    }
                }
            }
        }
    }

    private func read(_ socket: Socket, batch: UnsafeMutablePointer<mio_batch>, now: UInt64) {
        let packetsBefore = socket.capture.statistics.packets
        // At most 4 batches per wake-up: a flooded socket must not keep the thread from the
        // others (epoll is level-triggered, the rest is read on the next turn).
        readDatagrams(socket.fd, capture: socket.capture, batch: batch, batches: 4) { packet, received, receivedAt in
            var length = received
            // Placed when the kernel received it, not when this thread got to it: a packet
            // queued before its socket was attached, or while the thread was held up, keeps
            // its place on the timeline.
            let arrival = position(receivedAt == 0 ? now : receivedAt, in: socket.live)
            // RFC 5761: RTCP multiplexed on the RTP port (SRTCP when the stream is SRTP).
            let isRTCP = length >= 2 && (200...204).contains(packet.load(fromByteOffset: 1, as: UInt8.self))
            if socket.srtpKey != nil {
                if isRTCP {
                    socket.capture.noteRTCP()
                    return
                }
                // A key libsrtp refused: nothing can be decrypted, and nothing encrypted may
                // reach the file as if it were audio.
                guard let plain = unprotect(socket, packet, length) else {
                    socket.capture.noteSRTPFailure()
                    return
                }
                length = plain
            } else if isRTCP {
                socket.capture.receiveRTCP(UnsafeRawBufferPointer(start: packet, count: length))
                return
            }
            socket.capture.receive(UnsafeRawBufferPointer(start: packet, count: length), arrival: arrival)
        }
        // Only packets that were accepted count as media (a wrong SRTP key is no media).
        if socket.capture.statistics.packets != packetsBefore {
            socket.live.lastPacketNanos = now
            socket.lastActivity = now
        }
    }

    /// RTCP from the stream's RTCP port: SRTCP is decrypted with the stream's key.
    private func readRTCP(_ socket: Socket, fd: Int32, batch: UnsafeMutablePointer<mio_batch>) {
        readDatagrams(fd, capture: socket.capture, batch: batch, batches: 1) { packet, received, _ in
            var length = received
            if socket.srtpKey != nil {
                guard let plain = socket.srtp?.unprotectRTCP(packet, length: length) else {
                    socket.capture.noteSRTPFailure()
                    return
                }
                length = plain
            }
            socket.capture.receiveRTCP(UnsafeRawBufferPointer(start: packet, count: length))
        }
    }

    /// True when the thread should end.
    private func runCommands(now: UInt64, batch: UnsafeMutablePointer<mio_batch>) -> Bool {
        lock.lock()
        let work = commands
        commands.removeAll(keepingCapacity: true)
        wakeSent = false
        let stop = stopping
        lock.unlock()
        for command in work {
            switch command {
            case let .begin(id, channels, startNanos):
                let interval = UInt64(settings.flushInterval.nanosecondsValue)
                recordings[id] = Live(recording: CaptureRecording(id: id, channels: channels), startNanos: startNanos, nextFlush: startNanos + interval)
            case let .attach(fd, rtcp, binding, recordingID, key, channel, payloads, srtp):
                guard let live = recordings[recordingID] else {
                    var rtcpFD: Int32?
                    if case .bound(let bound) = rtcp { rtcpFD = bound }
                    park(fd: fd, rtcpFD: rtcpFD, binding: binding, now: now)
                    continue
                }
                var rtcpFD: Int32?
                switch rtcp {
                case .bound(let bound): rtcpFD = bound
                case let .bind(host, port):
                    let made = mio_udp_bind(host, Int32(port), Int32(settings.receiveBufferBytes))
                    rtcpFD = made >= 0 ? made : nil
                case nil: break
                }
                let capture = live.recording.add(key: key, channel: channel, payloads: payloads, ringCapacity: settings.ringSamples)
                let socket = Socket(fd: fd, capture: capture, live: live, key: key, now: now)
                socket.binding = binding
                rekey(socket, srtp)
                sockets[fd] = socket
                live.sockets.append(fd)
                _ = mio_epoll_add(epoll, fd, UInt64(UInt32(bitPattern: fd)))
                if let rtcpFD {
                    socket.rtcpFD = rtcpFD
                    rtcpSockets[rtcpFD] = socket
                    _ = mio_epoll_add(epoll, rtcpFD, UInt64(UInt32(bitPattern: rtcpFD)))
                }
            case let .update(fd, payloads, srtp):
                guard let socket = sockets[fd] else { continue }
                socket.capture.payloads = payloads
                rekey(socket, srtp)
            case let .detach(fd):
                close(fd: fd, now: now)
            case let .pause(id, paused):
                guard let live = recordings[id] else { break }
                let now = position(mio_monotonic_ns(), in: live)
                if paused, live.pausedFrom == nil {
                    live.pausedFrom = now
                } else if !paused, let from = live.pausedFrom {
                    live.pausedFrom = nil
                    if now > from { live.pausedIntervals.append(from..<now) }
                }
            case let .restartTimeout(id):
                if let live = recordings[id] {
                    live.lastPacketNanos = now
                    live.noMediaReported = false
                }
            case let .end(id, reply):
                if let live = recordings[id] { finish(live, now: now, reply: reply, batch: batch) } else { reply([], 0) }
            case let .statistics(reply):
                reply(recordings.mapValues { $0.recording.streams.map(Self.report) })
            }
        }
        return stop
    }

    /// Decrypts with the current key, or during a rekey with the one before. A failed attempt
    /// may leave the bytes changed (AEAD decrypts before it checks), so the packet is kept
    /// aside while two keys are in play.
    private func unprotect(_ socket: Socket, _ packet: UnsafeMutableRawPointer, _ length: Int) -> Int? {
        guard let previous = socket.previousSRTP else { return socket.srtp?.unprotect(packet, length: length) }
        scratch.copyMemory(from: packet, byteCount: length)
        if let plain = socket.srtp?.unprotect(packet, length: length) {
            socket.successesSinceRekey += 1
            if socket.successesSinceRekey >= 100 { socket.previousSRTP = nil }
            return plain
        }
        packet.copyMemory(from: scratch, byteCount: length)
        return previous.unprotect(packet, length: length)
    }

    /// A new SDES key (the first, or a rekey by re-INVITE); the same key keeps its context
    /// (and its replay window and rollover counter).
    private func rekey(_ socket: Socket, _ key: SRTPKey?) {
        guard key != socket.srtpKey else { return }
        socket.srtpKey = key
        socket.previousSRTP = socket.srtp
        socket.successesSinceRekey = 0
        guard let key else {
            socket.srtp = nil
            return
        }
        do {
            socket.srtp = try SRTPContext(key: key)
        } catch {
            // Every packet is counted as failed; the record shows the stream received nothing.
            socket.srtp = nil
            events(.srtpKeyRefused(recordingID: socket.live.recording.id, streamKey: socket.key, status: error.status))
        }
    }

    /// Takes a socket (and its RTCP one) out of epoll and the tables, and parks or closes them.
    private func retire(_ socket: Socket, now: UInt64) {
        sockets[socket.fd] = nil
        _ = mio_epoll_remove(epoll, socket.fd)
        let rtcpFD = socket.rtcpFD
        if let rtcpFD {
            rtcpSockets[rtcpFD] = nil
            _ = mio_epoll_remove(epoll, rtcpFD)
            socket.rtcpFD = nil
        }
        park(fd: socket.fd, rtcpFD: rtcpFD, binding: socket.binding, now: now)
    }

    private func close(fd: Int32, now: UInt64) {
        guard let socket = sockets[fd] else { return }
        socket.live.sockets.removeAll { $0 == fd }
        retire(socket, now: now)
        socket.live.recording.remove(socket.capture)
    }

    private func flushDue(now: UInt64, interval: UInt64) {
        let delay = Int64(settings.playoutDelay.nanosecondsValue / 125_000)
        let streamTimeout = UInt64(settings.streamTimeout.nanosecondsValue)
        let recordingTimeout = UInt64(settings.recordingTimeout.nanosecondsValue)
        for live in recordings.values where now >= live.nextFlush {
            live.nextFlush = now + interval
            drain(live, upTo: position(now, in: live) - delay)
            if !live.noMediaReported, now - live.lastPacketNanos > recordingTimeout {
                live.noMediaReported = true
                events(.noMedia(recordingID: live.recording.id))
            }
        }
        for socket in sockets.values {
            let packets = socket.capture.statistics.packets
            if packets != socket.lastPackets {
                socket.lastPackets = packets
                if socket.silent {
                    socket.silent = false
                    events(.streamResumed(recordingID: socket.live.recording.id, streamKey: socket.key))
                }
            } else if !socket.silent, now - socket.lastActivity > streamTimeout {
                socket.silent = true
                events(.streamSilent(recordingID: socket.live.recording.id, streamKey: socket.key))
            }
        }
    }

    private func drain(_ live: Live, upTo end: Int64) {
        guard var chunk = live.recording.drain(upTo: end, using: mixBuffer) else { return }
        if live.pausedFrom != nil || !live.pausedIntervals.isEmpty { silencePaused(&chunk, live) }
        live.audioFrames += chunk.leadingSilenceFrames + Int64(chunk.samples.count / live.recording.channels)
        sink.audio(recordingID: live.recording.id, chunk: chunk, channels: live.recording.channels)
    }

    /// Zeroes the frames of `chunk` that fall in a paused stretch, and forgets stretches it ends.
    private func silencePaused(_ chunk: inout CaptureRecording.Chunk, _ live: Live) {
        let channels = live.recording.channels
        let first = live.audioFrames + chunk.leadingSilenceFrames
        let frames = Int64(chunk.samples.count / channels)
        var stretches = live.pausedIntervals
        if let from = live.pausedFrom { stretches.append(from..<Int64.max) }
        for stretch in stretches {
            let lower = max(stretch.lowerBound, first), upper = min(stretch.upperBound, first + frames)
            guard lower < upper else { continue }
            let start = Int(lower - first) * channels, end = Int(upper - first) * channels
            chunk.samples.withUnsafeMutableBufferPointer { samples in
                for index in start..<end { samples[index] = 0 }
            }
        }
        live.pausedIntervals.removeAll { $0.upperBound <= first + frames }
    }

    private func finish(_ live: Live, now: UInt64, reply: (@Sendable ([StreamReport], Int64) -> Void)?, batch: UnsafeMutablePointer<mio_batch>) {
        // What already waits on the sockets arrived before the end.
        let own = live.sockets.compactMap { fd in sockets[fd].flatMap { $0.live === live ? $0 : nil } }
        for socket in own {
            read(socket, batch: batch, now: now)
            if let rtcpFD = socket.rtcpFD { readRTCP(socket, fd: rtcpFD, batch: batch) }
        }
        drain(live, upTo: max(position(now, in: live), live.recording.writtenUpTo))
        for socket in own { retire(socket, now: now) }
        live.sockets.removeAll()
        recordings[live.recording.id] = nil
        reply?(live.recording.streams.map(Self.report), live.audioFrames)
    }

    private static func report(_ stream: (key: String, capture: StreamCapture)) -> StreamReport {
        StreamReport(key: stream.key, statistics: stream.capture.statistics, dtmf: stream.capture.dtmf,
                     notDecoded: stream.capture.notDecodedSeen.sorted().map { stream.capture.payloads.notDecodedNames[$0] ?? "PT \($0)" })
    }
}

extension Duration {
    var secondsValue: Double { Double(nanosecondsValue) / 1e9 }

    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A FIFO of parked sockets: an array read from a moving head, compacted now and then.
struct ParkQueue {
    private var items: [MediaEngine.ParkedSocket] = []
    private var head = 0

    var first: MediaEngine.ParkedSocket? { head < items.count ? items[head] : nil }
    var all: ArraySlice<MediaEngine.ParkedSocket> { items[head...] }

    mutating func append(_ socket: MediaEngine.ParkedSocket) { items.append(socket) }

    mutating func removeFirst() {
        head += 1
        if head >= 1024, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
