import Foundation
import GeneratedMMU
import Testing

/// The TLB's correctness property: for any sequence of accesses, page-table writes and the
/// invalidations the SDM requires after them, results through the TLB equal walking every time.
@Suite struct TLBTests {
    static func register(_ name: String) -> Int { SpecRegisters.index(named: name) ?? 0 }

    struct World {
        var tlbMemory: SparseMemory
        var plainMemory: SparseMemory
        var state = ControlState()
        var cpu = CPUConfiguration(maxPhysicalAddressBits: 46)
        var addresses: [UInt64] = []
        var tableWords: [UInt64] = []
        var sharedWords: Set<UInt64> = []
    }

    /// Two address spaces (PCIDs 1 and 2). PML4 slot 0 maps a shared kernel-like half (the only
    /// place global pages may appear, as the SDM requires of global translations: identical in every
    /// address space); slot 1 maps a private half per PCID.
    static func makeWorld(_ rng: inout SplitMix64) -> World {
        var words: [UInt64: UInt64] = [:]
        var tableWords: [UInt64] = []
        var sharedWords: Set<UInt64> = []
        func put(_ a: UInt64, _ v: UInt64, shared: Bool) {
            words[a] = v
            tableWords.append(a)
            if shared { sharedWords.insert(a) }
        }
        func fill(pdpt: UInt64, pds: [UInt64], pts: inout UInt64, frame: UInt64, shared: Bool) {
            for (i, pd) in pds.enumerated() {
                put(pdpt + UInt64(i) * 8, pd | 0x7, shared: shared)
                for slot in 0..<4 {
                    let flags = (rng.next() & (shared ? 0x107 : 0x7)) | 1
                    if slot == 3 {
                        put(pd + UInt64(slot) * 8, frame | UInt64(i * 4 + slot) << 21 | 0x80 | flags, shared: shared)
                    } else {
                        let pt = pts
                        pts += 0x1000
                        put(pd + UInt64(slot) * 8, pt | 0x7, shared: shared)
                        for pte in 0..<3 {
                            let f = (rng.next() & (shared ? 0x107 : 0x7)) | 1
                            put(pt + UInt64(pte) * 8, frame | UInt64(i * 64 + slot * 8 + pte) << 12 | f, shared: shared)
                        }
                    }
                }
            }
        }
        var pts: UInt64 = 0x10_0000
        // The two PML4s' slot-0 entries stay identical (never rewritten): the shared half is the same
        // tables in both address spaces.
        words[0x1000] = 0x3000 | 0x7
        words[0x2000] = 0x3000 | 0x7
        put(0x1008, 0xA000 | 0x7, shared: false)
        put(0x2008, 0xB000 | 0x7, shared: false)
        fill(pdpt: 0x3000, pds: [0x4000, 0x5000], pts: &pts, frame: 0x8000_0000, shared: true)
        fill(pdpt: 0xA000, pds: [0xC000], pts: &pts, frame: 0x4000_0000, shared: false)
        fill(pdpt: 0xB000, pds: [0xE000], pts: &pts, frame: 0x6000_0000, shared: false)
        var addresses: [UInt64] = []
        for pml4Slot in 0..<2 {
            for pd in 0..<(pml4Slot == 0 ? 2 : 1) {
                for slot in 0..<4 {
                    for pte in 0..<3 {
                        addresses.append(
                            UInt64(pml4Slot) << 39 | UInt64(pd) << 30 | UInt64(slot) << 21 | UInt64(pte) << 12
                                | UInt64(pte * 8))
                    }
                }
            }
        }
        // The hot pages: a mix of shared and private ones.
        addresses.swapAt(1, 30)
        addresses.swapAt(3, 33)
        var w = World(tlbMemory: SparseMemory(words), plainMemory: SparseMemory(words))
        w.addresses = addresses
        w.tableWords = tableWords
        w.sharedWords = sharedWords
        w.state[index: register("CR0")] = 0x8001_0033
        w.state[index: register("CR3")] = 0x1000 | 1
        w.state[index: register("CR4")] = 0x20 | 1 << 17 | 1 << 7  // PAE, PCIDE, PGE
        w.state[index: register("EFER")] = 0xD01
        for f in ["nx", "pcid", "pge", "pku", "smep", "smap", "pdpe1gb"] {
            if let i = SpecFeatures.index(named: f) { w.cpu.features[i] = true }
        }
        return w
    }

    static func same(_ a: WalkOutcome, _ b: WalkOutcome) -> Bool {
        switch (a, b) {
        case (.translation(let x), .translation(let y)):
            return x.physical == y.physical && x.pageSize == y.pageSize && x.rights == y.rights
        case (.fault(let x), .fault(let y)):
            return x.report == y.report && x.kind == y.kind
        default:
            return a == b
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func resultsThroughTheTLBEqualWalking(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var w = Self.makeWorld(&rng)
        let tlb = TLB()
        let cache = PreparedFormatCache(capacity: 512)
        let format = try #require(SpecFormats.named("ia32e-4level"))
        var failures: [String] = []
        var hits = 0
        for step in 0..<3000 {
            let prepared = cache.prepared(format, state: w.state, cpu: w.cpu)
            switch rng.next() % 40 {
            case 0..<30:
                // An access through the TLB and a plain walk; most go to a few hot pages.
                let pool = rng.next() % 4 == 0 ? w.addresses.count : 6
                let address = w.addresses[Int(rng.next() % UInt64(pool))]
                let access = Access(
                    address: address, kind: [.read, .write, .fetch][Int(rng.next() % 3)],
                    cpl: rng.next() % 2 == 0 ? 3 : 0, implicit: rng.next() % 16 == 0)
                let before = tlb.hits
                let viaTLB = tlb.translate(prepared, access, space: DirectSpace(w.tlbMemory))
                let walked = Walker.walk(prepared, access, memory: w.plainMemory)
                if tlb.hits > before { hits += 1 }
                if !Self.same(viaTLB, walked) {
                    failures.append("step \(step): \(access) TLB \(viaTLB) walk \(walked)")
                }
            case 30, 31:
                // The guest rewrites a paging-structure entry, then invalidates as the SDM requires:
                // INVPCID all contexts (other PCIDs share the tables) and INVLPG for global pages.
                let a = w.tableWords[Int(rng.next() % UInt64(w.tableWords.count))]
                let old = w.tlbMemory.words[a] ?? 0
                // Global bits only ever change in the shared half.
                // Upper-level entries keep P, so that most walks still reach a leaf.
                let isLeaf = old & 0x80 != 0 || a >= 0x10_0000
                let low: UInt64 = isLeaf ? 0 : 1
                var new = old ^ (1 << (low + rng.next() % ((w.sharedWords.contains(a) ? 9 : 8) - low)))
                if isLeaf && rng.next() % 4 == 0 { new = old & ~1 }
                w.tlbMemory.store64(a, new)
                w.plainMemory.store64(a, new)
                tlb.invalidatePCID(.allContexts, pcid: 0)
                for address in w.addresses { tlb.invalidatePage(address, format: prepared, linearBits: 48) }
            case 32, 33:
                // Switch address space, with or without the PCID no-flush bit.
                let cr3 = w.state[index: Self.register("CR3")]
                var next: UInt64 = (cr3 & 0xFFF) == 1 ? 0x2000 | 2 : 0x1000 | 1
                if rng.next() % 2 == 0 { next |= 1 << 63 }
                var newState = w.state
                newState[index: Self.register("CR3")] = next
                let newPrepared = cache.prepared(format, state: newState, cpu: w.cpu)
                tlb.rootWritten(newPrepared, newState: newState)
                newState[index: Self.register("CR3")] = next & ~(1 << 63)
                w.state = newState
            case 34:
                // CR0.WP and PKRU change without any flush: rights are re-checked on every hit.
                w.state[index: Self.register("CR0")] ^= 1 << 16
                w.state[index: Self.register("PKRU")] = rng.next() % 2 == 0 ? 0 : 0x4
            case 35:
                // CR4.SMEP/SMAP/PKE toggles need no flush either.
                w.state[index: Self.register("CR4")] ^= [1 << 20, 1 << 21, 1 << 22][Int(rng.next() % 3)]
            case 36:
                // CR4.PGE toggles flush everything, global entries included.
                var newState = w.state
                newState[index: Self.register("CR4")] ^= 1 << 7
                tlb.controlChanged(format, old: w.state, new: newState)
                w.state = newState
            case 37:
                // EFER.NXE changes which bits are reserved: the format's flush-all list covers it.
                var newState = w.state
                newState[index: Self.register("EFER")] ^= 1 << 11
                tlb.controlChanged(format, old: w.state, new: newState)
                w.state = newState
            default:
                // Spontaneous invalidations are always allowed.
                switch rng.next() % 3 {
                case 0: tlb.invalidatePCID(.singleContext, pcid: UInt16(1 + rng.next() % 2))
                case 1: tlb.invalidatePCID(.individualAddress, pcid: 1, address: w.addresses[Int(rng.next() % 8)])
                default: tlb.invalidateVPID(.singleContextRetainingGlobals, vpid: 0)
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) differences:\n\(failures.prefix(8).joined(separator: "\n"))")
        #expect(hits > 150, "the TLB must actually serve hits (\(hits))")
    }

    @Test func readCachedTranslationDoesNotServeAWrite() throws {
        // A read caches the translation with D = 0; a later write must walk again and set D.
        var rng = SplitMix64(seed: 9)
        let w = Self.makeWorld(&rng)
        w.tlbMemory.store64(0x10_0000, 0x8000_0000 | 0x7)  // PTE for address 0, D = 0
        let format = try #require(SpecFormats.named("ia32e-4level"))
        let prepared = PreparedFormatCache().prepared(format, state: w.state, cpu: w.cpu)
        let tlb = TLB()
        _ = tlb.translate(prepared, Access(address: 0, kind: .read), space: DirectSpace(w.tlbMemory))
        #expect((w.tlbMemory.words[0x10_0000] ?? 0) & 0x40 == 0)
        _ = tlb.translate(prepared, Access(address: 0, kind: .write), space: DirectSpace(w.tlbMemory))
        #expect((w.tlbMemory.words[0x10_0000] ?? 0) & 0x40 != 0, "the write set D")
        #expect(tlb.misses == 2)
        _ = tlb.translate(prepared, Access(address: 0, kind: .write), space: DirectSpace(w.tlbMemory))
        #expect(tlb.hits == 1, "a dirty translation serves writes")
    }

    @Test func invlpgRemovesLargeAndGlobalPagesAndIgnoresNonCanonical() throws {
        var rng = SplitMix64(seed: 10)
        let w = Self.makeWorld(&rng)
        // A global 2 MiB page at PD slot 3.
        w.tlbMemory.store64(0x4018, 0x4060_0000 | 0x80 | 0x100 | 0x7)
        let format = try #require(SpecFormats.named("ia32e-4level"))
        let prepared = PreparedFormatCache().prepared(format, state: w.state, cpu: w.cpu)
        let tlb = TLB()
        let address: UInt64 = 3 << 21 | 0x1234
        _ = tlb.translate(prepared, Access(address: address, kind: .read), space: DirectSpace(w.tlbMemory))
        #expect(tlb.count == 1)
        tlb.invalidatePage(0x8000_0000_0000_0000 | address, format: prepared, linearBits: 48)
        #expect(tlb.count == 1, "a non-canonical INVLPG is a no-op")
        tlb.rootWritten(prepared, newState: w.state)
        #expect(tlb.count == 1, "a global page survives a CR3 write")
        tlb.invalidatePage(3 << 21 | 0x1F_F000, format: prepared, linearBits: 48)
        #expect(tlb.count == 0, "INVLPG anywhere in the large page removes it")
    }
}

/// TLB tags for virtualization: VPID and EPTP keep guests apart; INVEPT and INVVPID remove them.
@Suite struct TLBTagTests {
    @Test func vpidAndEptpTagsAndTheirInvalidations() throws {
        let format = try #require(SpecFormats.named("ia32e-4level"))
        let ept = try #require(SpecFormats.named("ept-4level"))
        var state = ControlState()
        state[index: SpecRegisters.index(named: "CR0") ?? 0] = 0x8001_0033
        state[index: SpecRegisters.index(named: "CR3") ?? 0] = 0x1000
        state[index: SpecRegisters.index(named: "CR4") ?? 0] = 0x20
        state[index: SpecRegisters.index(named: "EFER") ?? 0] = 0xD01
        state[index: SpecRegisters.index(named: "EPTP") ?? 0] = 0x10_0000 | 0x1E
        state[index: SpecRegisters.index(named: "IA32_VMX_EPT_VPID_CAP") ?? 0] = ~0
        let cpu = CPUConfiguration(maxPhysicalAddressBits: 46)
        let guest = PreparedFormatCache().prepared(format, state: state, cpu: cpu)
        let eptPrepared = PreparedFormatCache().prepared(ept, state: state, cpu: cpu)
        // Guest tables at GPA 0x1000.. map linear 0 → GPA 0x5000; EPT (at HPA 0x100000) maps GPA
        // 0..2 MiB → HPA 0x20_0000.. with a 2 MiB page.
        let memory = SparseMemory([
            0x10_0000: 0x10_1007, 0x10_1000: 0x10_2007, 0x10_2000: 0x20_0000 | 0xB7,
            0x20_1000: 0x2007, 0x20_2000: 0x3007, 0x20_3000: 0x4007, 0x20_4000: 0x5007,
        ])
        let space = NestedSpace(ept: eptPrepared, memory: memory, guest: format)
        let tlb = TLB()
        let access = Access(address: 0x123, kind: .read)
        guard case .translation(let t) = tlb.translate(guest, access, space: space, vpid: 5, eptp: 0x10_0000) else {
            Issue.record("the nested walk translates")
            return
        }
        #expect(t.physical == 0x20_5123)
        #expect(t.pageSize == 4096, "min(guest 4 KiB, EPT 2 MiB)")
        _ = tlb.translate(guest, access, space: space, vpid: 5, eptp: 0x10_0000)
        #expect(tlb.hits == 1)
        // Another VPID or another EPTP does not hit.
        _ = tlb.translate(guest, access, space: space, vpid: 6, eptp: 0x10_0000)
        _ = tlb.translate(guest, access, space: space, vpid: 5, eptp: 0x30_0000)
        #expect(tlb.hits == 1)
        #expect(tlb.count == 1, "one direct-mapped slot: the VPID 6 translation replaced the VPID 5 one")
        tlb.invalidateEPT(singleContext: 0x10_0000)
        _ = tlb.translate(guest, access, space: space, vpid: 5, eptp: 0x10_0000)
        #expect(tlb.hits == 1, "INVEPT single-context removed the EPTP's translations")
        tlb.invalidateVPID(.individualAddress, vpid: 5, address: 0x123)
        _ = tlb.translate(guest, access, space: space, vpid: 5, eptp: 0x10_0000)
        #expect(tlb.hits == 1, "INVVPID individual-address removed it")
        tlb.invalidateVPID(.allContexts, vpid: 0)
        #expect(tlb.count == 0, "INVVPID all-context removes every VPID but 0")
    }
}
