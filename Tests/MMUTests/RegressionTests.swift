import Foundation
import GeneratedMMU
import SpecParser
import Testing
import WalkContract

/// Regression cases for bugs other walkers had (x86-paging reference §e), each run through both
/// engines with an expectation derived by hand from the SDM.
@Suite struct RegressionTests {
    /// 4-level tables for linear 0x7f1234603100 (the contract's example): PML4E at 0x17f0, PDPTE at
    /// 0x2240, PDE at 0x3d18, PTE at 0x4018.
    static func fourLevel(
        pte: String, cr4: String = "0x20", efer: String = "0xd01", rflags: String = "0x2",
        pkru: String = "0x0", kind: String, cpl: Int, implicit: Bool = false,
        features: String = #""nx","smep","smap","pku","pks","pdpe1gb""#, pdpte: String = "0x3007"
    ) -> String {
        #"{"id":"r","maxphyaddr":46,"features":[\#(features)],"regs":{"cr0":"0x80010033","cr3":"0x1000","cr4":"\#(cr4)","efer":"\#(efer)","rflags":"\#(rflags)","pkru":"\#(pkru)"},"memory":{"0x17f0":"0x2007","0x2240":"\#(pdpte)","0x3d18":"0x4007","0x4018":"\#(pte)"},"access":{"linear":"0x7f1234603100","kind":"\#(kind)","cpl":\#(cpl),"implicit":\#(implicit)}}"#
    }

    static let cases: [(name: String, json: String, expect: String)] = [
        // QEMU (§e.12): a reserved-bit fault must report P=1 with RSVD, not RSVD alone.
        (
            "qemu-rsvd-without-p", fourLevel(pte: "0x4000000300007", kind: "read", cpl: 0),
            #"{"result":"page-fault","error_code":"0x9","writes":{}}"#
        ),
        (
            "qemu-rsvd-without-p-write", fourLevel(pte: "0x4000000300007", kind: "write", cpl: 3),
            #"{"result":"page-fault","error_code":"0xf","writes":{}}"#
        ),
        // KVM (§e.10): I/D needs SMEP, or PAE paging with NXE; 32-bit paging with NXE alone reports no I/D.
        (
            "kvm-id-bit-32bit-nxe",
            #"{"id":"r","maxphyaddr":40,"features":["nx","pse"],"regs":{"cr0":"0x80000011","cr3":"0x1000","cr4":"0x0","efer":"0x800"},"memory":{},"access":{"linear":"0x400000","kind":"fetch","cpl":0}}"#,
            #"{"result":"page-fault","error_code":"0x0","writes":{}}"#
        ),
        // QEMU #2654 (§e.11): 32-bit paging with no feature bits set is paging, not real mode.
        (
            "qemu-2level-paging-is-not-real-mode",
            #"{"id":"r","maxphyaddr":40,"features":[],"regs":{"cr0":"0x80000011","cr3":"0x1000","cr4":"0x0","efer":"0x0"},"memory":{"0x1008":"0x2003","0x2008":"0x5003"},"access":{"linear":"0x802234","kind":"read","cpl":0}}"#,
            #"{"result":"ok","physical":"0x5234","page_size":4096,"writes":{"0x1008":"0x2023","0x2008":"0x5023"}}"#
        ),
        // KVM 4f4aa80e3b88 (§e.4): an implicit supervisor access at CPL 3 to a user page faults under
        // SMAP even with EFLAGS.AC=1; the error code has no U bit.
        (
            "kvm-smap-implicit-cpl3",
            fourLevel(pte: "0x300007", cr4: "0x200020", rflags: "0x40002", kind: "read", cpl: 3, implicit: true),
            #"{"result":"page-fault","error_code":"0x1","writes":{}}"#
        ),
        // ...while an explicit supervisor read with AC=1 is allowed.
        (
            "smap-explicit-ac", fourLevel(pte: "0x300007", cr4: "0x200020", rflags: "0x40002", kind: "read", cpl: 0),
            #"{"result":"ok","physical":"0x300100","page_size":4096,"writes":{"0x17f0":"0x2027","0x2240":"0x3027","0x3d18":"0x4027","0x4018":"0x300027"}}"#
        ),
        // Bochs 72d55ca09 (§e.15): PKRU or PKRS is chosen by the page's U/S, not the access's mode: a
        // supervisor read of a user page whose PKRU key-0 AD is set faults with PK.
        (
            "bochs-pkru-by-page-us", fourLevel(pte: "0x300007", cr4: "0x400020", pkru: "0x1", kind: "read", cpl: 0),
            #"{"result":"page-fault","error_code":"0x21","writes":{}}"#
        ),
        // KVM (§e.3 family): PK never applies to fetches.
        (
            "pk-not-on-fetch", fourLevel(pte: "0x300007", cr4: "0x400020", pkru: "0x3", kind: "fetch", cpl: 3),
            #"{"result":"ok","physical":"0x300100","page_size":4096,"writes":{"0x17f0":"0x2027","0x2240":"0x3027","0x3d18":"0x4027","0x4018":"0x300027"}}"#
        ),
        // WD blocks supervisor writes only with CR0.WP (set here): PK|W|P.
        (
            "pk-wd-supervisor-write-wp",
            fourLevel(pte: "0x300007", cr4: "0x400020", pkru: "0x2", kind: "write", cpl: 0),
            #"{"result":"page-fault","error_code":"0x23","writes":{}}"#
        ),
        // QEMU (§e.13): PDPTE.PS needs CPUID Page1GB; without it bit 7 is reserved.
        (
            "qemu-1g-without-pdpe1gb",
            fourLevel(pte: "0x300007", kind: "read", cpl: 0, features: #""nx""#, pdpte: "0x40000087"),
            #"{"result":"page-fault","error_code":"0x9","writes":{}}"#
        ),
        (
            "1g-with-pdpe1gb", fourLevel(pte: "0x300007", kind: "read", cpl: 0, pdpte: "0x40000087"),
            #"{"result":"ok","physical":"0x74603100","page_size":1073741824,"writes":{"0x17f0":"0x2027","0x2240":"0x400000a7"}}"#
        ),
        // QEMU (§e.13): PAE PDPTE bits 2:1 and 8:5 are reserved; loading CR3 would #GP: invalid.
        (
            "qemu-pae-pdpte-bits-2-1",
            #"{"id":"r","maxphyaddr":40,"features":["nx"],"regs":{"cr0":"0x80000011","cr3":"0x1000","cr4":"0x20","efer":"0x0"},"memory":{"0x1000":"0x2003"},"access":{"linear":"0x1000","kind":"read","cpl":0}}"#,
            #"{"result":"invalid"}"#
        ),
        // KVM 2026 (§e.7): an EPT violation on a guest paging-structure access reports bit 7 = 1 and
        // bit 8 = 0 (here the guest PML4 page is not mapped in EPT: RD|LINEAR-VALID = 0x81).
        (
            "kvm-nested-qual-bits-7-8-structure",
            #"{"id":"r","maxphyaddr":46,"features":["nx"],"regs":{"cr0":"0x80000011","cr3":"0x1000","cr4":"0x20","efer":"0xd01"},"ept":{"eptp":"0x901e"},"memory":{"0x9000":"0xa007","0xa000":"0xb007","0xb000":"0xc007"},"access":{"linear":"0x0","kind":"read","cpl":0}}"#,
            #"{"result":"ept-violation","guest_physical":"0x1000","exit_qualification":"0x81","writes":{}}"#
        ),
    ]

    @Test(arguments: ["generated", "reference"])
    func regressions(engine: String) throws {
        let specs = try #require(TestSupport.specs)
        let runner: any WalkEngine =
            engine == "generated" ? GeneratedEngine(specs: specs) : ReferenceEngine(specs: specs)
        for c in Self.cases {
            let got = WalkRunner.run(c.json, specs: specs, engine: runner).result
            var want = try #require(TestSupport.object(c.expect))
            want["id"] = "r"
            #expect(TestSupport.matches(got, want), "\(c.name): expected \(c.expect), got \(got.json)")
        }
    }

    /// KVM (§e.5): CR0.WP must be read fresh. A supervisor write to a read-only page succeeds with
    /// WP=0 and faults after WP is set, through the prepared-format cache.
    @Test func staleCR0WP() throws {
        let format = try #require(SpecFormats.named("ia32e-4level"))
        let memory = SparseMemory([0x17f0: 0x2007, 0x2240: 0x3007, 0x3d18: 0x4007, 0x4018: 0x300005])
        var state = ControlState()
        state[index: SpecRegisters.index(named: "CR0") ?? 0] = 0x8000_0033
        state[index: SpecRegisters.index(named: "CR3") ?? 0] = 0x1000
        state[index: SpecRegisters.index(named: "CR4") ?? 0] = 0x20
        state[index: SpecRegisters.index(named: "EFER") ?? 0] = 0xD01
        let cpu = CPUConfiguration(maxPhysicalAddressBits: 46)
        let cache = PreparedFormatCache()
        let access = Access(address: 0x7f12_3460_3100, kind: .write, cpl: 0)
        guard case .translation = Walker.walk(cache.prepared(format, state: state, cpu: cpu), access, memory: memory)
        else {
            Issue.record("WP=0: a supervisor write to a read-only page succeeds")
            return
        }
        state[index: SpecRegisters.index(named: "CR0") ?? 0] |= 1 << 16
        let outcome = Walker.walk(cache.prepared(format, state: state, cpu: cpu), access, memory: memory)
        #expect(outcome == .fault(Fault(kind: .protection, report: 0x3, level: 3, rights: 0b110)))
    }
}
