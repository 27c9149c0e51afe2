import GeneratedMMU
import WalkContract

/// Where a case's memory goes in the guest, decided before it runs.
///
/// The case's words stay at their own guest-physical addresses, so entries are never rewritten.
/// The runner adds one entry to the case's root table, at an index that no level of the test
/// address uses, mapping its own region (``RunnerGuest``) at a guest-physical address that no
/// case page, no page an entry points to and no page the walk could end on occupies. Addresses
/// that no slot backs read as not-present tables (KVM's walker faults without P) and turn data
/// accesses into MMIO exits that name the physical address reached.
struct CasePlan {
    /// The 4 KiB frames holding case words, sorted.
    var casePages: [UInt64]
    /// The 4 KiB page the walk of the test address ends on, if it reaches a leaf (whatever the
    /// rights, which only KVM judges).
    var targetPages: [UInt64]
    /// Guest-physical address of the runner's entry in the root table.
    var rootEntryAddress: UInt64
    /// Where the runner's region is, in guest-physical and linear space.
    var runnerPhysical: UInt64
    var runnerLinear: UInt64

    /// Why a case cannot be placed.
    struct Unplaceable: Error, CustomStringConvertible {
        var description: String
    }

    /// Plans `c` for `format`; `present` and `leaf` say whether an entry of a level is present and
    /// whether it maps a page.
    init(
        _ c: WalkCase, format: PagingFormatDescriptor, root: UInt64, present: (Int, UInt64) -> Bool,
        leaf: (Int, UInt64) -> Bool
    ) throws {
        let pageMask: UInt64 = ~UInt64(RunnerGuest.pageBytes - 1)
        let limit: UInt64 = c.maxPhysicalAddressBits >= 64 ? ~0 : 1 << UInt64(c.maxPhysicalAddressBits)
        var pages = Set(c.memory.keys.map { $0 & pageMask }.filter { $0 < limit })
        if root < limit { pages.insert(root & pageMask) }
        casePages = pages.sorted()

        // The entries the walk reads, whatever their rights and reserved bits.
        var targets = Set<UInt64>()
        var table = root
        for (depth, level) in format.levels.enumerated() {
            let address = table &+ format.index(c.address, depth: depth) &* UInt64(level.entryBytes)
            let entry = c.memory[address] ?? 0
            guard present(depth, entry) else { break }
            if leaf(depth, entry) {
                let size = format.pageBytes(depth: depth)
                let page = (entry & level.addressMask & ~(size - 1)) | (c.address & (size - 1) & pageMask)
                if page < limit { targets.insert(page) }
                break
            }
            table = entry & level.addressMask
        }
        targetPages = targets.sorted()

        var avoid = pages.union(targets)
        let addressMask = format.levels[0].addressMask
        for value in c.memory.values { avoid.insert(value & addressMask & pageMask) }

        // The root index: one no level of the test address uses (the root page may be reused as a
        // lower table) and that holds no case word.
        let rootLevel = format.levels[0]
        let used = Set((0..<format.levels.count).map { format.index(c.address, depth: $0) })
        let count = UInt64(1) << UInt64(rootLevel.indexBits)
        guard
            let k = (0..<count).reversed().first(where: { k in
                !used.contains(k) && c.memory[root &+ k &* UInt64(rootLevel.entryBytes)] == nil
            })
        else {
            throw Unplaceable(description: "no free root-table index for the runner's own mapping")
        }
        rootEntryAddress = root &+ k &* UInt64(rootLevel.entryBytes)
        runnerLinear = format.canonical(k << UInt64(rootLevel.indexShift))

        // The region: the first 16 MiB step from 1.75 GiB up (then from 16 MiB up) clear of
        // everything the case can reach.
        let region = UInt64(RunnerGuest.regionBytes)
        let step: UInt64 = 16 << 20
        let high = stride(from: UInt64(0x7000_0000), to: min(limit, 1 << 40), by: Int(step))
        let low = stride(from: step, to: min(limit, 0x7000_0000), by: Int(step))
        func clear(_ base: UInt64) -> Bool {
            base + region <= limit && !(0..<UInt64(RunnerGuest.pageCount)).contains { avoid.contains(base + $0 * 4096) }
        }
        guard let base = high.first(where: clear) ?? low.first(where: clear) else {
            throw Unplaceable(description: "no guest-physical room for the runner below MAXPHYADDR")
        }
        runnerPhysical = base
    }
}
