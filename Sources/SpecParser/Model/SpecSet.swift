/// The validated model of every spec file: the single source of hardware truth.
///
/// Built by ``SpecLoader``; immutable afterwards. Every definition remembers its file and line.
public struct SpecSet: Sendable {
    /// The spec files read, sorted.
    public var files: [String] = []
    /// CPUID feature flags by `/proc/cpuinfo` name, sorted by name.
    public var features: [CPUIDFeature] = []
    /// Multi-bit CPUID fields (MAXPHYADDR, linear-address width), sorted by name.
    public var cpuidFields: [CPUIDField] = []
    /// Registers and VMX layouts, sorted by name.
    public var registers: [RegisterSpec] = []
    /// Entry layouts, sorted by name.
    public var layouts: [EntryLayout] = []
    /// Paging formats with `extends` applied, sorted by name.
    public var formats: [PagingFormat] = []
    /// CPU models, sorted by name.
    public var cpuModels: [CPUModel] = []
    /// VMX exit reasons and qualification layouts, if specified.
    public var vmx: VMXSpec?
    /// Canonicality rules and migration hazards, if specified.
    public var migration: MigrationSpec?

    /// Creates an empty set.
    public init() {}

    /// The feature called `name`.
    public func feature(_ name: String) -> CPUIDFeature? { features.first { $0.name == name } }
    /// The register called `name`.
    public func register(_ name: String) -> RegisterSpec? { registers.first { $0.name == name } }
    /// The layout called `name`.
    public func layout(_ name: String) -> EntryLayout? { layouts.first { $0.name == name } }
    /// The format called `name`.
    public func format(_ name: String) -> PagingFormat? { formats.first { $0.name == name } }
    /// The CPU model called `name`, matched case-insensitively.
    public func cpuModel(_ name: String) -> CPUModel? {
        cpuModels.first { $0.name.lowercased() == name.lowercased() }
    }
    /// The CPUID field called `name`.
    public func cpuidField(_ name: String) -> CPUIDField? { cpuidFields.first { $0.name == name } }
}
