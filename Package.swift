// swift-tools-version:6.0
import PackageDescription

// The hot path (parser, loop, connection handling) is built without dynamic
// exclusivity checks in release: PERFORMANCE.md measured them at ~20% of the
// instructions per request. Debug builds keep them, so tests still catch misuse.
let hotPath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    ],
    targets: [
        // C shims and system libraries.
        .target(name: "CSwitchyardLinux"),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Bytes only: request parser, chunked decoder, response encoder. No sockets.
        .target(name: "SwitchyardHTTP", swiftSettings: hotPath),
        // gzip/deflate with zlib and Accept-Encoding negotiation.
        .target(name: "SwitchyardCompression", dependencies: ["CZlib", "SwitchyardHTTP"]),
        // epoll selector, loop, timers, wakeups, sockets.
        .target(name: "SwitchyardEventLoop", dependencies: ["CSwitchyardLinux"], swiftSettings: hotPath),
        // Path patterns compiled into a byte-keyed tree (literals decoded by SwitchyardHTTP's rules).
        .target(name: "SwitchyardRouting", dependencies: ["SwitchyardHTTP"], swiftSettings: hotPath),
        // Where handlers run off the loop: thread pools and child worker processes. Knows nothing of HTTP.
        .target(name: "SwitchyardExecution", dependencies: [
            "CSwitchyardLinux", "SwitchyardEventLoop", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotPath),
        // YAML config, validation with file:line:col, mode resolution.
        .target(name: "SwitchyardConfig", dependencies: [
            "SwitchyardRouting",
            .product(name: "Yams", package: "Yams"),
        ]),
        // Handler protocols and the built-in handlers.
        .target(name: "SwitchyardPlugins", dependencies: [
            "CSwitchyardLinux", "SwitchyardHTTP", "SwitchyardRouting", "SwitchyardConfig", "SwitchyardEventLoop",
        ], swiftSettings: hotPath),
        // sd_notify through libsystemd.
        .target(name: "SwitchyardSystemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]),
        // Wiring: listeners, connections, dispatch, lifecycle.
        .target(name: "Switchyard", dependencies: [
            "CSwitchyardLinux", "SwitchyardHTTP", "SwitchyardCompression", "SwitchyardEventLoop",
            "SwitchyardRouting", "SwitchyardConfig", "SwitchyardPlugins", "SwitchyardSystemd", "SwitchyardExecution",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotPath),
        .executableTarget(name: "switchyard", dependencies: [
            "Switchyard", "SwitchyardConfig", "SwitchyardSystemd",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "SwitchyardHTTPTests", dependencies: ["SwitchyardHTTP"]),
        .testTarget(name: "SwitchyardRoutingTests", dependencies: ["SwitchyardRouting"]),
        .testTarget(name: "SwitchyardConfigTests", dependencies: ["SwitchyardConfig"]),
        .testTarget(name: "SwitchyardCompressionTests", dependencies: ["SwitchyardCompression", "SwitchyardHTTP", "CZlib"]),
        .testTarget(name: "SwitchyardEventLoopTests", dependencies: ["SwitchyardEventLoop"]),
        .testTarget(name: "SwitchyardExecutionTests", dependencies: ["SwitchyardExecution", "SwitchyardEventLoop"]),
        .testTarget(name: "SwitchyardSystemdTests", dependencies: [
            "SwitchyardSystemd", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SwitchyardPluginsTests", dependencies: ["SwitchyardPlugins", "SwitchyardHTTP", "SwitchyardConfig"]),
        .testTarget(name: "EndToEndTests", dependencies: []),
    ]
)
