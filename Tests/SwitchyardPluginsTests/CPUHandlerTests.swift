import Testing
import SwitchyardConfig
import SwitchyardHTTP
@testable import SwitchyardPlugins

/// The contract's CPU job written out plainly from its description, to check
/// the handler's version against.
func referenceJob(rounds: Int) -> UInt64 {
    var buf = [UInt8](0..<64)
    var h: UInt64 = 0xcbf29ce484222325
    for r in 0..<rounds {
        for i in 0..<64 { h = (h ^ UInt64(buf[i])) &* 0x100000001b3 }
        buf[r % 64] = UInt8(h & 0xff)
    }
    return h
}

func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

@Suite("builtin.cpu")
struct CPUHandlerTests {
    @Test("20000 rounds give dea8cac835294525, bit for bit")
    func contractValue() {
        #expect(CPUHandler.job(rounds: 20_000) == 0xdea8_cac8_3529_4525)
        #expect(referenceJob(rounds: 20_000) == 0xdea8_cac8_3529_4525)
    }

    @Test("other round counts match an independent implementation",
          arguments: [1, 2, 3, 63, 64, 65, 127, 128, 1000, 4096, 19_999, 20_001, 100_000])
    func matchesReference(rounds: Int) {
        #expect(CPUHandler.job(rounds: rounds) == referenceJob(rounds: rounds))
    }

    @Test("the default answer: 200, text/plain, 16 lowercase hex digits, no newline")
    func defaultAnswer() throws {
        let answer = try answer(CPUHandler(defaultRounds: 20_000), "/cpu")
        #expect(answer == Answer(status: 200, contentType: "text/plain", body: "dea8cac835294525"))
    }

    @Test("?rounds=N is used, and wins over the route's option", arguments: [1, 7, 64, 5000])
    func queryRounds(rounds: Int) throws {
        let answer = try answer(CPUHandler(defaultRounds: 3), "/cpu?rounds=\(rounds)")
        #expect(answer == Answer(status: 200, contentType: "text/plain", body: hex16(referenceJob(rounds: rounds))))
    }

    @Test("the route's rounds option is the default; the range ends are accepted")
    func optionRounds() throws {
        let handler = CPUHandler(defaultRounds: CPUHandler.rounds.configured(["rounds": .int(1000)]))
        #expect(try answer(handler, "/cpu").body == hex16(referenceJob(rounds: 1000)))
        #expect(try answer(handler, "/cpu?other=1&rounds=1").body == hex16(referenceJob(rounds: 1)))
        #expect(CPUHandler.rounds.configured([:]) == 20_000)
        #expect(CPUHandler.rounds.range == 1...100_000_000)
    }

    @Test("hex is zero-padded to 16 digits")
    func hexPadding() {
        for (value, text) in [(UInt64(0), "0000000000000000"), (1, "0000000000000001"), (0xabc, "0000000000000abc"),
                              (UInt64.max, "ffffffffffffffff"), (0x0123_4567_89ab_cdef, "0123456789abcdef")] {
            var response = SwitchyardHTTP.Response()
            CPUHandler.appendHex(value, to: &response.body)
            #expect(String(decoding: response.body.readable, as: UTF8.self) == text)
            response.release()
        }
    }

    @Test("a bad or out-of-range ?rounds answers 400 with one line", arguments: [
        "rounds=0", "rounds=100000001", "rounds=-1", "rounds=+5", "rounds=abc", "rounds=", "rounds",
        "rounds=1e3", "rounds=%31", "rounds=12x", "rounds=%205", "rounds=99999999999999999999999",
        "rounds=x&rounds=6",  // the first item counts
    ])
    func badRounds(query: String) throws {
        let answer = try answer(CPUHandler(defaultRounds: 20_000), "/cpu?\(query)")
        #expect(answer == Answer(status: 400, contentType: "text/plain",
                                 body: "rounds must be a whole number from 1 to 100000000\n"))
    }
}
