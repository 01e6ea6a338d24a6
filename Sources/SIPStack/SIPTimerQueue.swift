import NIOCore

/// The SIP timers of one event loop, with a single NIO scheduled task for the earliest deadline.
/// Each entry carries the generation its `schedule` action was given; cancelling is done by the
/// endpoint, which ignores an expiry whose generation is no longer the current arming of its
/// transaction or dialog (`SIPTimerArmings`). So the queue keeps no index by timer id, and a
/// cancelled entry stays until its deadline, when it is handed out and dropped.
///
/// Why not one `EventLoop.scheduleTask` per timer: every call arms several timers that are
/// cancelled early (2xx retransmission, ACK timeout), and at a few thousand calls per second
/// hundreds of thousands are pending; cancelling a task in NIO's queue is a linear search.
///
/// Why runs and not one binary heap: SIP timers have a few fixed lengths (64·T1 for Timers
/// H, I, J, K; T1, 2·T1… for retransmissions; T4), so the timers of one length are armed in
/// deadline order. Each timer goes to the end of the run (a FIFO) whose last deadline is the
/// latest not after its own, so runs stay sorted and about one per timer length; the earliest
/// timer is the earliest head. Arming and firing are O(runs) instead of O(log n) moves of
/// entries across a heap of hundreds of thousands, which was a sixth of the SIP loop's CPU once
/// transactions began to expire. Deadlines that fit no run once there are `maximumRuns` go to
/// a binary heap, so any order of deadlines stays correct.
struct SIPTimerQueue {
    private struct Entry {
        var deadline: NIODeadline
        var id: SIPTimerID
        var generation: UInt64
    }

    static let maximumRuns = 32

    private var runs: [CircularBuffer<Entry>] = []
    private var heap: [Entry] = []

    /// Entries held, cancelled ones included.
    var count: Int { runs.reduce(heap.count) { $0 + $1.count } }
    /// For tests: how the entries are kept.
    var runCount: Int { runs.count }
    var heapCount: Int { heap.count }

    var earliestDeadline: NIODeadline? {
        var earliest = heap.first?.deadline
        for run in runs {
            if let head = run.first?.deadline, earliest.map({ head < $0 }) ?? true { earliest = head }
        }
        return earliest
    }

    /// Adds an entry; it comes out of `popExpired` at `deadline` whatever happened since.
    mutating func schedule(_ id: SIPTimerID, generation: UInt64, at deadline: NIODeadline) {
        let entry = Entry(deadline: deadline, id: id, generation: generation)
        var best = -1
        var bestTail = NIODeadline.uptimeNanoseconds(0)
        var empty = -1
        for index in runs.indices {
            guard let tail = runs[index].last?.deadline else {
                if empty < 0 { empty = index }
                continue
            }
            if tail <= deadline, best < 0 || tail > bestTail {
                best = index
                bestTail = tail
            }
        }
        if best >= 0 {
            runs[best].append(entry)
        } else if empty >= 0 {
            runs[empty].append(entry)
        } else if runs.count < Self.maximumRuns {
            var run = CircularBuffer<Entry>(initialCapacity: 64)
            run.append(entry)
            runs.append(run)
        } else {
            heap.append(entry)
            siftUp(heap.count - 1)
        }
    }

    mutating func cancelAll() {
        heap.removeAll()
        runs.removeAll()
    }

    /// Removes and returns the entries due at `now`, in deadline order.
    mutating func popExpired(now: NIODeadline) -> [(id: SIPTimerID, generation: UInt64)] {
        var due: [(id: SIPTimerID, generation: UInt64)] = []
        while let (deadline, source) = earliest(), deadline <= now {
            let entry = pop(source)
            due.append((entry.id, entry.generation))
        }
        return due
    }

    /// The earliest deadline and where it is: a run's index, or -1 for the heap.
    private func earliest() -> (NIODeadline, Int)? {
        var found: (NIODeadline, Int)? = heap.first.map { ($0.deadline, -1) }
        for index in runs.indices {
            if let head = runs[index].first?.deadline, found.map({ head < $0.0 }) ?? true { found = (head, index) }
        }
        return found
    }

    private mutating func pop(_ source: Int) -> Entry {
        if source >= 0 { return runs[source].removeFirst() }
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
