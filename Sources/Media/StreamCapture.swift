/// One received RTP stream placed on its recording's timeline: packets in, 16-bit samples at
/// the positions their timestamps give, ready for the recording to take each second. Pure (no
/// I/O, no clock): the caller says when each packet arrived, as a sample position on the
/// recording's timeline (8 kHz, 0 = the call's start).
///
/// Placement: the first packet of a source is put where it arrived; later ones where their
/// RTP timestamp says relative to it, so reordering, duplicates and jitter change nothing and
/// gaps (loss, silence suppression, hold) stay silence. The sender's clock is followed: the
/// smallest delay seen over each window of packets shows whether its clock runs ahead or
/// behind ours, and the placement moves by that much when it passes `clockTolerance`.
/// A timestamp that jumps (a new SSRC, a restart, a long hold with frozen timestamps) puts the
/// stream back where its packets arrive.
///
/// Codecs with state (G.722, G.729, G.726, Opus) get a decoder per stream and payload type
/// the first time they are seen; every codec is decoded to 8 kHz.
///
/// Samples wait in a ring until `take` hands them over; a packet for a place already taken
/// (later than the playout delay) is counted as late and dropped.
import CMediaIO

public final class StreamCapture {
    public struct Statistics: Sendable, Equatable {
        public var packets = 0
        public var bytes = 0
        /// Expected minus received, by sequence number (RFC 3550 A.3); never negative.
        public var lost = 0
        public var duplicates = 0
        /// Arrived after their samples were written to the file.
        public var late = 0
        /// Could not be placed: further ahead of the file than the ring holds.
        public var overrun = 0
        public var sourceChanges = 0
        public var timestampJumps = 0
        public var clockCorrections = 0
        public var undecodable = 0
        public var unknownPayload = 0
        public var malformed = 0
        public var comfortNoise = 0
        /// SRTP packets that failed authentication (or replay protection): dropped.
        public var srtpFailures = 0
        /// RTCP packets received (on the RTCP port, or multiplexed on the RTP port).
        public var rtcp = 0
        /// Interarrival jitter (RFC 3550 A.8), in samples.
        public var jitter: Double = 0
        /// The packet count of the sender's latest report: against `packets`, the loss on the
        /// way from the SRC.
        public var senderReportedPackets: Int?
        /// The latest report block the SRC sent (about what it received).
        public var reportedFractionLost: Double?
        public var reportedJitter: Int?
        public var firstArrival: Int64?
        public var lastArrival: Int64?
        public init() {}
    }

    /// An RFC 4733 event: where it started on the timeline and how long it lasted.
    public struct DTMFEvent: Sendable, Equatable {
        public var position: Int64
        public var event: UInt8
        public var durationSamples: Int
        public init(position: Int64, event: UInt8, durationSamples: Int) {
            self.position = position
            self.event = event
            self.durationSamples = durationSamples
        }
    }

    public static let sampleRate = 8000
    public let capacity: Int
    private let mask: Int
    private let ring: UnsafeMutablePointer<Int16>
    public var payloads: PayloadMap
    public private(set) var statistics = Statistics()
    public private(set) var dtmf: [DTMFEvent] = []
    public static let maxDTMFEvents = 2000
    /// Everything before this position has been taken.
    public private(set) var takenUpTo: Int64
    /// The end of the furthest samples written.
    public private(set) var writtenUpTo: Int64
    /// Which payload types were seen as not decodable (for the record).
    public private(set) var notDecodedSeen: Set<UInt8> = []

    // Timeline anchor: timestamp `anchorTimestamp` sits at `anchorPosition`.
    private var ssrc: UInt32?
    private var anchorTimestamp: UInt32 = 0
    private var anchorPosition: Int64 = 0
    private var windowMinimumDrift = Int64.max
    private var windowCount = 0
    /// Packets per clock check (5 s of 20 ms packets).
    static let clockWindow = 250
    /// Off by more than this (in samples, 10 ms) and the placement is corrected.
    static let clockTolerance: Int64 = 80
    /// Further from the arrival time than these and the stream is re-anchored.
    static let maxLate: Int64 = 8000
    static let maxEarly: Int64 = 800

    // Sequence accounting (RFC 3550 A.1, simplified: a 64-packet window for duplicates).
    private var baseSequence: Int64 = 0
    private var highestSequence: Int64 = 0
    private var seenWindow: UInt64 = 0
    private var uniqueInRun = 0
    private var expectedBefore = 0
    private var uniqueBefore = 0
    private var lastEventTimestamp: UInt32?

    /// `capacity` samples of ring (rounded up to a power of two) from `start`.
    public init(payloads: PayloadMap, start: Int64 = 0, capacity: Int = 32768) {
        var size = 1
        while size < capacity { size <<= 1 }
        self.capacity = size
        mask = size - 1
        ring = .allocate(capacity: size)
        ring.initialize(repeating: 0, count: size)
        self.payloads = payloads
        takenUpTo = start
        writtenUpTo = start
    }

    deinit { ring.deallocate() }

    /// One datagram that arrived at timeline position `arrival`.
    public func receive(_ bytes: UnsafeRawBufferPointer, arrival: Int64) {
        let packet: RTPPacket
        do { packet = try RTPPacket(parsing: bytes) } catch {
            statistics.malformed += 1
            return
        }
        statistics.packets += 1
        statistics.bytes += bytes.count
        if statistics.firstArrival == nil { statistics.firstArrival = arrival }
        statistics.lastArrival = arrival

        if packet.ssrc != ssrc {
            if ssrc != nil {
                statistics.sourceChanges += 1
                // A new source starts its codecs afresh.
                decoders.removeAll()
            }
            ssrc = packet.ssrc
            startSequenceRun(packet.sequenceNumber)
            anchor(packet.timestamp, at: arrival)
        } else if !countSequence(packet.sequenceNumber) {
            statistics.duplicates += 1
            return
        }

        let kind = payloads[packet.payloadType]
        let payload = UnsafeRawBufferPointer(rebasing: bytes[packet.payloadOffset..<(packet.payloadOffset + packet.payloadLength)])
        switch kind {
        case .pcmu, .pcma, .l16:
            noteTransit(arrival &- Int64(packet.timestamp))
            let position = place(packet.timestamp, arrival: arrival, rate: 1)
            write(payload, kind: kind, at: position)
        case .g722, .g729, .g726_16, .g726_24, .g726_32, .g726_40, .aal2G726_16, .aal2G726_24, .aal2G726_32, .aal2G726_40, .opus:
            guard let decoder = decoder(for: packet.payloadType, kind: kind) else {
                statistics.undecodable += 1
                return
            }
            let count = decoder.decode(payload)
            guard count > 0 else {
                statistics.malformed += 1
                return
            }
            noteTransit(arrival &- Int64(packet.timestamp) / kind.timestampsPerSample)
            let position = place(packet.timestamp, arrival: arrival, rate: kind.timestampsPerSample)
            write(decoder.output, count: count, at: position)
        case .telephoneEvent:
            noteEvent(payload, timestamp: packet.timestamp)
        case .comfortNoise:
            statistics.comfortNoise += 1
        case .notDecoded:
            statistics.undecodable += 1
            notDecodedSeen.insert(packet.payloadType)
        case .unknown:
            statistics.unknownPayload += 1
        }
    }

    /// An SRTP packet that failed authentication: counted; the stream goes on.
    public func noteSRTPFailure() { statistics.srtpFailures += 1 }

    public func noteRTCP() { statistics.rtcp += 1 }

    /// A datagram that could not even be read whole (longer than the receive buffer).
    public func noteMalformed() { statistics.malformed += 1 }

    /// An RTCP compound packet (already decrypted for SRTCP).
    public func receiveRTCP(_ bytes: UnsafeRawBufferPointer) {
        guard let compound = try? RTCPCompound(parsing: bytes) else {
            statistics.malformed += 1
            return
        }
        statistics.rtcp += 1
        if let sender = compound.senders.last { statistics.senderReportedPackets = Int(sender.packetCount) }
        if let report = compound.reports.last {
            statistics.reportedFractionLost = report.fractionLost
            statistics.reportedJitter = Int(report.jitter)
        }
    }

    /// Moves samples `[takenUpTo, end)` into `output` (interleaved frames of `channels`, this
    /// stream in `channel`), added to what is there, and clears them from the ring.
    public func take(upTo end: Int64, into output: UnsafeMutablePointer<Int32>, channels: Int, channel: Int) {
        let count = Int(max(0, end - takenUpTo))
        let stored = min(count, capacity)
        var index = Int(takenUpTo) & mask
        var out = channel
        for _ in 0..<stored {
            output[out] &+= Int32(ring[index])
            ring[index] = 0
            index = (index + 1) & mask
            out += channels
        }
        takenUpTo = max(takenUpTo, end)
        if writtenUpTo < takenUpTo { writtenUpTo = takenUpTo }
    }

    /// Moves the start without keeping the samples (no file yet: nothing was received).
    public func discard(upTo end: Int64) {
        guard end > takenUpTo else { return }
        let count = min(Int(end - takenUpTo), capacity)
        var index = Int(takenUpTo) & mask
        for _ in 0..<count {
            ring[index] = 0
            index = (index + 1) & mask
        }
        takenUpTo = end
        if writtenUpTo < takenUpTo { writtenUpTo = takenUpTo }
    }

    // MARK: - Timeline

    /// RFC 3550 A.8: the jitter estimate from the change in transit time (arrival minus
    /// timestamp, both in samples), smoothed by 1/16.
    private var lastTransit: Int64?

    private func noteTransit(_ transit: Int64) {
        if let lastTransit {
            // Timestamps are 32-bit: a difference beyond a second is a jump, not jitter.
            let difference = abs(Int64(Int32(truncatingIfNeeded: transit &- lastTransit)))
            if difference < 8000 { statistics.jitter += (Double(difference) - statistics.jitter) / 16 }
        }
        lastTransit = transit
    }

    private func anchor(_ timestamp: UInt32, at position: Int64) {
        lastTransit = nil
        anchorTimestamp = timestamp
        anchorPosition = position
        windowMinimumDrift = .max
        windowCount = 0
    }

    /// Where a timestamp belongs, keeping the anchor near the newest packet (so timestamp
    /// differences stay far from the 32-bit wrap) and following the sender's clock.
    /// RTP timestamp units per sample of the latest audio (6 for Opus), for placing events.
    private var timestampsPerSample: Int64 = 1

    private func place(_ timestamp: UInt32, arrival: Int64, rate: Int64) -> Int64 {
        timestampsPerSample = rate
        var position = anchorPosition + Int64(Int32(bitPattern: timestamp &- anchorTimestamp)) / rate
        let drift = arrival - position
        if drift > Self.maxLate || drift < -Self.maxEarly {
            statistics.timestampJumps += 1
            anchor(timestamp, at: arrival)
            return arrival
        }
        windowMinimumDrift = min(windowMinimumDrift, drift)
        windowCount += 1
        if windowCount >= Self.clockWindow {
            if abs(windowMinimumDrift) > Self.clockTolerance {
                statistics.clockCorrections += 1
                anchorPosition += windowMinimumDrift
                position += windowMinimumDrift
            }
            windowMinimumDrift = .max
            windowCount = 0
        }
        if position > anchorPosition {
            anchorTimestamp = timestamp
            anchorPosition = position
        }
        return position
    }

    /// Where `count` samples at `position` go in the ring: how many of the first are already
    /// taken (skipped) and the ring index of the first kept; nil (counted) when the packet is
    /// wholly late or further ahead than the ring holds.
    private func reserve(_ count: Int, at position: Int64) -> (skip: Int, index: Int)? {
        let end = position + Int64(count)
        if end <= takenUpTo {
            statistics.late += 1
            return nil
        }
        if end - takenUpTo > Int64(capacity) {
            statistics.overrun += 1
            return nil
        }
        if end > writtenUpTo { writtenUpTo = end }
        let skip = Int(max(0, takenUpTo - position))
        return (skip, Int(position + Int64(skip)) & mask)
    }

    /// Decoded samples (a stateful codec's output) into the ring.
    private func write(_ samples: UnsafePointer<Int16>, count: Int, at position: Int64) {
        guard let (skip, first) = reserve(count, at: position) else { return }
        var index = first
        for offset in skip..<count {
            ring[index] = samples[offset]
            index = (index + 1) & mask
        }
    }

    // MARK: - Decoders

    /// A codec with state: one per payload type of the stream, made when first needed.
    final class Decoder {
        let pointer: OpaquePointer
        /// 120 ms at 8 kHz covers an Opus frame and a long G.729 packet.
        static let capacity = 2400
        let output = UnsafeMutablePointer<Int16>.allocate(capacity: Decoder.capacity)

        init?(_ kind: PayloadMap.Kind) {
            guard let spec = kind.decoder, let made = mio_decoder_create(spec.codec, spec.bitrate, spec.packing) else { return nil }
            pointer = made
        }

        deinit {
            mio_decoder_destroy(pointer)
            output.deallocate()
        }

        func decode(_ payload: UnsafeRawBufferPointer) -> Int {
            guard let base = payload.baseAddress, payload.count > 0 else { return 0 }
            return Int(mio_decoder_decode(pointer, base.assumingMemoryBound(to: UInt8.self), Int32(min(payload.count, 4096)), output, Int32(Decoder.capacity)))
        }
    }

    private var decoders: [UInt8: (kind: PayloadMap.Kind, decoder: Decoder)] = [:]

    private func decoder(for payloadType: UInt8, kind: PayloadMap.Kind) -> Decoder? {
        if let existing = decoders[payloadType], existing.kind == kind { return existing.decoder }
        guard let made = Decoder(kind) else { return nil }
        decoders[payloadType] = (kind, made)
        return made
    }

    private func write(_ payload: UnsafeRawBufferPointer, kind: PayloadMap.Kind, at position: Int64) {
        let count = kind == .l16 ? payload.count / 2 : payload.count
        guard count > 0, let (skip, first) = reserve(count, at: position) else { return }
        var index = first
        switch kind {
        case .pcmu:
            G711.ulawTable.withUnsafeBufferPointer { table in
                for offset in skip..<count {
                    ring[index] = table[Int(payload[offset])]
                    index = (index + 1) & mask
                }
            }
        case .pcma:
            G711.alawTable.withUnsafeBufferPointer { table in
                for offset in skip..<count {
                    ring[index] = table[Int(payload[offset])]
                    index = (index + 1) & mask
                }
            }
        default:
            for offset in skip..<count {
                ring[index] = Int16(bitPattern: UInt16(payload[2 * offset]) << 8 | UInt16(payload[2 * offset + 1]))
                index = (index + 1) & mask
            }
        }
    }

    // MARK: - Events (RFC 4733 §2.3)

    private func noteEvent(_ payload: UnsafeRawBufferPointer, timestamp: UInt32) {
        guard payload.count >= 4 else {
            statistics.malformed += 1
            return
        }
        // Events are placed by the audio anchor, without moving it: an event's packets repeat
        // its start timestamp for as long as it lasts.
        // The duration is in RTP clock units (48 kHz with Opus): samples are 8 kHz.
        let duration = Int(UInt16(payload[2]) << 8 | UInt16(payload[3])) / Int(timestampsPerSample)
        if timestamp == lastEventTimestamp, !dtmf.isEmpty {
            dtmf[dtmf.count - 1].durationSamples = max(dtmf[dtmf.count - 1].durationSamples, duration)
            return
        }
        guard dtmf.count < Self.maxDTMFEvents else { return }
        lastEventTimestamp = timestamp
        let position = anchorPosition + Int64(Int32(bitPattern: timestamp &- anchorTimestamp)) / timestampsPerSample
        dtmf.append(DTMFEvent(position: position, event: payload[0], durationSamples: duration))
    }

    // MARK: - Sequence numbers

    private func startSequenceRun(_ sequence: UInt16) {
        if uniqueInRun > 0 {
            expectedBefore += Int(highestSequence - baseSequence + 1)
            uniqueBefore += uniqueInRun
        }
        baseSequence = Int64(sequence)
        highestSequence = Int64(sequence)
        seenWindow = 1
        uniqueInRun = 1
        updateLost()
    }

    /// False for a duplicate.
    private func countSequence(_ sequence: UInt16) -> Bool {
        let delta = Int64(Int16(bitPattern: sequence &- UInt16(truncatingIfNeeded: highestSequence)))
        if delta > 0 {
            // A jump far ahead is a restart of the sender's numbering (RFC 3550 A.1's dropout).
            if delta > 3000 {
                startSequenceRun(sequence)
                return true
            }
            seenWindow = delta >= 64 ? 1 : (seenWindow << UInt64(delta)) | 1
            highestSequence += delta
            uniqueInRun += 1
        } else {
            let back = -delta
            // A stray far behind (a broken sender, a spoofed packet) is counted but does not
            // move the base, or one packet would make thousands look lost.
            if back > 3000 {
                uniqueBefore += 1
                expectedBefore += 1
                return true
            }
            if back < 64 {
                let bit = UInt64(1) << UInt64(back)
                if seenWindow & bit != 0 { return false }
                seenWindow |= bit
            }
            if highestSequence + delta < baseSequence { baseSequence = highestSequence + delta }
            uniqueInRun += 1
        }
        updateLost()
        return true
    }

    private func updateLost() {
        let expected = expectedBefore + Int(highestSequence - baseSequence + 1)
        statistics.lost = max(0, expected - uniqueBefore - uniqueInRun)
    }
}
