import Foundation
import MigrationCheck
import SpecParser
import Testing

/// Golden tests of `specc cpu export`: the output must equal the checked-in file byte for byte.
/// A missing golden file fails the test (with the output to check in); nothing is recorded.
@Suite struct ExportTests {
    func golden(_ name: String, _ actual: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let url = Paths.fixture("Golden/\(name)")
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record(
                "missing golden file \(url.path); if this output is right, check it in:\n\(actual)",
                sourceLocation: sourceLocation)
            return
        }
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let line = Array(zip(e, a)).firstIndex { $0.0 != $0.1 } ?? min(e.count, a.count)
            Issue.record(
                """
                \(name) differs from the golden file at line \(line + 1):
                  expected: \(line < e.count ? String(e[line]) : "<end>")
                  actual:   \(line < a.count ? String(a[line]) : "<end>")
                """, sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: ["Icelake-Server", "Cascadelake-Server"])
    func firecrackerTemplate(name: String) throws {
        let specs = try realSpecs()
        golden("\(name).firecracker.json", FirecrackerTemplate.export(try model(name, in: specs), specs: specs))
    }

    @Test(arguments: ["Icelake-Server", "Cascadelake-Server"])
    func qemuOption(name: String) throws {
        let specs = try realSpecs()
        let (option, omitted) = QEMUCPUOption.export(try model(name, in: specs))
        golden(
            "\(name).qemu.txt",
            option + "\n" + (omitted.isEmpty ? "" : "# omitted: \(omitted.joined(separator: " "))\n"))
    }

    /// The bitmaps have the shape Firecracker's schema asks for, and say what the model says.
    @Test func firecrackerBitmapsFollowTheSpecs() throws {
        let specs = try realSpecs()
        let ice = try model("Icelake-Server", in: specs)
        let template = FirecrackerTemplate.template(ice, specs: specs)
        guard case .array(let entries)? = template["cpuid_modifiers"] else {
            Issue.record("no cpuid_modifiers")
            return
        }
        var bitmaps: [String: String] = [:]
        for entry in entries {
            guard case .string(let leaf)? = entry["leaf"], case .string(let subleaf)? = entry["subleaf"],
                case .array(let mods)? = entry["modifiers"]
            else { continue }
            for m in mods {
                guard case .string(let r)? = m["register"], case .string(let b)? = m["bitmap"] else { continue }
                #expect(b.hasPrefix("0b") && b.count == 34 && b.dropFirst(2).allSatisfy { "01x".contains($0) }, "\(b)")
                bitmaps["\(leaf).\(subleaf).\(r)"] = String(b.dropFirst(2))
            }
        }
        // Each feature's character is at position 31 - bit of its register's bitmap.
        for f in specs.features {
            let key = "\(hexString(f.leaf)).\(hexString(f.subleaf ?? 0)).\(f.register)"
            let bitmap = try #require(bitmaps[key], "no bitmap for \(key)")
            let c = bitmap[bitmap.index(bitmap.startIndex, offsetBy: 31 - f.bit)]
            #expect(c == (ice.has(f.name) ? "1" : "0"), "\(f.name)")
        }
        // CPUID 0x80000008 EAX[15:0] is 0x3934: 57 linear bits, 52 physical.
        let eax = try #require(bitmaps["0x80000008.0x0.eax"])
        #expect(eax.suffix(16) == "0011100100110100")
        #expect(eax.prefix(16).allSatisfy { $0 == "x" })
    }

    @Test func qemuOptionUsesQEMUSpellings() throws {
        let specs = try realSpecs()
        let (option, omitted) = QEMUCPUOption.export(try model("Icelake-Server", in: specs))
        let parts = option.split(separator: ",").map(String.init)
        #expect(parts.first == "base")
        #expect(parts.contains("vendor=GenuineIntel") && parts.contains("phys-bits=52"))
        #expect(parts.contains("la57=on") && parts.contains("sse4.1=on") && parts.contains("avx512vnni=on"))
        #expect(parts.contains("vmx-page-walk-5=on") && parts.contains("vmx-ept=on"))
        #expect(!parts.contains { $0.contains("_") }, "QEMU spells features with '-'")
        #expect(omitted == ["ospke"])
        let (sky, _) = QEMUCPUOption.export(try model("Skylake-Server", in: specs))
        #expect(!sky.contains("la57") && !sky.contains("vmx-page-walk-5"))
    }

    func hexString(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
}
