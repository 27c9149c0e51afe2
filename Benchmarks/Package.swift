// swift-tools-version: 6.1
// Benchmarks for the generated MMU, side by side with hand-written C walkers and the reference
// interpreter. A separate package so that `swift test` and CI never build package-benchmark.
//
//     cd Benchmarks && swift package benchmark --no-progress          # run, print medians
//     cd Benchmarks && swift package benchmark thresholds check       # the allocation gate
//
// See docs/performance.md.
import PackageDescription

let package = Package(
    name: "specc-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // `name:` because a path dependency's identity is its folder name, unknown in CI clones.
        .package(name: "specc", path: ".."),
        // The default trait pulls ordo-one/swift-runtime-interposer, which is not mirrored here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Hand-written C walkers (KVM-style) and a direct-mapped TLB: the baselines.
        .target(
            name: "CWalk",
            cSettings: [.unsafeFlags(["-O2"])]
        ),
        // Page tables, accesses and control states shared by the benchmarks and `walkprof`.
        .target(
            name: "MMUBenchSupport",
            dependencies: [
                "CWalk",
                .product(name: "GeneratedMMU", package: "specc"),
                .product(name: "SpecInterpreter", package: "specc"),
                .product(name: "SpecParser", package: "specc"),
            ]
        ),
        // A plain driver for profiling (valgrind --tool=callgrind) and for checking that the C
        // walkers agree with the generated one on every access of the fixtures.
        .executableTarget(
            name: "walkprof",
            dependencies: ["MMUBenchSupport", "CWalk", .product(name: "GeneratedMMU", package: "specc")]
        ),
        .executableTarget(
            name: "MMUBenchmarks",
            dependencies: [
                "MMUBenchSupport", "CWalk",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GeneratedMMU", package: "specc"),
                .product(name: "SpecInterpreter", package: "specc"),
            ],
            path: "Benchmarks/MMUBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
