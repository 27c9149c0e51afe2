/// The processor state a walk depends on: register values (CR0, CR3, CR4, EFER, RFLAGS, PKRU,
/// IA32_PKRS, EPTP, VMX controls and capabilities), indexed by ``SpecRegisters``.
///
/// ```swift
/// var state = ControlState()
/// state[.CR0] = 0x8001_0033
/// ```
public struct ControlState: Sendable, Hashable {
    /// Raw values, one per register of the specs.
    public var values: [UInt64]

    /// All registers zero.
    public init() { values = [UInt64](repeating: 0, count: SpecRegisters.names.count) }

    /// The value of a register.
    @inlinable
    public subscript(_ register: SpecRegister) -> UInt64 {
        get { values[register.rawValue] }
        set { values[register.rawValue] = newValue }
    }

    /// The value of the register with index `index`.
    @inlinable
    public subscript(index index: Int) -> UInt64 {
        get { values[index] }
        set { values[index] = newValue }
    }
}

/// What the processor supports: CPUID features and MAXPHYADDR (a CPU model).
public struct CPUConfiguration: Sendable, Hashable {
    /// One flag per feature of the specs, indexed by ``SpecFeature``.
    public var features: [Bool]
    /// MAXPHYADDR.
    public var maxPhysicalAddressBits: Int

    /// A CPU with no features.
    public init(maxPhysicalAddressBits: Int = 46) {
        features = [Bool](repeating: false, count: SpecFeatures.names.count)
        self.maxPhysicalAddressBits = maxPhysicalAddressBits
    }

    /// Whether the CPU has `feature`.
    @inlinable public func has(_ feature: SpecFeature) -> Bool { features[feature.rawValue] }

    /// Adds or removes a feature.
    public mutating func set(_ feature: SpecFeature, _ on: Bool = true) { features[feature.rawValue] = on }

    /// The control bits that are set although their feature is absent, as `CR4.LA57`-style names with
    /// the feature's name.
    public func unsupportedControlBits(in state: ControlState) -> [(bit: String, feature: String)] {
        SpecRegisters.featureGates.compactMap { gate in
            (state[index: gate.register] & gate.mask) != 0 && !features[gate.feature]
                ? (gate.name, SpecFeatures.names[gate.feature]) : nil
        }
    }
}
