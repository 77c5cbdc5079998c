import Testing
@testable import SwitchyardPlugins

@Suite("Query items read from the request bytes")
struct QueryTests {
    static func value(_ target: String) -> String? {
        withRequest(target) { request in
            request.queryItemValue("ms").map { String(decoding: $0, as: UTF8.self) }
        }
    }

    static func integer(_ target: String) -> HandlerRequest.QueryInteger {
        withRequest(target) { $0.queryInteger("ms", in: 0...600_000) }
    }

    @Test("queryItemValue: the first item of that name, raw")
    func values() {
        #expect(Self.value("/a") == nil)
        #expect(Self.value("/a?") == nil)
        #expect(Self.value("/a?x=1") == nil)
        #expect(Self.value("/a?msx=1&xms=2") == nil)
        #expect(Self.value("/a?ms=12") == "12")
        #expect(Self.value("/a?x=1&ms=12&ms=13") == "12")
        #expect(Self.value("/a?ms") == "")
        #expect(Self.value("/a?ms=") == "")
        #expect(Self.value("/a?ms=a=b") == "a=b")
        #expect(Self.value("/a?ms=%20") == "%20")
        #expect(Self.value("/a?&&ms=1&") == "1")
    }

    @Test("queryInteger: absent, a value in range, or invalid")
    func integers() {
        #expect(Self.integer("/a") == .absent)
        #expect(Self.integer("/a?x=1") == .absent)
        #expect(Self.integer("/a?ms=0") == .value(0))
        #expect(Self.integer("/a?ms=007") == .value(7))
        #expect(Self.integer("/a?ms=600000") == .value(600_000))
        for bad in ["ms", "ms=", "ms=600001", "ms=-0", "ms=+1", "ms=1.0", "ms=0x10", "ms=1 ", "ms=9223372036854775808"] {
            #expect(Self.integer("/a?\(bad)".replacingSpaces()) == .invalid, "\(bad)")
        }
    }
}

extension String {
    /// Spaces are not allowed in a request target; encode them.
    func replacingSpaces() -> String { split(separator: " ", omittingEmptySubsequences: false).joined(separator: "%20") }
}
