/// Why a config value such as an address or a network could not be read.
/// The loader turns it into a diagnostic at the value's node.
struct ValueError: Error, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
}
