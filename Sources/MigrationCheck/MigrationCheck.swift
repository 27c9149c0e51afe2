// CPU models, baselines and migration checks.
//
// Every rule comes from the specs: the CPUID location of each feature and width
// (specs/cpuid/features.yaml), the CPU models (specs/cpus/), the registers and their gated fields
// (specs/registers/), and the canonical-width and hazard rules (specs/hazards/migration.yaml).
// This module knows the concepts (a feature, a width, a canonical check, a gated bit) and never a
// bit position, a width or a register list.
import SpecParser

/// A mistake in what the user asked for: an unknown model, an unreadable or malformed state file
/// or CPUID dump, incompatible inputs. The CLI reports it and exits with status 2.
public struct InputError: Error, Sendable, CustomStringConvertible, Equatable {
    /// One-line message naming the problem, lower case, no trailing period.
    public var message: String
    /// Creates an input error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

extension SpecSet {
    /// The CPU model called `name` (case-insensitive), or an ``InputError`` that names it and
    /// suggests the nearest known name.
    public func requireCPUModel(_ name: String) throws -> CPUModel {
        if let m = cpuModel(name) { return m }
        let known = cpuModels.map(\.name)
        var message = "unknown CPU model '\(name)'"
        if let g = Spelling.nearest(to: name, among: known) { message += " (did you mean '\(g)'?)" }
        message +=
            known.isEmpty ? "; specs/cpus/ defines no models" : "; known models: \(known.joined(separator: ", "))"
        throw InputError(message)
    }
}

/// Formats a value as lower-case hex with a `0x` prefix and no padding (`0xff8000000000`).
func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }
