import Foundation
import GeneratedMMU
import SpecInterpreter
import SpecParser

/// An implementation of the walk contract: the generated MMU or the reference interpreter.
public protocol WalkEngine {
    /// Runs one case; `explain` collects a readable trace.
    func run(_ c: WalkCase, explain: inout [String]?) -> WalkResult
}

/// The capabilities the contract's CPU has for EPT cases: execute-only pages, 1 GiB and 2 MiB EPT
/// pages, both page-walk lengths, UC and WB, EPT A/D and advanced VM-exit information.
public enum ContractEPTCapabilities {
    /// The IA32_VMX_EPT_VPID_CAP fields the contract's CPU reports.
    public static let fields = [
        "execute-only", "page-walk-4", "page-walk-5", "UC", "WB", "pde-2m", "pdpte-1g",
        "accessed-dirty", "advanced-exit-info", "INVEPT", "invept-single-context", "invept-all-context",
    ]

    /// IA32_VMX_EPT_VPID_CAP with every field of `fields` set, or 0 if the specs lack the register.
    public static func value(_ specs: SpecSet) -> UInt64 {
        guard let cap = specs.register("IA32_VMX_EPT_VPID_CAP") else { return 0 }
        return fields.reduce(0) { $0 | (cap.field($1)?.bits.mask ?? 0) }
    }

    /// Secondary VM-execution controls: enable EPT, plus mode-based execute control if asked.
    public static func secondaryControls(_ specs: SpecSet, modeBasedExecute: Bool) -> UInt64 {
        guard let reg = specs.register("SECONDARY_CONTROLS") else { return 0 }
        var v = reg.field("enable-ept")?.bits.mask ?? 0
        if modeBasedExecute { v |= reg.field("mode-based-execute")?.bits.mask ?? 0 }
        return v
    }
}

extension WalkCase {
    /// All register values the walk needs, by spec register name, including the EPT context.
    public func machineRegisters(_ specs: SpecSet) -> [String: UInt64] {
        var r = registers
        if let ept {
            r["EPTP"] = ept.eptp
            r["SECONDARY_CONTROLS"] = ContractEPTCapabilities.secondaryControls(
                specs, modeBasedExecute: ept.modeBasedExecute)
            r["IA32_VMX_EPT_VPID_CAP"] = ContractEPTCapabilities.value(specs)
        }
        return r
    }

    /// `cr4.LA57 is set but the CPU has no la57`, for the first unsupported control bit.
    public static func unsupportedMessage(_ bit: String, _ feature: String) -> String {
        let parts = bit.split(separator: ".", maxSplits: 1)
        let register = parts.first.map { $0.lowercased() } ?? bit
        let field = parts.count > 1 ? String(parts[1]) : ""
        return "\(register).\(field) is set but the CPU has no \(feature)"
    }
}

/// The last control state and CPU a ``GeneratedEngine`` ran a case on, with the pure functions of
/// them it computed (the active format of a family, the prepared form of a format): consecutive
/// cases of a sweep mostly share their state, so these are looked up again only when it changes.
final class GeneratedStateMemo {
    private var state = ControlState()
    private var cpu = CPUConfiguration()
    private var valid = false
    private var active: [(family: PagingFamily, format: PagingFormatDescriptor?)] = []
    private var prepared: [(format: String, prepared: PreparedFormat)] = []

    /// Starts a case on `state` and `cpu`: forgets what was computed unless they are the last case's.
    func begin(state: ControlState, cpu: CPUConfiguration) {
        if valid && state == self.state && cpu == self.cpu { return }
        self.state = state
        self.cpu = cpu
        valid = true
        active.removeAll(keepingCapacity: true)
        prepared.removeAll(keepingCapacity: true)
    }

    /// The active format of `family`, computed by `find` once per state.
    func active(_ family: PagingFamily, _ find: () -> PagingFormatDescriptor?) -> PagingFormatDescriptor? {
        if let hit = active.first(where: { $0.family == family }) { return hit.format }
        let format = find()
        active.append((family, format))
        return format
    }

    /// The prepared form of `descriptor`, computed by `prepare` once per state.
    func prepared(_ descriptor: PagingFormatDescriptor, _ prepare: () -> PreparedFormat) -> PreparedFormat {
        if let hit = prepared.first(where: { $0.format == descriptor.name }) { return hit.prepared }
        let made = prepare()
        prepared.append((descriptor.name, made))
        return made
    }
}

/// Runs cases on the generated MMU (the build plugin's output).
public struct GeneratedEngine: WalkEngine {
    /// The specs, for the EPT context registers a case implies.
    public let specs: SpecSet
    let cache = PreparedFormatCache()
    let memo = GeneratedStateMemo()

    /// Creates the engine.
    public init(specs: SpecSet) { self.specs = specs }

    /// Runs `c` on the generated walker; `explain`, when non-nil, receives the walk's trace.
    public func run(_ c: WalkCase, explain: inout [String]?) -> WalkResult {
        var state = ControlState()
        for (name, value) in c.machineRegisters(specs) {
            if let i = SpecRegisters.index(named: name) { state[index: i] = value }
        }
        var cpu = CPUConfiguration(maxPhysicalAddressBits: c.maxPhysicalAddressBits)
        for f in c.features { if let i = SpecFeatures.index(named: f) { cpu.features[i] = true } }
        if let bad = cpu.unsupportedControlBits(in: state).first {
            return WalkResult(
                id: c.id, result: "invalid",
                fields: [("message", WalkResult.quote(WalkCase.unsupportedMessage(bad.bit, bad.feature)))])
        }
        let memory = SparseMemory(c.memory)
        memo.begin(state: state, cpu: cpu)
        func active(_ family: PagingFamily) -> PagingFormatDescriptor? {
            memo.active(family) {
                SpecFormats.all.first { f in
                    f.family == family
                        && (f.enabledWhen.specialized { input in
                            input.source == .control
                                ? (state[index: Int(input.index)] >> UInt64(input.shift))
                                    & ((1 << UInt64(input.width)) - 1)
                                : (cpu.features[Int(input.index)] ? 1 : 0)
                        }.constantValue ?? false)
                }
            }
        }
        guard explain != nil else {
            var none = NoTracer()
            return run(c, state: state, cpu: cpu, memory: memory, active: active, tracer: &none)
        }
        var tracer = ExplainTracer()
        defer { explain = tracer.lines }
        return run(c, state: state, cpu: cpu, memory: memory, active: active, tracer: &tracer)
    }

    func run<T: ExplainingTracer>(
        _ c: WalkCase, state: ControlState, cpu: CPUConfiguration, memory: SparseMemory,
        active: (PagingFamily) -> PagingFormatDescriptor?, tracer: inout T
    ) -> WalkResult {
        let kind =
            AccessKind(rawValue: ["read", "write", "fetch"].firstIndex(of: c.kind).map(UInt8.init) ?? 0) ?? .read
        var eptPrepared: PreparedFormat?
        if c.ept != nil {
            guard let eptFormat = active(.ept) else {
                return invalid(c, "ept.eptp: no EPT format of the specs accepts this EPTP's page-walk length")
            }
            let prepared = memo.prepared(eptFormat) { cache.prepared(eptFormat, state: state, cpu: cpu) }
            if let why = prepared.rootInvalid { return invalid(c, "ept.eptp: \(why) (VM entry would fail)") }
            eptPrepared = prepared
            tracer.note("EPT format \(eptFormat.name)")
        }
        if c.guestPhysical, let ept = eptPrepared {
            tracer.describe(ept.descriptor)
            let access = Access(address: c.address, kind: kind, extra: c.user ? [.guestUser] : [])
            let outcome = Walker.walk(ept, access, space: DirectSpace(memory), tracer: &tracer)
            return Self.result(c.id, outcome, family: .ept, memory: memory, guestPhysical: c.address)
        }
        guard let descriptor = active(.guest) else {
            // Paging is off: the linear address is the (guest-)physical address.
            guard c.address >> 32 == 0 else {
                return invalid(c, "access.linear: paging is off, so the address must fit in 32 bits")
            }
            tracer.note("paging is off: the linear address is the physical address")
            guard let ept = eptPrepared else {
                return WalkResult(
                    id: c.id, result: "ok",
                    fields: [("physical", WalkResult.hex(c.address)), ("page_size", "4294967296"), ("writes", "{}")])
            }
            let space = NestedSpace(ept: ept, memory: memory, guest: nil)
            let identity = Translation(physical: c.address, pageSize: 1 << 32, rights: 0, leafEntry: 0, level: 0)
            let outcome = space.translateFinal(identity, attributes: Access(address: c.address, kind: kind).attributes)
            return Self.result(c.id, outcome, family: .guest, memory: memory)
        }
        tracer.describe(descriptor)
        tracer.note("format \(descriptor.name)")
        let prepared = memo.prepared(descriptor) { cache.prepared(descriptor, state: state, cpu: cpu) }
        let access = Access(address: c.address, kind: kind, cpl: UInt8(c.cpl), implicit: c.implicit)
        let outcome: WalkOutcome
        if let ept = eptPrepared {
            outcome = Walker.walk(
                prepared, access, space: NestedSpace(ept: ept, memory: memory, guest: descriptor), tracer: &tracer)
        } else {
            outcome = Walker.walk(prepared, access, space: DirectSpace(memory), tracer: &tracer)
        }
        return Self.result(c.id, outcome, family: .guest, memory: memory)
    }

    func invalid(_ c: WalkCase, _ message: String) -> WalkResult {
        WalkResult(id: c.id, result: "invalid", fields: [("message", WalkResult.quote(message))])
    }

    /// A walk outcome in the contract's result form (ok, page fault, EPT violation or misconfiguration, …).
    public static func result(
        _ id: String?, _ outcome: WalkOutcome, family: PagingFamily, memory: SparseMemory, guestPhysical: UInt64 = 0
    ) -> WalkResult {
        switch outcome {
        case .translation(let t):
            return WalkResult(
                id: id, result: "ok",
                fields: [
                    ("physical", WalkResult.hex(t.physical)), ("page_size", String(t.pageSize)),
                    ("writes", WalkResult.writes(memory.writes)),
                ])
        case .fault(let f):
            if family == .guest {
                return WalkResult(
                    id: id, result: "page-fault",
                    fields: [("error_code", WalkResult.hex(f.report)), ("writes", WalkResult.writes(memory.writes))])
            }
            if f.kind == .misconfiguration || f.kind == .reserved {
                return WalkResult(
                    id: id, result: "ept-misconfiguration", fields: [("guest_physical", WalkResult.hex(guestPhysical))])
            }
            return WalkResult(
                id: id, result: "ept-violation",
                fields: [
                    ("guest_physical", WalkResult.hex(guestPhysical)), ("exit_qualification", WalkResult.hex(f.report)),
                    ("writes", WalkResult.writes(memory.writes)),
                ])
        case .nestedFault(let f, let gpa):
            return result(id, .fault(f), family: .ept, memory: memory, guestPhysical: gpa)
        case .generalProtection:
            return WalkResult(id: id, result: "general-protection")
        case .invalidState(let message):
            return WalkResult(id: id, result: "invalid", fields: [("message", WalkResult.quote(message))])
        case .outsideMemory(let address):
            return WalkResult(
                id: id, result: "invalid",
                fields: [("message", WalkResult.quote("address 0x\(String(address, radix: 16)) is outside memory"))])
        }
    }
}

/// Records a generated walk for `--explain`.
/// A tracer that also takes free-form lines and the format being walked (for `--explain`).
public protocol ExplainingTracer: WalkTracer {
    /// Adds a line.
    mutating func note(_ line: String)
    /// Names the format whose levels the entries belong to.
    mutating func describe(_ format: PagingFormatDescriptor)
}

extension NoTracer: ExplainingTracer {
    /// Records nothing.
    public mutating func note(_ line: String) {}
    /// Records nothing.
    public mutating func describe(_ format: PagingFormatDescriptor) {}
}

/// Records a walk as readable lines.
public struct ExplainTracer: ExplainingTracer {
    /// The recorded trace lines.
    public var lines: [String] = []
    /// The format being walked, whose levels name the traced entries.
    public var format: PagingFormatDescriptor?

    /// Creates an empty tracer.
    public init() {}

    /// Records the entry read at `level`: table, index, entry address, value and its decoded fields.
    public mutating func entry(level: Int, tableAddress: UInt64, index: UInt64, address: UInt64, value: UInt64) {
        guard let l = format?.levels[level] else { return }
        let fields = l.fields.reversed().map { f -> String in
            let v = (value >> UInt64(f.shift)) & (f.width >= 64 ? ~0 : (1 << UInt64(f.width)) - 1)
            return f.width == 1
                ? "\(f.name)=\(v)"
                : "\(f.name)=0x\(String(v << (f.name == "address" ? UInt64(f.shift) : 0), radix: 16))"
        }
        lines.append(
            "\(l.name): table 0x\(String(tableAddress, radix: 16)) index \(index) entry@0x\(String(address, radix: 16)) = 0x\(String(value, radix: 16))"
        )
        lines.append("    " + fields.joined(separator: " "))
    }

    /// Records why the walk ended.
    public mutating func end(_ reason: String) { lines.append("end: \(reason)") }
    /// Records a free-form line.
    public mutating func note(_ line: String) { lines.append(line) }
    /// Sets the format whose levels the following entries belong to.
    public mutating func describe(_ format: PagingFormatDescriptor) { self.format = format }
}

/// Runs cases on the reference interpreter.
public struct ReferenceEngine: WalkEngine {
    /// The specs the reference interpreter walks.
    public let specs: SpecSet
    let walker: ReferenceWalker

    /// Creates the engine.
    public init(specs: SpecSet) {
        self.specs = specs
        walker = ReferenceWalker(specs: specs)
    }

    /// Runs `c` on the reference interpreter; `explain`, when non-nil, receives the walk's trace.
    public func run(_ c: WalkCase, explain: inout [String]?) -> WalkResult {
        let walker = self.walker
        let machine = ReferenceMachine(
            registers: c.machineRegisters(specs), features: c.features,
            maxPhysicalAddressBits: c.maxPhysicalAddressBits)
        let controls = walker.controls(machine)
        if let bad = walker.firstUnsupportedControlBit(controls) {
            return WalkResult(
                id: c.id, result: "invalid",
                fields: [("message", WalkResult.quote(WalkCase.unsupportedMessage(bad.0, bad.1)))])
        }
        let memory = ReferenceMemory(c.memory)
        let explaining = explain != nil
        var stage2: ReferenceStage2?
        if c.ept != nil {
            guard let ept = walker.activePlan(controls, family: .ept) else {
                return invalid(c, "ept.eptp: no EPT format of the specs accepts this EPTP's page-walk length")
            }
            if let why = walker.rootInvalid(ept, controls) {
                return invalid(c, "ept.eptp: \(why) (VM entry would fail)")
            }
            stage2 = ReferenceStage2(plan: ept, walker: walker, machine: machine, controls: controls)
        }
        if c.guestPhysical, let plan = stage2?.plan {
            var trace: [ReferenceStep] = []
            var reason = ""
            var access = ReferenceAccess(address: c.address, kind: c.kind, cpl: 0, implicit: false)
            if c.user { access.mask.insert(.guestUser) }
            let outcome = walker.walk(
                plan, controls, accessAddress: access.address, attributes: access.mask, memory: memory,
                trace: &trace, reason: &reason, explaining: explaining)
            if explaining { explainLines(&explain, plan.format, trace, reason) }
            return render(c, outcome, memory: memory, eptAddress: c.address)
        }
        guard let plan = walker.activePlan(controls) else {
            explain?.append("paging is off: the linear address is the physical address")
            guard c.address >> 32 == 0 else {
                return invalid(c, "access.linear: paging is off, so the address must fit in 32 bits")
            }
            guard var s2 = stage2 else {
                return WalkResult(
                    id: c.id, result: "ok",
                    fields: [("physical", WalkResult.hex(c.address)), ("page_size", "4294967296"), ("writes", "{}")])
            }
            var attributes: Set<AccessAttribute> = [.linearValid, .final, .guestUser, .guestWritable]
            attributes.formUnion(
                ReferenceAccess(address: c.address, kind: c.kind, cpl: 0, implicit: false).attributes
                    .intersection([.read, .write, .fetch, .data]))
            if let t = s2.translate(c.address, attributes, memory: memory) {
                return WalkResult(
                    id: c.id, result: "ok",
                    fields: [
                        ("physical", WalkResult.hex(t.physical)), ("page_size", String(min(t.pageSize, 1 << 32))),
                        ("writes", WalkResult.writes(memory.writes)),
                    ])
            }
            if case .fault(let kind, let report, _) = s2.lastOutcome {
                return render(
                    c,
                    .nestedFault(
                        kind: kind == "reserved" ? "misconfiguration" : kind, report: report, guestPhysical: c.address),
                    memory: memory, eptAddress: 0)
            }
            return render(c, s2.lastOutcome, memory: memory, eptAddress: c.address)
        }
        var trace: [ReferenceStep] = []
        var reason = ""
        let access = ReferenceAccess(address: c.address, kind: c.kind, cpl: c.cpl, implicit: c.implicit)
        let outcome = walker.walk(
            plan, controls, accessAddress: access.address, attributes: access.mask, memory: memory,
            trace: &trace, reason: &reason, explaining: explaining, stage2: stage2)
        if explaining { explainLines(&explain, plan.format, trace, reason) }
        return render(c, outcome, memory: memory, eptAddress: 0)
    }

    func invalid(_ c: WalkCase, _ message: String) -> WalkResult {
        WalkResult(id: c.id, result: "invalid", fields: [("message", WalkResult.quote(message))])
    }

    func explainLines(_ explain: inout [String]?, _ format: PagingFormat, _ trace: [ReferenceStep], _ reason: String) {
        guard explain != nil else { return }
        var lines = ["format \(format.name) (\(format.location.file):\(format.location.line))"]
        for s in trace {
            lines.append(
                "\(s.level): table 0x\(String(s.tableAddress, radix: 16)) index \(s.index) entry@0x\(String(s.entryAddress, radix: 16)) = 0x\(String(s.entry, radix: 16))"
            )
            lines.append(
                "    " + s.fields.reversed().map { "\($0.0)=0x\(String($0.1, radix: 16))" }.joined(separator: " "))
        }
        lines.append("end: \(reason)")
        explain = (explain ?? []) + lines
    }

    /// Renders an outcome; `eptAddress` is the guest-physical address of a direct EPT walk.
    func render(_ c: WalkCase, _ outcome: ReferenceOutcome, memory: ReferenceMemory, eptAddress: UInt64) -> WalkResult {
        switch outcome {
        case .translation(let physical, let pageSize, _):
            return WalkResult(
                id: c.id, result: "ok",
                fields: [
                    ("physical", WalkResult.hex(physical)), ("page_size", String(pageSize)),
                    ("writes", WalkResult.writes(memory.writes)),
                ])
        case .fault(let kind, let report, _):
            if c.guestPhysical {
                return render(
                    c,
                    .nestedFault(
                        kind: kind == "reserved" ? "misconfiguration" : kind, report: report, guestPhysical: eptAddress),
                    memory: memory, eptAddress: eptAddress)
            }
            return WalkResult(
                id: c.id, result: "page-fault",
                fields: [("error_code", WalkResult.hex(report)), ("writes", WalkResult.writes(memory.writes))])
        case .nestedFault(let kind, let report, let gpa):
            if kind == "misconfiguration" {
                return WalkResult(
                    id: c.id, result: "ept-misconfiguration", fields: [("guest_physical", WalkResult.hex(gpa))])
            }
            return WalkResult(
                id: c.id, result: "ept-violation",
                fields: [
                    ("guest_physical", WalkResult.hex(gpa)), ("exit_qualification", WalkResult.hex(report)),
                    ("writes", WalkResult.writes(memory.writes)),
                ])
        case .generalProtection:
            return WalkResult(id: c.id, result: "general-protection")
        case .invalidState(let m):
            return WalkResult(id: c.id, result: "invalid", fields: [("message", WalkResult.quote(m))])
        }
    }
}

/// Runs a file of walk cases (a `.json` case or JSON Lines) through an engine, in input order.
public enum WalkRunner {
    /// One line of input and its result (and trace, when asked for).
    public struct Line {
        /// The result.
        public var result: WalkResult
        /// The explain trace, if requested.
        public var trace: [String]?
    }

    /// Splits `text` into cases: the whole text for a single `.json` case, else one per non-empty line.
    public static func cases(_ text: String, singleJSON: Bool) -> [String] {
        if singleJSON { return [text] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// Runs one case's text.
    public static func run(_ line: String, specs: SpecSet, engine: any WalkEngine, explain: Bool = false) -> Line {
        var trace: [String]? = explain ? [] : nil
        do {
            guard let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            else {
                throw WalkCase.Invalid(id: nil, message: "not valid JSON")
            }
            let c = try WalkCase.parse(object, specs: specs)
            let result = engine.run(c, explain: &trace)
            return Line(result: result, trace: trace)
        } catch let invalid as WalkCase.Invalid {
            return Line(
                result: WalkResult(
                    id: invalid.id, result: "invalid", fields: [("message", WalkResult.quote(invalid.message))]),
                trace: trace)
        } catch {
            return Line(
                result: WalkResult(id: nil, result: "invalid", fields: [("message", WalkResult.quote("\(error)"))]),
                trace: trace)
        }
    }
}
