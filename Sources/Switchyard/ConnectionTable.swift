/// The loop's connections in pages of fixed size that never move once
/// allocated, so a pointer to a slot stays valid while it is worked on,
/// whatever else is accepted meanwhile. Slots are reused lowest-free-last;
/// a slot's generation tells its connections apart. Loop thread only.
struct ConnectionTable: ~Copyable {
    static let pageShift = 10
    static let pageSize = 1 << pageShift
    static let maxPages = 1 << 12   // 4 M connections per loop

    private let pages: UnsafeMutablePointer<UnsafeMutablePointer<Connection>?>
    private var pageCount = 0
    /// Slots below this have been handed out at least once.
    private(set) var usedSlots = 0
    private var freeSlots: [Int32] = []

    init() {
        // An idle keep-alive connection costs its slot (and its free-list entry
        // once closed): the debug build every end-to-end test runs stops here
        // if a new field makes a slot outgrow the 256-byte budget.
        assert(MemoryLayout<Connection>.stride <= 256, "a connection slot is \(MemoryLayout<Connection>.stride) bytes")
        pages = .allocate(capacity: Self.maxPages)
        pages.initialize(repeating: nil, count: Self.maxPages)
    }

    deinit {
        for page in 0..<pageCount {
            pages[page]!.deinitialize(count: Self.pageSize)
            pages[page]!.deallocate()
        }
        pages.deallocate()
    }

    /// The slot's connection. `slot < usedSlots`.
    @inline(__always) subscript(slot: Int) -> UnsafeMutablePointer<Connection> {
        pages[slot >> Self.pageShift].unsafelyUnwrapped + (slot & (Self.pageSize - 1))
    }

    /// A free slot, growing by a page when every slot is taken.
    mutating func allocate() -> Int {
        if let slot = freeSlots.popLast() { return Int(slot) }
        if usedSlots == pageCount << Self.pageShift {
            precondition(pageCount < Self.maxPages, "connection table full")
            let page = UnsafeMutablePointer<Connection>.allocate(capacity: Self.pageSize)
            page.initialize(repeating: Connection(), count: Self.pageSize)
            pages[pageCount] = page
            pageCount += 1
        }
        usedSlots += 1
        return usedSlots - 1
    }

    mutating func free(_ slot: Int) {
        freeSlots.append(Int32(slot))
    }
}
