import SwitchyardRouting

/// Method sets as the config's messages and tables write them.
enum MethodSetNames {
    /// `GET,HEAD,POST`: comma-joined with no spaces, so a table column stays
    /// one word.
    static func list(_ methods: MethodSet) -> String {
        MethodSet.all.filter { methods.contains($0.0) }.map(\.1).joined(separator: ",")
    }
}
