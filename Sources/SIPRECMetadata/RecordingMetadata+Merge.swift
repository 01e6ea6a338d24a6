extension RecordingMetadata {
    /// Applies metadata received later in the same recording session (re-INVITE, UPDATE, BYE).
    ///
    /// A `complete` document replaces everything. A `partial` one merges into `self`: elements
    /// are matched by their identifier, a field present in the update replaces the old value, and
    /// elements the update does not mention are kept (RFC 7865 §6). `dataMode` and `dialect` of
    /// `self` stay as they were after a partial merge.
    ///
    /// List-valued fields are replaced when the update carries at least one entry (an absent
    /// list is "not mentioned"), except `participantstreamassoc`, which states a participant's
    /// whole send/receive set and so replaces both lists of that participant.
    public mutating func apply(_ update: RecordingMetadata) {
        // RFC 7865 §6: a complete snapshot supersedes all earlier metadata.
        guard update.dataMode == .partial else {
            self = update
            return
        }
        recordingID = update.recordingID ?? recordingID
        for group in update.groups {
            merge(group, into: &groups, id: \.id) { old, new in
                old.associateTime = new.associateTime ?? old.associateTime
                old.disassociateTime = new.disassociateTime ?? old.disassociateTime
                if !new.extensions.isEmpty { old.extensions = new.extensions }
            }
        }
        for session in update.sessions {
            merge(session, into: &sessions, id: \.id) { old, new in
                old.groupRef = new.groupRef ?? old.groupRef
                if !new.sipSessionIDs.isEmpty { old.sipSessionIDs = new.sipSessionIDs }
                old.startTime = new.startTime ?? old.startTime
                old.stopTime = new.stopTime ?? old.stopTime
                if !new.extensions.isEmpty { old.extensions = new.extensions }
            }
        }
        for participant in update.participants {
            merge(participant, into: &participants, id: \.id) { old, new in
                if !new.nameIDs.isEmpty {
                    // A nameID repeated without <name> keeps the name already known for that AOR.
                    old.nameIDs = new.nameIDs.map { nameID in
                        var merged = nameID
                        if merged.name == nil { merged.name = old.nameIDs.first { $0.aor == nameID.aor }?.name }
                        return merged
                    }
                }
                if !new.send.isEmpty { old.send = new.send }
                if !new.recv.isEmpty { old.recv = new.recv }
                old.sessionRef = new.sessionRef ?? old.sessionRef
                old.associateTime = new.associateTime ?? old.associateTime
                old.disassociateTime = new.disassociateTime ?? old.disassociateTime
                if !new.extensions.isEmpty { old.extensions = new.extensions }
            }
        }
        for stream in update.streams {
            merge(stream, into: &streams, id: \.id) { old, new in
                old.sessionRef = new.sessionRef ?? old.sessionRef
                old.label = new.label ?? old.label
                old.mode = new.mode ?? old.mode
                old.associateTime = new.associateTime ?? old.associateTime
                old.disassociateTime = new.disassociateTime ?? old.disassociateTime
                if !new.extensions.isEmpty { old.extensions = new.extensions }
            }
        }
        for association in update.sessionRecordingAssociations {
            merge(association, into: &sessionRecordingAssociations, id: \.sessionID) { old, new in
                old.associateTime = new.associateTime ?? old.associateTime
                old.disassociateTime = new.disassociateTime ?? old.disassociateTime
            }
        }
        for association in update.participantSessionAssociations {
            merge(association, into: &participantSessionAssociations, id: \.key) { old, new in
                old.associateTime = new.associateTime ?? old.associateTime
                old.disassociateTime = new.disassociateTime ?? old.disassociateTime
            }
        }
        for association in update.participantStreamAssociations {
            merge(association, into: &participantStreamAssociations, id: \.participantID) { old, new in
                old = new
            }
        }
        for block in update.extensions {
            merge(block, into: &extensions, id: \.key) { old, new in old = new }
        }
    }

    private func merge<Element, Key: Equatable>(_ new: Element, into list: inout [Element], id: KeyPath<Element, Key>,
                                                 _ update: (inout Element, Element) -> Void) {
        if let index = list.firstIndex(where: { $0[keyPath: id] == new[keyPath: id] }) {
            update(&list[index], new)
        } else {
            list.append(new)
        }
    }
}

extension RecordingMetadata.ParticipantSessionAssociation {
    fileprivate struct Key: Equatable {
        var participantID: String
        var sessionID: String
    }

    fileprivate var key: Key { Key(participantID: participantID, sessionID: sessionID) }
}

extension RecordingMetadata.ExtensionData {
    fileprivate struct Key: Equatable {
        var parentID: String?
        var name: String
        var namespace: String
    }

    /// A document-level block is replaced by a later block of the same kind for the same parent.
    fileprivate var key: Key { Key(parentID: parentID, name: element.name, namespace: element.namespace) }
}
