extension RecordingMetadata {
    /// Participants in document order with their streams resolved to labels (through the stream
    /// ids of `<participantstreamassoc>` and of `<send>`/`<recv>` inside `<participant>`) and
    /// their association state.
    ///
    /// A participant is associated unless its association says it left: a
    /// `<participantsessionassoc>` with `<disassociate-time>` and none still open, or a
    /// `<disassociate-time>` inside the participant (draft dialect). The association's session
    /// id is not checked against the sessions (CUBE's BYE puts the participant id there).
    /// Stream ids that match no `<stream>`, or a stream without label, are left out.
    public func resolvedParticipants() -> [ResolvedParticipant] {
        var labelsByStream: [String: String] = [:]
        for stream in streams where labelsByStream[stream.id] == nil {
            if let label = stream.label { labelsByStream[stream.id] = label }
        }
        let streamAssociations = Dictionary(grouping: participantStreamAssociations, by: \.participantID)
        let sessionAssociationsByParticipant = Dictionary(grouping: participantSessionAssociations, by: \.participantID)
        return participants.map { participant in
            let associations = streamAssociations[participant.id] ?? []
            let sends = labels(participant.send + associations.flatMap(\.send), labelsByStream)
            let receives = labels(participant.recv + associations.flatMap(\.recv), labelsByStream)
            var resolved = ResolvedParticipant(
                id: participant.id,
                aor: participant.nameIDs.first?.aor,
                name: participant.nameIDs.lazy.compactMap(\.name).first,
                sends: sends, receives: receives,
                associated: true,
                associateTime: participant.associateTime,
                disassociateTime: participant.disassociateTime)
            // RFC 7865: participantsessionassoc records when the participant joined and left the session.
            let sessionAssociations = sessionAssociationsByParticipant[participant.id] ?? []
            if let open = sessionAssociations.last(where: { $0.disassociateTime == nil }) {
                resolved.associateTime = open.associateTime ?? resolved.associateTime
                resolved.disassociateTime = nil
            } else if let closed = sessionAssociations.last {
                resolved.associateTime = closed.associateTime ?? resolved.associateTime
                resolved.disassociateTime = closed.disassociateTime
            }
            resolved.associated = resolved.disassociateTime == nil
            return resolved
        }
    }

    private func labels(_ streamIDs: [String], _ labelsByStream: [String: String]) -> [String] {
        var labels: [String] = []
        for id in streamIDs {
            guard let label = labelsByStream[id], !labels.contains(label) else { continue }
            labels.append(label)
        }
        return labels
    }
}
