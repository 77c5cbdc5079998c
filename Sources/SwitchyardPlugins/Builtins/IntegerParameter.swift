import SwitchyardConfig
import SwitchyardHTTP

/// A whole-number setting of a built-in (`ms`, `rounds`): the request's
/// query item of that name wins, else the route's option, else a default.
/// A query value that is not a whole number in range answers 400 with a
/// one-line reason, so a typo is not mistaken for the default.
struct IntegerParameter: Sendable {
    /// The query item's and the option's name.
    let name: StaticString
    let range: ClosedRange<Int>
    let defaultValue: Int

    /// The option's type, for the handler's catalog entry.
    var optionType: HandlerCatalog.Entry.OptionType { .int(range) }

    /// The route's value: its option (already range-checked by the config
    /// loader), else the default. Once per route.
    func configured(_ options: [String: OptionValue]) -> Int {
        options[name.description]?.intValue ?? defaultValue
    }

    /// The value for `request`: its query item, else `configured`. Nil after
    /// writing the 400 answer into `response`. No allocation.
    func value(for request: HandlerRequest, configured: Int, response: inout Response) -> Int? {
        switch request.queryInteger(name, in: range) {
        case .absent: return configured
        case .value(let value): return value
        case .invalid:
            response.status = 400
            response.addHeader("Content-Type", "text/plain")
            response.body.append(name)
            response.body.append(" must be a whole number from ")
            response.body.appendDecimal(range.lowerBound)
            response.body.append(" to ")
            response.body.appendDecimal(range.upperBound)
            response.body.append("\n")
            return nil
        }
    }
}
