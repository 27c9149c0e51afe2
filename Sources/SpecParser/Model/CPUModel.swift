/// A CPU model of a real processor, built from published CPUID data (libvirt's cputestdata).
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

    /// Whether the model has `feature`.
    public func has(_ feature: String) -> Bool { features.contains { $0.value == feature } }
}

/// The VMX capabilities of a CPU model that matter to EPT (IA32_VMX_EPT_VPID_CAP and
/// secondary controls).
public struct VMXCapabilities: Sendable, Hashable {
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
    public var stateRegisters: [(key: String, register: String)]
    /// Widths that must not shrink.
    public var widths: [WidthRule]
    /// The register whose field `requires` gate what a destination can hold (`CR4`).
    public var gatedRegisters: [String]
    /// The feature that makes the static width 57 bits.
    public var wideLinearFeature: String
    /// Linear widths without and with that feature.
    public var linearWidths: (narrow: Int, wide: Int)
    /// Where it was defined.
    public var location: SourceLocation
}
