import NIOCore

/// The SIP timers of one event loop: a binary min-heap of deadlines with cancellation by
/// generation (O(1)), and a single NIO scheduled task for the earliest deadline.
///
/// Why not one `EventLoop.scheduleTask` per timer: every call arms several timers that are
/// cancelled early (2xx retransmission, ACK timeout), and at a few thousand calls per second
/// hundreds of thousands are pending; cancelling a task in NIO's queue is a linear search.
struct SIPTimerQueue {
    private struct Entry {
        var deadline: NIODeadline
        var id: SIPTimerID
        var generation: UInt64
    }

    private var heap: [Entry] = []
    private var live: [SIPTimerID: UInt64] = [:]
    private var nextGeneration: UInt64 = 1

    var count: Int { live.count }
    var earliestDeadline: NIODeadline? { heap.first?.deadline }

    /// Arms (or re-arms) a timer; the previous arming of the same id no longer fires.
    mutating func schedule(_ id: SIPTimerID, at deadline: NIODeadline) {
        let generation = nextGeneration
        nextGeneration += 1
        live[id] = generation
        heap.append(Entry(deadline: deadline, id: id, generation: generation))
        siftUp(heap.count - 1)
    }

    mutating func cancel(_ id: SIPTimerID) {
        live[id] = nil
    }

    mutating func cancelAll() {
        live.removeAll()
        heap.removeAll()
    }

    /// Removes and returns the timers due at `now`, in deadline order, skipping cancelled ones.
    mutating func popExpired(now: NIODeadline) -> [SIPTimerID] {
        var due: [SIPTimerID] = []
        while let top = heap.first, top.deadline <= now {
            let entry = popMin()
            if live[entry.id] == entry.generation {
                live[entry.id] = nil
                due.append(entry.id)
            }
        }
        // Drop cancelled entries from the top so the next wake-up is a real one.
        while let top = heap.first, live[top.id] != top.generation { _ = popMin() }
        return due
    }

    private mutating func popMin() -> Entry {
        let first = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            let right = left + 1
            if right < heap.count, heap[right].deadline < heap[left].deadline { smallest = right }
            guard heap[smallest].deadline < heap[parent].deadline else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
