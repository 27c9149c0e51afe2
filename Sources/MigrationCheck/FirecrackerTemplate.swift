import SpecParser

/// Exports a CPU model as a Firecracker custom CPU template (`docs/cpu_templates/schema.json`,
/// reference §(a.3)): one `cpuid_modifiers` entry per CPUID leaf and subleaf that the specs
/// describe, one modifier per output register, each a bitmap of `0b` and 32 characters from bit 31
/// down to bit 0: `1` the model sets the bit, `0` it clears it, `x` the specs do not describe it
/// (the host's value is kept).
///
/// The bits are those of every feature in `specs/cpuid/features.yaml`, set when the model has the
/// feature, and those of the CPUID fields that report the model's widths (MAXPHYADDR and the
/// linear-address width in leaf 0x80000008), set to the model's values, so that a guest never sees
/// LA57 cleared together with a 57-bit virtual width (reference §(a.3), "LA57 in the bundled
/// templates"). Entries of leaves with subleaves carry KVM's significant-index flag (1).
public enum FirecrackerTemplate {
    struct Key: Hashable, Comparable {
        var leaf: UInt32
        var subleaf: UInt32?
        static func < (a: Key, b: Key) -> Bool { (a.leaf, a.subleaf ?? 0) < (b.leaf, b.subleaf ?? 0) }
    }

    /// The template as a JSON value.
    public static func template(_ model: CPUModelDescription, specs: SpecSet) -> JSONValue {
        // bitmaps[key][register] holds 32 characters, index 0 = bit 31.
        var bitmaps: [Key: [String: [Character]]] = [:]
        func set(_ key: Key, _ register: String, bit: Int, _ on: Bool) {
            var regs = bitmaps[key] ?? [:]
            var chars = regs[register] ?? Array(repeating: "x", count: 32)
            chars[31 - bit] = on ? "1" : "0"
            regs[register] = chars
            bitmaps[key] = regs
        }
        for f in specs.features {
            set(Key(leaf: f.leaf, subleaf: f.subleaf), f.register, bit: f.bit, model.has(f.name))
        }
        for key in CPUModel.widthKeys {
            guard let f = specs.cpuidField(key), let value = model.width(key) else { continue }
            for bit in f.bits.low...f.bits.high {
                set(Key(leaf: f.leaf, subleaf: f.subleaf), f.register, bit: bit, (value >> (bit - f.bits.low)) & 1 == 1)
            }
        }
        let entries: [JSONValue] = bitmaps.keys.sorted().map { key in
            let regs = bitmaps[key] ?? [:]
            let modifiers: [JSONValue] = SpecRegisters.cpuid.compactMap { r in
                guard let chars = regs[r] else { return nil }
                return .object([("register", .string(r)), ("bitmap", .string("0b" + String(chars)))])
            }
            return .object([
                ("leaf", .string(hex(key.leaf))), ("subleaf", .string(hex(key.subleaf ?? 0))),
                ("flags", .int(key.subleaf == nil ? 0 : 1)), ("modifiers", .array(modifiers)),
            ])
        }
        return .object([("cpuid_modifiers", .array(entries)), ("msr_modifiers", .array([]))])
    }

    /// The template as pretty-printed JSON text with a final newline.
    public static func export(_ model: CPUModelDescription, specs: SpecSet) -> String {
        template(model, specs: specs).pretty + "\n"
    }
}

/// The CPUID output registers in the order CPUID returns them.
enum SpecRegisters {
    static let cpuid = ["eax", "ebx", "ecx", "edx"]
}
