import CWalk
import GeneratedMMU

/// A deterministic generator (SplitMix64), so every run builds the same page tables and accesses.
public struct SplitMix64: Sendable {
    var state: UInt64

    /// Seeds the generator.
    public init(seed: UInt64) { state = seed }

    /// The next value.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value below `bound`.
    public mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
}

/// Host-physical memory: one zeroed, page-aligned buffer that the Swift walkers see as a
/// ``FlatMemory`` and the C walkers as a `cw_memory`. It lives as long as the fixture.
public final class HostMemory: @unchecked Sendable {
    /// The buffer.
    public let base: UnsafeMutableRawPointer
    /// Its size in bytes.
    public let size: Int

    /// Allocates `size` zero bytes.
    public init(size: Int) {
        base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        self.size = size
    }

    deinit { base.deallocate() }

    /// The memory as the generated walker sees it.
    public var flat: FlatMemory { FlatMemory(base: base, size: size) }

    /// The memory as the C walkers see it.
    public var c: cw_memory { cw_memory(base: base.assumingMemoryBound(to: UInt8.self), size: UInt64(size)) }

    /// Stores a little-endian word.
    public func store(_ address: UInt64, _ value: UInt64) {
        base.storeBytes(of: value.littleEndian, toByteOffset: Int(address), as: UInt64.self)
    }

    /// Loads a word.
    public func load(_ address: UInt64) -> UInt64 {
        UInt64(littleEndian: base.load(fromByteOffset: Int(address), as: UInt64.self))
    }
}

/// Builds 4- or 5-level radix page tables (IA-32e or EPT: both use 9-bit indices and 8-byte entries)
/// in an address space that `host` maps onto the host buffer (identity for 1D tables, the EPT
/// mapping for guest tables under nested paging).
struct TableBuilder {
    let memory: HostMemory
    let levels: Int
    let root: UInt64
    /// Flags of an entry that references a table.
    let tableFlags: UInt64
    /// Frames for new tables, in the builder's address space.
    var nextTable: UInt64
    let tableLimit: UInt64
    let host: (UInt64) -> UInt64
    private(set) var tables = 1

    init(
        memory: HostMemory, levels: Int, root: UInt64, tableFlags: UInt64, tableFrames: Range<UInt64>,
        host: @escaping (UInt64) -> UInt64
    ) {
        self.memory = memory
        self.levels = levels
        self.root = root
        self.tableFlags = tableFlags
        self.nextTable = tableFrames.lowerBound << 12
        self.tableLimit = tableFrames.upperBound << 12
        self.host = host
    }

    /// Maps the 4 KiB page at `address` with the leaf entry `leaf`.
    mutating func map(_ address: UInt64, leaf: UInt64) {
        var table = root
        for level in stride(from: levels - 1, to: 0, by: -1) {
            let slot = table + ((address >> UInt64(12 + 9 * level)) & 511) * 8
            var entry = memory.load(host(slot))
            if entry == 0 {
                precondition(nextTable < tableLimit, "out of page-table frames")
                entry = nextTable | tableFlags
                nextTable += 4096
                tables += 1
                memory.store(host(slot), entry)
            }
            table = entry & 0x000F_FFFF_FFFF_F000
        }
        memory.store(host(table + ((address >> 12) & 511) * 8), leaf)
    }
}
