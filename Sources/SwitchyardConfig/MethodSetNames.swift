import SwitchyardRouting

/// Method sets as the config's messages and tables write them.
enum MethodSetNames {
    /// `GET,HEAD,POST`: the names `Allow` gives (`MethodSet.names`, in the
    /// same order), comma-joined with no spaces so a table column stays one word.
    static func list(_ methods: MethodSet) -> String {
        methods.names.joined(separator: ",")
    }
}
