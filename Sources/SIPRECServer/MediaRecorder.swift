import Foundation
import Logging
import Media
import NIOCore
import Recording
import SDP

/// The SIP side's handle on media: the port pool and each port's socket, the recordings in the
/// media engine (which owns the sockets once attached) and the spool writer. Used on the SIP
/// event loop; the engine and the writer run on threads of their own and answer through
/// closures that hop back to the loop.
final class MediaRecorder {
    let engine: MediaEngine
    let spool: SpoolWriter
    let settings: ServerConfiguration.RecordingSettings
    /// Channels of each recording's file: 2 (stereo), 1 (mono), or one per stream (per-stream,
    /// split into mono files when the call ends), with the next free one for a new stream.
    private var channelsByRecording: [String: (count: Int, next: Int)] = [:]
    private var pool: RTPPortPool
    private let logger: Logger
    /// Bound sockets by port, and the recording each one was given to.
    private var sockets: [Int: Int32] = [:]
    /// The address each port's socket is bound to (its RTCP neighbour is bound there too).
    private var hosts: [Int: String] = [:]
    private var attached: [Int: String] = [:]
    /// The RTCP socket that came with a parked RTP socket a call took, until it is attached.
    private var parkedRTCP: [Int: Int32] = [:]
    private var payloadsByPort: [Int: PayloadMap] = [:]
    private var keysByPort: [Int: SRTPKey] = [:]

    init(configuration: ServerConfiguration, logger: Logger, events: @escaping @Sendable (MediaEngine.Event) -> Void) throws {
        settings = configuration.recording
        pool = RTPPortPool(range: configuration.rtpPorts)
        self.logger = logger
        var spoolSettings = SpoolWriter.Settings(spoolDirectory: settings.spool(in: configuration.dataDirectory),
                                                 archiveDirectory: settings.archive(in: configuration.dataDirectory))
        spoolSettings.template = try ArchiveTemplate(settings.archiveTemplate)
        spoolSettings.format = settings.format
        spoolSettings.splitChannels = settings.layout == .perStream
        spoolSettings.minimumFreeBytes = UInt64(settings.minimumFreeMegabytes) * 1024 * 1024
        spool = try SpoolWriter(settings: spoolSettings, logger: logger)
        var engineSettings = MediaEngine.Settings()
        engineSettings.playoutDelay = settings.playoutDelay
        engineSettings.streamTimeout = settings.streamTimeout
        engineSettings.recordingTimeout = settings.noMediaTimeout == .zero ? .seconds(365 * 86400) : settings.noMediaTimeout
        engineSettings.parkedSocketRest = settings.parkedSocketRest
        engine = try MediaEngine(settings: engineSettings, sink: spool, events: events)
    }

    func start() {
        spool.start()
        engine.start()
    }

    /// Drains every recording to the spool, then finishes the spool's work. Thread-safe (the
    /// engine and the writer synchronise their own queues).
    func stopThreads() {
        engine.stop()
        spool.stop()
    }

    /// Closes the sockets never handed to the engine. On the SIP event loop, like every other
    /// use of the port tables.
    func closeUnattachedSockets() {
        for (port, fd) in sockets where attached[port] == nil { close(fd) }
        for fd in parkedRTCP.values { close(fd) }
        sockets.removeAll()
        hosts.removeAll()
        attached.removeAll()
        parkedRTCP.removeAll()
    }

    /// Ports held by calls.
    var portsInUse: Int { sockets.count }
    /// Ports a new call can have: never bound or given back, and parked sockets.
    var freePorts: Int { pool.available + engine.parkedSocketCount }

    // MARK: - Ports

    /// A port with its socket bound, or nil when none is free: the socket an ended stream
    /// parked, once it has rested; else a port of the pool, bound now (one something else
    /// holds is skipped and goes to the back); else a parked socket still resting.
    func openPort(ipv6: Bool) -> Int? {
        for port in engine.takeFreedPorts() { pool.release(port) }
        let host = ipv6 ? "::" : settings.mediaBindAddress
        if let parked = engine.takeParkedSocket(host: host) { return reuse(parked) }
        for _ in 0..<64 {
            guard let port = pool.allocate() else { break }
            switch engine.bind(host: host, port: port) {
            case .success(let fd):
                sockets[port] = fd
                hosts[port] = host
                return port
            case .failure(let error):
                pool.release(port)
                logger.debug("media port could not be bound; trying another", metadata: ["port": "\(port)", "error": "\(error)"])
            }
        }
        return engine.takeParkedSocket(host: host, evenIfResting: true).map(reuse)
    }

    /// A parked socket's port stays taken in the pool while it is parked: it is the call's now.
    private func reuse(_ parked: MediaEngine.ParkedSocket) -> Int {
        let port = parked.binding.port
        sockets[port] = parked.fd
        hosts[port] = parked.binding.host
        parkedRTCP[port] = parked.rtcpFD
        return port
    }

    /// Gives a port back. `recordingEnds`: the engine closes the socket when it ends the
    /// recording (after reading what is still queued on it).
    func releasePort(_ port: Int, recordingEnds: Bool) {
        hosts[port] = nil
        payloadsByPort[port] = nil
        keysByPort[port] = nil
        if let fd = sockets.removeValue(forKey: port) {
            if attached.removeValue(forKey: port) != nil {
                // The engine owns the socket (and its RTCP one) now: it parks them when the
                // stream ends, or closes them and hands the port back (`takeFreedPorts`).
                if !recordingEnds { engine.detach(fd: fd) }
                return
            }
            close(fd)
            if let rtcpFD = parkedRTCP.removeValue(forKey: port) { close(rtcpFD) }
        }
        pool.release(port)
    }

    // MARK: - Recordings

    /// `streams`: how many streams the call starts with (the channels of a per-stream file;
    /// streams added later share them in turn).
    func begin(recordingID: String, startedAt: Date, callID: String, streams: Int) {
        let channels: Int
        switch settings.layout {
        case .stereo: channels = 2
        case .mono: channels = 1
        case .perStream: channels = min(max(1, streams), 16)
        }
        channelsByRecording[recordingID] = (channels, 0)
        engine.begin(recordingID: recordingID, channels: channels, startNanos: MediaEngine.monotonicNanos())
        spool.begin(recordingID: recordingID, startedAt: startedAt, callID: callID, channels: channels)
    }

    /// After an SDP (offer, answer in an ACK, or our own delayed offer): every port of the
    /// call goes to the recording's channel for its stream, with the payload types its m-line
    /// names. Returns the channel of each attached m-line.
    func attach(recordingID: String, sdp: SessionDescription, ports: [Int?], leg: String?, record: RecordingRecord) -> [(mline: Int, channel: Int)] {
        var placed: [(Int, Int)] = []
        for (index, port) in ports.enumerated() {
            guard let port, let fd = sockets[port], index < sdp.media.count else { continue }
            let payloads = Self.payloadMap(sdp.media[index])
            let key = SDPAnswerer.chooseCrypto(sdp.media[index])
            if attached[port] == nil {
                let stream = record.streams.first { $0.leg == leg && $0.mline == index }
                let layout = channelsByRecording[recordingID] ?? (2, 0)
                let channel: Int
                if settings.layout == .perStream {
                    channel = layout.next % layout.count
                    channelsByRecording[recordingID]?.next += 1
                } else {
                    channel = stream.map { Self.channel(for: $0, in: record, channels: layout.count) } ?? (leg == "farend" ? 1 : index) % layout.count
                }
                let host = hosts[port] ?? settings.mediaBindAddress
                let rtcp: MediaEngine.RTCPSocket = parkedRTCP.removeValue(forKey: port).map { .bound($0) } ?? .bind(host: host, port: port + 1)
                engine.attach(fd: fd, rtcp: rtcp, binding: MediaEngine.Binding(host: host, port: port), recordingID: recordingID,
                              streamKey: Self.streamKey(leg: leg, mline: index), channel: channel, payloads: payloads, srtp: key)
                attached[port] = recordingID
                payloadsByPort[port] = payloads
                keysByPort[port] = key
                placed.append((index, channel))
            } else if payloadsByPort[port] != payloads || keysByPort[port] != key {
                // A new codec, or a new key (RFC 4568 §7.1.4: a re-INVITE may rekey).
                engine.update(fd: fd, payloads: payloads, srtp: key)
                payloadsByPort[port] = payloads
                keysByPort[port] = key
            }
        }
        return placed
    }

    struct Finished: Sendable {
        var reports: [MediaEngine.StreamReport]
        var outcome: SpoolWriter.Outcome
    }

    /// Ends the recording's media: the last audio goes to the spool, the file is finished and
    /// archived; `completion` runs on `eventLoop`, again if the file moves from the spool later.
    func end(recordingID: String, parties: [String], eventLoop: EventLoop, completion: @escaping @Sendable (Finished) -> Void) {
        channelsByRecording[recordingID] = nil
        let spool = self.spool
        engine.end(recordingID: recordingID) { reports, _ in
            spool.finish(recordingID: recordingID, parties: parties) { outcome in
                eventLoop.execute { completion(Finished(reports: reports, outcome: outcome)) }
            }
        }
    }

    // MARK: - Pure helpers

    /// The user part of each participant's address (`sip:+12025550101@example.com` →
    /// `+12025550101`), caller first, for archive names.
    static func parties(_ participants: [RecordingRecord.Participant]) -> [String] {
        participants.compactMap { participant in
            guard var aor = participant.aor, !aor.isEmpty else { return nil }
            if let colon = aor.firstIndex(of: ":"), ["sip", "sips", "tel"].contains(aor[..<colon].lowercased()) {
                aor = String(aor[aor.index(after: colon)...])
            }
            return String(aor.split(separator: "@").first ?? Substring(aor))
        }
    }

    static func streamKey(leg: String?, mline: Int) -> String { "\(leg ?? "")#\(mline)" }

    static func parseStreamKey(_ key: String) -> (leg: String?, mline: Int)? {
        guard let hash = key.lastIndex(of: "#"), let mline = Int(key[key.index(after: hash)...]) else { return nil }
        let leg = String(key[..<hash])
        return (leg.isEmpty ? nil : leg, mline)
    }

    /// Stereo: Built-in-Bridge near end left, far end right; SIPREC by the participant who
    /// sends the stream (first participant left, second right, then alternating); otherwise
    /// by m-line order.
    static func channel(for stream: RecordingRecord.Stream, in record: RecordingRecord, channels: Int) -> Int {
        guard channels > 1 else { return 0 }
        if let leg = stream.leg { return leg == "farend" ? 1 : 0 }
        if record.source == .siprec, let index = record.participants.firstIndex(where: { $0.sends.contains(stream.id) }) {
            return index % channels
        }
        return stream.mline % channels
    }

    /// Who each channel holds, for the record.
    static func channelRoles(source: RecordingRecord.Source, channels: Int) -> [String] {
        guard channels > 1 else { return ["mix"] }
        switch source {
        case .builtInBridge: return ["nearend", "farend"]
        case .siprec, .plain, .ciscoNetworkBased: return ["caller", "callee"]
        }
    }

    static func payloadMap(_ media: SessionDescription.Media) -> PayloadMap {
        var rtpmap: [(payloadType: UInt8, name: String, clockRate: Int, channels: Int)] = []
        for value in media.attributes("rtpmap") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let type = UInt8(parts[0]) else { continue }
            let encoding = parts[1].split(separator: "/")
            guard let name = encoding.first else { continue }
            let rate = encoding.count > 1 ? Int(encoding[1]) ?? 8000 : 8000
            let channels = encoding.count > 2 ? Int(encoding[2]) ?? 1 : 1
            rtpmap.append((type, String(name), rate, channels))
        }
        return PayloadMap(formats: media.formats.compactMap { UInt8($0) }, rtpmap: rtpmap)
    }

    /// The record's view of what the engine received on each stream.
    /// Each report's quality, by the leg and m-line its stream key names.
    static func qualities(_ reports: [MediaEngine.StreamReport], startedAt: Date) -> [(leg: String?, mline: Int, quality: RecordingRecord.StreamQuality)] {
        reports.compactMap { report in
            parseStreamKey(report.key).map { ($0.leg, $0.mline, quality(report, startedAt: startedAt)) }
        }
    }

    static func quality(_ report: MediaEngine.StreamReport, startedAt: Date) -> RecordingRecord.StreamQuality {
        let stats = report.statistics
        func date(_ position: Int64?) -> Date? { position.map { startedAt.addingTimeInterval(Double($0) / 8000) } }
        return RecordingRecord.StreamQuality(
            packets: stats.packets, lost: stats.lost, duplicates: stats.duplicates, late: stats.late + stats.overrun,
            sourceChanges: stats.sourceChanges, timestampJumps: stats.timestampJumps, clockCorrections: stats.clockCorrections,
            undecodable: stats.undecodable, unknownPayload: stats.unknownPayload, malformed: stats.malformed,
            srtpFailures: stats.srtpFailures,
            jitterMs: (stats.jitter / 8 * 100).rounded() / 100, rtcpPackets: stats.rtcp,
            senderReportedPackets: stats.senderReportedPackets, reportedFractionLost: stats.reportedFractionLost,
            reportedJitterMs: stats.reportedJitter.map { Double($0) / 8 },
            firstPacketAt: date(stats.firstArrival), lastPacketAt: date(stats.lastArrival),
            notDecoded: report.notDecoded)
    }

    /// RFC 4733 §3.2 event codes as the digits they stand for.
    static func dtmf(_ report: MediaEngine.StreamReport) -> [RecordingRecord.DTMF] {
        let names = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]
        return report.dtmf.map { event in
            RecordingRecord.DTMF(stream: report.key, event: Int(event.event) < names.count ? names[Int(event.event)] : "\(event.event)",
                                 at: Double(max(0, event.position)) / 8000, durationMs: event.durationSamples / 8)
        }
    }
}
