import Foundation
import KVMConformance
import SpecParser
import Testing
import WalkContract

/// Specs, fixtures and the KVM check shared by the KVM conformance tests.
enum Support {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repositoryRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let specs: SpecSet? = SpecLoader().load(paths: [repositoryRoot.appendingPathComponent("specs").path]).specs

    /// Why `/dev/kvm` cannot run guests here (absent, no permission, no working KVM_RUN), or `nil`.
    static let kvmUnusableReason: String? = KVMHost.unusableReason()
    /// Whether the KVM tests can run.
    static var kvmUsable: Bool { kvmUnusableReason == nil && specs != nil }
    /// The reason the KVM tests are skipped, for the test report.
    static var skipComment: Comment {
        Comment(
            rawValue:
                "needs a usable /dev/kvm (run as root on a KVM host): \(kvmUnusableReason ?? "specs failed to load")")
    }

    /// The lines of a fixture file.
    static func fixture(_ name: String) throws -> [String] {
        let url = testsDirectory.appendingPathComponent("Fixtures").appendingPathComponent(name)
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// A case from a JSON object.
    static func walkCase(_ object: [String: Any]) throws -> WalkCase {
        guard let specs else { throw SpecsMissing() }
        return try WalkCase.parse(object, specs: specs)
    }

    struct SpecsMissing: Error {}

    /// A 4-level case: P|RW|US tables at 1 MiB mapping `linear` to 0x300000 with `pte` flags.
    static func simpleCase(
        id: String, linear: UInt64 = 0x7F12_3460_3100, kind: String = "read", cpl: Int = 0, pteFlags: UInt64 = 0x7,
        cr0: UInt64 = 0x8001_0033, cr4: UInt64 = 0x20, efer: UInt64 = 0xD01,
        features: [String] = ["nx", "smep", "smap", "pku"]
    ) -> [String: Any] {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        let i = [39, 30, 21, 12].map { (linear >> UInt64($0)) & 511 }
        let memory = [
            hex(0x10_0000 + i[0] * 8): hex(0x10_1007), hex(0x10_1000 + i[1] * 8): hex(0x10_2007),
            hex(0x10_2000 + i[2] * 8): hex(0x10_3007), hex(0x10_3000 + i[3] * 8): hex(0x30_0000 | pteFlags),
        ]
        return [
            "id": id, "maxphyaddr": 46, "features": features,
            "regs": ["cr0": hex(cr0), "cr3": "0x100000", "cr4": hex(cr4), "efer": hex(efer)],
            "memory": memory, "access": ["linear": hex(linear), "kind": kind, "cpl": cpl],
        ]
    }
}
