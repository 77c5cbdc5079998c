/// The contract's execution-mode table: from what a route declares and what
/// kind its handler is, where the route runs, and whether that earns a
/// warning or is an error.
///
/// | declared | sync handler | async handler |
/// |---|---|---|
/// | nothing | sync, warning `implicit sync mode` | async |
/// | sync | sync | error |
/// | async | error | async |
/// | thread | thread | async, warning: thread has no effect |
/// | process | process | error |
///
/// A top-level `default_mode` (sync, thread or process) stands in for the
/// declaration of a sync handler that declares nothing, so the first row's
/// warning does not arise; async handlers stay async.
enum ModeResolution {
    /// The two kinds of mode warning, each silenced by its own variable.
    enum Warning: Equatable {
        /// A sync handler with no declared mode runs on the event loop.
        case implicitSync
        /// `mode: thread` on an async handler does nothing.
        case threadWithAsync

        /// The variable that silences it when set to 0, false, no or off.
        var environmentVariable: String {
            switch self {
            case .implicitSync: return "SWITCHYARD_WARN_IMPLICIT_SYNC_TO_THREAD"
            case .threadWithAsync: return "SWITCHYARD_WARN_SYNC_TO_THREAD_WITH_ASYNC"
            }
        }

        /// Whether `environment` leaves this warning on.
        func isEnabled(in environment: [String: String]) -> Bool {
            guard let value = environment[environmentVariable] else { return true }
            let word = value.lowercased().filter { !$0.isWhitespace }
            return !["0", "false", "no", "off"].contains(word)
        }
    }

    enum Outcome: Equatable {
        /// Runs in `mode`, with a warning or not.
        case runs(ExecutionMode, warning: Warning?)
        /// The declared mode cannot run this kind of handler.
        case mismatch
    }

    static func resolve(declared: ExecutionMode?, kind: HandlerKind) -> Outcome {
        switch (declared, kind) {
        case (nil, .sync): return .runs(.sync, warning: .implicitSync)
        case (nil, .async): return .runs(.async, warning: nil)
        case (.sync?, .sync): return .runs(.sync, warning: nil)
        case (.async?, .async): return .runs(.async, warning: nil)
        case (.thread?, .sync): return .runs(.thread, warning: nil)
        case (.thread?, .async): return .runs(.async, warning: .threadWithAsync)
        case (.process?, .sync): return .runs(.process, warning: nil)
        case (.sync?, .async), (.async?, .sync), (.process?, .async): return .mismatch
        }
    }

    /// The text of a warning about route `path` with `handler`.
    /// `declaredAs` is how the file said it (`mode: thread`, `sync_to_thread: true`).
    /// The advice names only modes `build` runs.
    static func message(for warning: Warning, path: String, handler: String, declaredAs: String?,
                        build: BuildLimits = .unlimited) -> String {
        switch warning {
        case .implicitSync:
            // The route runs in sync mode, so the build runs that; of the
            // modes that keep a blocking handler off the loop, name the first it runs.
            var advice = "declare mode: sync if it never blocks"
            if let offLoop = build.runnable([.thread, .process]).first { advice += ", or mode: \(offLoop.rawValue)" }
            advice += ", or set a top-level default_mode for every route that declares none"
            return "route \(path): sync handler \(handler) has no declared mode and runs on the event loop "
                + "(implicit sync mode); \(advice) (\(warning.environmentVariable)=0 silences this)"
        case .threadWithAsync:
            // The route runs in async mode, so the build runs that.
            return "route \(path): \(declaredAs ?? "mode: thread") has no effect on async handler \(handler), "
                + "which runs on the event loop; declare mode: async instead "
                + "(\(warning.environmentVariable)=0 silences this)"
        }
    }

    /// The text of the error for a declared mode that cannot run the handler.
    /// The advice names only modes `build` runs.
    static func mismatchMessage(path: String, handler: String, kind: HandlerKind, declaredAs: String, declared: ExecutionMode,
                                build: BuildLimits = .unlimited) -> String {
        let fitting = build.runnable(kind == .sync ? [.sync, .thread, .process] : [.async])
        let advice = fitting.isEmpty
            ? "this build runs no mode for \(kind.rawValue) handlers"
            : "declare mode: " + YAMLNodeDecoder.orList(fitting.map(\.rawValue))
        switch (declared, kind) {
        case (.sync, .async):
            return "route \(path): \(handler) is an async handler and cannot run as \(declaredAs); "
                + (fitting.isEmpty ? advice : advice + " or leave mode out")
        case (.async, .sync):
            return "route \(path): \(handler) is a sync handler and cannot run as \(declaredAs); \(advice)"
        case (.process, .async):
            return "route \(path): async handler \(handler) cannot run in a worker process (\(declaredAs)); \(advice)"
        default:
            return "route \(path): \(handler) is a \(kind.rawValue) handler and cannot run as \(declaredAs); \(advice)"
        }
    }
}
