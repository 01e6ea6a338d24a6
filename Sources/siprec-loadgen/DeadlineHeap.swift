/// A min-heap of (deadline, call index): the BYE schedule.
struct DeadlineHeap {
    private var items: [(deadline: Double, call: Int)] = []

    mutating func push(_ deadline: Double, _ call: Int) {
        items.append((deadline, call))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// The call of the earliest deadline if it is at or before `now`, removed from the heap.
    mutating func popDue(_ now: Double) -> Int? {
        guard let first = items.first, first.deadline <= now else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && items[left].deadline < items[smallest].deadline { smallest = left }
                if right < items.count && items[right].deadline < items[smallest].deadline { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first.call
    }
}
