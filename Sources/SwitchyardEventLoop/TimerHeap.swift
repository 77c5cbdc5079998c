/// A binary min-heap of deadlines. The loop passes the nearest one to
/// `epoll_wait` as its timeout. Loop thread only.
struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var sequence: UInt64   // ties fire in scheduling order
        var tag: UInt64
    }

    private var entries: [Entry] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { entries.isEmpty }
    var nearestDeadline: UInt64? { entries.first?.deadline }

    mutating func insert(deadline: UInt64, tag: UInt64) {
        entries.append(Entry(deadline: deadline, sequence: nextSequence, tag: tag))
        nextSequence &+= 1
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !Self.less(entries[child], entries[parent]) { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(now: UInt64) -> Entry? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count, Self.less(entries[left], entries[smallest]) { smallest = left }
                if right < entries.count, Self.less(entries[right], entries[smallest]) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }

    private static func less(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence)
    }
}
