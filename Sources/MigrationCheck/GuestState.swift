import Foundation
import SpecParser

/// A snapshot of guest registers for the migration check: a JSON object whose keys are the state
/// keys of the migration spec (`fs_base`, `cr4`, …) and whose values are hex strings.
///
/// ```json
/// {"fs_base": "0xff4547ceb1600000", "cr4": "0x3506f0"}
/// ```
/// Every key must be one the spec names, and every value must be a hex string that fits its
/// register's width; anything else is an ``InputError`` naming the key and the problem.
public struct GuestState: Sendable, Equatable {
    /// The values by state key.
    public var values: [String: UInt64]

    /// Creates a state from values already checked.
    public init(values: [String: UInt64]) { self.values = values }

    /// Parses the JSON text of a state file against the migration spec's keys and the registers'
    /// widths.
    public static func parse(_ data: Data, specs: SpecSet) throws -> GuestState {
        guard let migration = specs.migration else {
            throw InputError("the specs define no migration rules (specs/hazards/), so no state keys are known")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw InputError("the state is not valid JSON (\(Self.reason(error)))")
        }
        guard let pairs = object as? [String: Any] else {
            throw InputError(
                "the state must be a JSON object of hex strings such as {\"fs_base\": \"0xffff800000000000\"}")
        }
        let keys = migration.stateKeys
        var values: [String: UInt64] = [:]
        for key in pairs.keys.sorted() {
            guard keys.contains(key) else {
                var message = "unknown state key '\(key)'"
                if let g = Spelling.nearest(to: key, among: keys) { message += " (did you mean '\(g)'?)" }
                throw InputError(message + "; known keys: \(keys.joined(separator: ", "))")
            }
            guard let text = pairs[key] as? String else {
                throw InputError(
                    "state key '\(key)' must be a hex string such as \"0x1000\", not \(Self.describe(pairs[key]))")
            }
            guard let value = Self.parseHex(text) else {
                throw InputError(
                    "state key '\(key)' has malformed value \"\(text)\": expected a hex string such as \"0x1000\"")
            }
            if let name = migration.register(forStateKey: key), let reg = specs.register(name), reg.width < 64,
                value >> UInt64(reg.width) != 0
            {
                throw InputError(
                    "state key '\(key)' has value \(text), which does not fit the \(reg.width)-bit register \(name)")
            }
            values[key] = value
        }
        return GuestState(values: values)
    }

    /// Parses `0x…` (or bare) hex of 1 to 16 significant digits; underscores may separate digits.
    static func parseHex(_ text: String) -> UInt64? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.lowercased().hasPrefix("0x") { t = String(t.dropFirst(2)) }
        guard !t.isEmpty, !t.hasPrefix("_"), !t.hasSuffix("_"), !t.contains("__") else { return nil }
        t = t.replacingOccurrences(of: "_", with: "")
        guard t.allSatisfy(\.isHexDigit) else { return nil }
        return UInt64(t, radix: 16)
    }

    private static func describe(_ value: Any?) -> String {
        switch value {
        case is NSNull: return "null"
        case is NSNumber: return "a JSON number or boolean"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "that value"
        }
    }

    private static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let d = ns.userInfo[NSDebugDescriptionErrorKey] as? String { return d }
        return ns.localizedDescription
    }
}
