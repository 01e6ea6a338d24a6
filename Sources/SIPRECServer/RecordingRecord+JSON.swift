import Foundation
import SIPRECMetadata

extension RecordingRecord {
    /// The record as one line of compact JSON: the same keys and values `Codable` gives it
    /// (a test decodes both and compares), written without `JSONEncoder`.
    func jsonLine() -> [UInt8] {
        var json = JSONLineWriter()
        json.beginObject()
        json.string("recordingID", recordingID)
        json.string("interactionID", interactionID)
        json.int("segment", segment)
        json.string("previousRecordingID", previousRecordingID)
        json.string("source", source.rawValue)
        json.string("state", state.rawValue)
        json.date("startedAt", startedAt)
        json.date("endedAt", endedAt)
        json.double("durationSeconds", durationSeconds)
        json.beginArray("dialogs")
        for dialog in dialogs {
            json.beginObject()
            json.string("callID", dialog.callID)
            json.string("leg", dialog.leg)
            json.string("source", dialog.source)
            json.string("transport", dialog.transport)
            json.date("startedAt", dialog.startedAt)
            json.date("endedAt", dialog.endedAt)
            json.string("endReason", dialog.endReason)
            json.endObject()
        }
        json.endArray()
        json.strings("sessionIDs", sessionIDs)
        json.string("groupID", groupID)
        json.beginObject("vendorIDs")
        json.string("ucid", vendorIDs.ucid)
        json.string("ucidRaw", vendorIDs.ucidRaw)
        json.string("ciscoGuid", vendorIDs.ciscoGuid)
        json.string("extTrackingID", vendorIDs.extTrackingID)
        json.string("sessionID", vendorIDs.sessionID)
        json.beginObject("extra")
        for key in vendorIDs.extra.keys.sorted() { json.string(key, vendorIDs.extra[key]) }
        json.endObject()
        json.endObject()
        if let leg = builtInBridge {
            json.beginObject("builtInBridge")
            json.string("side", leg.side.rawValue)
            json.string("refci", leg.refci)
            json.string("nearEndClusterID", leg.nearEndClusterID)
            json.string("nearEndDevice", leg.nearEndDevice)
            json.string("nearEndAddr", leg.nearEndAddr)
            json.string("farEndRefci", leg.farEndRefci)
            json.string("farEndClusterID", leg.farEndClusterID)
            json.string("farEndDevice", leg.farEndDevice)
            json.string("farEndAddr", leg.farEndAddr)
            json.string("farEndGUID", leg.farEndGUID)
            json.string("sessionID", leg.sessionID)
            json.endObject()
        }
        json.beginArray("participants")
        for participant in participants {
            json.beginObject()
            json.string("id", participant.id)
            json.string("aor", participant.aor)
            json.string("name", participant.name)
            json.string("role", participant.role)
            json.string("device", participant.device)
            json.strings("sends", participant.sends)
            json.strings("receives", participant.receives)
            json.bool("associated", participant.associated)
            json.string("associateTime", participant.associateTime)
            json.string("disassociateTime", participant.disassociateTime)
            json.endObject()
        }
        json.endArray()
        json.beginArray("streams")
        for stream in streams {
            json.beginObject()
            json.string("id", stream.id)
            json.string("leg", stream.leg)
            json.int("mline", stream.mline)
            json.string("label", stream.label)
            json.string("media", stream.media)
            json.string("codec", stream.codec)
            json.bool("srtp", stream.srtp)
            json.int("localPort", stream.localPort)
            json.string("remote", stream.remote)
            json.string("state", stream.state)
            json.endObject()
        }
        json.endArray()
        json.beginArray("metadataVersions")
        for version in metadataVersions {
            json.beginObject()
            json.date("receivedAt", version.receivedAt)
            json.string("method", version.method)
            json.string("dataMode", version.dataMode)
            json.string("dialect", version.dialect)
            json.string("error", version.error)
            json.string("xml", version.xml)
            json.endObject()
        }
        json.endArray()
        json.int("metadataVersionsDropped", metadataVersionsDropped)
        json.beginArray("changes")
        for change in changes {
            json.beginObject()
            json.date("at", change.at)
            json.string("method", change.method)
            json.strings("what", change.what)
            json.endObject()
        }
        json.endArray()
        json.strings("problems", problems)
        json.endObject()
        return json.bytes
    }
}
