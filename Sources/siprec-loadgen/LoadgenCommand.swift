import ArgumentParser
import Foundation
import Media
import SIPLocator
#if canImport(Glibc)
import Glibc
#endif

@main
struct LoadgenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siprec-loadgen",
        abstract: "Session recording client simulator: SIPREC or Cisco Built-in-Bridge calls with paced RTP, "
            + "then verification of the recordings siprecd wrote.",
        subcommands: [CallsCommand.self, RTPOnlyCommand.self],
        defaultSubcommand: CallsCommand.self
    )
}

extension LocalAgent.Transport: ExpressibleByArgument {}
extension CallPlan.Mode: ExpressibleByArgument {}

struct CallsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls",
        abstract: "Place calls (the default subcommand)."
    )

    @Option(name: .customLong("target"),
            help: ArgumentHelp("SIP target: HOST:PORT, or sip:DOMAIN located through DNS (RFC 3263 NAPTR/SRV/A for --transport). Repeat or comma-separate for an ordered failover list.",
                               valueName: "target"))
    var targetArguments: [String] = []

    @Option(name: .customLong("dns-server"), help: "Name server IP[:PORT] for sip: targets (default: those of /etc/resolv.conf).")
    var dnsServer: String?

    @Option(name: .customLong("options-interval"),
            help: "Seconds between OPTIONS pings to each target; one answering 503 or nothing within --failover-timeout is skipped until a ping gets a 2xx (0: no pings).")
    var optionsInterval = 0.0

    @Option(name: .customLong("failover-timeout"),
            help: "Seconds without any response to an INVITE before the call moves to the next target (0: only timer B, 32 s). A 503 or a transport error moves it at once; other statuses do not.")
    var failoverTimeout = 2.0

    @Option(help: "udp or tcp.")
    var transport: LocalAgent.Transport = .udp

    @Option(name: .customLong("local-ip"), help: "Local address for SIP and RTP.")
    var localIP = "127.0.0.1"

    @Option(help: "Number of calls.")
    var calls: Int

    @Option(help: "Calls per second, spread evenly.")
    var rate: Double

    @Option(help: "Seconds from each call's 200 OK to its BYE.")
    var duration: Double

    @Option(help: "Streams per SIPREC call, 1 to 3 (bib mode: always 2).")
    var streams = 2

    @Option(help: "siprec or bib (Cisco UCM Built-in-Bridge: two INVITEs per call).")
    var mode: CallPlan.Mode = .siprec

    @Option(help: ArgumentHelp("SDES-SRTP suite: offer every stream as RTP/SAVP with a fresh key and protect its packets (default: plain RTP).",
                               valueName: "suite"))
    var srtp: String?

    @Option(name: .customLong("verify"),
            help: "siprecd's data directory: verify the recordings once the calls ended. Repeat for several nodes: each call's recording must pass in one of them.")
    var verifyDirectories: [String] = []

    @Option(name: .customLong("verify-timeout"), help: "Seconds to wait for every recording to be archived.")
    var verifyTimeout = 60.0

    @Flag(name: .customLong("shared-rtp-socket"), help: "Send all RTP from one socket with sendmmsg batches; every m-line then offers that one port (default: one socket per stream).")
    var sharedRTPSocket = false

    @Flag(help: "Print one JSON object on standard output (the summary goes to standard error).")
    var json = false

    @Flag(help: "No progress lines.")
    var quiet = false

    func validate() throws {
        do {
            _ = try TargetList.parse(targetArguments)
        } catch {
            throw ValidationError(error.description)
        }
        if let dnsServer, DNSNameServer(parsing: dnsServer) == nil { throw ValidationError("--dns-server must be IPv4[:PORT]") }
        guard optionsInterval >= 0 else { throw ValidationError("--options-interval must not be negative") }
        guard failoverTimeout >= 0 else { throw ValidationError("--failover-timeout must not be negative") }
        guard calls > 0 else { throw ValidationError("--calls must be positive") }
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard (1...3).contains(streams) else { throw ValidationError("--streams must be 1, 2 or 3") }
        try validateSRTP(srtp)
    }

    func run() throws {
        let targets: [Endpoint]
        do {
            targets = try TargetList.resolve(try TargetList.parse(targetArguments), transport: transport,
                                             nameServer: dnsServer.flatMap(DNSNameServer.init(parsing:)), log: !quiet)
        } catch {
            Log.warning(error.description)
            throw ExitCode(2)
        }
        let plan = CallPlan(targets: targets, failoverTimeout: failoverTimeout, optionsInterval: optionsInterval, localIP: localIP,
                            calls: calls, rate: rate, duration: duration, streams: mode == .bib ? 2 : streams, mode: mode,
                            srtp: srtp.flatMap(SRTPSuite.init(name:)), progress: !quiet)
        Sockets.raiseDescriptorLimit()
        if !sharedRTPSocket {
            let concurrent = min(Double(calls), rate * (duration + 2)) * Double(plan.streams)
            if concurrent + 100 > Double(Sockets.descriptorLimit()) {
                Log.warning("about \(Int(concurrent)) RTP sockets needed at once, descriptor limit \(Sockets.descriptorLimit()): use --shared-rtp-socket")
            }
        }

        // A TCP connect to a dead target is a transport error within the failover timer.
        let sip: SIPTransport = transport == .udp
            ? try UDPTransport(localIP: localIP)
            : TCPTransport(localIP: localIP, connectTimeout: failoverTimeout > 0 ? min(failoverTimeout, 2) : 2)
        let (sender, sharedPort) = try makeSender(shared: sharedRTPSocket, localIP: localIP)
        sender.start()
        let engine = CallEngine(plan: plan, transport: sip, sender: sender, sharedRTPPort: sharedPort)
        let results = engine.run()
        sender.finish()
        sip.close()

        var verification: Verifier.Report?
        if !verifyDirectories.isEmpty {
            if !quiet { Log.info("verifying recordings in \(verifyDirectories.joined(separator: ", "))") }
            verification = Verifier(dataDirectories: verifyDirectories, timeout: verifyTimeout).verify(results.outcomes)
        }
        let summary = RunSummary(plan: plan, engine: results, rtp: sender.stats, verification: verification, cpu: Clock.processCPU())
        if json {
            Log.info(summary.text)
            print(summary.json)
        } else {
            print(summary.text)
        }
        if !summary.succeeded { throw ExitCode(1) }
    }
}

/// Checks an `--srtp` value: a suite libsrtp2 knows, and can make an outbound session of.
func validateSRTP(_ name: String?) throws {
    guard let name else { return }
    guard let suite = SRTPSuite(name: name) else {
        throw ValidationError("--srtp: unknown suite \(name); one of " + SRTPSuite.allCases.map(\.name).joined(separator: ", "))
    }
    SRTPBackend.prepare()
    do {
        _ = try SRTPContext(key: .random(tag: 1, suite: suite), outbound: true)
    } catch {
        throw ValidationError("--srtp \(suite.name): libsrtp2 cannot make a session (status \(error.status))")
    }
}

/// The RTP sender and, in shared mode, the port its one socket has.
func makeSender(shared: Bool, localIP: String) throws -> (RTPSender, UInt16?) {
    guard shared else { return (RTPSender(mode: .perStream), nil) }
    let (fd, port) = try Sockets.udp(bindIP: localIP)
    // A whole tick's worth of packets may be queued at once.
    Sockets.setBufferSize(fd, option: SO_SNDBUF, bytes: 8 << 20)
    return (RTPSender(mode: .shared(fd: fd)), port)
}

struct RTPOnlyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtp-only",
        abstract: "Paced RTP without SIP to ports BASE, BASE+2, BASE+4 ... (to load a bare UDP sink)."
    )

    @Option(name: .customLong("target-ip"), help: "Where to send.")
    var targetIP = "127.0.0.1"

    @Option(name: .customLong("base-port"), help: "Port of the first stream; stream k goes to BASE+2k.")
    var basePort = 40000

    @Option(help: "Number of streams.")
    var streams: Int

    @Option(help: "Seconds of RTP per stream.")
    var duration: Double

    @Option(name: .customLong("local-ip"), help: "Local address of the sending sockets.")
    var localIP = "127.0.0.1"

    @Flag(name: .customLong("shared-rtp-socket"), help: "Send all RTP from one socket with sendmmsg batches; every m-line then offers that one port (default: one socket per stream).")
    var sharedRTPSocket = false

    @Option(help: ArgumentHelp("SDES-SRTP suite: protect every stream's packets with a random key of its own, for the same sending work as SRTP calls (default: plain RTP).",
                               valueName: "suite"))
    var srtp: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        try validateSRTP(srtp)
        guard streams > 0 else { throw ValidationError("--streams must be positive") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard basePort > 0, basePort + 2 * (streams - 1) < 65536 else { throw ValidationError("ports past 65535") }
        guard Endpoint.resolve(targetIP) != nil else { throw ValidationError("--target-ip is not an address") }
    }

    func run() throws {
        Sockets.raiseDescriptorLimit()
        let (sender, _) = try makeSender(shared: sharedRTPSocket, localIP: localIP)
        let ip = Endpoint.resolve(targetIP)!
        var specs: [RTPSender.StreamSpec] = []
        for index in 0..<streams {
            let destination = Endpoint(ip: ip, port: UInt16(basePort + 2 * index))
            var fd: Int32 = -1
            if !sharedRTPSocket {
                fd = try Sockets.udp(bindIP: localIP).fd
                try Sockets.connect(fd, to: destination)
            }
            let key = srtp.flatMap(SRTPSuite.init(name:)).map { SRTPKey.random(tag: 1, suite: $0) }
            specs.append(RTPSender.StreamSpec(fd: fd, destination: destination, tone: index % StreamAudio.frequencies.count, srtp: key))
        }
        let cpuBefore = Clock.processCPU()
        sender.start()
        sender.startCall(0, streams: specs)
        var firstPacket: Double?
        while firstPacket == nil {
            Clock.sleep(seconds: 0.005)
            firstPacket = sender.takeEvents().started.first?.time
        }
        // Stop half a tick before the tick after the last packet, so each stream sends
        // duration / 20 ms packets.
        Clock.sleep(seconds: firstPacket! + duration - 0.010 - Clock.now())
        sender.stopCall(0)
        while sender.takeEvents().stopped.isEmpty { Clock.sleep(seconds: 0.005) }
        let elapsed = Clock.now() - firstPacket!
        sender.finish()
        let cpuAfter = Clock.processCPU()
        let stats = sender.stats
        let user = cpuAfter.user - cpuBefore.user
        let system = cpuAfter.system - cpuBefore.system
        let streamMinutes = Double(streams) * duration / 60
        let object: [String: Any] = [
            "streams": streams, "durationSeconds": duration, "packetsSent": stats.packets, "sendErrors": stats.sendErrors,
            "packetsPerSecond": rounded(Double(stats.packets) / elapsed), "ticks": stats.ticks, "lateTicks": stats.lateTicks,
            "skippedTicks": stats.skippedTicks, "maxTickLatenessMs": rounded(stats.maxLatenessMs),
            "cpuUserSeconds": rounded(user), "cpuSystemSeconds": rounded(system),
            "cpuSecondsPerStreamMinute": rounded((user + system) / streamMinutes * 1000) / 1000,
            "socketMode": sharedRTPSocket ? "shared-sendmmsg" : "per-stream",
            "srtp": srtp.flatMap(SRTPSuite.init(name:))?.name ?? NSNull(), "protectErrors": stats.protectErrors,
        ]
        if json {
            print(jsonText(object))
        } else {
            let protection = srtp.flatMap(SRTPSuite.init(name:)).map { " \($0.name) (\(stats.protectErrors) protect errors)" } ?? ""
            print("rtp-only: \(streams) streams\(protection)" + String(format: ", %.1f s: %d packets (%.0f/s), %d send errors, %d/%d late ticks (worst %.1f ms), CPU %.2f s user + %.2f s system = %.5f s per stream-minute",
                         duration, stats.packets, Double(stats.packets) / elapsed, stats.sendErrors, stats.lateTicks, stats.ticks,
                         stats.maxLatenessMs, user, system, (user + system) / streamMinutes))
        }
    }
}
