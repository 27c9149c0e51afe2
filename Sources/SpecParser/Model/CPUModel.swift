/// A CPU model of a real processor, built from published CPUID data (libvirt's cputestdata).
///
/// Models what CPUID reports for one processor (vendor, signature, feature flags, the address
/// widths of leaf 0x80000008) plus the VMX/EPT capabilities a nested hypervisor would see.
///
/// ```yaml
/// cpu-model: Icelake-Server
/// vendor: GenuineIntel
/// family: 6
/// model: 106
/// stepping: 0
/// maxphyaddr: 52
/// linear-address-bits: 57
/// features: [fpu, ..., la57]
/// vmx: {ept-page-walk-lengths: [4, 5], ept-execute-only: true, ...}
/// ```
public struct CPUModel: Sendable {
    /// The spec keys of the two address widths, which are also the names of the CPUID fields that
    /// report them (`specs/cpuid/features.yaml`) and of the widths the migration rules compare.
    public static let widthKeys = ["maxphyaddr", "linear-address-bits"]

    /// Model name, as in the migration contract (`Icelake-Server`).
    public var name: String
    /// Human title (the processor).
    public var title: String
    /// CPUID vendor string (`GenuineIntel`).
    public var vendor: String
    /// Display family.
    public var family: Int
    /// Display model.
    public var model: Int
    /// Stepping.
    public var stepping: Int
    /// MAXPHYADDR (CPUID 0x80000008 EAX[7:0]).
    public var maxPhysicalAddressBits: Located<Int>
    /// Linear-address width (CPUID 0x80000008 EAX[15:8]).
    public var linearAddressBits: Located<Int>
    /// Features, as `/proc/cpuinfo` flag names, sorted.
    public var features: [Located<String>]
    /// VMX/EPT capabilities.
    public var vmx: VMXCapabilities
    /// Where the data came from.
    public var source: String
    /// Where the model was defined.
    public var location: SourceLocation
    /// Where each key's value was written, by spec key (`vendor`, `family`, `vmx.ept-1g-pages`).
    public var locations: [String: SourceLocation] = [:]

    /// Whether the model has `feature`.
    public func has(_ feature: String) -> Bool { features.contains { $0.value == feature } }

    /// The width called `key` (one of ``widthKeys``), if it is one.
    public func width(_ key: String) -> Located<Int>? {
        switch key {
        case "maxphyaddr": return maxPhysicalAddressBits
        case "linear-address-bits": return linearAddressBits
        default: return nil
        }
    }
}

/// The VMX capabilities of a CPU model that matter to EPT (IA32_VMX_EPT_VPID_CAP and
/// secondary controls).
public struct VMXCapabilities: Sendable, Hashable {
    /// The spec keys of the `vmx:` mapping of a CPU model, in the order specs write them.
    public static let keys = [
        "ept-page-walk-lengths", "ept-execute-only", "ept-2m-pages", "ept-1g-pages", "ept-accessed-dirty",
        "ept-advanced-exit-info", "mode-based-execute", "ept-memory-types",
    ]

    /// Supported EPT page-walk lengths (4, 5).
    public var eptPageWalkLengths: [Int] = []
    /// Execute-only EPT pages (cap bit 0).
    public var executeOnly: Bool = false
    /// 2 MiB EPT pages (cap bit 16).
    public var pages2M: Bool = false
    /// 1 GiB EPT pages (cap bit 17).
    public var pages1G: Bool = false
    /// EPT accessed and dirty flags (cap bit 21).
    public var accessedDirty: Bool = false
    /// Advanced VM-exit information for EPT violations (cap bit 22).
    public var advancedExitInfo: Bool = false
    /// Mode-based execute control (secondary control bit 22).
    public var modeBasedExecute: Bool = false
    /// EPT paging-structure memory types allowed in EPTP (UC, WB).
    public var memoryTypes: [String] = []
    /// Creates capabilities.
    public init() {}

    /// Each capability as one name, so that sets of capabilities can be compared:
    /// `ept-page-walk-4`, `ept-execute-only`, `ept-memory-type-WB`, … in spec-key order.
    public var names: [String] {
        var out = eptPageWalkLengths.sorted().map { "ept-page-walk-\($0)" }
        let flags: [(String, Bool)] = [
            ("ept-execute-only", executeOnly), ("ept-2m-pages", pages2M), ("ept-1g-pages", pages1G),
            ("ept-accessed-dirty", accessedDirty), ("ept-advanced-exit-info", advancedExitInfo),
            ("mode-based-execute", modeBasedExecute),
        ]
        out += flags.filter(\.1).map(\.0)
        out += memoryTypes.sorted().map { "ept-memory-type-\($0)" }
        return out
    }

    /// True when no capability is present.
    public var isEmpty: Bool { names.isEmpty }

    /// The capabilities both have: the common VMX capabilities of a baseline.
    public func intersection(_ other: VMXCapabilities) -> VMXCapabilities {
        var c = VMXCapabilities()
        c.eptPageWalkLengths = eptPageWalkLengths.filter { other.eptPageWalkLengths.contains($0) }.sorted()
        c.executeOnly = executeOnly && other.executeOnly
        c.pages2M = pages2M && other.pages2M
        c.pages1G = pages1G && other.pages1G
        c.accessedDirty = accessedDirty && other.accessedDirty
        c.advancedExitInfo = advancedExitInfo && other.advancedExitInfo
        c.modeBasedExecute = modeBasedExecute && other.modeBasedExecute
        c.memoryTypes = memoryTypes.filter { other.memoryTypes.contains($0) }.sorted()
        return c
    }

    /// The capabilities this one has and `other` lacks, as ``names``.
    public func missing(from other: VMXCapabilities) -> [String] {
        let theirs = Set(other.names)
        return names.filter { !theirs.contains($0) }
    }
}

/// VMX exit reasons and exit-qualification layouts (SDM Vol. 3C Appendix C, §28.2.1).
public struct VMXSpec: Sendable {
    /// One basic exit reason.
    public struct ExitReason: Sendable, Hashable {
        /// Number.
        public var number: Int
        /// Intel name.
        public var name: String
        /// Linux `EXIT_REASON_*` suffix, if Linux defines one.
        public var linuxName: String?
        /// Register layout of the exit qualification for this reason, if any.
        public var qualification: String?
        /// Where it was defined.
        public var location: SourceLocation
    }
    /// The exit-reason field layout (a register).
    public var exitReasonLayout: Located<String>
    /// Exit reasons, sorted by number.
    public var exitReasons: [ExitReason]
    /// Where it was defined.
    public var location: SourceLocation
}

/// Canonicality rules and migration hazards as data (KVM commit 9245fd6b8531; the migration
/// contract).
///
/// Says which guest registers hold linear addresses and at which width they are checked, which
/// keys a guest-state snapshot may carry, which CPU-model widths must not shrink, and which
/// registers have bits that a destination can only hold with a CPUID feature.
public struct MigrationSpec: Sendable {
    /// How a register's canonicality is checked.
    public enum Width: String, Sendable, Hashable {
        /// Against the CPU's largest linear width, whatever CR4.LA57 says.
        case `static`
        /// Against the current paging mode's width.
        case paging
    }
    /// What happens to a non-canonical value on the destination.
    public enum Outcome: String, Sendable, Hashable {
        /// The write is refused (#GP, or KVM_SET_MSRS fails).
        case refused
        /// The value is silently sign-extended (SYSENTER_ESP/EIP under KVM).
        case truncated
    }
    /// A register that holds a linear address.
    public struct CanonicalRegister: Sendable, Hashable {
        /// Key in a state snapshot (`fs_base`).
        public var stateKey: String
        /// Architectural name (`IA32_FS_BASE`).
        public var name: String
        /// Width rule.
        public var width: Width
        /// Outcome when not canonical.
        public var outcome: Outcome
        /// Where it was defined.
        public var location: SourceLocation
    }
    /// A state-snapshot key that names a register (`cr4: CR4`).
    public struct StateRegister: Sendable, Hashable {
        /// Key in a state snapshot (`cr4`).
        public var key: String
        /// The register's name (`CR4`).
        public var register: String
        /// Where it was defined.
        public var location: SourceLocation
    }
    /// A width that must not shrink across a migration.
    public struct WidthRule: Sendable, Hashable {
        /// Hazard id (`phys-width`).
        public var id: String
        /// CPU-model property (`maxphyaddr`, `linear-address-bits`).
        public var property: String
        /// Where it was defined.
        public var location: SourceLocation
    }
    /// Registers with linear addresses.
    public var canonicalRegisters: [CanonicalRegister]
    /// Other state keys accepted in a snapshot (control registers), each with its register.
    public var stateRegisters: [StateRegister]
    /// Widths that must not shrink.
    public var widths: [WidthRule]
    /// The registers whose fields' `requires` gate what a destination can hold (`CR4`).
    public var gatedRegisters: [Located<String>]
    /// The feature that makes the static width 57 bits.
    public var wideLinearFeature: Located<String>
    /// Linear widths without and with that feature.
    public var linearWidths: (narrow: Int, wide: Int)
    /// Where it was defined.
    public var location: SourceLocation

    /// Every key a state snapshot may carry, in spec order: canonical registers, then the others.
    public var stateKeys: [String] { canonicalRegisters.map(\.stateKey) + stateRegisters.map(\.key) }

    /// The register a state key names.
    public func register(forStateKey key: String) -> String? {
        canonicalRegisters.first { $0.stateKey == key }?.name ?? stateRegisters.first { $0.key == key }?.register
    }

    /// The static canonical width of a CPU: the wide width when it has ``wideLinearFeature``.
    public func staticLinearWidth(hasWideFeature: Bool) -> Int {
        hasWideFeature ? linearWidths.wide : linearWidths.narrow
    }
}
