import Catalog
import Foundation

/// The JSON shapes of `docs/openapi.yaml` for catalog values.
enum RecordingJSON {
    static func summary(_ entry: CatalogEntry) -> [String: Any] {
        var object: [String: Any] = [
            "id": entry.id,
            "interactionId": entry.interactionID,
            "segment": entry.segment,
            "source": entry.source,
            "state": entry.state,
            "tenant": entry.tenant,
            "startedAt": CatalogDate.format(entry.startedAt),
            "endedAt": entry.endedAt.map { CatalogDate.format($0) as Any } ?? NSNull(),
            "durationSeconds": entry.durationSeconds.map { $0 as Any } ?? NSNull(),
            "srcAddress": entry.srcAddress.map { $0 as Any } ?? NSNull(),
            "callIds": entry.callIDs,
            "participants": entry.participants.map { participant in
                [
                    "aor": participant.aor.map { $0 as Any } ?? NSNull(),
                    "name": participant.name.map { $0 as Any } ?? NSNull(),
                    "role": participant.role.map { $0 as Any } ?? NSNull(),
                ] as [String: Any]
            },
        ]
        if let file = entry.files.first {
            object["file"] = [
                "format": file.format,
                "bytes": file.bytes,
                "sha256": file.sha256.map { $0 as Any } ?? NSNull(),
                "location": file.location,
                "audioSeconds": file.audioSeconds,
                "channels": file.channels,
            ] as [String: Any]
        } else {
            object["file"] = NSNull()
        }
        return object
    }

    static func token(_ token: APIToken) -> [String: Any] {
        [
            "id": token.id,
            "name": token.name,
            "role": token.role.rawValue,
            "tenant": token.tenant.map { $0 as Any } ?? NSNull(),
            "createdAt": CatalogDate.format(token.createdAt),
        ]
    }

    static func audit(_ entry: AuditEntry) -> [String: Any] {
        [
            "at": CatalogDate.format(entry.at),
            "tokenId": entry.tokenID,
            "tokenName": entry.tokenName,
            "action": entry.action,
            "recordingId": entry.recordingID.map { $0 as Any } ?? NSNull(),
            "remote": entry.remote.map { $0 as Any } ?? NSNull(),
        ]
    }
}
