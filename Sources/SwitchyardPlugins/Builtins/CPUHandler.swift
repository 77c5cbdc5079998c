import SwitchyardHTTP

/// `builtin.cpu`: the contract's CPU job, shared with peer benchmarks, for
/// `?rounds=N` (or option `rounds`, default 20000, 1 to 100000000). Answers
/// the hash as exactly 16 lowercase hex digits, no newline. Pure computation
/// on the thread that runs it (about 64 multiplies per round); allocates
/// nothing beyond the answer.
struct CPUHandler: SyncHandler {
    static let rounds = IntegerParameter(name: "rounds", range: 1...100_000_000, defaultValue: 20_000)

    /// The route's `rounds`, used when the request names none.
    let defaultRounds: Int

    func respond(to request: HandlerRequest, into response: inout Response) {
        guard let rounds = Self.rounds.value(for: request, configured: defaultRounds, response: &response) else { return }
        let hash = Self.job(rounds: rounds)
        response.addHeader("Content-Type", "text/plain")
        Self.appendHex(hash, to: &response.body)
    }

    /// FNV-1a-64 over a 64-byte buffer that starts as `buf[i] = i`, from
    /// `h = 0xcbf29ce484222325`; each round folds in all 64 bytes, then
    /// `buf[r % 64] = UInt8(h & 0xff)`. 20000 rounds give 0xdea8cac835294525.
    static func job(rounds: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buf in
            for i in 0..<64 { buf[i] = UInt8(i) }
            for r in 0..<rounds {
                for i in 0..<64 { h = (h ^ UInt64(buf[i])) &* 0x100_0000_01b3 }
                buf[r % 64] = UInt8(truncatingIfNeeded: h)
            }
        }
        return h
    }

    /// Appends `value` as exactly 16 lowercase hex digits.
    static func appendHex(_ value: UInt64, to out: inout ByteBuffer) {
        let digits: StaticString = "0123456789abcdef"
        out.reserve(16)
        for shift in stride(from: 60, through: 0, by: -4) {
            out.append(digits.utf8Start[Int((value >> UInt64(shift)) & 0xf)])
        }
    }
}
