import Yams

/// What a YAML scalar means, decided here rather than by YAML 1.1's
/// resolver so that the config's rules are plain: quoted text is always a
/// string; unquoted `true`/`false` (and yes/no/on/off) are booleans; unquoted
/// decimal (or `0x` hex) numbers, `_` allowed between digits, are integers;
/// `~`, `null` and nothing are null; everything else is a string.
enum YAMLScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)

    init(_ scalar: Node.Scalar) {
        let text = scalar.string
        let tag = scalar.tag.rawValue
        let plain = scalar.style == .plain || scalar.style == .any
        let explicit = tag != Tag.Name.implicit.rawValue && tag != Tag.Name.nonSpecific.rawValue
        if tag == Tag.Name.str.rawValue || !plain && !explicit {
            self = .string(text)
            return
        }
        switch text {
        case "", "~", "null", "Null", "NULL": self = .null; return
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": self = .bool(true); return
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": self = .bool(false); return
        default: break
        }
        if let value = Self.integer(text) {
            self = .int(value)
        } else if let value = Self.floatingPoint(text) {
            self = .double(value)
        } else {
            self = .string(text)
        }
    }

    /// `42`, `-7`, `10_000`, `0x1F`; nil for anything else or out of range.
    static func integer(_ text: String) -> Int? {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        var radix = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16
            digits = digits.dropFirst(2)
        }
        guard let first = digits.first, first != "_", digits.last != "_" else { return nil }
        let cleaned = digits.filter { $0 != "_" }
        guard !cleaned.isEmpty, let magnitude = Int(cleaned, radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// `1.5`, `-0.25`, `1e3`; nil for anything else (and for integers).
    static func floatingPoint(_ text: String) -> Double? {
        guard let first = text.unicodeScalars.first,
              first == "-" || first == "+" || first == "." || ("0"..."9").contains(first),
              text.unicodeScalars.allSatisfy({ "0123456789+-.eE".unicodeScalars.contains($0) }),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// How a message shows the value: `'abc'`, `42`, `true`, `nothing`.
    var description: String {
        switch self {
        case .null: return "nothing"
        case .bool(let value): return "\(value)"
        case .int(let value): return "\(value)"
        case .double(let value): return "\(value)"
        case .string(let value): return "'\(value)'"
        }
    }
}
