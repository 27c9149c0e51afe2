import Foundation
import MigrationCheck
import SpecParser
import Testing

/// `specc cpu import` (libvirt CPUID dumps) and `specc cpu probe`.
@Suite struct ImportTests {
    @Test func decodesAHandWrittenDump() throws {
        let specs = try realSpecs()
        let url = Paths.fixture("libvirt/x86_64-cpuid-Tiny.xml")
        let data = try LibvirtCPUData.parse(try String(contentsOf: url, encoding: .utf8), file: url.lastPathComponent)
        #expect(data.label == "Tiny test CPU: a hand-written dump in libvirt's cputestdata format")
        #expect(data.msrs[0x10a] == 0x2b)
        let m = try CPUIDDecoder(specs: specs).model(data, name: "Tiny", title: data.label ?? "", source: "fixture")
        #expect(m.vendor == "GenuineIntel")
        #expect(m.family == 6 && m.model == 0x6A && m.stepping == 6)
        #expect(m.maxPhysicalAddressBits == 48 && m.linearAddressBits == 57)
        // Leaf 0xD is above the maximum basic leaf (7), so its XSAVE bits do not count, and leaf
        // 0xC0000000 is in no range the specs describe.
        #expect(
            m.features == [
                "fpu", "fsgsbase", "la57", "lm", "nx", "pae", "pcid", "pku", "pni", "smep", "sse", "sse2", "xsave",
            ])
        // The YAML round-trips through the spec loader.
        let yaml = CPUModelYAML.render(m, comments: ["test"])
        let loaded = try #require(try loadSpecs(adding: "tmp/Tiny.yaml", yaml).specs)
        #expect(try CPUModelDescription(loaded.requireCPUModel("tiny")) == m)
    }

    @Test(arguments: [
        (
            "<cpudata arch='x86'>\n<cpuid eax_in='0x1' ecx_in='0x0' eax='0x1' ebx='0x0' ecx='0x0'/>\n</cpudata>",
            "t.xml:2: missing attribute 'edx'"
        ),
        (
            "<cpudata arch='x86'>\n<cpuid eax_in='0x1' ecx_in='0x0' eax='0xg' ebx='0' ecx='0' edx='0'/></cpudata>",
            "t.xml:2: attribute eax='0xg'"
        ),
        ("<cpudata arch='arm'></cpudata>", "not x86"),
        ("<cpu></cpu>", "root element must be <cpudata"),
        ("<cpudata arch='x86'>\n<cpuid eax_in='0x1' ecx_in='0x0' eax='0' ebx='0' ecx='0' edx='0'/>", "never closed"),
        ("<cpudata arch='x86'></cpudata>", "no <cpuid> elements"),
        (
            "<cpudata arch='x86'>\n<cpuid eax_in='0x1' ecx_in='0x0' eax='0' ebx='0' ecx='0' edx='0'/>\n<cpuid eax_in='0x1' ecx_in='0x0' eax='0' ebx='0' ecx='0' edx='0'/></cpudata>",
            "t.xml:3: leaf 0x1 subleaf 0x0 is recorded twice"
        ),
        ("<cpudata arch='x86'><foo/></cpudata>", "unknown element <foo>"),
        ("hello", "unexpected text"),
        ("<!-- unterminated", "comment is never closed"),
    ])
    func malformedDumpsAreInputErrors(text: String, expected: String) {
        do {
            _ = try LibvirtCPUData.parse(text, file: "t.xml")
            Issue.record("no error for \(text)")
        } catch let e as InputError {
            #expect(e.message.contains(expected), "\(e.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func dumpWithoutAddressWidthsIsAnInputError() throws {
        let specs = try realSpecs()
        let data = try LibvirtCPUData.parse(
            """
            <cpudata arch='x86'>
              <cpuid eax_in='0x00000000' ecx_in='0x00' eax='0x00000001' ebx='0x756e6547' ecx='0x6c65746e' edx='0x49656e69'/>
              <cpuid eax_in='0x00000001' ecx_in='0x00' eax='0x000606a6' ebx='0' ecx='0' edx='0'/>
            </cpudata>
            """, file: "t.xml")
        #expect(throws: InputError.self) {
            _ = try CPUIDDecoder(specs: specs).model(data, name: "X", title: "", source: "")
        }
    }

    /// On an x86 machine the probe yields a model the specs accept; elsewhere it is an input error.
    @Test func probeOfThisMachine() throws {
        let specs = try realSpecs()
        #if arch(x86_64) || arch(i386)
            let m = try CPUIDProbe.model(specs: specs, name: "ThisHost")
            #expect(!m.vendor.isEmpty)
            #expect((32...52).contains(m.maxPhysicalAddressBits))
            #expect(m.linearAddressBits == (m.has("la57") ? 57 : 48))
            #expect(m.has("fpu") && m.has("lm"), "every x86-64 CPU has x87 and long mode")
            let result = try loadSpecs(adding: "tmp/ThisHost.yaml", CPUModelYAML.render(m))
            #expect(result.diagnostics.filter { $0.severity == .error }.isEmpty, "\(result.diagnostics)")
            let loaded = try #require(result.specs)
            #expect(try CPUModelDescription(loaded.requireCPUModel("ThisHost")) == m)
        #else
            #expect(throws: InputError.self) { _ = try CPUIDProbe.model(specs: specs, name: "ThisHost") }
        #endif
    }
}
