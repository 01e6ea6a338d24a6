import AdminAPI
import Catalog
import Foundation
import Media
import NIOCore

/// The recorder's live calls as the admin API sees them: each question hops onto the SIP
/// event loop, where the controller's state lives.
final class LiveCallDirectory: LiveCallControl, @unchecked Sendable {
    private let controller: RecordingSessionController
    private let eventLoop: EventLoop

    init(controller: RecordingSessionController, eventLoop: EventLoop) {
        self.controller = controller
        self.eventLoop = eventLoop
    }

    /// The calls in progress, with each stream's counters so far (packets, loss, jitter, SRTP
    /// failures) asked of the media thread first.
    func liveCalls() async -> [LiveCall] {
        let engine = controller.media.engine
        let statistics = await withCheckedContinuation { (continuation: CheckedContinuation<[String: [MediaEngine.StreamReport]], Never>) in
            engine.statistics { continuation.resume(returning: $0) }
        }
        return (try? await eventLoop.submit { [controller] in
            controller.recordings.values.filter { $0.state.state == .active }
                .sorted { $0.state.startedAt < $1.state.startedAt }
                .map { session in
                    // The media thread's counters as the streams' quality, on a copy for the answer.
                    var session = session
                    session.applyQualities(MediaRecorder.qualities(statistics[session.state.recordingID] ?? [], startedAt: session.state.startedAt))
                    return Self.liveCall(session)
                }
        }.get()) ?? []
    }

    func pause(recordingID: String) async -> LiveCall? { await setPaused(recordingID, true) }
    func resume(recordingID: String) async -> LiveCall? { await setPaused(recordingID, false) }

    private func setPaused(_ id: String, _ paused: Bool) async -> LiveCall? {
        (try? await eventLoop.submit { [controller] () -> LiveCall? in
            guard controller.setPaused(recordingID: id, paused, by: "the API"), let session = controller.recordings[id] else { return nil }
            return Self.liveCall(session)
        }.get()) ?? nil
    }

    func stop(recordingID: String) async -> Bool {
        (try? await eventLoop.submit { [controller] in controller.stopRecording(recordingID, by: "the API") }.get()) ?? false
    }

    static func liveCall(_ session: RecordingSession) -> LiveCall {
        let record = session.record
        return LiveCall(
            recordingId: record.recordingID, source: record.source.rawValue, tenant: record.tenant ?? CatalogEntry.defaultTenant,
            startedAt: record.startedAt, paused: session.paused, callIds: record.dialogs.map(\.callID),
            participants: record.participants.map { LiveCall.Participant(aor: $0.aor, name: $0.name, role: $0.role) },
            streams: record.streams.map { stream in
                LiveCall.Stream(id: stream.id, label: stream.label, codec: stream.codec, srtp: stream.srtp, state: stream.state,
                                packets: stream.quality?.packets, lost: stream.quality?.lost, late: stream.quality?.late,
                                jitterMs: stream.quality?.jitterMs, srtpFailures: stream.quality?.srtpFailures)
            })
    }
}
