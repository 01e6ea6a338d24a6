/// Reads a `MetadataElement` tree as recording metadata, by local name and schema position,
/// tolerating the draft and pre-RFC shapes (see `RecordingMetadata`).
struct MetadataInterpreter {
    static let rfc7865Namespace = "urn:ietf:params:xml:ns:recording:1"
    static let draftNamespace = "urn:ietf:params:xml:ns:recording"
    static let preRFCNamespace = "urn:ietf:params:xml:ns:siprec"

    private var recordingNamespaces: Set<String> = [rfc7865Namespace, draftNamespace, preRFCNamespace, ""]

    func interpret(_ root: MetadataElement) throws(MetadataParseError) -> RecordingMetadata {
        let rootName = root.foldedName
        guard rootName == "recording" || rootName == "recordingmetadata" else {
            throw MetadataParseError(code: .notRecordingMetadata)
        }
        var interpreter = self
        // A root in an unknown namespace is still recording metadata: its children in that namespace count.
        interpreter.recordingNamespaces.insert(root.namespace.lowercased())
        return interpreter.read(root: root, dialect: Self.dialect(of: root))
    }

    static func dialect(of root: MetadataElement) -> RecordingMetadata.Dialect {
        switch root.namespace.lowercased() {
        case rfc7865Namespace: return .rfc7865
        case draftNamespace: return .draft
        case preRFCNamespace: return .preRFC
        default: return root.foldedName == "recordingmetadata" ? .preRFC : .unknown
        }
    }

    private func isRecordingElement(_ element: MetadataElement) -> Bool {
        recordingNamespaces.contains(element.namespace) || recordingNamespaces.contains(element.namespace.lowercased())
    }

    private func read(root: MetadataElement, dialect: RecordingMetadata.Dialect) -> RecordingMetadata {
        var metadata = RecordingMetadata(dialect: dialect, recordingID: nonBlank(root.attribute("id")))
        for child in root.children {
            guard isRecordingElement(child) else {
                metadata.extensions.append(RecordingMetadata.ExtensionData(parentID: nil, element: child))
                continue
            }
            switch child.foldedName {
            case "datamode":
                // RFC 7865 §6: dataMode is "complete" (a full snapshot) or "partial" (changes only).
                if child.trimmedText?.lowercased() == "partial" { metadata.dataMode = .partial }
            case "recording":
                // Pre-RFC: <recording id> inside <recording_metadata> describes the recording itself.
                metadata.recordingID = nonBlank(child.attribute("id")) ?? metadata.recordingID
            case "group":
                if let group = readGroup(child) { metadata.groups.append(group) }
            case "session":
                if let session = readSession(child) { metadata.sessions.append(session) }
            case "participant":
                if let participant = readParticipant(child) { metadata.participants.append(participant) }
            case "stream":
                if let stream = readStream(child) { metadata.streams.append(stream) }
            case "sessionrecordingassoc":
                if let sessionID = nonBlank(child.attribute("sessionid", "session", "id")) {
                    metadata.sessionRecordingAssociations.append(RecordingMetadata.SessionRecordingAssociation(
                        sessionID: sessionID, associateTime: time(child, "associatetime"), disassociateTime: time(child, "disassociatetime")))
                }
            case "participantsessionassoc":
                if let participantID = nonBlank(child.attribute("participantid", "participant")) {
                    metadata.participantSessionAssociations.append(RecordingMetadata.ParticipantSessionAssociation(
                        participantID: participantID, sessionID: child.attribute("sessionid", "session") ?? "",
                        associateTime: time(child, "associatetime"), disassociateTime: time(child, "disassociatetime")))
                }
            case "participantstreamassoc":
                if let participantID = nonBlank(child.attribute("participantid", "participant")) {
                    metadata.participantStreamAssociations.append(RecordingMetadata.ParticipantStreamAssociation(
                        participantID: participantID, send: streamIDs(child, "send"), recv: streamIDs(child, "recv")))
                }
            case "extensiondata":
                metadata.extensions += unwrap(child, enclosingID: nil)
            default:
                metadata.extensions.append(RecordingMetadata.ExtensionData(parentID: nil, element: child))
            }
        }
        return metadata
    }

    private func readGroup(_ element: MetadataElement) -> RecordingMetadata.Group? {
        guard let id = nonBlank(element.attribute("groupid", "id")) else { return nil }
        var group = RecordingMetadata.Group(id: id)
        for child in element.children {
            switch isRecordingElement(child) ? child.foldedName : "" {
            case "associatetime": group.associateTime = child.trimmedText
            case "disassociatetime": group.disassociateTime = child.trimmedText
            case "extensiondata": group.extensions += unwrap(child, enclosingID: id)
            default: group.extensions.append(RecordingMetadata.ExtensionData(parentID: id, element: child))
            }
        }
        return group
    }

    private func readSession(_ element: MetadataElement) -> RecordingMetadata.Session? {
        guard let id = nonBlank(element.attribute("sessionid", "id")) else { return nil }
        var session = RecordingMetadata.Session(id: id, groupRef: nonBlank(element.attribute("groupref", "group")))
        for child in element.children {
            switch isRecordingElement(child) ? child.foldedName : "" {
            case "sipsessionid": if let value = child.trimmedText { session.sipSessionIDs.append(value) }
            case "groupref": session.groupRef = child.trimmedText ?? session.groupRef
            case "starttime": session.startTime = child.trimmedText
            case "endtime", "stoptime": session.stopTime = child.trimmedText
            case "associatetime", "disassociatetime": break  // draft: session-level times, not modelled
            case "extensiondata": session.extensions += unwrap(child, enclosingID: id)
            default: session.extensions.append(RecordingMetadata.ExtensionData(parentID: id, element: child))
            }
        }
        return session
    }

    private func readParticipant(_ element: MetadataElement) -> RecordingMetadata.Participant? {
        guard let id = nonBlank(element.attribute("participantid", "id")) else { return nil }
        var participant = RecordingMetadata.Participant(id: id, sessionRef: nonBlank(element.attribute("session", "sessionid")))
        var looseName: String?
        for child in element.children {
            switch isRecordingElement(child) ? child.foldedName : "" {
            case "nameid":
                // RFC 7865: <nameID aor="…"> with an optional <name> child.
                guard let aor = nonBlank(child.attribute("aor")) else { continue }
                let name = child.children.first { isRecordingElement($0) && $0.foldedName == "name" }?.trimmedText
                participant.nameIDs.append(RecordingMetadata.NameID(aor: aor, name: name))
            case "aor":
                // Pre-RFC: <aor> text directly inside <participant>.
                if let aor = child.trimmedText { participant.nameIDs.append(RecordingMetadata.NameID(aor: aor)) }
            case "name":
                looseName = child.trimmedText ?? looseName
            case "send": participant.send += streamIDs(inside: child)
            case "recv": participant.recv += streamIDs(inside: child)
            case "associatetime": participant.associateTime = child.trimmedText
            case "disassociatetime": participant.disassociateTime = child.trimmedText
            case "extensiondata": participant.extensions += unwrap(child, enclosingID: id)
            default: participant.extensions.append(RecordingMetadata.ExtensionData(parentID: id, element: child))
            }
        }
        // Pre-RFC: a <name> beside <aor> names the first address that has no name yet.
        if let looseName, let index = participant.nameIDs.firstIndex(where: { $0.name == nil }) {
            participant.nameIDs[index].name = looseName
        }
        return participant
    }

    private func readStream(_ element: MetadataElement) -> RecordingMetadata.Stream? {
        guard let id = nonBlank(element.attribute("streamid", "id")) else { return nil }
        var stream = RecordingMetadata.Stream(id: id, sessionRef: nonBlank(element.attribute("sessionid", "session")))
        for child in element.children {
            switch isRecordingElement(child) ? child.foldedName : "" {
            case "label": stream.label = child.trimmedText
            case "mode": stream.mode = child.trimmedText
            case "associatetime": stream.associateTime = child.trimmedText
            case "disassociatetime": stream.disassociateTime = child.trimmedText
            case "contenttype": break
            case "extensiondata": stream.extensions += unwrap(child, enclosingID: id)
            default: stream.extensions.append(RecordingMetadata.ExtensionData(parentID: id, element: child))
            }
        }
        return stream
    }

    /// The vendor elements inside an `<extensiondata>` wrapper, each one extension block.
    private func unwrap(_ wrapper: MetadataElement, enclosingID: String?) -> [RecordingMetadata.ExtensionData] {
        let parentID = nonBlank(wrapper.attribute("parent")) ?? enclosingID
        let id = nonBlank(wrapper.attribute("id"))
        if wrapper.children.isEmpty {
            // Text-only extension data: keep the wrapper itself so nothing is lost.
            return wrapper.trimmedText == nil ? [] : [RecordingMetadata.ExtensionData(parentID: parentID, id: id, element: wrapper)]
        }
        return wrapper.children.map { RecordingMetadata.ExtensionData(parentID: parentID, id: id, element: $0) }
    }

    /// Stream ids in the `<send>`/`<recv>` children of an association element.
    private func streamIDs(_ element: MetadataElement, _ key: String) -> [String] {
        element.children(named: key).filter(isRecordingElement).flatMap { streamIDs(inside: $0) }
    }

    /// A `<send>`/`<recv>` element's stream ids: its text, or its `<id>` children (pre-RFC).
    private func streamIDs(inside element: MetadataElement) -> [String] {
        let ids = element.children(named: "id").compactMap(\.trimmedText)
        if !ids.isEmpty { return ids }
        return element.trimmedText.map { [$0] } ?? []
    }

    private func time(_ element: MetadataElement, _ key: String) -> String? {
        element.children(named: key).first(where: isRecordingElement)?.trimmedText
    }

    private func nonBlank(_ value: String?) -> String? {
        guard let trimmed = value?.trimmingXMLWhitespace(), !trimmed.isEmpty else { return nil }
        return trimmed
    }
}
