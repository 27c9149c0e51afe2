import SpecParser

/// Access attributes as bits, for rule evaluation without hashing.
package struct AccessMask: OptionSet, Sendable, Hashable {
    package var rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The bit of one attribute.
    package init(_ attribute: AccessAttribute) {
        switch attribute {
        case .read: rawValue = 1 << 0
        case .write: rawValue = 1 << 1
        case .fetch: rawValue = 1 << 2
        case .data: rawValue = 1 << 3
        case .user: rawValue = 1 << 4
        case .supervisor: rawValue = 1 << 5
        case .implicit: rawValue = 1 << 6
        case .linearValid: rawValue = 1 << 7
        case .final: rawValue = 1 << 8
        case .guestUser: rawValue = 1 << 9
        case .guestWritable: rawValue = 1 << 10
        case .guestExecuteDisabled: rawValue = 1 << 11
        }
    }

    /// The bits of a set of attributes.
    package init(_ attributes: Set<AccessAttribute>) {
        rawValue = 0
        for a in attributes { formUnion(AccessMask(a)) }
    }

    /// The attributes whose bits are set.
    package var attributes: Set<AccessAttribute> {
        Set(AccessAttribute.allCases.filter { contains(AccessMask($0)) })
    }

    package static let read = AccessMask(.read)
    package static let write = AccessMask(.write)
    package static let fetch = AccessMask(.fetch)
    package static let data = AccessMask(.data)
    package static let user = AccessMask(.user)
    package static let supervisor = AccessMask(.supervisor)
    package static let implicit = AccessMask(.implicit)
    package static let linearValid = AccessMask(.linearValid)
    package static let final = AccessMask(.final)
    package static let guestUser = AccessMask(.guestUser)
    package static let guestWritable = AccessMask(.guestWritable)
    package static let guestExecuteDisabled = AccessMask(.guestExecuteDisabled)
}

/// The processor state of a ``ReferenceMachine`` indexed the way a ``ReferenceWalker`` resolved the
/// specs' names: register values by register index, features by feature index. Built once per walk
/// by ``ReferenceWalker/controls(_:)``, and only meaningful to that walker.
package struct ReferenceControls {
    /// Register values by the walker's register index (absent registers are 0).
    var registers: [UInt64]
    /// Whether the CPU has each feature the specs' rules and `requires` name, by feature index.
    var features: [Bool]
    /// MAXPHYADDR.
    var maxPhysicalAddressBits: Int
}

/// What a resolved rule reads during one evaluation.
struct RuleInputs {
    /// Control registers and CPU features.
    var controls: ReferenceControls
    /// The access attributes that hold.
    var access: AccessMask = []
    /// The current paging-structure entry.
    var entry: UInt64 = 0
    /// The folded rights, by the format's right index.
    var rights: [Bool] = []
    /// The leaf's protection-key rights: access disable, write disable.
    var keyAccessDisable = false
    var keyWriteDisable = false
    /// Fault facts that hold, by the format's fact index.
    var facts: [Int] = []
}

/// A spec rule with each name resolved once, against the specs and the context the rule is
/// evaluated in (register field to register index and mask, entry field to mask, right and fault
/// fact to index), then evaluated directly over the expression tree, exactly as
/// `RuleExpression.evaluate` with the same name lookup would.
final class ResolvedRule {
    /// What a name denotes, or an operator over other nodes (by index).
    enum Node {
        case constant(UInt64)
        /// `(register & mask) >> shift`.
        case control(register: Int, mask: UInt64, shift: UInt64)
        case feature(Int)
        case access(AccessMask)
        /// `(entry & mask) >> shift`.
        case entry(mask: UInt64, shift: UInt64)
        case right(Int)
        case keyAccessDisable
        case keyWriteDisable
        case fact(Int)
        case not(Int)
        case and(Int, Int)
        case or(Int, Int)
        case equal(Int, Int)
        case notEqual(Int, Int)
        /// The operand and the index of its value list.
        case member(Int, list: Int)
    }

    /// Nodes, operands before their operators.
    private(set) var nodes: [Node] = []
    /// Value lists of `in` expressions.
    private(set) var lists: [[UInt64]] = []
    /// The root node.
    private(set) var root = 0
    /// The rule as written.
    let text: String

    /// Resolves `rule`, giving each name's meaning with `resolve`.
    init(_ rule: Rule, resolve: (String) -> Node) {
        text = rule.text
        root = add(rule.expression, resolve)
    }

    private func add(_ e: RuleExpression, _ resolve: (String) -> Node) -> Int {
        let node: Node
        switch e {
        case .name(let n, _): node = resolve(n)
        case .integer(let v): node = .constant(v)
        case .boolean(let b): node = .constant(b ? 1 : 0)
        case .not(let a): node = .not(add(a, resolve))
        case .and(let a, let b): node = .and(add(a, resolve), add(b, resolve))
        case .or(let a, let b): node = .or(add(a, resolve), add(b, resolve))
        case .equal(let a, let b): node = .equal(add(a, resolve), add(b, resolve))
        case .notEqual(let a, let b): node = .notEqual(add(a, resolve), add(b, resolve))
        case .member(let a, let values):
            let operand = add(a, resolve)
            lists.append(values)
            node = .member(operand, list: lists.count - 1)
        }
        nodes.append(node)
        return nodes.count - 1
    }

    /// Whether the rule holds for `inputs`.
    func holds(_ inputs: RuleInputs) -> Bool { value(root, inputs) != 0 }

    private func value(_ i: Int, _ inputs: RuleInputs) -> UInt64 {
        switch nodes[i] {
        case .constant(let v): return v
        case .control(let register, let mask, let shift): return (inputs.controls.registers[register] & mask) >> shift
        case .feature(let f): return inputs.controls.features[f] ? 1 : 0
        case .access(let a): return inputs.access.contains(a) ? 1 : 0
        case .entry(let mask, let shift): return (inputs.entry & mask) >> shift
        case .right(let r): return inputs.rights[r] ? 1 : 0
        case .keyAccessDisable: return inputs.keyAccessDisable ? 1 : 0
        case .keyWriteDisable: return inputs.keyWriteDisable ? 1 : 0
        case .fact(let f): return inputs.facts.contains(f) ? 1 : 0
        case .not(let a): return value(a, inputs) == 0 ? 1 : 0
        case .and(let a, let b): return (value(a, inputs) != 0 && value(b, inputs) != 0) ? 1 : 0
        case .or(let a, let b): return (value(a, inputs) != 0 || value(b, inputs) != 0) ? 1 : 0
        case .equal(let a, let b): return value(a, inputs) == value(b, inputs) ? 1 : 0
        case .notEqual(let a, let b): return value(a, inputs) != value(b, inputs) ? 1 : 0
        case .member(let a, let list): return lists[list].contains(value(a, inputs)) ? 1 : 0
        }
    }
}
