// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "specc",
    products: [
        .executable(name: "specc", targets: ["specc"]),
        .library(name: "GeneratedMMU", targets: ["GeneratedMMU"]),
        .library(name: "SpecParser", targets: ["SpecParser"]),
        .library(name: "SpecInterpreter", targets: ["SpecInterpreter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(
            name: "CLibYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "SpecParser", dependencies: ["CLibYAML"]),
        .target(name: "SpecInterpreter", dependencies: ["SpecParser"]),
        .target(name: "CCPUID"),
        .target(name: "MigrationCheck", dependencies: ["SpecParser", "CCPUID"]),
        .target(name: "CodeGen", dependencies: ["SpecParser"]),
        .executableTarget(name: "specc-codegen", dependencies: ["SpecParser", "CodeGen"]),
        .plugin(name: "GenerateMMU", capability: .buildTool(), dependencies: ["specc-codegen"]),
        .target(name: "CMemoryAtomics"),
        .target(
            name: "GeneratedMMU",
            dependencies: ["CMemoryAtomics"],
            plugins: ["GenerateMMU"]
        ),
        .target(name: "WalkContract", dependencies: ["SpecParser", "SpecInterpreter", "GeneratedMMU"]),
        .target(name: "CKVM"),
        .target(name: "KVMConformance", dependencies: ["CKVM", "WalkContract", "GeneratedMMU", "SpecParser"]),
        .executableTarget(
            name: "specc",
            dependencies: [
                "SpecParser", "SpecInterpreter", "CodeGen", "GeneratedMMU", "MigrationCheck", "WalkContract",
                "KVMConformance",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SpecParserTests", dependencies: ["SpecParser"], exclude: ["Fixtures"]),
        .testTarget(name: "MigrationCheckTests", dependencies: ["MigrationCheck", "SpecParser"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MMUTests",
            dependencies: ["SpecParser", "SpecInterpreter", "CodeGen", "GeneratedMMU", "WalkContract"],
            exclude: ["Golden", "Reference", "Fixtures"]
        ),
        .testTarget(
            name: "KVMConformanceTests",
            dependencies: ["KVMConformance", "WalkContract", "SpecParser"],
            exclude: ["Fixtures"]
        ),
    ]
)
