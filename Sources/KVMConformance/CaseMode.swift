import GeneratedMMU
import WalkContract

/// The paging format a case's control registers select, with its entry rules specialised to the
/// case's controls and CPU features.
struct CaseMode {
    /// The format.
    var format: PagingFormatDescriptor
    /// The root table's address.
    var root: UInt64
    let presentRules: [RuleTable]
    let leafRules: [RuleTable?]

    /// Why a case has no mode the runner can run.
    struct Unrunnable: Error, CustomStringConvertible {
        var description: String
    }

    /// The mode of `c`, or why the runner cannot run it.
    static func of(_ c: WalkCase) -> Result<CaseMode, Unrunnable> {
        var state = ControlState()
        for (name, value) in c.registers { if let i = SpecRegisters.index(named: name) { state[index: i] = value } }
        var cpu = CPUConfiguration(maxPhysicalAddressBits: c.maxPhysicalAddressBits)
        for f in c.features { if let i = SpecFeatures.index(named: f) { cpu.features[i] = true } }
        let staticValue = { (input: RuleInput) -> UInt64 in
            switch input.source {
            case .control:
                let v = state[index: Int(input.index)] >> UInt64(input.shift)
                return input.width >= 64 ? v : v & ((1 << UInt64(input.width)) - 1)
            case .feature: return cpu.features[Int(input.index)] ? 1 : 0
            default: return 0
            }
        }
        guard
            let format = SpecFormats.all.first(where: {
                $0.family == .guest && $0.enabledWhen.specialized(staticValue).constantValue == true
            })
        else {
            return .failure(
                Unrunnable(description: "paging is off: the runner runs 64-bit code under IA-32e paging only"))
        }
        guard format.isLongModeGuestFormat else {
            return .failure(
                Unrunnable(description: "\(format.name): the runner runs 64-bit code under IA-32e paging only"))
        }
        return .success(
            CaseMode(
                format: format, root: state[index: format.rootRegister] & format.rootMask,
                presentRules: format.levels.map { $0.present.specialized(staticValue) },
                leafRules: format.levels.map { $0.leafWhen?.specialized(staticValue) }))
    }

    /// Whether a level-`depth` entry is present.
    func present(_ depth: Int, _ entry: UInt64) -> Bool { Self.holds(presentRules[depth], entry) }

    /// Whether a present level-`depth` entry maps a page.
    func leaf(_ depth: Int, _ entry: UInt64) -> Bool {
        format.levels[depth].isLast || (leafRules[depth].map { Self.holds($0, entry) } ?? false)
    }

    static func holds(_ table: RuleTable, _ entry: UInt64) -> Bool {
        table.evaluate { input in
            input.source == .entry ? (entry >> UInt64(input.shift)) & ((1 << UInt64(input.width)) - 1) : 0
        }
    }
}
