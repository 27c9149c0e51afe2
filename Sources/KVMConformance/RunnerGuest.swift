import CKVM
import GeneratedMMU

/// The runner's own guest environment: a 64 KiB region holding the page tables that map it, a
/// GDT, an IDT with one reporting stub per exception vector, a TSS, stacks and the test code for
/// CPL 0 and CPL 3 (kvm.md §3, "a guest set-up that works").
///
/// These are x86-64 machine encodings (instructions, segment and gate descriptors) that the
/// runner needs to boot a guest; they are not paging semantics, which all come from the specs.
/// The region's paging entries are built from the spec format's field masks (``EntryBits``).
enum RunnerGuest {
    /// The pages of the region, in order.
    enum Page: Int, CaseIterable {
        case table0, table1, table2, table3, gdt, idt, tss, kernelStack, userStack, kernelCode, userCode, stubs
    }

    static let pageBytes = 4096
    /// The region is 16 pages (the last four are spare).
    static let pageCount = 16
    static let regionBytes = pageCount * pageBytes

    /// `out` port written after a data access completed without an MMIO exit.
    static let accessDonePort: UInt16 = 0x10
    /// `out` port written by an exception stub (AL = vector, RSI = error code or -1, R8 = RIP).
    static let exceptionPort: UInt16 = 0x11
    /// `out` port written by a fetched target page.
    static let fetchPort: UInt16 = 0x12
    /// `out dx, al`, one byte long: a page filled with it reports through port DX whatever offset
    /// a fetch lands on. Its bit 0 is clear, so each 8-byte word of such a page read as a paging
    /// entry is not present, as an all-zero word would be.
    static let fetchFill: UInt8 = 0xEE
    /// The byte the test stores.
    static let storedByte: UInt8 = 0x5A

    /// GDT selectors.
    static let kernelCodeSelector: UInt16 = 0x08
    static let kernelDataSelector: UInt16 = 0x10
    static let userDataSelector: UInt16 = 0x18
    static let userCodeSelector: UInt16 = 0x20
    static let taskStateSelector: UInt16 = 0x28
    static let vectorCount = 32
    /// #PF and #GP (SDM Vol. 3A Table 6-1).
    static let pageFaultVector: UInt64 = 14
    static let generalProtectionVector: UInt64 = 13
    /// Exception vectors that push an error code (SDM Vol. 3A Table 6-1).
    static let vectorsWithErrorCode: Set<Int> = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30]

    static func offset(_ page: Page) -> Int { page.rawValue * pageBytes }

    /// The table page of the region for level `depth` (1 is the level below the root).
    static func tablePage(depth: Int, levels: Int) -> Page? {
        Page(rawValue: Page.table3.rawValue - (levels - 1 - depth))
    }

    /// The entry the runner adds to the case's root table: it maps the region at `linearBase`.
    static func rootEntry(format: PagingFormatDescriptor, physicalBase: UInt64) throws -> UInt64 {
        let bits = try EntryBits(format.levels[0])
        guard let page = tablePage(depth: 1, levels: format.levels.count) else { return 0 }
        let table = physicalBase + UInt64(offset(page))
        return (table & bits.address) | bits.present | bits.writable | bits.user | bits.accessed
    }

    /// Writes the region's 16 pages into `memory`.
    ///
    /// - Parameters:
    ///   - physicalBase, linearBase: where the region is, in guest-physical and linear space.
    ///   - userKey: the protection key of the region's user pages (one the case's PKRU allows).
    static func build(
        into memory: UnsafeMutableRawPointer, format: PagingFormatDescriptor, physicalBase: UInt64, linearBase: UInt64,
        userKey: UInt64, linear: UInt64, kind: AccessKind
    ) throws {
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: regionBytes)
        func put64(_ page: Page, _ byteOffset: Int, _ value: UInt64) {
            memory.storeBytes(of: value.littleEndian, toByteOffset: offset(page) + byteOffset, as: UInt64.self)
        }
        func put(_ page: Page, _ byteOffset: Int, _ bytes: [UInt8]) {
            for (i, b) in bytes.enumerated() {
                memory.storeBytes(of: b, toByteOffset: offset(page) + byteOffset + i, as: UInt8.self)
            }
        }
        func linearOf(_ page: Page) -> UInt64 { linearBase &+ UInt64(offset(page)) }

        // Page tables below the root: index 0 at every level, then one PTE per page.
        let levels = format.levels.count
        for depth in 1..<levels {
            guard let page = tablePage(depth: depth, levels: levels) else { continue }
            let bits = try EntryBits(format.levels[depth])
            if depth < levels - 1 {
                guard let next = tablePage(depth: depth + 1, levels: levels) else { continue }
                let table = physicalBase + UInt64(offset(next))
                put64(page, 0, (table & bits.address) | bits.present | bits.writable | bits.user | bits.accessed)
            } else {
                for p in 0..<pageCount {
                    let isUser = p == Page.userStack.rawValue || p == Page.userCode.rawValue
                    var entry =
                        ((physicalBase + UInt64(p * pageBytes)) & bits.address) | bits.present | bits.writable
                        | bits.accessed | bits.dirty
                    if isUser { entry |= bits.user | bits.key(userKey) }
                    put64(page, p * 8, entry)
                }
            }
        }

        // GDT: null, kernel code (64-bit), kernel data, user data, user code (64-bit), TSS.
        let tss = linearOf(.tss)
        let gdt: [UInt64] = [
            0, 0x00AF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF, 0x00CF_F300_0000_FFFF, 0x00AF_FB00_0000_FFFF,
            0x67 | ((tss & 0xFF_FFFF) << 16) | (0x89 << 40) | (((tss >> 24) & 0xFF) << 56), tss >> 32,
        ]
        for (i, d) in gdt.enumerated() { put64(.gdt, i * 8, d) }
        // TSS: RSP0 (offset 4) is the top of the kernel stack.
        let rsp0 = linearOf(.kernelStack) + UInt64(pageBytes)
        put(.tss, 4, withUnsafeBytes(of: rsp0.littleEndian, Array.init))

        // IDT: an interrupt gate per vector to its 32-byte stub.
        for v in 0..<vectorCount {
            let handler = linearOf(.stubs) + UInt64(v * 32)
            let low =
                (handler & 0xFFFF) | (UInt64(kernelCodeSelector) << 16) | (0x8E << 40)
                | (((handler >> 16) & 0xFFFF) << 48)
            put64(.idt, v * 16, low)
            put64(.idt, v * 16 + 8, handler >> 32)
            // pop rsi | mov rsi, -1; mov r8, [rsp]; mov al, v; out 0x11, al; hlt; jmp $
            var stub: [UInt8] = vectorsWithErrorCode.contains(v) ? [0x5E] : [0x48, 0xC7, 0xC6, 0xFF, 0xFF, 0xFF, 0xFF]
            stub += [0x4C, 0x8B, 0x04, 0x24, 0xB0, UInt8(v), 0xE6, UInt8(exceptionPort), 0xF4, 0xEB, 0xFE]
            put(.stubs, v * 32, stub)
        }

        let code = testCode(linear: linear, kind: kind)
        put(.kernelCode, 0, code)
        put(.userCode, 0, code)
    }

    /// `mov rax, linear; mov edx, fetchPort; mov bl, storedByte; <access>; mov al, 0x10; out 0x10, al; hlt`.
    /// Accesses are one byte wide, so they never cross a page or trip alignment checking.
    static func testCode(linear: UInt64, kind: AccessKind) -> [UInt8] {
        var c: [UInt8] = [0x48, 0xB8] + withUnsafeBytes(of: linear.littleEndian, Array.init)
        c += [0xBA, UInt8(fetchPort), 0, 0, 0, 0xB3, storedByte]
        switch kind {
        case .read: c += [0x8A, 0x18]  // mov bl, [rax]
        case .write: c += [0x88, 0x18]  // mov [rax], bl
        case .fetch: c += [0xFF, 0xE0]  // jmp rax
        }
        c += [0xB0, UInt8(accessDonePort), 0xE6, UInt8(accessDonePort), 0xF4, 0xEB, 0xFE]
        return c
    }

    /// Sets the segment registers, descriptor tables and task register for code at `cpl`.
    static func setSegments(_ s: inout kvm_sregs, cpl: Int, linearBase: UInt64) {
        func segment(_ selector: UInt16, code: Bool, dpl: UInt8) -> kvm_segment {
            var g = kvm_segment()
            g.base = 0
            g.limit = 0xFFFF_FFFF
            g.selector = selector | UInt16(dpl)
            g.type = code ? 11 : 3
            g.present = 1
            g.dpl = dpl
            g.db = code ? 0 : 1
            g.s = 1
            g.l = code ? 1 : 0
            g.g = 1
            return g
        }
        let user = cpl == 3
        s.cs = segment(user ? userCodeSelector : kernelCodeSelector, code: true, dpl: user ? 3 : 0)
        s.ss = segment(user ? userDataSelector : kernelDataSelector, code: false, dpl: user ? 3 : 0)
        s.ds = segment(0, code: false, dpl: 0)
        s.es = s.ds
        s.fs = s.ds
        s.gs = s.ds
        var tr = kvm_segment()
        tr.selector = taskStateSelector
        tr.base = linearBase + UInt64(offset(.tss))
        tr.limit = 0x67
        tr.type = 11  // busy 64-bit TSS
        tr.present = 1
        s.tr = tr
        var ldt = kvm_segment()
        ldt.type = 2
        ldt.present = 1
        ldt.unusable = 1
        s.ldt = ldt
        s.gdt.base = linearBase + UInt64(offset(.gdt))
        s.gdt.limit = 7 * 8 - 1
        s.idt.base = linearBase + UInt64(offset(.idt))
        s.idt.limit = UInt16(vectorCount * 16 - 1)
    }

    /// The initial stack pointer for code at `cpl`.
    static func stackTop(cpl: Int, linearBase: UInt64) -> UInt64 {
        linearBase + UInt64(offset(cpl == 3 ? .userStack : .kernelStack) + pageBytes)
    }

    /// The first instruction of the test code for `cpl`.
    static func entry(cpl: Int, linearBase: UInt64) -> UInt64 {
        linearBase + UInt64(offset(cpl == 3 ? .userCode : .kernelCode))
    }
}
