/// One node of the spec language's schema: the shape a YAML value must have, with a description.
///
/// The schema is data (``SpecSchema/root``) next to the decoders, rendered as JSON Schema for
/// editors by ``SpecSchema/jsonText``. It describes shapes and key names only; the decoders and
/// the validator remain the authority on meaning (cross references, bit overlaps, rule types).
public struct SchemaNode: Sendable {
    /// A key of a mapping.
    public struct Property: Sendable {
        /// The key.
        public var name: String
        /// Its value's schema.
        public var node: SchemaNode
        /// Whether the key must be present.
        public var required: Bool

        /// Creates a property.
        public init(_ name: String, _ node: SchemaNode, required: Bool = false) {
            self.name = name
            self.node = node
            self.required = required
        }
    }

    /// What a value looks like.
    public indirect enum Shape: Sendable {
        /// A mapping with known keys. `alternatives` lists key sets of which one must be present;
        /// when `exclusive`, exactly one (`bit` or `bits`, never both).
        case object(properties: [Property], alternatives: [[String]], exclusive: Bool)
        /// A mapping from names chosen by the spec (register names, field names) to values.
        case map(value: SchemaNode)
        /// A sequence.
        case array(items: SchemaNode)
        /// A single value or a sequence of them.
        case oneOrMany(SchemaNode)
        /// A string, optionally one of `choices`.
        case string(choices: [String]?)
        /// An unsigned integer in a range, written in decimal, `0x` hex, `0b` binary or `0o` octal.
        case integer(ClosedRange<UInt64>)
        /// One of a few integers (an entry size: 4 or 8).
        case integerChoice([UInt64])
        /// `true` or `false`.
        case boolean
        /// A bit (`12`) or a bit range (`"47:39"`), below `width`.
        case bits(width: Int)
        /// A rule expression (see `docs/spec-language.md`).
        case rule
        /// Any of several shapes (for example a reserved-bits item: a name, a range or a mapping).
        case anyOf([SchemaNode])
    }

    /// What the value means, for editors' hover text.
    public var description: String
    /// Its shape.
    public var shape: Shape

    /// Creates a node.
    public init(_ description: String, _ shape: Shape) {
        self.description = description
        self.shape = shape
    }

    /// A mapping with known keys; exactly one of the `requireOneOf` key sets must be present.
    public static func object(_ description: String, _ properties: [Property], requireOneOf: [[String]] = [])
        -> SchemaNode
    {
        SchemaNode(description, .object(properties: properties, alternatives: requireOneOf, exclusive: true))
    }

    /// A mapping with known keys; at least one of the `requireAnyOf` key sets must be present.
    public static func object(_ description: String, _ properties: [Property], requireAnyOf: [[String]]) -> SchemaNode {
        SchemaNode(description, .object(properties: properties, alternatives: requireAnyOf, exclusive: false))
    }

    /// A mapping from spec-chosen names to `value`.
    public static func map(_ description: String, _ value: SchemaNode) -> SchemaNode {
        SchemaNode(description, .map(value: value))
    }

    /// A string.
    public static func string(_ description: String, choices: [String]? = nil) -> SchemaNode {
        SchemaNode(description, .string(choices: choices))
    }

    /// An integer.
    public static func integer(_ description: String, _ range: ClosedRange<UInt64> = 0...UInt64.max) -> SchemaNode {
        SchemaNode(description, .integer(range))
    }

    /// A boolean.
    public static func boolean(_ description: String) -> SchemaNode { SchemaNode(description, .boolean) }

    /// A bit or bit range below `width`.
    public static func bits(_ description: String, width: Int = 64) -> SchemaNode {
        SchemaNode(description, .bits(width: width))
    }

    /// A rule expression.
    public static func rule(_ description: String) -> SchemaNode { SchemaNode(description, .rule) }

    /// A name or a list of names.
    public static func names(_ description: String, choices: [String]? = nil) -> SchemaNode {
        SchemaNode(description, .oneOrMany(.string(description, choices: choices)))
    }

    /// The known keys, when this is an object.
    public var properties: [Property] {
        if case .object(let properties, _, _) = shape { return properties }
        return []
    }

    /// The property called `name`, when this is an object.
    public func property(_ name: String) -> SchemaNode? { properties.first { $0.name == name }?.node }
}
